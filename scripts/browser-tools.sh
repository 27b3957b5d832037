#!/usr/bin/env bash
# What the dashboard's real-browser test needs: Chromium and its driver (Debian's packages),
# Selenium (PyPI) and axe-core (the copy bundled in PyPI's axe-playwright-python wheel, kept in
# .data/tools/axe). Installs only what is missing; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "browser-tools: chromium and chromium-driver are missing; install them (apt-get install chromium chromium-driver)" >&2
        exit 1
    fi
fi
if ! python3 -c "import selenium" 2>/dev/null; then
    python3 -m pip install -q --root-user-action=ignore selenium 2>/dev/null || python3 -m pip install -q selenium
fi
if ! [ -f .data/tools/axe/axe.min.js ]; then
    mkdir -p .data/tools/axe
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps -d "$tmp" "axe-playwright-python==0.1.8"
    python3 - "$tmp" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as archive:
    open(".data/tools/axe/axe.min.js", "wb").write(archive.read("axe_playwright_python/axe.min.js"))
PY
    rm -rf "$tmp"
fi
echo "browser-tools: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), selenium $(python3 -c 'import selenium; print(selenium.__version__)'), $(head -1 .data/tools/axe/axe.min.js | tr -d '/*!')"
