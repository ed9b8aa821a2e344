#!/usr/bin/env bash
# Runs every Bindery test (unit + integration) against a real PostgreSQL.
#
# Tests create one fresh database each on the server at $BINDERY_TEST_DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/postgres). If nothing answers there, this script
# starts a throwaway cluster from the installed PostgreSQL binaries (initdb/pg_ctl, found in
# $BINDERY_PG_BIN or /usr/lib/postgresql/*/bin), points the tests at it, and removes it on exit.
# The artifact tests also need s3s-fs (installed into target/tools if missing; see below).
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh -- bindings` (then the client suites
# are skipped unless BINDERY_TEST_CLIENTS=1). The Python and Go client suites and the MLflow
# compatibility suite run last (clients/python/scripts/test.sh, clients/go/scripts/test.sh,
# tests/mlflow/run.sh; scripts/client-deps.sh installs their toolchains from Debian when missing,
# Python packages come from PyPI into target/py and target/mlflow-venv).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/pg-env.sh

# The artifact tests run a real S3-compatible server per test: s3s-fs, which checks SigV4
# signatures (so a wrong or expired presigned URL really fails). Use the one on PATH or in
# ~/.cargo/bin, else build it once into target/tools (a few minutes, then reused).
if [ -z "${BINDERY_TEST_S3S_FS:-}" ]; then
  if command -v s3s-fs >/dev/null; then
    BINDERY_TEST_S3S_FS=$(command -v s3s-fs)
  elif [ -x "$HOME/.cargo/bin/s3s-fs" ]; then
    BINDERY_TEST_S3S_FS=$HOME/.cargo/bin/s3s-fs
  else
    if [ ! -x target/tools/bin/s3s-fs ]; then
      echo "scripts/test.sh: installing s3s-fs 0.14.1 into target/tools (the S3 server the tests use)"
      cargo install --locked --quiet s3s-fs@0.14.1 --features binary --root target/tools
    fi
    BINDERY_TEST_S3S_FS=$PWD/target/tools/bin/s3s-fs
  fi
fi
export BINDERY_TEST_S3S_FS
echo "scripts/test.sh: S3-compatible server for tests: $BINDERY_TEST_S3S_FS"

# Some tests run the real `bindery` binary (kill -9 crash test of `bindery dev`).
cargo build --bin bindery
# ... and the Rust client's example sidecar (tests/it/client.rs).
cargo build -p bindery-client --examples
log=$(mktemp /tmp/bindery-test-log.XXXXXX)
started=$(date +%s)
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
# The Python and Go clients, against registries started from the binary built above.
if [ $# -eq 0 ] || [ "${BINDERY_TEST_CLIENTS:-}" = 1 ]; then
  scripts/client-deps.sh
  export BINDERY_BIN=$PWD/target/debug/bindery
  echo "scripts/test.sh: Python client (clients/python)"
  clients/python/scripts/test.sh 2>&1 | tee -a "$log" || status=1
  echo "scripts/test.sh: Go client (clients/go)"
  clients/go/scripts/test.sh 2>&1 | tee -a "$log" || status=1
  echo "scripts/test.sh: MLflow compatibility (tests/mlflow, the real mlflow package)"
  tests/mlflow/run.sh 2>&1 | tee -a "$log" || status=1
  echo "scripts/test.sh: web console (tests/console, headless Chromium)"
  tests/console/run.sh 2>&1 | tee -a "$log" || status=1
fi
# One closing line with the totals of every test binary.
echo "scripts/test.sh: took $(( $(date +%s) - started )) s"
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^[0-9]+ passed/ { py += $1 }
     END { printf "%d Rust tests passed, %d failed; %d Python tests passed\n", p, f, py }' "$log"
rm -f "$log"
exit "$status"
