"""The registries the MLflow suite drives: the Python client suite's fixtures (clients/python/
tests/conftest.py: `bindery dev`, and a primary with read nodes on PostgreSQL and s3s-fs), each
with MLflow's REST API on its own port. Nothing is mocked: the `mlflow` package is the real one,
pinned in requirements.txt.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

_spec = importlib.util.spec_from_file_location(
    "bindery_registries", os.path.join(ROOT, "clients", "python", "tests", "conftest.py")
)
assert _spec is not None and _spec.loader is not None
registries = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = registries  # dataclasses look their module up there
_spec.loader.exec_module(registries)

# MLflow's client retries 5xx answers for minutes by default; a failure here should fail fast.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")


#: Each module runs against `bindery dev` (no auth) and a PostgreSQL primary (tokens), as the
#: client suite's do; failures show the registry's logs.
registry = registries.registry
pytest_runtest_makereport = registries.pytest_runtest_makereport


@pytest.fixture
def mlflow_env(registry: "registries.Registry", monkeypatch: pytest.MonkeyPatch) -> "registries.Registry":
    """MLflow pointed at the registry, with its admin token as MLFLOW_TRACKING_TOKEN."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.mlflow_uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry.mlflow_uri)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    if registry.token:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", registry.token)
    else:
        monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    return registry
