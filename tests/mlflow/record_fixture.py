"""Records fixtures/mlflow-<version>.json from a real MLflow server: what MLflow itself answers
to scenario.py. Run once per pinned MLflow version (the fixture is checked in):

    target/mlflow-venv/bin/python tests/mlflow/record_fixture.py
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import mlflow
import requests

import scenario

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db", "--artifacts-destination", f"{tmp}/artifacts",
             "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    if requests.get(f"{base}/health", timeout=1).ok:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the MLflow server did not start")
                time.sleep(0.5)
            answers = scenario.run(base, "fixture-model", "s3://fixture-bucket/fixture-model/files")
        finally:
            server.terminate()
            server.wait()
    path = os.path.join(HERE, "fixtures", f"mlflow-{mlflow.__version__}.json")
    with open(path, "w") as f:
        json.dump({"mlflow_version": mlflow.__version__, "answers": answers}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
