"""The benches' HTTP load generator: HTTP/1.1 keep-alive connections over asyncio streams, so the sender costs the
machine under test little. httpx's AsyncClient, the first sender here, spent a core on 130 requests a second: the
webhook bench measured its own client (the relay used 10-25 % of a core meanwhile)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self._reader, self._writer, self._host = reader, writer, host

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """(status, body) of one request; the response must carry Content-Length (uvicorn's do)."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = dict(line.split(":", 1) for line in head[1:] if ":" in line)
        length = int(next((v for k, v in fields.items() if k.strip().lower() == "content-length"), "0"))
        return status, await self._reader.readexactly(length)

    def close(self) -> None:
        self._writer.close()


@asynccontextmanager
async def connections(host: str, port: int, count: int) -> AsyncIterator[asyncio.Queue[Connection]]:
    """`count` open connections in a queue: take one per request and put it back, so at most `count` are in
    flight."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    opened = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(host, port)
        opened.append(Connection(reader, writer, f"{host}:{port}"))
        pool.put_nowait(opened[-1])
    try:
        yield pool
    finally:
        for connection in opened:
            connection.close()
