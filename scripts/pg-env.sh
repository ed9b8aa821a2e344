# Sourced by scripts/test.sh and benches/run.sh: makes sure a PostgreSQL answers at
# $BINDERY_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres). If nothing
# answers there, starts a throwaway cluster from the installed PostgreSQL binaries (initdb/pg_ctl,
# found in $BINDERY_PG_BIN or /usr/lib/postgresql/*/bin), exports its URL, and removes it on exit.

url=${BINDERY_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_bin=${BINDERY_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)}
export PATH="${pg_bin:+$pg_bin:}$PATH"

if ! command -v pg_isready >/dev/null || ! command -v pg_ctl >/dev/null; then
  echo "${0##*/}: PostgreSQL binaries not found; install them (Debian: apt-get install postgresql)" >&2
  echo "or set BINDERY_PG_BIN to the directory holding initdb and pg_ctl" >&2
  exit 1
fi

cleanup() { :; }
if pg_isready -q -d "$url" -t 3; then
  echo "${0##*/}: using PostgreSQL at ${url%%\?*}"
else
  dir=$(mktemp -d /tmp/bindery-test-pg.XXXXXX)
  port=$(( 55000 + RANDOM % 5000 ))
  as_pg=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$dir"   # postgres refuses to run as root
    as_pg=(runuser -u postgres --)
  fi
  echo "${0##*/}: nothing answers at ${url%%\?*}; starting a throwaway cluster on port $port"
  "${as_pg[@]}" initdb -A trust --no-sync -U postgres -D "$dir/data" >"$dir/initdb.log"
  "${as_pg[@]}" pg_ctl -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300" start >/dev/null
  cleanup() {
    "${as_pg[@]}" pg_ctl -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
  }
  export BINDERY_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
fi
trap cleanup EXIT
