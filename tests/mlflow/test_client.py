"""Unmodified MLflow client code against Bindery: MlflowClient's registry calls, a pyfunc model
saved, uploaded through the artifact proxy, registered, aliased and loaded back by alias, and
authentication with MLflow's own token and basic-auth settings."""

from __future__ import annotations

import base64
import os
import subprocess
import uuid

import mlflow
import mlflow.pyfunc
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def upload(local_dir: str, path: str) -> str:
    """Uploads a directory through the registry's mlflow-artifacts proxy, as MLflow does."""
    source = f"mlflow-artifacts:/{path}"
    get_artifact_repository(source).log_artifacts(local_dir)
    return source


class AddN(mlflow.pyfunc.PythonModel):
    def __init__(self, n: int) -> None:
        self.n = n

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return [x + self.n for x in model_input["x"]]


def test_models_versions_tags_aliases_stages_and_search(mlflow_env) -> None:
    client = MlflowClient()
    name = unique("clf")
    model = client.create_registered_model(name, tags={"team": "fraud"}, description="fraud classifier")
    assert model.name == name and model.tags == {"team": "fraud"} and model.description == "fraud classifier"

    with pytest.raises(MlflowException) as dup:
        client.create_registered_model(name)
    assert dup.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as missing:
        client.get_registered_model(unique("missing"))
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # Files for the versions, through the artifact proxy.
    files = os.path.join(mlflow_env.workdir, unique("files"))
    os.makedirs(files)
    with open(os.path.join(files, "weights.bin"), "wb") as f:
        f.write(os.urandom(1024))
    source = upload(files, f"{name}/run-1/model")

    v1 = client.create_model_version(name, source, run_id="run-1", tags={"stage": "candidate"}, description="first")
    v2 = client.create_model_version(name, source, run_id="run-2")
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.run_id == "run-1" and v1.tags == {"stage": "candidate"} and v1.status == "READY"
    assert v1.source == source

    client.set_model_version_tag(name, "1", "reviewed", "yes")
    client.delete_model_version_tag(name, "1", "stage")
    client.update_model_version(name, "1", description="first, reviewed")
    got = client.get_model_version(name, "1")
    assert got.tags == {"reviewed": "yes"} and got.description == "first, reviewed"
    client.set_registered_model_tag(name, "tier", "1")
    client.delete_registered_model_tag(name, "team")
    client.update_registered_model(name, description="updated")
    got_model = client.get_registered_model(name)
    assert got_model.tags == {"tier": "1"} and got_model.description == "updated"

    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "2")
    by_alias = client.get_model_version_by_alias(name, "champion")
    assert by_alias.version == "1" and by_alias.aliases == ["champion"]
    assert client.get_registered_model(name).aliases == {"champion": "1", "challenger": "2"}
    # MLflow's semantics: setting an alias moves it, no compare-and-set.
    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    client.delete_registered_model_alias(name, "challenger")
    with pytest.raises(MlflowException) as gone:
        client.get_model_version_by_alias(name, "challenger")
    assert gone.value.error_code == "INVALID_PARAMETER_VALUE"

    staged = client.transition_model_version_stage(name, "1", "Staging")
    assert staged.current_stage == "Staging"
    client.transition_model_version_stage(name, "2", "Production")
    latest = {v.current_stage: v.version for v in client.get_latest_versions(name, stages=["Staging", "Production"])}
    assert latest == {"Staging": "1", "Production": "2"}
    # Promoting 1 to Production archives 2 only if nothing else binds it: `champion` still does.
    with pytest.raises(MlflowException) as blocked:
        client.transition_model_version_stage(name, "1", "Production", archive_existing_versions=True)
    assert blocked.value.error_code == "BAD_REQUEST" and "champion" in blocked.value.message
    client.set_registered_model_alias(name, "champion", "1")
    moved = client.transition_model_version_stage(name, "1", "Production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    assert client.get_model_version(name, "2").current_stage == "Archived"

    versions = client.search_model_versions(f"name = '{name}' AND run_id = 'run-1'")
    assert [v.version for v in versions] == ["1"]
    assert {v.version for v in client.search_model_versions(f"name = '{name}'")} == {"1", "2"}
    with pytest.raises(MlflowException) as bad:
        client.search_model_versions("source_path = 'x'")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"

    # Deleting refuses while a binding points at the version (Bindery keeps serving safe).
    with pytest.raises(MlflowException) as bound:
        client.delete_model_version(name, "1")
    assert bound.value.error_code == "BAD_REQUEST"
    client.delete_model_version(name, "2")
    with pytest.raises(MlflowException) as deleted:
        client.get_model_version(name, "2")
    assert deleted.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    with pytest.raises(MlflowException) as rename:
        client.rename_registered_model(name, name + "-new")
    assert rename.value.error_code == "NOT_IMPLEMENTED"


def test_search_registered_models_filters_and_pages(mlflow_env) -> None:
    client = MlflowClient()
    prefix = unique("page")
    names = [f"{prefix}-{i}" for i in range(5)]
    for i, n in enumerate(names):
        client.create_registered_model(n, tags={"parity": "even" if i % 2 == 0 else "odd"})
    seen, token = [], None
    while True:
        page = client.search_registered_models(f"name LIKE '{prefix}%'", max_results=2, order_by=["name ASC"],
                                               page_token=token)
        assert len(page) <= 2
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert seen == names
    even = client.search_registered_models(f"name LIKE '{prefix}%' AND tags.parity = 'even'")
    assert sorted(m.name for m in even) == names[0::2]
    desc = client.search_registered_models(f"name ILIKE '{prefix.upper()}%'", order_by=["name DESC"])
    assert [m.name for m in desc] == names[::-1]
    with pytest.raises(MlflowException) as bad:
        client.search_registered_models("name = 'unterminated")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_pyfunc_model_saved_uploaded_registered_and_loaded_by_alias(mlflow_env) -> None:
    client = MlflowClient()
    name = unique("adder")
    client.create_registered_model(name)
    local = os.path.join(mlflow_env.workdir, unique("saved"))
    mlflow.pyfunc.save_model(local, python_model=AddN(10))
    source = upload(local, f"{name}/train-7/model")
    version = client.create_model_version(name, source, run_id="train-7")
    client.set_registered_model_alias(name, "champion", version.version)
    assert client.get_model_version_download_uri(name, version.version) == source

    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    import pandas as pd

    assert list(loaded.predict(pd.DataFrame({"x": [1, 2, 3]}))) == [11, 12, 13]
    # Stored files are write-once: uploading over them is refused.
    again = os.path.join(local, "MLmodel")
    with pytest.raises(Exception) as replaced:
        get_artifact_repository(source).log_artifact(again)
    assert "RESOURCE_ALREADY_EXISTS" in str(replaced.value) or "already stored" in str(replaced.value)


def test_tokens_by_bearer_and_basic_auth_and_protected_aliases(registry, mlflow_env, monkeypatch) -> None:
    if not registry.token:
        pytest.skip("bindery dev runs without authentication here; the PostgreSQL primary requires tokens")
    admin = MlflowClient()
    name = unique("guarded")
    admin.create_registered_model(name)
    files = os.path.join(mlflow_env.workdir, unique("g"))
    os.makedirs(files)
    with open(os.path.join(files, "w.bin"), "wb") as f:
        f.write(b"weights")
    source = upload(files, f"{name}/r/model")
    admin.create_model_version(name, source)

    # No token: UNAUTHENTICATED, as MLflow's client reports it.
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    with pytest.raises(MlflowException) as anonymous:
        MlflowClient().get_registered_model(name)
    assert anonymous.value.error_code == "UNAUTHENTICATED"
    resp = requests.get(f"{registry.mlflow_uri}/api/2.0/mlflow-artifacts/artifacts/{name}/r/model/w.bin", timeout=10)
    assert resp.status_code == 401

    # A CONTRIBUTOR, by basic auth (the password is the token): may alias, not the protected one.
    minted = registry.cli("token", "create", "--principal", "carol")
    contributor = [line for line in minted.split() if line.startswith("bdy_")][0]
    registry.cli("grant", "add", "carol", "contributor", "--scope", name)
    registry.cli("protect", "champion", "--scope", name)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "carol")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", contributor)
    carol = MlflowClient()
    carol.set_registered_model_alias(name, "candidate", "1")
    with pytest.raises(MlflowException) as denied:
        carol.set_registered_model_alias(name, "champion", "1")
    assert denied.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as other_model:
        carol.create_registered_model(unique("not-hers"))
    assert other_model.value.error_code == "PERMISSION_DENIED"
    auth = base64.b64encode(f"carol:{contributor}".encode()).decode()
    downloaded = requests.get(f"{registry.mlflow_uri}/api/2.0/mlflow-artifacts/artifacts/{name}/r/model/w.bin",
                              headers={"Authorization": f"Basic {auth}"}, timeout=10)
    assert downloaded.status_code == 200 and downloaded.content == b"weights"

    # The admin, by bearer token, may move the protected alias; the audit log names who did.
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", registry.token)
    MlflowClient().set_registered_model_alias(name, "champion", "1")
    audit = registry.cli("audit", "list", "--model", name)
    assert "carol" in audit and "admin" in audit
