#!/usr/bin/env bash
# Load test of fraud-server: wrk posting the documented body to /api/predict
# at 64 connections, rate limit off, history on (SQLite), default model.
# Prints predictions/s, p99 latency and the server's resident memory, with a
# GET /health run in the same session as the baseline.
#
#   benches/load/run.sh [seconds per run, default 10]
#
# Needs wrk (apt-get install wrk); builds the release binary first.
set -euo pipefail
DURATION="${1:-10}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build --release -p fraud-server --manifest-path "$ROOT/Cargo.toml" >&2
BIN="$CARGO_TARGET_DIR/release/fraud-server"
WORK="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

RATE_LIMIT_PER_MINUTE=0 "$BIN" serve --port 0 --data-dir "$WORK/data" \
    >"$WORK/stdout" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
URL="$(sed -n 's/.*listening on //p' "$WORK/stdout")"
for _ in $(seq 300); do curl -sf "$URL/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$URL/ready" >/dev/null || { echo "server not ready"; cat "$WORK/server.log"; exit 1; }
echo "server $URL (pid $PID), model $(curl -s "$URL/ready")"
echo "RSS after start: $(awk '/VmRSS/{print $2, $3}' /proc/$PID/status)"

run() {
    local name="$1"; shift
    echo "== $name: wrk -t2 -c64 -d${DURATION}s --latency $*"
    wrk -t2 -c64 -d"${DURATION}s" --latency "$@" | tee "$WORK/$name.txt"
}
run health "$URL/health"
run predict -s "$HERE/predict.lua" "$URL/api/predict"

rps() { awk '/Requests\/sec/{print $2}' "$WORK/$1.txt"; }
p99() { awk '$1=="99%"{print $2}' "$WORK/$1.txt"; }
echo
echo "summary (2-core machine, wrk sharing the cores):"
echo "  /health        $(rps health) req/s, p99 $(p99 health)"
echo "  /api/predict   $(rps predict) predictions/s, p99 $(p99 predict)"
echo "  predict / health throughput: $(awk -v a="$(rps predict)" -v b="$(rps health)" 'BEGIN{printf "%.2f", a/b}')"
echo "  RSS now: $(awk '/VmRSS/{print $2, $3}' /proc/$PID/status), peak: $(awk '/VmHWM/{print $2, $3}' /proc/$PID/status)"
HISTORY_ROWS="$(curl -s "$URL/api/predictions?limit=1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')"
echo "  history rows written: $HISTORY_ROWS"
kill -TERM "$PID"; wait "$PID" || true
echo "  exit after SIGTERM: ok"
