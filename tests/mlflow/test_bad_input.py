"""Bad input to the MLflow facade gets MLflow's error shape with a code and a message a user can
act on, never a 5xx, and changes nothing."""

from __future__ import annotations

import uuid

import requests


def call(reg, method: str, endpoint: str, **kwargs):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {reg.token}"} if reg.token else {}
    return requests.request(method, f"{reg.mlflow_uri}/api/2.0/{endpoint}", headers=headers, timeout=30, **kwargs)


def expect(resp, status: int, code: str, words: str = "") -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error_code"] == code, body
    assert words.lower() in body["message"].lower(), body


def test_malformed_requests_are_refused_with_mlflow_errors(mlflow_env) -> None:
    reg = mlflow_env
    name = f"bad-{uuid.uuid4().hex[:8]}"
    expect(call(reg, "POST", "mlflow/registered-models/create", data=b"{not json"), 400, "INVALID_PARAMETER_VALUE", "json")
    expect(call(reg, "POST", "mlflow/registered-models/create", json=[1, 2]), 400, "INVALID_PARAMETER_VALUE", "object")
    expect(call(reg, "POST", "mlflow/registered-models/create", json={}), 400, "INVALID_PARAMETER_VALUE", "'name'")
    expect(call(reg, "POST", "mlflow/registered-models/create", json={"name": "Has Spaces"}), 400,
           "INVALID_PARAMETER_VALUE")
    expect(call(reg, "POST", "mlflow/registered-models/create", json={"name": name, "tags": "x"}), 400,
           "INVALID_PARAMETER_VALUE", "tags")
    expect(call(reg, "POST", "mlflow/registered-models/create", json={"name": "x" * 2_000_000}), 413,
           "RESOURCE_EXHAUSTED")
    assert call(reg, "POST", "mlflow/registered-models/create", json={"name": name}).status_code == 200
    expect(call(reg, "GET", "mlflow/model-versions/get", params={"name": name, "version": "abc"}), 400,
           "INVALID_PARAMETER_VALUE", "version")
    expect(call(reg, "GET", "mlflow/registered-models/search", params={"max_results": "0"}), 400,
           "INVALID_PARAMETER_VALUE", "max_results")
    expect(call(reg, "GET", "mlflow/registered-models/search", params={"filter": "metrics.auc > 1"}), 400,
           "INVALID_PARAMETER_VALUE")
    expect(call(reg, "GET", "mlflow/registered-models/search", params={"order_by": "name SIDEWAYS"}), 400,
           "INVALID_PARAMETER_VALUE", "asc or desc")
    expect(call(reg, "POST", "mlflow/model-versions/transition-stage",
                json={"name": name, "version": "1", "stage": "Prod"}), 400, "INVALID_PARAMETER_VALUE", "stage")
    expect(call(reg, "POST", "mlflow/registered-models/alias", json={"name": name, "alias": "production", "version": "1"}),
           400, "INVALID_PARAMETER_VALUE", "transition-stage")
    for source in ("runs:/abc/model", "/tmp/model", "file:///tmp/model", "s3://bucket-only"):
        expect(call(reg, "POST", "mlflow/model-versions/create", json={"name": name, "source": source}), 400,
               "INVALID_PARAMETER_VALUE", "source")
    expect(call(reg, "GET", "mlflow/experiments/get", params={"experiment_id": "0"}), 404, "ENDPOINT_NOT_FOUND")
    expect(call(reg, "PUT", "mlflow/registered-models/create"), 404, "ENDPOINT_NOT_FOUND")
    # Artifact paths: relative, inside a model's files, never the store's root.
    expect(call(reg, "PUT", f"mlflow-artifacts/artifacts/{name}/a/%2E%2E/%2E%2E/x", data=b"1"), 400, "INVALID_PARAMETER_VALUE")
    expect(call(reg, "PUT", "mlflow-artifacts/artifacts/no-such-model/x", data=b"1"), 404, "RESOURCE_DOES_NOT_EXIST")
    expect(call(reg, "GET", "mlflow-artifacts/artifacts"), 400, "INVALID_PARAMETER_VALUE", "model name")
    expect(call(reg, "GET", f"mlflow-artifacts/artifacts/{name}/missing.bin"), 404, "RESOURCE_DOES_NOT_EXIST")
    # Nothing was half-written: the model has no versions and no tags.
    got = call(reg, "GET", "mlflow/registered-models/get", params={"name": name}).json()["registered_model"]
    assert "latest_versions" not in got and "tags" not in got
