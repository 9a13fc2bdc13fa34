"""Runs inside a sandbox (standard library only, by the machine's python3): serves ports of the sandbox's own
loopback by passing each connection to a Unix socket of the egress outside (its proxy, or a tunnel), runs the
command, and exits with its status. Usage: egress_relay.py PORT=SOCKET... -- COMMAND..."""

import contextlib
import socket
import subprocess
import sys
import threading


def pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def serve(listener: socket.socket, path: str) -> None:
    while True:
        client, _ = listener.accept()
        proxy = socket.socket(socket.AF_UNIX)
        try:
            proxy.connect(path)
        except OSError:
            client.close()
            proxy.close()
            continue
        threading.Thread(target=pump, args=(client, proxy), daemon=True).start()
        threading.Thread(target=pump, args=(proxy, client), daemon=True).start()


def main() -> int:
    arguments = sys.argv[1:]
    if "--" not in arguments or arguments[-1] == "--":
        print(__doc__, file=sys.stderr)
        return 2
    split = arguments.index("--")
    for route in arguments[:split]:
        port, _, path = route.partition("=")
        listener = socket.create_server(("127.0.0.1", int(port)))
        threading.Thread(target=serve, args=(listener, path), daemon=True).start()
    return subprocess.run(arguments[split + 1 :]).returncode


if __name__ == "__main__":
    sys.exit(main())
