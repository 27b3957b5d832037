#!/usr/bin/env bash
# `make fuzz`: the API as a hostile client sees it. Starts `spona serve` on a database of its
# own (spona_fuzz, dropped and made again each run) in the private cluster, issues a token per
# role, and runs schemathesis against the served OpenAPI document as each role: no 5xx, every
# status documented, every body as the document says. Exits non-zero on any finding.
#
# Needs schemathesis (pip install schemathesis; installed into .data/venv when missing).
# FUZZ_EXAMPLES (default 30) sets how many examples each operation gets.
set -euo pipefail
cd "$(dirname "$0")/.."

started=no
if ! scripts/dev-db.sh status >/dev/null 2>&1; then started=yes; fi
scripts/dev-db.sh start >/dev/null
# shellcheck disable=SC1091
. .data/env
work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
    if [ "$started" = yes ]; then scripts/dev-db.sh stop >/dev/null || true; fi
}
trap cleanup EXIT

st=$(command -v st || true)
if [ -z "$st" ]; then
    if [ ! -x .data/venv/bin/st ]; then
        python3 -m venv .data/venv
        .data/venv/bin/pip install --quiet schemathesis
    fi
    st=.data/venv/bin/st
fi

swift build --product spona >/dev/null
spona=.build/debug/spona
psql="${SPONA_PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql"
[ -x "$psql" ] || psql=psql
db=spona_fuzz
"$psql" -q "$SPONA_ADMIN_DATABASE_URL" -o /dev/null -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER spona_owner"
export SPONA_OWNER_DATABASE_URL="${SPONA_OWNER_DATABASE_URL/\/spona\?//$db?}"
export DATABASE_URL="${DATABASE_URL/\/spona\?//$db?}"
export SPONA_SCHEMA_DIR="$PWD/Schema" SPONA_REFERENCE_DIR="$PWD/Reference"
DATABASE_URL="$SPONA_OWNER_DATABASE_URL" "$spona" migrate >/dev/null 2>&1
DATABASE_URL="$SPONA_OWNER_DATABASE_URL" "$spona" reference load \
    --institutions Reference/institutions-2025.csv --trainings Reference/trainings-2025.csv >/dev/null

"$spona" keys generate > "$work/master.key"
"$spona" keys generate-seal-key > "$work/seal.key" 2>/dev/null
port=${FUZZ_PORT:-18099}
SPONA_MASTER_KEY_FILE="$work/master.key" SPONA_KEY_DIR="$work/keys" SPONA_SEAL_KEY_FILE="$work/seal.key" \
    SPONA_PORT=$port SPONA_ANALYST_QUERIES_PER_HOUR=100000 \
    "$spona" serve > "$work/serve.log" 2>&1 &
server=$!
ready=no
for _ in $(seq 1 60); do
    if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then ready=yes; break; fi
    kill -0 "$server" 2>/dev/null || break
    sleep 1
done
if [ "$ready" = no ]; then echo "fuzz: the server did not become ready:"; tail -20 "$work/serve.log"; exit 1; fi

center=00000000-0000-4000-8000-00000000c2e0
token() { DATABASE_URL="$SPONA_OWNER_DATABASE_URL" "$spona" tokens issue "$@" 2>/dev/null | tail -1; }
school=$(DATABASE_URL="$SPONA_OWNER_DATABASE_URL" "$psql" -qtA "$SPONA_OWNER_DATABASE_URL" \
    -c "SELECT payload->>'id' FROM events WHERE event_type = 'InstitutionRegistered' AND payload->>'sector' = 'education' LIMIT 1")

failed=0
for role in reporter coordinator admin auditor analyst; do
    case $role in
        reporter) bearer=$(token --institution "$school" --role reporter) ;;
        analyst) bearer=$(token --institution $center --role analyst --district RS-21) ;;
        *) bearer=$(token --institution $center --role $role) ;;
    esac
    echo "fuzz: as $role"
    if ! "$st" run "http://127.0.0.1:$port/openapi.yaml" --url "http://127.0.0.1:$port" \
        -H "Authorization: Bearer $bearer" --no-color --workers 2 --max-examples "${FUZZ_EXAMPLES:-30}" \
        --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
        > "$work/$role.txt" 2>&1; then
        failed=1
        if grep -q FAILURES "$work/$role.txt"; then sed -n '/FAILURES/,/WARNINGS/p' "$work/$role.txt" | cut -c1-400; else tail -15 "$work/$role.txt" | cut -c1-400; fi
    fi
    grep -E "generated" "$work/$role.txt" || true
done
if [ "$failed" = 1 ]; then echo "fuzz: findings above"; exit 1; fi
echo "fuzz: no findings"
