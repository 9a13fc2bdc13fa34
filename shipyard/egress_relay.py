"""Runs inside an install's sandbox (standard library only, by the machine's python3): serves 127.0.0.1:PORT of
the sandbox's own loopback by passing each connection to the egress proxy's Unix socket, runs the command, and exits
with its status. Usage: egress_relay.py PORT SOCKET -- COMMAND..."""

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
    port, path, separator, *command = sys.argv[1:]
    if separator != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    listener = socket.create_server(("127.0.0.1", int(port)))
    threading.Thread(target=serve, args=(listener, path), daemon=True).start()
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
