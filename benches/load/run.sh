#!/usr/bin/env bash
# Load test of fraud-server: wrk posting the documented body to /api/predict
# at 64 connections, rate limit off, history on (SQLite), default model.
# Prints predictions/s, p99 latency and the server's resident memory, with a
# GET /health run in the same session as the baseline.
#
#   benches/load/run.sh [seconds per run, default 10]
#
# The two runs alternate for LOAD_ROUNDS rounds (default 3) and the summary
# gives each round's ratios and their medians: a shared machine's speed
# drifts from one minute to the next, and a single /health run followed by a
# single predict run measures that drift as much as the server.
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
ROUNDS="${LOAD_ROUNDS:-3}"
for round in $(seq "$ROUNDS"); do
    run "health$round" "$URL/health"
    run "predict$round" -s "$HERE/predict.lua" "$URL/api/predict"
done

rps() { awk '/Requests\/sec/{print $2}' "$WORK/$1.txt"; }
# p99 in milliseconds, whatever unit wrk printed it in.
p99() {
    awk '$1=="99%"{v=$2; u=v; sub(/[a-z]+$/,"",v); sub(/^[0-9.]+/,"",u);
        printf "%.2f\n", v * (u=="us" ? 0.001 : (u=="s" ? 1000 : 1))}' "$WORK/$1.txt"
}
median() { sort -g | awk '{v[++n]=$1} END{print (n%2) ? v[(n+1)/2] : (v[n/2]+v[n/2+1])/2}'; }
echo
echo "summary (2-core machine, wrk sharing the cores):"
ratios="" p99_ratios=""
for round in $(seq "$ROUNDS"); do
    h="$(rps "health$round")" p="$(rps "predict$round")"
    hl="$(p99 "health$round")" pl="$(p99 "predict$round")"
    ratio="$(awk -v a="$p" -v b="$h" 'BEGIN{printf "%.3f", a/b}')"
    p99_ratio="$(awk -v a="$pl" -v b="$hl" 'BEGIN{printf "%.3f", a/b}')"
    ratios="$ratios $ratio" p99_ratios="$p99_ratios $p99_ratio"
    echo "  round $round: /health $h req/s, p99 $hl ms; /api/predict $p predictions/s," \
        "p99 $pl ms; throughput ratio $ratio, p99 ratio $p99_ratio"
done
med() { for round in $(seq "$ROUNDS"); do "$1" "$2$round"; done | median; }
echo "  median /health: $(med rps health) req/s, p99 $(med p99 health) ms"
echo "  median /api/predict: $(med rps predict) predictions/s, p99 $(med p99 predict) ms"
echo "  median predict / health throughput: $(printf '%s\n' $ratios | median)"
echo "  median predict / health p99: $(printf '%s\n' $p99_ratios | median)"
echo "  RSS now: $(awk '/VmRSS/{print $2, $3}' /proc/$PID/status), peak: $(awk '/VmHWM/{print $2, $3}' /proc/$PID/status)"
HISTORY_ROWS="$(curl -s "$URL/api/predictions?limit=1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')"
echo "  history rows written: $HISTORY_ROWS"
kill -TERM "$PID"; wait "$PID" || true
echo "  exit after SIGTERM: ok"
