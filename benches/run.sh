#!/usr/bin/env bash
# Bindery's benchmark suite: builds release binaries, starts what it needs (PostgreSQL as the tests
# do), runs every measurement with bounded durations, and writes benches/RESULTS.md.
#
#   benches/run.sh            # full run (a few minutes after the build)
#   QUICK=1 benches/run.sh    # shorter durations and sizes, to check the script itself
#
# Nothing here asserts a time. Figures that depend on this shared, noisy machine are reported as
# ratios against a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

. scripts/pg-env.sh

quick=${QUICK:-0}
if [ "$quick" = 1 ]; then
  dur=3; warm=1; writes=200; watchers=1000,2000; scale=10000,100000; wcalls=100; wdur=3; search_models=1000
  console_versions=10000; pods=1000
else
  dur=10; warm=2; writes=1000; watchers=1000,10000; scale=10000,100000,1000000; wcalls=500; wdur=10; search_models=10000
  console_versions=100000; pods=10000
fi

echo "benches/run.sh: building release binaries"
cargo build --release -q -p bindery-benches -p bindery-server --bins
bin=target/release
out=$(mktemp -d /tmp/bindery-bench.XXXXXX)
# Kept after the run (target/bench/), so RESULTS.md can be regenerated with benches/report.py.
mkdir -p target/bench
results=target/bench/results.txt
: >"$results"
pids=()
cleanup_bench() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$bin/prepare" --drop --database bindery_bench >/dev/null 2>&1 || true
  rm -rf "$out"
  cleanup
}
trap cleanup_bench EXIT
started=$(date +%s)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
record() { tee -a "$out/log.txt" | grep '^RESULT ' | sed 's/^RESULT //' >>"$results" || true; }

# --- Resolve throughput: the reader against the bare-tonic baseline, same run, same shapes -----
echo "benches/run.sh: seeding 1000 models x 4 bindings"
db_url=$("$bin/prepare" --database bindery_bench --models 1000 --bindings 4)
base_port=$(free_port)
"$bin/baseline" --listen "127.0.0.1:$base_port" &
pids+=($!)
reader_port=$(free_port)
BINDERY_LOG=warn "$bin/bindery" reader --listen "127.0.0.1:$reader_port" --database-url "$db_url" \
  --auth none &
pids+=($!)
# The same reader with authentication on: every Resolve carries a bearer token the node checks
# (SHA-256 + lookup in its cache) and a VIEWER check against its cached grants.
token=$(BINDERY_LOG=warn "$bin/bindery" token create --bootstrap --principal bench --database-url "$db_url" | sed -n 2p)
auth_port=$(free_port)
BINDERY_LOG=warn "$bin/bindery" reader --listen "127.0.0.1:$auth_port" --database-url "$db_url" \
  --metrics-listen 127.0.0.1:0 &
pids+=($!)
port_of() { case $1 in baseline) echo "$base_port" ;; reader) echo "$reader_port" ;; auth) echo "$auth_port" ;; esac; }

for c in 16 64; do
  for target in baseline reader auth; do
    port=$(port_of "$target")
    tok=(); [ "$target" = auth ] && tok=(--token "$token")
    echo "benches/run.sh: resolve, $target, $c in flight"
    "$bin/loadgen" --target "http://127.0.0.1:$port" --connections 4 --concurrency "$c" \
      --duration "$dur" --warmup "$warm" --label "resolve_${target}_c$c" "${tok[@]}" | record
  done
done
echo "benches/run.sh: resolve, reader, zipf keys, 64 in flight"
"$bin/loadgen" --target "http://127.0.0.1:$reader_port" --connections 4 --concurrency 64 \
  --duration "$dur" --warmup "$warm" --distribution zipf:1.1 --label resolve_reader_zipf_c64 | record

# Cross-check with an independent load generator (h2load, Debian's nghttp2-client).
h2load_note=""
if ! command -v h2load >/dev/null; then
  apt-get install -y -qq nghttp2-client >/dev/null 2>&1 || true
fi
if command -v h2load >/dev/null; then
  "$bin/loadgen" --write-body "$out/resolve.bin" --models 1000 --bindings 4
  for target in baseline reader auth; do
    port=$(port_of "$target")
    hdr=(); [ "$target" = auth ] && hdr=(-H "authorization: Bearer $token")
    for m in 4 16; do
      echo "benches/run.sh: h2load, $target, 4 connections x $m streams"
      h2load -c 4 -m "$m" -t 1 -D "$dur" --warm-up-time="$warm" -d "$out/resolve.bin" \
        -H 'content-type: application/grpc' -H 'te: trailers' "${hdr[@]}" \
        "http://127.0.0.1:$port/bindery.v1.ResolverService/Resolve" >"$out/h2load.txt" 2>&1 || true
      rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$out/h2load.txt")
      ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$out/h2load.txt")
      mean=$(awk '/^time for request:/ {print $6}' "$out/h2load.txt")
      echo "{\"label\":\"h2load_${target}_c$((4 * m))\",\"rps\":${rps:-0},\"succeeded\":${ok:-0},\"mean\":\"${mean:-?}\"}" >>"$results"
      cat "$out/h2load.txt" >>"$out/log.txt"
    done
  done
else
  h2load_note="h2load is not installable here; the cross-check was skipped."
fi
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
pids=()
"$bin/prepare" --drop --database bindery_bench

# --- MLflow's alias lookup: Bindery's MLflow facade vs a real MLflow server ----------------------
# Both on PostgreSQL (the same server), no authentication, 100 models with version 1 and alias
# `champion` created through each one's REST API; MLflow's server runs as shipped (`mlflow server`,
# 4 workers). The same HTTP/1.1 load generator (`httpload`) drives both in turn.
mlflow_note=""
mlvenv=target/mlflow-venv
if ! "$mlvenv/bin/python" -c 'import mlflow, psycopg2' >/dev/null 2>&1; then
  echo "benches/run.sh: installing mlflow (tests/mlflow/requirements.txt) into $mlvenv"
  { [ -x "$mlvenv/bin/python" ] || python3 -m venv "$mlvenv"; } >/dev/null 2>&1 || true
  "$mlvenv/bin/pip" install -q --disable-pip-version-check -r tests/mlflow/requirements.txt \
    psycopg2-binary==2.9.13 >/dev/null 2>&1 || true
fi
if "$mlvenv/bin/python" -c 'import mlflow, psycopg2' >/dev/null 2>&1; then
  pg=${BINDERY_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  pg_server=${pg%/*}
  for db in mlflow_bench bindery_mlflow_bench; do
    psql "$pg_server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  done
  ml_port=$(free_port)
  # In a session of its own: `mlflow server` runs uvicorn and its workers as children, stopped
  # together below.
  setsid "$mlvenv/bin/mlflow" server --host 127.0.0.1 --port "$ml_port" --workers 4 \
    --backend-store-uri "postgresql+psycopg2://${pg_server#postgres://}/mlflow_bench" >"$out/mlflow-server.log" 2>&1 &
  ml_pid=$!
  facade_port=$(free_port)
  BINDERY_LOG=warn "$bin/bindery" primary --listen "127.0.0.1:$(free_port)" --database-url "$pg_server/bindery_mlflow_bench" \
    --auth none --verify-artifacts false --metrics-listen off --mlflow-listen "127.0.0.1:$facade_port" &
  pids+=($!)
  # Both answer HTTP before they are ready (the primary migrates its database behind its
  # listener; MLflow's workers start one by one): wait until a search succeeds on each.
  for port in "$facade_port" "$ml_port"; do
    for _ in $(seq 600); do
      curl -sf "http://127.0.0.1:$port/api/2.0/mlflow/registered-models/search?max_results=1" >/dev/null 2>&1 && break
      sleep 0.2
    done
  done
  echo "benches/run.sh: MLflow alias lookup: seeding 100 models on each"
  "$bin/httpload" --base "http://127.0.0.1:$facade_port" --seed --models 100
  "$bin/httpload" --base "http://127.0.0.1:$ml_port" --seed --models 100
  echo "benches/run.sh: deploy storm against MLflow ($pods pods: alias lookup + get-download-uri)"
  "$bin/storm" --pods "$pods" --mlflow-only --mlflow "http://127.0.0.1:$ml_port" --mlflow-label mlflow | record
  for c in 16 64; do
    for target in facade mlflow; do
      port=$facade_port; [ "$target" = mlflow ] && port=$ml_port
      echo "benches/run.sh: MLflow alias lookup, $target, $c in flight"
      "$bin/httpload" --base "http://127.0.0.1:$port" --models 100 --concurrency "$c" --duration "$dur" \
        --warmup "$warm" --label "mlflow_alias_${target}_c$c" | record
    done
  done
  "$mlvenv/bin/python" -c 'import mlflow; print(mlflow.__version__)' >"$out/mlflow-version.txt" 2>/dev/null || true
  mlflow_note="MLflow $(cat "$out/mlflow-version.txt" 2>/dev/null)"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kill -- "-$ml_pid" 2>/dev/null || true
  pids=()
  for db in mlflow_bench bindery_mlflow_bench; do
    psql "$pg_server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
else
  mlflow_note="skipped: mlflow could not be installed from PyPI here"
fi

# --- Web console: first useful paint of the model page with 100,000 versions, the models page with 10,000 models
# Debian's headless Chromium through Selenium (tests/console's virtualenv and packages; skipped
# with a note when they cannot be installed here).
console_note=""
cvenv=target/console-venv
if ! "$cvenv/bin/python" -c 'import selenium' >/dev/null 2>&1; then
  { [ -x "$cvenv/bin/python" ] || python3 -m venv "$cvenv"; } >/dev/null 2>&1 || true
  "$cvenv/bin/pip" install -q --disable-pip-version-check -r tests/console/requirements.txt >/dev/null 2>&1 || true
fi
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; } >/dev/null 2>&1 || true
fi
if command -v chromium >/dev/null && command -v chromedriver >/dev/null && "$cvenv/bin/python" -c 'import selenium' >/dev/null 2>&1; then
  echo "benches/run.sh: console page load ($console_versions versions vs 10, 10000 models vs 10)"
  "$cvenv/bin/python" benches/console_paint.py --versions "$console_versions" --baseline 10 \
    --models 10000 --models-baseline 10 --runs 10 | record
  console_note="Chromium $(chromium --version 2>/dev/null | awk '{print $2}')"
else
  console_note="skipped: chromium, chromedriver or selenium could not be installed here"
fi

# --- Propagation, fan-out, scale, writes ----------------------------------------------------------
echo "benches/run.sh: propagation ($writes writes, 1 and 4 readers, and as many tier-2 readers behind them)"
"$bin/propagation" --writes "$writes" --readers 1,4 --tier2 | record
echo "benches/run.sh: deploy storm ($pods pods, 2 tier-1 then 2 tier-2 readers)"
"$bin/storm" --pods "$pods" | record
echo "benches/run.sh: watch fan-out ($watchers watchers)"
"$bin/fanout" --watchers "$watchers" --rounds 5 | record
echo "benches/run.sh: reader cold start and memory ($scale bindings)"
"$bin/scale" --bindings "$scale" | record
echo "benches/run.sh: search at scale ($search_models models x 100 versions)"
"$bin/search" --models "$search_models" --versions 100 --runs 30 | record
echo "benches/run.sh: write path"
"$bin/writes" --calls "$wcalls" --writers 16 --duration "$wdur" | record
echo "benches/run.sh: webhooks against the write path (100 webhooks; 20 writes/s, then back to back)"
"$bin/webhooks" --calls 200 --webhooks 100 --rounds 3 --rate 20 | record
"$bin/webhooks" --calls "$wcalls" --webhooks 100 --rounds 3 | record

# --- Micro-benchmarks (criterion) ------------------------------------------------------------------
echo "benches/run.sh: micro-benchmarks"
cargo bench -q -p bindery-benches --bench hot -- --warm-up-time 1 --measurement-time 3 \
  --output-format bencher 2>/dev/null | tee -a "$out/log.txt" \
  | sed -n 's/^test \(.*\) \.\.\. bench: *\([0-9,]*\) ns\/iter (+\/- \([0-9,]*\)).*/{"label":"micro","name":"\1","ns":"\2","spread":"\3"}/p' \
  | tr -d ',' | sed 's/""/","/g' >>"$results"

took=$(( $(date +%s) - started ))
cp "$out/log.txt" target/bench/log.txt
python3 benches/report.py "$results" "$took" "$quick" "$h2load_note" "$mlflow_note" "$console_note" >benches/RESULTS.md
echo "benches/run.sh: done in ${took} s; wrote benches/RESULTS.md"
