#!/usr/bin/env bash
# The web console's end-to-end suite: a real headless Chromium (Debian's `chromium` and
# `chromium-driver`, installed here when missing and this runs as root) driven by Selenium against
# `bindery dev --auth` seeded through the Python client and the CLI. Screenshots of every page go
# to target/console-screenshots/. scripts/test.sh runs this after the MLflow suite.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${BINDERY_CONSOLE_VENV:-$root/target/console-venv}
python=${PYTHON:-python3}

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "tests/console/run.sh: installing Debian's chromium and chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  else
    echo "tests/console/run.sh: chromium and chromedriver are needed (apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
fi
# The identity provider of the single sign-on test (tests/console/idp) comes from the npm registry.
command -v node >/dev/null || { echo "tests/console/run.sh: Node.js is needed for the sign-in test's identity provider" >&2; exit 1; }
(cd "$here/idp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$root/clients/python"
export BINDERY_BIN=${BINDERY_BIN:-$root/target/debug/bindery}
export BINDERY_SCREENSHOTS=${BINDERY_SCREENSHOTS:-$root/target/console-screenshots}
mkdir -p "$BINDERY_SCREENSHOTS"
cd "$here"
"$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$here" "$@"
