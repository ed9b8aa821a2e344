#!/usr/bin/env bash
# Installs the Python client into its own virtualenv (target/py, from PyPI), checks that the
# generated code matches proto/, type-checks it, and runs its tests against real registries:
# `bindery dev`, and a primary with two read nodes on PostgreSQL and s3s-fs (tests/conftest.py).
# scripts/test.sh runs this after the Rust tests, with the binary, database and s3s-fs set up.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/../.." && pwd)
venv=${BINDERY_PY_VENV:-$root/target/py}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements-dev.txt"
# A real install (not editable), as a user's `pip install ./clients/python` would do.
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$here"

PYTHON="$venv/bin/python" "$here/scripts/generate.sh" --check
(cd "$here" && "$venv/bin/mypy" --no-incremental)
export BINDERY_BIN=${BINDERY_BIN:-$root/target/debug/bindery}
# Run from tests/ against the installed package, not the source tree.
cd "$here/tests"
"$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$here/tests" "$@"
