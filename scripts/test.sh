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
swift test --skip-build "$@"
