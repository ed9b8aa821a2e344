"""The routing rule of docs/routing.md, for applying a split locally (from a WatchBindings or
Resolve answer without a routing key, which carries every side's bucket ranges)."""

from __future__ import annotations

import hashlib
from typing import Iterable, List, Optional, Tuple

from .v1 import resolver_pb2

BUCKETS = 10_000


def bucket(model: str, binding: str, routing_key: str) -> int:
    """The routing bucket (0..9999) of ``routing_key`` on ``model@binding``: the first 8 bytes of
    SHA-256(model, 0, binding, 0, key) as a big-endian integer, mod 10000."""
    digest = hashlib.sha256(
        model.encode("utf-8") + b"\0" + binding.encode("utf-8") + b"\0" + routing_key.encode("utf-8")
    ).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def route(
    model: str,
    binding: str,
    routing_key: str,
    sides: Iterable[resolver_pb2.ResolvedMember],
    shadows: Iterable[resolver_pb2.ResolvedMember] = (),
) -> Tuple[Optional[resolver_pb2.ResolvedMember], List[resolver_pb2.ResolvedMember]]:
    """The side ``routing_key`` lands on (None if no side's ranges hold its bucket, which a
    well-formed split never has) and the shadows it is mirrored to."""
    b = bucket(model, binding, routing_key)
    side = next((s for s in sides if any(r.start <= b < r.end for r in s.buckets)), None)
    return side, [s for s in shadows if b < s.mirror]
