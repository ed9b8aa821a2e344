"""Validates KServe InferenceService manifests (YAML files, one document each) against the KServe
Python SDK's generated models, which are generated from the same OpenAPI definitions as KServe's
CRD, and the Kubernetes client's models for the core types they embed: every field must be one
the schema defines (strict: unknown fields are errors), with the schema's type.

    python3 deploy/kserve/validate.py FILE...

Needs the wheels `kserve==0.14.1` and `kubernetes==31.0.0` (installed with --no-deps: only their
generated models are loaded, without running the packages' __init__), plus six, urllib3, PyYAML.
"""
import importlib
import importlib.util
import sys
import types

import yaml


def _stub(name, path):
    """A package whose __init__ is not run (it would import the whole SDK and its servers)."""
    module = types.ModuleType(name)
    module.__path__ = [path]
    sys.modules[name] = module


def _models():
    kserve = importlib.util.find_spec("kserve")
    kubernetes = importlib.util.find_spec("kubernetes")
    if kserve is None or kubernetes is None:
        sys.exit("validate.py: install kserve==0.14.1 and kubernetes==31.0.0 (pip install --no-deps)")
    _stub("kserve", kserve.submodule_search_locations[0])
    _stub("kubernetes", kubernetes.submodule_search_locations[0])
    _stub("kubernetes.client", kubernetes.submodule_search_locations[0] + "/client")
    return [importlib.import_module("kserve.models"), importlib.import_module("kubernetes.client.models")]


MODULES = _models()
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object}


def model(name):
    for module in MODULES:
        found = getattr(module, name, None)
        if found is not None:
            return found
    raise SystemExit(f"validate.py: no model named {name}")


def check(value, type_name, path, errors):
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check(item, type_name[5:-1], f"{path}[{i}]", errors)
    elif type_name.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        inner = type_name[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            check(item, inner, f"{path}.{key}", errors)
    elif type_name in PRIMITIVES:
        expected = PRIMITIVES[type_name]
        if type_name == "int" and isinstance(value, bool) or not isinstance(value, expected):
            errors.append(f"{path}: expected {type_name}, got {type(value).__name__} {value!r}")
    elif type_name == "datetime":
        if not isinstance(value, str):
            errors.append(f"{path}: expected a timestamp")
    else:
        cls = model(type_name)
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a {type_name} object, got {type(value).__name__}")
            return
        by_json = {json_key: attr for attr, json_key in cls.attribute_map.items()}
        for key, item in value.items():
            if key not in by_json:
                errors.append(f"{path}.{key}: not a field of {type_name}")
                continue
            check(item, cls.openapi_types[by_json[key]], f"{path}.{key}", errors)


def validate(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    errors = []
    if doc.get("apiVersion") != "serving.kserve.io/v1beta1" or doc.get("kind") != "InferenceService":
        errors.append("apiVersion/kind: expected serving.kserve.io/v1beta1 InferenceService")
    if not (doc.get("metadata") or {}).get("name"):
        errors.append("metadata.name: required")
    if not (doc.get("spec") or {}).get("predictor"):
        errors.append("spec.predictor: required")
    check(doc, "V1beta1InferenceService", "", errors)
    model_spec = ((doc.get("spec") or {}).get("predictor") or {}).get("model") or {}
    if model_spec and not (model_spec.get("modelFormat") or {}).get("name"):
        errors.append("spec.predictor.model.modelFormat.name: required")
    return errors


def main(paths):
    if not paths:
        sys.exit("validate.py: no manifests given")
    failed = False
    for path in paths:
        errors = validate(path)
        for e in errors:
            print(f"{path}: {e}")
        failed |= bool(errors)
    if failed:
        sys.exit(1)
    print(f"validate.py: {len(paths)} InferenceService manifest(s) valid against kserve 0.14.1")


if __name__ == "__main__":
    main(sys.argv[1:])
