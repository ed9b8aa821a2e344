"""The examples run as users would run them: a training job registers a directory, a sidecar
downloads what the binding serves and follows it when it moves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

from conftest import Registry

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def run_example(registry: Registry, *argv: str) -> str:
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, argv[0]), *argv[1:]], env=example_env(registry),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def example_env(registry: Registry) -> dict:
    env = dict(os.environ, BINDERY_ADDRESS=registry.address, BINDERY_READERS=",".join(registry.readers))
    if registry.token:
        env["BINDERY_TOKEN"] = registry.token
    return env


def model_dir(root, auc: float) -> str:
    os.makedirs(os.path.join(root, "weights"), exist_ok=True)
    with open(os.path.join(root, "weights", "model.bin"), "wb") as f:
        f.write(os.urandom(2048))
    with open(os.path.join(root, "metrics.json"), "w") as f:
        json.dump({"auc": auc}, f)
    return str(root)


def test_training_job_and_sidecar(registry: Registry, tmp_path) -> None:
    model = f"examples/m-{uuid.uuid4().hex[:8]}"
    first = run_example(registry, "train.py", model, model_dir(tmp_path / "out1", 0.91), "--run-id", "run-1",
                        "--bind", "production")
    assert f"registered {model} v1" in first
    # A retried job gets its version back instead of a second one.
    again = run_example(registry, "train.py", model, str(tmp_path / "out1"), "--run-id", "run-1", "--bind", "")
    assert f"already registered {model} v1" in again

    serve = tmp_path / "models"
    run_example(registry, "sidecar.py", f"{model}@production", str(serve), "--once")
    assert os.readlink(serve / "current") == "v1"
    assert (serve / "current" / "metrics.json").read_text() == '{"auc": 0.91}'

    sidecar = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "sidecar.py"), f"{model}@production", str(serve)],
                               env=example_env(registry), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        run_example(registry, "train.py", model, model_dir(tmp_path / "out2", 0.94), "--run-id", "run-2",
                    "--bind", "production")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (os.path.islink(serve / "current") and os.readlink(serve / "current") == "v2"):
            time.sleep(0.1)
        assert os.readlink(serve / "current") == "v2", "the sidecar did not swap to v2"
        assert (serve / "current" / "metrics.json").read_text() == '{"auc": 0.94}'
        assert (serve / "v1").is_dir(), "the previous version stays for a local rollback"
    finally:
        sidecar.kill()
        output = sidecar.communicate()[0]
    assert "serving v2" in output, output
