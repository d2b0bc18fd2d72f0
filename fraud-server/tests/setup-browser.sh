#!/usr/bin/env bash
# Installs what the browser test of the web UI needs: Debian's chromium and
# chromium-driver, and the axe-core accessibility checker from npm (into
# target/axe-core/, where the test looks for it). Safe to run again; does
# nothing that is already done.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "setup-browser: chromium and chromedriver already installed"
else
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi
chromium --version
chromedriver --version
AXE="${CARGO_TARGET_DIR:-$REPO/target}/axe-core"
if [ ! -f "$AXE/node_modules/axe-core/axe.min.js" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends npm
    fi
    mkdir -p "$AXE"
    npm install --prefix "$AXE" --no-audit --no-fund --silent axe-core@4
fi
echo "setup-browser: axe-core $(node -p "require('$AXE/node_modules/axe-core/package.json').version" 2>/dev/null || echo '(version unknown)')"
