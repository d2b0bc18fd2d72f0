#!/usr/bin/env bash
# What a shadow model costs the live answer: wrk posting the documented body
# to /api/predict at 64 connections (rate limit off, SQLite history on, the
# default model), alternately without a shadow and with one (a second model
# of the same size, set through the admin API), two rounds of each in one
# session. Prints p99 and throughput of each run and the ratio of the p99s
# (target: with a shadow at most 1.2x without).
#
#   benches/load/shadow.sh [seconds per run, default 10]
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
PID=""
trap '[ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"' EXIT

# The shadow: another model of the default model's size (50,000 rows,
# default parameters), from other synthetic rows.
"$BIN" generate --rows 50000 --seed 7 --out "$WORK/shadow.csv" >/dev/null
"$BIN" train --data "$WORK/shadow.csv" --seed 7 --out "$WORK/shadow.fem" >/dev/null

KEY="load-test-admin-key"
ADMIN_API_KEY="$KEY" RATE_LIMIT_PER_MINUTE=0 "$BIN" serve --port 0 --data-dir "$WORK/data" \
    >"$WORK/stdout" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
URL="$(sed -n 's/.*listening on //p' "$WORK/stdout")"
for _ in $(seq 600); do curl -sf "$URL/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$URL/ready" >/dev/null || { echo "server not ready"; cat "$WORK/server.log"; exit 1; }
SHADOW="$(curl -sf -H "X-Admin-Key: $KEY" --data-binary @"$WORK/shadow.fem" \
    -H 'Content-Type: application/octet-stream' "$URL/admin/models" | sed -n 's/.*"model_version":"\([0-9a-f]*\)".*/\1/p')"
[ -n "$SHADOW" ] || { echo "the shadow model was not stored"; exit 1; }
echo "server $URL (pid $PID), model $(curl -s "$URL/ready"), shadow $SHADOW"

run() {
    local name="$1"
    if [ "${name%-*}" = shadow ]; then
        curl -sf -X POST -H "X-Admin-Key: $KEY" "$URL/admin/models/$SHADOW/shadow" >/dev/null
    else
        curl -sf -X DELETE -H "X-Admin-Key: $KEY" "$URL/admin/shadow" >/dev/null
    fi
    echo "== $name: wrk -t2 -c64 -d${DURATION}s --latency -s predict.lua $URL/api/predict"
    wrk -t2 -c64 -d"${DURATION}s" --latency -s "$HERE/predict.lua" "$URL/api/predict" | tee "$WORK/$name.txt"
}
for round in 1 2; do
    run "plain-$round"
    run "shadow-$round"
done

# wrk prints latencies as 812.00us, 5.22ms or 1.02s: in milliseconds.
ms() { awk '$1=="99%"{v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' "$WORK/$1.txt"; }
rps() { awk '/Requests\/sec/{print $2}' "$WORK/$1.txt"; }
echo
echo "summary (2-core machine, wrk sharing the cores):"
for name in plain-1 shadow-1 plain-2 shadow-2; do
    printf '  %-9s %10s predictions/s, p99 %s ms\n' "$name" "$(rps "$name")" "$(ms "$name")"
done
PLAIN="$(awk -v a="$(ms plain-1)" -v b="$(ms plain-2)" 'BEGIN{print (a+b)/2}')"
SHADOWED="$(awk -v a="$(ms shadow-1)" -v b="$(ms shadow-2)" 'BEGIN{print (a+b)/2}')"
echo "  p99 with a shadow / without (means of two runs each): $(awk -v s="$SHADOWED" -v p="$PLAIN" 'BEGIN{printf "%.2f", s/p}') (target at most 1.20)"
STORED="$(curl -s "$URL/api/shadow?limit=1000000" | sed -n 's/.*"rows":\([0-9]*\).*/\1/p')"
echo "  records with a shadow score (this live/shadow pair): $STORED"
kill -TERM "$PID"; wait "$PID" || true
PID=""
