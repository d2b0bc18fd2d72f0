#!/usr/bin/env bash
# Throughput of POST /api/predict with each history durability mode, in
# the same session: `commit` (the default: each answer waits for its row's
# group commit), `async` (answered once queued) and `commit` with
# `--history-sync full` (every commit fsynced). wrk, 64 connections, rate
# limit off, runs interleaved (commit, async, full, commit, async, full,
# ...) so that drift on a shared machine hits every mode alike; the median
# run of each counts. Prints predictions/s, p99 and commit/async.
#
#   benches/reliability/durability.sh [seconds per run, default 10] [rounds, default 3]
#
# Needs wrk (apt-get install wrk); builds the release binary first.
set -euo pipefail
DURATION="${1:-10}"
ROUNDS="${2:-3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build --release -p fraud-server --manifest-path "$ROOT/Cargo.toml" >&2
BIN="$CARGO_TARGET_DIR/release/fraud-server"
WORK="$(mktemp -d)"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
"$BIN" generate --rows 50000 --out "$WORK/train.csv" >/dev/null
"$BIN" train --data "$WORK/train.csv" --out "$WORK/model.fem" >/dev/null 2>&1

run() {
    local name="$1" round="$2"; shift 2
    rm -rf "$WORK/data"
    RATE_LIMIT_PER_MINUTE=0 "$BIN" serve --port 0 --model "$WORK/model.fem" \
        --data-dir "$WORK/data" "$@" >"$WORK/stdout" 2>"$WORK/server.log" &
    PID=$!
    for _ in $(seq 100); do grep -q listening "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
    local url
    url="$(sed -n 's/.*listening on //p' "$WORK/stdout")"
    wrk -t2 -c64 -d"${DURATION}s" --latency -s "$ROOT/benches/load/predict.lua" "$url/api/predict" \
        >"$WORK/$name.$round.txt"
    local rows
    rows="$(curl -s "$url/api/predictions?limit=1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')"
    kill -TERM "$PID"; wait "$PID" || true; PID=""
    printf '  %-8s round %s: %8s predictions/s, p99 %8s, %s rows stored\n' "$name" "$round" \
        "$(awk '/Requests\/sec/{print $2}' "$WORK/$name.$round.txt")" \
        "$(awk '$1=="99%"{print $2}' "$WORK/$name.$round.txt")" "$rows"
}
echo "wrk -t2 -c64 -d${DURATION}s POST /api/predict (default model, 2-core machine, wrk sharing the cores)"
for round in $(seq "$ROUNDS"); do
    run commit "$round" --history-durability commit
    run async "$round" --history-durability async
    run full "$round" --history-durability commit --history-sync full
done
median() { cat "$WORK/$1".*.txt | awk '/Requests\/sec/{print $2}' | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
echo
echo "median of $ROUNDS: commit $(median commit)/s, async $(median async)/s, commit+FULL $(median full)/s"
echo "commit / async throughput: $(awk -v a="$(median commit)" -v b="$(median async)" 'BEGIN{printf "%.3f", a/b}')"
echo "commit+FULL / async throughput: $(awk -v a="$(median full)" -v b="$(median async)" 'BEGIN{printf "%.3f", a/b}')"
