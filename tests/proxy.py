"""A switchable TCP proxy in front of Redis: tests make the broker go away and come back
without touching the real server."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class SwitchableProxy:
    """A TCP proxy to Redis that refuses service until switched on: the broker 'comes back'."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.up = False
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = [self.server]
        threading.Thread(target=self.accept_forever, daemon=True).start()

    def accept_forever(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            threading.Thread(target=self.pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self.pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def switch_off(self) -> None:
        """Refuse new connections and cut the open ones: the server seems gone."""
        self.up = False
        for sock in self.sockets[1:]:
            with suppress(OSError):
                sock.close()
        self.sockets = [self.server]

    def close(self) -> None:
        for sock in self.sockets:
            with suppress(OSError):
                sock.close()
