"""Retries against a registry reached through a TCP proxy that drops connections: reads and
registrations come through (the registration keeps its request id, so it happens once); other
writes are not retried and say so with UNAVAILABLE."""

from __future__ import annotations

import os
import socket
import threading
from typing import List

import pytest

import bindery
from conftest import Registry


class FlakyProxy:
    """Forwards 127.0.0.1:<port> to the registry, but closes the next `drop` connections at once
    (the client sees UNAVAILABLE, as when a node restarts)."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.drop = 0
        self.dropped = 0
        self.open: List[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self, connections: int) -> None:
        """Closes every open connection and refuses the next `connections` ones."""
        with self.lock:
            self.drop = connections
            for s in self.open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.drop > 0:
                    self.drop -= 1
                    self.dropped += 1
                    client.close()
                    continue
                upstream = socket.create_connection(self.target)
                self.open.extend([client, upstream])
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


def test_reads_and_registrations_survive_dropped_connections(registry: Registry, model: str, tmp_path) -> None:
    proxy = FlakyProxy(registry.address)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(os.urandom(1024))
    with bindery.Client(proxy.address, token=registry.token, readers=[proxy.address], retries=6) as client:
        assert client.get_model(model).name == model
        proxy.cut(2)
        assert client.get_model(model).name == model, "a read is retried on UNAVAILABLE"
        proxy.cut(2)
        registered = client.register_version(model, str(tmp_path / "m"), request_id="flaky-1")
        assert registered.created and registered.version.version == 1
        assert proxy.dropped >= 4
        # The same request id again (as a job retried after losing the answer): the same version.
        again = client.register_version(model, str(tmp_path / "m"), request_id="flaky-1")
        assert not again.created and again.version.version == 1
        assert [v.version for v in client.list_versions(model)] == [1], "registered exactly once"

        # A binding write is not retried: the caller learns the call may not have happened.
        proxy.cut(50)
        with pytest.raises(bindery.Unavailable):
            client.set_binding(model, "production", 1)
        proxy.cut(0)
        assert client.set_binding(model, "production", 1).binding.version == 1
