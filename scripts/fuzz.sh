#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of every parser: the model loader, the
# CSV reader, the JSON transaction parser (one body and a batch), the C ABI's
# JSON entry points and the schema file parser. Each target runs for the
# given seconds from its committed seeds (fuzz/seeds/<target>) plus the
# corpus it grew before (fuzz/corpus/<target>, not committed); a crash
# leaves its input in fuzz/artifacts/<target>/ and fails the script.
#
#   scripts/fuzz.sh [seconds per target, default 60] [target ...]
#
# Stable toolchain only. The targets are built with the instrumentation
# flags `cargo fuzz build --sanitizer none` passes (all stable), so
# cargo-fuzz itself need not be installed; `cargo fuzz run -s none TARGET`
# in fuzz/ works the same where it is.
set -euo pipefail
SECONDS_PER_TARGET="${1:-60}"
shift || true
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ALL=(model_loader csv_reader json_single json_batch c_abi_json schema_file)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi

# Its own target directory: other flags than every other build.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/fuzz}"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
# --target keeps the flags off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 --cfg fuzzing -Ccodegen-units=1 \
-Cdebug-assertions -Coverflow-checks"
echo "building the fuzz targets (release, instrumented, debug assertions on)"
cargo build --release --locked --manifest-path "$ROOT/fuzz/Cargo.toml" --target "$TRIPLE" --bins
BIN="$CARGO_TARGET_DIR/$TRIPLE/release"

LOGS="$(mktemp -d)"
trap 'rm -rf "$LOGS"' EXIT
failed=0
printf '\n%-14s %8s %14s %10s %8s %8s\n' target seconds executions exec/s cov crashes
for t in "${TARGETS[@]}"; do
    mkdir -p "$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/artifacts/$t"
    status=0
    "$BIN/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$ROOT/fuzz/artifacts/$t/" \
        "$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/seeds/$t" >"$LOGS/$t.log" 2>&1 || status=$?
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$t.log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOGS/$t.log" | tail -1)"
    cov="$(grep -o 'cov: [0-9]*' "$LOGS/$t.log" | tail -1 | cut -d' ' -f2)"
    crashes=0
    if [ "$status" -ne 0 ]; then
        crashes=1
        failed=1
        echo "---- $t failed (exit $status); its log ends:" >&2
        tail -40 "$LOGS/$t.log" >&2
    fi
    printf '%-14s %8s %14s %10s %8s %8s\n' "$t" "$SECONDS_PER_TARGET" "${runs:-?}" "${rate:-?}" "${cov:-?}" "$crashes"
done
if [ "$failed" -ne 0 ]; then
    echo "fuzzing found a crash: the input is in fuzz/artifacts/<target>/; reproduce with $BIN/<target> <file>" >&2
    exit 1
fi
echo "fuzz: ${#TARGETS[@]} passed, 0 failed"
