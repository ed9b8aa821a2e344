"""Channels, credentials and the retry/failover rule shared by every call."""

from __future__ import annotations

import random
import re
import threading
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple, TypeVar, Union

import grpc

from .errors import from_rpc_error
from .v1 import registry_pb2_grpc, resolver_pb2_grpc

T = TypeVar("T")

#: Largest message the client accepts (the server's default limit is 4 MiB).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

Metadata = Tuple[Tuple[str, str], ...]


def parse_address(address: str) -> Tuple[str, Optional[bool]]:
    """``host:port``, ``http://host:port`` or ``https://host:port`` -> (target, tls or None)."""
    address = address.strip()
    if not address:
        raise ValueError("empty registry address")
    tls: Optional[bool] = None
    if address.startswith("https://"):
        address, tls = address[len("https://") :], True
    elif address.startswith("http://"):
        address, tls = address[len("http://") :], False
    address = address.rstrip("/")
    if "/" in address or not address:
        raise ValueError(f"registry address must be host:port, got {address!r}")
    return address, tls


def split_addresses(addresses: Union[str, Sequence[str]]) -> List[str]:
    """A comma-separated string or a list of addresses, without blanks."""
    items = addresses.split(",") if isinstance(addresses, str) else list(addresses)
    return [a.strip() for a in items if a.strip()]


class Endpoint:
    """One server: a lazily opened channel and its stubs."""

    def __init__(
        self,
        address: str,
        tls: Optional[bool],
        root_certificates: Optional[bytes],
        options: Sequence[Tuple[str, Any]],
    ) -> None:
        self.target, scheme_tls = parse_address(address)
        self.tls = scheme_tls if tls is None else tls
        self._root_certificates = root_certificates
        self._options = list(options)
        self._lock = threading.Lock()
        self._channel: Optional[grpc.Channel] = None
        self._registry: Optional[registry_pb2_grpc.RegistryServiceStub] = None
        self._resolver: Optional[resolver_pb2_grpc.ResolverServiceStub] = None

    def _open(self) -> grpc.Channel:
        with self._lock:
            if self._channel is None:
                if self.tls:
                    creds = grpc.ssl_channel_credentials(root_certificates=self._root_certificates)
                    self._channel = grpc.secure_channel(self.target, creds, options=self._options)
                else:
                    self._channel = grpc.insecure_channel(self.target, options=self._options)
                self._registry = registry_pb2_grpc.RegistryServiceStub(self._channel)  # type: ignore[no-untyped-call]
                self._resolver = resolver_pb2_grpc.ResolverServiceStub(self._channel)  # type: ignore[no-untyped-call]
            return self._channel

    @property
    def registry(self) -> registry_pb2_grpc.RegistryServiceStub:
        self._open()
        assert self._registry is not None
        return self._registry

    @property
    def resolver(self) -> resolver_pb2_grpc.ResolverServiceStub:
        self._open()
        assert self._resolver is not None
        return self._resolver

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = self._registry = self._resolver = None

    def reset(self) -> None:
        """Drops the channel after a transport failure, so the next call dials at once instead of
        waiting out gRPC's reconnect back-off (which grows to seconds after a few failures)."""
        self.close()


#: What gRPC says when the connection itself failed (not an UNAVAILABLE the server answered).
TRANSPORT_FAILURE = re.compile(
    r"failed to connect|Socket closed|Connection refused|Connection reset|Broken pipe|"
    r"connections to all backends failing|Connection timed out",
    re.IGNORECASE,
)


class Pool:
    """Several equivalent servers (read nodes): calls go to the last one that answered and move on
    to the next when one is UNAVAILABLE."""

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        if not endpoints:
            raise ValueError("at least one address is needed")
        self.endpoints = list(endpoints)
        self._current = 0
        self._lock = threading.Lock()

    def current(self) -> Endpoint:
        with self._lock:
            return self.endpoints[self._current]

    def fail_over(self, failed: Endpoint) -> None:
        """Move past ``failed`` (unless another thread already did)."""
        with self._lock:
            if self.endpoints[self._current] is failed:
                self._current = (self._current + 1) % len(self.endpoints)

    def close(self) -> None:
        for endpoint in self.endpoints:
            endpoint.close()


class Backoff:
    """Capped exponential backoff with full jitter: 50 ms, 100 ms, ... up to ``cap`` seconds."""

    def __init__(self, base: float = 0.05, cap: float = 2.0) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def reset(self) -> None:
        self.attempt = 0

    def sleep(self, stop: Optional[threading.Event] = None) -> None:
        delay = random.uniform(0, min(self.cap, self.base * (2**self.attempt)))
        self.attempt = min(self.attempt + 1, 16)
        if stop is not None:
            stop.wait(delay)
        else:
            time.sleep(delay)


def invoke(
    pool: Pool,
    call: Callable[[Endpoint, Metadata, Optional[float]], T],
    metadata: Metadata,
    *,
    timeout: Optional[float],
    retries: int,
    retry: bool,
) -> T:
    """Runs ``call`` on the pool's current endpoint. With ``retry`` (reads, and writes made
    idempotent by a request id), UNAVAILABLE moves to the next endpoint and tries again, up to
    ``retries`` more times with backoff; anything else raises the matching BinderyError."""
    backoff = Backoff()
    attempt = 0
    while True:
        endpoint = pool.current()
        try:
            return call(endpoint, metadata, timeout)
        except grpc.RpcError as error:
            code = error.code() if callable(getattr(error, "code", None)) else None
            if retry and code == grpc.StatusCode.UNAVAILABLE and attempt < retries:
                attempt += 1
                details = error.details() if callable(getattr(error, "details", None)) else ""
                if TRANSPORT_FAILURE.search(details or ""):
                    endpoint.reset()
                pool.fail_over(endpoint)
                backoff.sleep()
                continue
            raise from_rpc_error(error) from None
