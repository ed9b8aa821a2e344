"""WatchBindings as a Python iterator that survives disconnects and reader restarts."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import grpc

from ._transport import TRANSPORT_FAILURE, Backoff, Metadata, Pool
from .errors import from_rpc_error
from .v1 import resolver_pb2

#: Codes after which a watch reconnects (to the next reader) instead of failing: the node went
#: away, restarted, shed load or the connection broke.
RECONNECT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
    }
)


@dataclass(frozen=True)
class WatchUpdate:
    """One step of a watch. ``reset``: ``bindings`` is the whole current state of what is
    watched (replace your view); otherwise the changes made at ``revision`` (deleted bindings have
    ``deleted`` set)."""

    revision: int
    reset: bool
    bindings: List[resolver_pb2.BindingState]


class Watch(Iterator[WatchUpdate]):
    """Iterate to receive updates; :meth:`cancel` (from any thread) ends the iteration.

    After a disconnect it reconnects with backoff, to the next reader when there are several,
    resuming after the last revision it delivered, so no change is skipped or repeated; a reader
    that no longer has those changes answers with a reset. ``bindings`` is the view kept current
    by the updates delivered so far."""

    def __init__(self, pool: Pool, request: resolver_pb2.WatchBindingsRequest, metadata: Metadata) -> None:
        self._pool = pool
        self._request = request
        self._metadata = metadata
        self._revision = request.since_revision
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._stream: Optional[Any] = None
        self._backoff = Backoff(base=0.1, cap=5.0)
        self.reconnects = 0
        self.bindings: Dict[Tuple[str, str], resolver_pb2.BindingState] = {}

    @property
    def revision(self) -> int:
        """The revision of the last update delivered (where a reconnect resumes)."""
        return self._revision

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            if self._stream is not None:
                self._stream.cancel()

    def __iter__(self) -> "Watch":
        return self

    def _open(self) -> Any:
        endpoint = self._pool.current()
        request = resolver_pb2.WatchBindingsRequest()
        request.CopyFrom(self._request)
        request.since_revision = self._revision
        stream = endpoint.resolver.WatchBindings(request, metadata=self._metadata)
        with self._lock:
            self._stream = stream
        if self._cancelled.is_set():
            stream.cancel()
        return stream

    def _reconnect(self, error: Optional[grpc.RpcError] = None) -> None:
        endpoint = self._pool.current()
        details = error.details() if error is not None and callable(getattr(error, "details", None)) else ""
        if TRANSPORT_FAILURE.search(details or ""):
            endpoint.reset()
        self._pool.fail_over(endpoint)
        with self._lock:
            self._stream = None
        self.reconnects += 1
        self._backoff.sleep(self._cancelled)

    def __next__(self) -> WatchUpdate:
        pending: List[resolver_pb2.BindingState] = []
        assembling = False
        while not self._cancelled.is_set():
            stream = self._stream if self._stream is not None else self._open()
            try:
                message = next(stream)
            except StopIteration:
                pending, assembling = [], False
                self._reconnect()
                continue
            except grpc.RpcError as error:
                if self._cancelled.is_set():
                    break
                if error.code() not in RECONNECT:
                    raise from_rpc_error(error) from None
                pending, assembling = [], False
                self._reconnect(error)
                continue
            if message.reset:
                pending, assembling = list(message.bindings), True
            elif assembling:
                pending.extend(message.bindings)
            else:
                pending = list(message.bindings)
            if message.continues:
                continue
            update = WatchUpdate(int(message.revision), assembling, pending)
            self._apply(update)
            self._revision = update.revision
            self._backoff.reset()
            return update
        raise StopIteration

    def _apply(self, update: WatchUpdate) -> None:
        if update.reset:
            self.bindings = {}
        for state in update.bindings:
            key = (state.model_name, state.binding)
            if state.deleted:
                self.bindings.pop(key, None)
            else:
                self.bindings[key] = state
