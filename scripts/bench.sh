#!/usr/bin/env bash
# `make bench`: release build of the benchmark, run against the private cluster (or the
# databases the caller's SPONA_ADMIN_DATABASE_URL, SPONA_OWNER_DATABASE_URL and
# DATABASE_URL name). Prints figures and their ratio to a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

started=no
if [ -z "${SPONA_ADMIN_DATABASE_URL:-}" ]; then
    # A cluster that was already running (make run in another terminal) is left running.
    if ! scripts/dev-db.sh status >/dev/null 2>&1; then started=yes; fi
    scripts/dev-db.sh start
    # shellcheck disable=SC1091
    . .data/env
fi
stop_cluster() { if [ "$started" = yes ]; then scripts/dev-db.sh stop || true; fi; }
trap stop_cluster EXIT

export SPONA_ADMIN_DATABASE_URL SPONA_OWNER_DATABASE_URL DATABASE_URL
export SPONA_SCHEMA_DIR="$PWD/Schema"
export SPONA_REFERENCE_DIR="$PWD/Reference"
export SPONA_PGBENCH="${SPONA_PGBENCH:-$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)}"

# The server is measured from a separate process with wrk (Debian's package).
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else
        echo "bench: wrk is not installed (sudo apt-get install wrk); the server figures are skipped" >&2
    fi
fi
export SPONA_WRK="${SPONA_WRK:-$(command -v wrk || true)}"
[ -n "$SPONA_WRK" ] || unset SPONA_WRK

swift build -c release --product SponaBench
swift build -c release --product spona
export SPONA_SERVER_BIN="$PWD/.build/release/spona"
.build/release/SponaBench "$@"
