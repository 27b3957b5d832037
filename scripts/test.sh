#!/usr/bin/env bash
# `make test`: builds once, then runs every test target against a real PostgreSQL.
#
# Tests create scratch databases of their own through SPONA_ADMIN_DATABASE_URL (a superuser:
# some tests play the tampering database administrator). Without it, the private cluster is
# started here and stopped again at the end, whether the tests pass or not.
set -euo pipefail
cd "$(dirname "$0")/.."

# The code is formatted as Hummingbird's is (.swift-format); `swift format -i -r Sources Tests
# Package.swift` fixes what this finds.
swift format lint --strict --recursive --parallel Sources Tests Package.swift

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

export SPONA_ADMIN_DATABASE_URL
export SPONA_SCHEMA_DIR="$PWD/Schema"
export SPONA_REFERENCE_DIR="$PWD/Reference"
export SPONA_BIN="$PWD/.build/debug/spona"

swift build --build-tests
# What deploy/ ships: the units, the manifests, compose, the realm (seconds).
scripts/check-deploy.sh
# The dashboard's real-browser test (Chromium, its driver, Selenium, axe-core) must run here:
# installed when missing, and the test fails rather than skips without them. Screenshots of
# the pages go to .build/screenshots.
scripts/browser-tools.sh
export SPONA_BROWSER_TESTS=required

# A watchdog: the tests take minutes, and a run that goes on for SPONA_TEST_LIMIT seconds (20
# minutes by default) hangs. It is then stopped with its threads' stacks written to
# .build/test-hang.txt, and the tests that started and never ended are named last, where a
# CI log's tail shows them.
limit="${SPONA_TEST_LIMIT:-1200}"
log=.build/test-output.log
hang=.build/test-hang.txt
rm -f "$hang"
(
    sleep "$limit"
    pid="$(pgrep -f 'sponaPackageTests.xctest' | head -n 1 || true)"
    [ -n "$pid" ] || exit 0
    {
        echo "the tests were still running after ${limit} s; their threads:"
        if command -v gdb >/dev/null; then gdb -p "$pid" -batch -ex 'thread apply all bt 16' 2>&1 | grep -E '^(Thread|#)' || true; fi
    } >"$hang"
    kill -TERM "$pid" 2>/dev/null || true
    sleep 10
    kill -KILL "$pid" 2>/dev/null || true
) </dev/null >/dev/null 2>&1 &
watchdog=$!
set +e
swift test --skip-build "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
pkill -P "$watchdog" 2>/dev/null || true
kill "$watchdog" 2>/dev/null || true
if [ -s "$hang" ]; then
    echo "the tests did not end within ${limit} s; threads in $hang. Started and never ended:"
    sed -E 's/\x1b\[[0-9;]*m//g' "$log" | awk '
        /Test "/ && / started\.$/ { name = $0; sub(/^[^"]*"/, "", name); sub(/" started\.$/, "", name); open[name] = 1 }
        /Test "/ && /(passed|failed|skipped)/ { name = $0; sub(/^[^"]*"/, "", name); sub(/".*$/, "", name); delete open[name] }
        END { for (name in open) print "  " name }'
    exit 1
fi
exit "$status"
