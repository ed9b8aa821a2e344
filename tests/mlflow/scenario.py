"""One sequence of MLflow registry REST calls, run against a real MLflow server once to record
`fixtures/` (record_fixture.py) and against Bindery's facade by test_rest_shapes.py, which
compares the two answers call by call.

Every call is plain HTTP with `requests`, as MLflow's own client sends it: GET arguments in the
query string, every other method with a JSON body.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import requests

#: (label, method, endpoint under /api/2.0/mlflow/, arguments)
Call = Tuple[str, str, str, Dict[str, Any]]


def calls(model: str, source: str) -> List[Call]:
    """The scenario for a model named `model` whose version 1 has its files at `source`."""
    other = "other-" + model
    return [
        ("create_model", "POST", "registered-models/create",
         {"name": model, "description": "first", "tags": [{"key": "team", "value": "fraud"}]}),
        ("create_model_duplicate", "POST", "registered-models/create", {"name": model}),
        ("get_model", "GET", "registered-models/get", {"name": model}),
        ("get_model_missing", "GET", "registered-models/get", {"name": model + "-missing"}),
        ("update_model", "PATCH", "registered-models/update", {"name": model, "description": "second"}),
        ("set_model_tag", "POST", "registered-models/set-tag", {"name": model, "key": "tier", "value": "1"}),
        ("delete_model_tag", "DELETE", "registered-models/delete-tag", {"name": model, "key": "tier"}),
        ("create_version", "POST", "model-versions/create",
         {"name": model, "source": source, "description": "v1",
          "tags": [{"key": "framework", "value": "pyfunc"}]}),
        ("create_version_missing_model", "POST", "model-versions/create",
         {"name": model + "-missing", "source": source}),
        ("get_version", "GET", "model-versions/get", {"name": model, "version": "1"}),
        ("get_version_missing", "GET", "model-versions/get", {"name": model, "version": "99"}),
        ("update_version", "PATCH", "model-versions/update", {"name": model, "version": "1", "description": "v1b"}),
        ("set_version_tag", "POST", "model-versions/set-tag",
         {"name": model, "version": "1", "key": "reviewed", "value": "yes"}),
        ("delete_version_tag", "DELETE", "model-versions/delete-tag",
         {"name": model, "version": "1", "key": "reviewed"}),
        ("set_alias", "POST", "registered-models/alias", {"name": model, "alias": "champion", "version": "1"}),
        ("get_by_alias", "GET", "registered-models/alias", {"name": model, "alias": "champion"}),
        ("get_by_alias_missing", "GET", "registered-models/alias", {"name": model, "alias": "nobody"}),
        ("get_model_with_alias", "GET", "registered-models/get", {"name": model}),
        ("download_uri", "GET", "model-versions/get-download-uri", {"name": model, "version": "1"}),
        ("transition_staging", "POST", "model-versions/transition-stage",
         {"name": model, "version": "1", "stage": "Staging", "archive_existing_versions": False}),
        ("latest_versions", "POST", "registered-models/get-latest-versions", {"name": model, "stages": ["Staging"]}),
        ("search_models", "GET", "registered-models/search",
         {"filter": f"name LIKE '{model[:8]}%'", "max_results": 10}),
        ("search_models_paged", "GET", "registered-models/search",
         {"filter": f"name LIKE '{model[:8]}%'", "max_results": 1, "order_by": ["name ASC"]}),
        ("search_versions", "GET", "model-versions/search", {"filter": f"name = '{model}'"}),
        ("delete_alias", "DELETE", "registered-models/alias", {"name": model, "alias": "champion"}),
        ("create_other_model", "POST", "registered-models/create", {"name": other}),
        ("rename_model", "POST", "registered-models/rename", {"name": other, "new_name": other + "-renamed"}),
        ("transition_none", "POST", "model-versions/transition-stage",
         {"name": model, "version": "1", "stage": "None", "archive_existing_versions": False}),
        ("delete_version", "DELETE", "model-versions/delete", {"name": model, "version": "1"}),
        ("delete_model", "DELETE", "registered-models/delete", {"name": model}),
        ("get_deleted_model", "GET", "registered-models/get", {"name": model}),
    ]


def run(base: str, model: str, source: str, headers: Optional[Dict[str, str]] = None,
        skip: Tuple[str, ...] = ()) -> Dict[str, Dict[str, Any]]:
    """Runs the scenario against `base` (e.g. http://127.0.0.1:5000) and returns, per label, the
    HTTP status and the JSON answer."""
    out: Dict[str, Dict[str, Any]] = {}
    for label, method, endpoint, args in calls(model, source):
        if label in skip:
            continue
        url = f"{base}/api/2.0/mlflow/{endpoint}"
        if method == "GET":
            resp = requests.get(url, params=args, headers=headers, timeout=30)
        else:
            resp = requests.request(method, url, json=args, headers=headers, timeout=30)
        try:
            body = resp.json()
        except ValueError:
            body = {"<not json>": resp.text[:200]}
        out[label] = {"status": resp.status_code, "body": body}
    return out
