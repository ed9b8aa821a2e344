#!/usr/bin/env bash
# The MLflow compatibility suite: installs the pinned `mlflow` package from PyPI into its own
# virtualenv (target/mlflow-venv) and drives Bindery's MLflow REST API with it, against
# `bindery dev` and a PostgreSQL primary with s3s-fs (conftest.py). scripts/test.sh runs this
# after the client suites, with the binary, database and s3s-fs set up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${BINDERY_MLFLOW_VENV:-$root/target/mlflow-venv}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$root/clients/python"
export BINDERY_BIN=${BINDERY_BIN:-$root/target/debug/bindery}
cd "$here"
"$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$here" "$@"
