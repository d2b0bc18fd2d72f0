#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian machine of the `rust` kind,
# installing what the tests need first (C/C++ compilers, valgrind, clang's
# sanitizers, pkg-config and cmake for the C ABI examples and install tests, Chromium and ChromeDriver for the web UI test, a Python venv
# with maturin, pytest and friends for the wheel). Exits non-zero on the first
# failure.
#
#   scripts/test.sh
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
bash fraud-ffi/install-test-deps.sh
bash fraud-server/tests/setup-browser.sh

step "formatting, lints and docs"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet -p fraud-engine

step "Rust tests: engine, CLI, server (with the browser), C ABI (valgrind, sanitizers, install), benches build"
# The browser test must run, not skip, here.
FRAUD_REQUIRE_BROWSER=1 cargo test --workspace

step "Python wheel tests"
bash python/run-tests.sh -q
