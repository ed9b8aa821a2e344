"""The Python client against real registries (see conftest.py): registration through upload
sessions, resolve, verified download, watch with failover, paging, errors and retries."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from typing import List

import grpc
import pytest

import bindery
from bindery.v1 import types_pb2

from conftest import Registry, free_port


def write_model_dir(root: str) -> dict:
    """A small model directory with a nested file; returns {relative path: bytes}."""
    files = {
        "model.onnx": os.urandom(4096),
        "config.json": b'{"threshold": 0.5}',
        "tokenizer/vocab.txt": b"a\nb\nc\n",
    }
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return files


def read_tree(root: str) -> dict:
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root).replace(os.sep, "/")] = open(full, "rb").read()
    return out


def test_register_directory_resolve_and_download(client: bindery.Client, model: str, tmp_path) -> None:
    files = write_model_dir(str(tmp_path / "model"))
    run = f"run-{uuid.uuid4().hex[:8]}"
    registered = client.register_version(
        model,
        str(tmp_path / "model"),
        request_id=run,
        metrics={"auc": 0.93},
        params={"lr": 0.01, "depth": 6},
        tags={"team": "fraud"},
        lineage={"training_run_id": run, "datasets": [{"uri": "s3://data/train", "version": "v3"}]},
        signature={"inputs": [{"name": "x", "type": "double"}], "outputs": None},
        format="onnx",
    )
    assert registered.created
    version = registered.version
    assert version.version == 1
    assert version.status == types_pb2.VERSION_STATUS_READY
    assert version.artifact.uri.endswith("/")
    assert sorted(f.path for f in version.artifact.files) == sorted(files)
    assert version.params["lr"] == "0.01" and version.metrics["auc"] == pytest.approx(0.93)
    assert version.lineage.datasets[0].version == "v3"

    # The same request id again is the same version, not a second one.
    again = client.register_version(model, str(tmp_path / "model"), request_id=run, metrics={"auc": 0.93},
                                    params={"lr": 0.01, "depth": 6}, tags={"team": "fraud"},
                                    lineage={"training_run_id": run, "datasets": [{"uri": "s3://data/train", "version": "v3"}]},
                                    signature={"inputs": [{"name": "x", "type": "double"}], "outputs": None},
                                    format="onnx")
    assert not again.created and again.version.version == 1

    bound = client.set_binding(model, "production", 1, expected_generation=0, reason="first")
    assert bound.binding.generation == 1
    answer = client.resolve(f"{model}@production", min_revision=bound.revision)
    assert answer.version == 1 and answer.artifact_uri == version.artifact.uri
    assert answer.revision >= bound.revision

    got = client.download(f"{model}@production", to=str(tmp_path / "fetched"), min_revision=bound.revision)
    assert got.version == 1 and got.generation == 1
    assert read_tree(str(tmp_path / "fetched")) == files
    assert len(got.files) == 3


def test_single_file_and_multipart(client: bindery.Client, model: str, tmp_path) -> None:
    # 11 MiB: three parts of at most 5 MiB (the servers run with a 5 MiB threshold).
    data = os.urandom(11 * 1024 * 1024 + 17)
    path = tmp_path / "weights.safetensors"
    path.write_bytes(data)
    registered = client.register_version(model, str(path))
    assert registered.version.artifact.size_bytes == len(data)
    assert registered.version.artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert registered.version.artifact.sha256_verified
    bound = client.set_binding(model, "staging", registered.version.version)
    got = client.download(model, str(tmp_path / "out"), binding="staging", min_revision=bound.revision)
    assert (tmp_path / "out" / "weights.safetensors").read_bytes() == data
    assert got.files == [str(tmp_path / "out" / "weights.safetensors")]


def _object_path(registry: Registry, uri: str) -> str:
    """Where the object store keeps the bytes of `uri` on disk (to corrupt them)."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    if registry.kind == "dev":
        return os.path.join(registry.workdir, "data", "artifacts", bucket, key)
    return os.path.join(registry.workdir, "s3", bucket, key)


def test_corrupt_download_is_refused_and_nothing_written(
    registry: Registry, client: bindery.Client, model: str, tmp_path
) -> None:
    files = write_model_dir(str(tmp_path / "model"))
    v = client.register_version(model, str(tmp_path / "model")).version
    bound = client.set_binding(model, "production", v.version)
    stored = _object_path(registry, v.artifact.uri + "model.onnx")
    with open(stored, "r+b") as f:  # same size, different bytes
        f.write(b"\x00" * 16)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("previous model")
    with pytest.raises(bindery.ChecksumMismatch) as caught:
        client.download(f"{model}@production", to=str(dest), min_revision=bound.revision)
    assert caught.value.code == grpc.StatusCode.DATA_LOSS
    assert "model.onnx" in str(caught.value)
    assert sorted(os.listdir(dest)) == ["keep.txt"], "a refused download must leave the directory as it was"
    assert files  # the local copy is untouched, of course


def test_errors_carry_grpc_codes(client: bindery.Client, model: str) -> None:
    with pytest.raises(bindery.NotFound) as missing:
        client.get_model("py/does-not-exist")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND and missing.value.code_name == "NOT_FOUND"
    with pytest.raises(bindery.AlreadyExists):
        client.create_model(model)
    with pytest.raises(bindery.InvalidArgument) as bad:
        client.create_model("Not A Name")
    assert "name" in bad.value.message
    with pytest.raises(bindery.NotFound):
        client.resolve(f"{model}@production")
    with pytest.raises(ValueError):
        client.resolve("no-binding-here")


def test_compare_and_set_and_rollback(client: bindery.Client, model: str, tmp_path) -> None:
    write_model_dir(str(tmp_path / "m"))
    for i in range(2):
        client.register_version(model, str(tmp_path / "m"), request_id=f"r{i}")
    first = client.set_binding(model, "production", 1, expected_generation=0)
    with pytest.raises(bindery.Aborted):
        client.set_binding(model, "production", 2, expected_generation=0)
    client.set_binding(model, "production", 2, expected_generation=first.binding.generation)
    back = client.rollback(model, "production", reason="p99 regression")
    assert back.binding.version == 1 and back.binding.generation == 3
    history = list(client.binding_history(model, "production"))
    assert [e.after_version for e in history] == [1, 2, 1]
    assert [b.name for b in client.list_bindings(model)] == ["production"]


def test_listings_follow_every_page(client: bindery.Client, tmp_path) -> None:
    namespace = f"pg{uuid.uuid4().hex[:8]}"
    for i in range(7):
        client.create_model(f"{namespace}/m{i}", tags={"i": str(i)})
    found = list(client.list_models(f"namespace = '{namespace}'", page_size=3))
    assert [m.name for m in found] == [f"{namespace}/m{i}" for i in range(7)]
    write_model_dir(str(tmp_path / "m"))
    for i in range(5):
        client.register_version(f"{namespace}/m0", str(tmp_path / "m"), metrics={"auc": 0.8 + i / 100})
    best = list(client.search_versions("metrics.auc >= 0.82", model=f"{namespace}/m0", order_by="metrics.auc DESC"))
    assert [v.version for v in best] == [5, 4, 3]
    with pytest.raises(bindery.InvalidArgument):
        list(client.list_versions(filter="metrics.auc >>> 1"))


def test_update_model_and_version(client: bindery.Client, model: str, tmp_path) -> None:
    updated = client.update_model(model, description="fraud scorer", set_tags={"tier": "1"})
    assert updated.description == "fraud scorer" and updated.tags["tier"] == "1"
    write_model_dir(str(tmp_path / "m"))
    client.register_version(model, str(tmp_path / "m"), metrics={"auc": 0.9})
    v = client.update_version(model, 1, add_metrics={"online_error_rate": 0.01}, set_tags={"reviewed": "yes"})
    assert v.metrics["online_error_rate"] == pytest.approx(0.01) and v.tags["reviewed"] == "yes"
    with pytest.raises(bindery.FailedPrecondition):
        client.update_version(model, 1, add_metrics={"auc": 0.99})


def _next(watch: bindery.Watch, timeout: float = 20.0) -> bindery.WatchUpdate:
    """The watch's next update, failing the test instead of hanging."""
    box: List[object] = []
    t = threading.Thread(target=lambda: box.append(next(watch)), daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        watch.cancel()
        pytest.fail(f"no watch update within {timeout} s")
    update = box[0]
    assert isinstance(update, bindery.WatchUpdate)
    return update


def test_watch_follows_changes(client: bindery.Client, model: str, tmp_path) -> None:
    write_model_dir(str(tmp_path / "m"))
    client.register_version(model, str(tmp_path / "m"), request_id="a")
    client.register_version(model, str(tmp_path / "m"), request_id="b")
    client.set_binding(model, "production", 1)
    watch = client.watch([model])
    try:
        first = _next(watch)
        assert first.reset and [(b.binding, b.version) for b in first.bindings] == [("production", 1)]
        moved = client.set_binding(model, "production", 2)
        change = _next(watch)
        assert not change.reset and change.revision == moved.revision
        assert [(b.binding, b.version, b.generation) for b in change.bindings] == [("production", 2, 2)]
        client.delete_binding(model, "production")
        gone = _next(watch)
        assert gone.bindings[0].deleted
        assert watch.bindings == {}
    finally:
        watch.cancel()
    with pytest.raises(StopIteration):
        next(watch)


def test_watch_and_resolve_fail_over_between_readers(registry: Registry, client: bindery.Client, model: str, tmp_path) -> None:
    if registry.kind != "postgres":
        pytest.skip("one process in dev: nothing to fail over to")
    write_model_dir(str(tmp_path / "m"))
    client.register_version(model, str(tmp_path / "m"), request_id="a")
    client.register_version(model, str(tmp_path / "m"), request_id="b")
    client.set_binding(model, "production", 1)
    watch = client.watch([model])
    reader_a = next(p for p in registry.processes if p.address == registry.readers[0])
    try:
        assert _next(watch).reset
        reader_a.stop()  # the reader the watch (and resolve) use goes away
        moved = client.set_binding(model, "production", 2)
        # The watch reconnects to reader-b and resumes after the last revision it delivered.
        change = _next(watch)
        assert change.revision == moved.revision and change.bindings[0].version == 2
        assert watch.reconnects >= 1
        assert client.resolve(model, "production", min_revision=moved.revision).version == 2
    finally:
        watch.cancel()
        reader_a.start()


def test_retry_moves_past_an_unreachable_reader(registry: Registry, model: str, tmp_path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    readers = [dead, *(registry.readers or [registry.address])]
    with registry.client(readers=readers) as c:
        write_model_dir(str(tmp_path / "m"))
        c.register_version(model, str(tmp_path / "m"))
        bound = c.set_binding(model, "production", 1)
        assert c.resolve(f"{model}@production", min_revision=bound.revision).version == 1
    with registry.client(readers=[dead], retries=1, timeout=5) as c:
        with pytest.raises(bindery.Unavailable):
            c.resolve(f"{model}@production")


def test_authentication(registry: Registry, model: str) -> None:
    if registry.kind != "postgres":
        pytest.skip("bindery dev runs without authentication by default")
    with registry.client(token="") as anonymous:
        with pytest.raises(bindery.Unauthenticated):
            anonymous.get_model(model)
    with registry.client(token="bdy_" + "0" * 64) as forged:
        with pytest.raises(bindery.Unauthenticated):
            forged.resolve(f"{model}@production")
    with registry.client() as admin:
        assert admin.whoami().principal == "admin"


def test_environment_configures_the_client(registry: Registry, model: str, monkeypatch) -> None:
    monkeypatch.setenv("BINDERY_ADDRESS", f"http://{registry.address}")
    monkeypatch.setenv("BINDERY_READERS", ",".join(registry.readers))
    if registry.token:
        monkeypatch.setenv("BINDERY_TOKEN", registry.token)
    with bindery.Client() as c:
        assert c.get_model(model).name == model
