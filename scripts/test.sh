#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian machine of the `rust` kind
# (as root: the full-disk reliability test mounts a small tmpfs),
# installing what the tests need first (C/C++ compilers, valgrind, clang's
# sanitizers, pkg-config and cmake for the C ABI examples and install tests,
# Chromium and ChromeDriver for the web UI test, PostgreSQL, nginx, wrk and
# podman for the deployment tests, a Python venv with maturin, pytest and
# friends for the wheel). Exits non-zero on the first failure.
#
#   scripts/test.sh
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
bash fraud-ffi/install-test-deps.sh
bash fraud-server/tests/setup-browser.sh
bash deploy/install-test-deps.sh

step "formatting, lints and docs"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "Rust tests: engine, CLI, server (with the browser), C ABI (valgrind, sanitizers, install), benches build, reliability suite at CI size"
# The browser test must run, not skip, here.
FRAUD_REQUIRE_BROWSER=1 cargo test --workspace

step "deployment: the scale test, short (PostgreSQL, 3 replicas, nginx, a replica killed), and the container image"
# The debug build cargo test just made: CI checks behaviour here (0 failed
# requests, every answered prediction stored, the image answering /ready);
# the figures in docs/deploy.md come from release builds.
SERVER_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/fraud-server"
FRAUD_SERVER_BIN="$SERVER_BIN" bash benches/scale/run.sh --short
FRAUD_SERVER_BIN="$SERVER_BIN" bash scripts/test-container.sh

step "fuzzing: every target for 20 s (scripts/fuzz.sh)"
cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check
bash scripts/fuzz.sh 20

step "Python wheel tests"
bash python/run-tests.sh -q
