"""Bindery's MLflow facade answers scenario.py as MLflow's own server did when the fixture was
recorded (fixtures/mlflow-<version>.json): the same HTTP status and error code for every call,
and the same JSON once timestamps, messages and artifact locations are set aside. Every place
where Bindery answers differently on purpose is listed in DIFFERENCES, with why."""

from __future__ import annotations

import json
import os
from typing import Any, Dict

import mlflow
import requests

import scenario

HERE = os.path.dirname(os.path.abspath(__file__))

#: label -> (HTTP status, error_code) Bindery answers instead, and why (README "MLflow compatibility").
DIFFERENCES = {
    "rename_model": (501, "NOT_IMPLEMENTED", "Bindery refuses renames: serving configs and the audit trail use the name"),
}


#: Answers where Bindery lists a version's `aliases` and MLflow 3.17 leaves them out (versions in
#: searches and in a model's `latest_versions`); MLflow's client reads them when present.
ALIASES_ON_EVERY_VERSION = {"get_model_with_alias", "search_models", "search_models_paged", "search_versions"}


def without_version_aliases(body: Any) -> Any:
    """`body` without the `aliases` of the versions in it, after checking they are right."""
    if isinstance(body, dict):
        if "current_stage" in body and "aliases" in body:
            assert body["aliases"] == ["champion"], body
            body = {k: v for k, v in body.items() if k != "aliases"}
        return {k: without_version_aliases(v) for k, v in body.items()}
    if isinstance(body, list):
        return [without_version_aliases(v) for v in body]
    return body


def normalize(body: Any) -> Any:
    """The answer without what legitimately differs between two servers: timestamps (checked to
    be integers), messages, artifact locations, and MLflow's extra error fields."""
    if isinstance(body, dict):
        out: Dict[str, Any] = {}
        for key, value in body.items():
            if key in ("error_class", "sqlstate"):
                continue
            if key.endswith("_timestamp"):
                assert isinstance(value, int) and value > 0, (key, value)
                out[key] = "<timestamp>"
            elif key == "message":
                out[key] = "<message>"
            elif key in ("source", "artifact_uri"):
                out[key] = "<source>"
            else:
                out[key] = normalize(value)
        return out
    if isinstance(body, list):
        return [normalize(v) for v in body]
    return body


def test_every_call_answers_as_mlflows_own_server(mlflow_env) -> None:
    fixture_path = os.path.join(HERE, "fixtures", f"mlflow-{mlflow.__version__}.json")
    with open(fixture_path) as f:
        recorded = json.load(f)["answers"]
    base = mlflow_env.mlflow_uri
    headers = {"Authorization": f"Bearer {mlflow_env.token}"} if mlflow_env.token else {}
    # The version's files, uploaded through the facade's artifact proxy under another model.
    requests.post(f"{base}/api/2.0/mlflow/registered-models/create", json={"name": "files-holder"},
                  headers=headers, timeout=30).raise_for_status()
    put = requests.put(f"{base}/api/2.0/mlflow-artifacts/artifacts/files-holder/v1/MLmodel", data=b"flavors: {}\n",
                       headers=headers, timeout=30)
    assert put.status_code == 200, put.text

    answers = scenario.run(base, "fixture-model", "mlflow-artifacts:/files-holder/v1", headers=headers)

    assert set(answers) == set(recorded)
    mismatches = []
    for label, expected in recorded.items():
        got = answers[label]
        if label in DIFFERENCES:
            status, code, _why = DIFFERENCES[label]
            assert (got["status"], got["body"].get("error_code")) == (status, code), (label, got)
            continue
        body = without_version_aliases(got["body"]) if label in ALIASES_ON_EVERY_VERSION else got["body"]
        if got["status"] != expected["status"] or normalize(body) != normalize(expected["body"]):
            mismatches.append(f"{label}:\n  mlflow:  {expected['status']} {json.dumps(normalize(expected['body']), sort_keys=True)}"
                              f"\n  bindery: {got['status']} {json.dumps(normalize(got['body']), sort_keys=True)}")
    assert not mismatches, "\n".join(mismatches)
