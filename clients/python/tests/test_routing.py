"""The routing hash against docs/routing.md's test vectors, and a split applied locally agrees
with the registry's own answer for the same keys."""

from __future__ import annotations

import os

import pytest

import bindery
from bindery import routing
from bindery.v1 import types_pb2

VECTORS = [
    ("fraud/detector", "production", "user-1", 5781),
    ("fraud/detector", "production", "user-2", 530),
    ("fraud/detector", "production", "", 4870),
    ("fraud/detector", "staging", "user-1", 5156),
    ("ranker", "champion", "session:9f86d081", 8647),
    ("ranker", "champion", "ünïcödé", 6406),
]


@pytest.mark.parametrize("model,binding,key,expected", VECTORS)
def test_documented_vectors(model: str, binding: str, key: str, expected: int) -> None:
    assert routing.bucket(model, binding, key) == expected


def test_local_routing_matches_the_registry(client: bindery.Client, model: str, tmp_path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(os.urandom(64))
    for i in range(2):
        client.register_version(model, str(tmp_path / "m"), request_id=f"r{i}")
    client.set_binding(model, "production", 1)
    split = types_pb2.Traffic(
        sides=[types_pb2.TrafficSide(version=1, weight=9000), types_pb2.TrafficSide(version=2, weight=1000)],
    )
    written = client.set_binding(model, "production", traffic=split)
    whole = client.resolve(model, "production", min_revision=written.revision)
    assert [s.version for s in whole.sides] == [1, 2]
    for i in range(50):
        key = f"user-{i}"
        side, _ = routing.route(model, "production", key, whole.sides, whole.shadows)
        assert side is not None
        served = client.resolve(model, "production", routing_key=key)
        assert served.version == side.version and served.bucket == routing.bucket(model, "production", key)
