#!/usr/bin/env bash
# The reliability suite at full size, on a release build: slow and idle
# floods against the default 30 s timeouts, a flood at twice the default
# connection limit (1024), 10 SIGKILL cycles under load, a full 2 MiB tmpfs
# (needs root: it mounts one), 200 corrupt hot reloads under load, and
# 20,000 requests with random methods. Each test prints a `reliability:`
# line; the summary repeats them. docs/RELIABILITY.md records the figures.
#
#   benches/reliability/run.sh            # the suite, full size
#   benches/reliability/run.sh durability # also commit against async throughput
#
# `cargo test` runs the same tests at CI size (short timeouts, a limit of
# 256) on every CI run.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
FRAUD_RELIABILITY=full cargo test --release --manifest-path "$ROOT/Cargo.toml" \
    -p fraud-server --test reliability -- --nocapture --test-threads=1 2>&1 | tee "$LOG"
echo
echo "summary:"
grep '^reliability:\|reliability: ' "$LOG" | sed 's/^.*reliability: /  /'
if [ "${1:-}" = durability ]; then
    bash "$HERE/durability.sh"
fi
