#!/usr/bin/env bash
# Every speed ratio of issue 15, measured side by side in one run on this
# machine: our paths against each other (explanation against one prediction,
# the JSON path against the encoded row in the engine, the C ABI and Python,
# the batch scorer against the previous branch-free walk), and against
# scikit-learn (training time, peak memory, batch predict_proba with
# n_jobs=2), the shap package (one TreeSHAP explanation of our exported
# forest) and ONNX Runtime's TreeEnsemble (our forest and scikit-learn's).
#
#   benches/compare/run.sh            # 15-30 minutes on 2 cores
#   SKLEARN_LEAVES=20 LOAD_SECONDS=8 benches/compare/run.sh   # about 10 minutes
#
# Installs scikit-learn, pandas, polars, pyarrow, shap, onnx, onnxruntime, skl2onnx and
# maturin into target/compare-venv, and builds the wheel into it. Data:
# 1,000,000 generated rows (seed 1): the first 800k (and the first 10k)
# train, the last 200k are held out. Results land in target/compare/ as JSON
# lines; the report at the end prints the tables and the ratio of each target.
# SKLEARN_LEAVES (default 1,5,20) sets scikit-learn's min_samples_leaf
# settings on 800k rows.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
OUT="$REPO/target/compare"
VENV="$REPO/target/compare-venv"
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -m pip install --quiet scikit-learn pandas polars pyarrow numpy shap maturin
# ONNX Runtime is compared where it installs; the report says so when not.
"$VENV/bin/python" -m pip install --quiet onnx onnxruntime skl2onnx || echo "onnxruntime did not install" >&2

cargo build --release --quiet -p fraud-server -p fraud-ffi
cargo build --release --quiet -p fraud-benches --example score_speed
BIN="$TARGET/release/fraud-server"
SPEED="$TARGET/release/examples/score_speed"
# The shared library carries the SONAME libfraud_engine.so.0, which the
# program then asks for: give it that name beside the program.
mkdir -p "$OUT/lib"
ln -sf "$TARGET/release/libfraud_engine.so" "$OUT/lib/libfraud_engine.so.0"
cc -O2 -std=c99 -Wall -Wextra -Werror -Iinclude benches/compare/ffi_ratio.c -o "$OUT/ffi_ratio" \
  -L"$TARGET/release" -lfraud_engine -Wl,-rpath,"$OUT/lib"
(cd python && CARGO_TARGET_DIR="$TARGET" "$VENV/bin/maturin" build --release --quiet -o "$OUT/wheels" >/dev/null)
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps "$OUT"/wheels/fraud_engine-*.whl

echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" | tee "$OUT/load.txt"
"$BIN" generate --rows 1000000 --seed 1 --out "$OUT/all.csv" >/dev/null
head -n 800001 "$OUT/all.csv" > "$OUT/train800k.csv"
head -n 10001 "$OUT/all.csv" > "$OUT/train10k.csv"
{ head -n 1 "$OUT/all.csv"; tail -n 200000 "$OUT/all.csv"; } > "$OUT/test200k.csv"

: > "$OUT/results.jsonl"
for size in 10k 800k; do
  model="$OUT/model$size.fem"
  /usr/bin/time -f '%M' -o "$OUT/rss$size.txt" "$BIN" train --data "$OUT/train$size.csv" --out "$model" 2>/dev/null > "$OUT/train$size.txt"
  fit_s=$(grep -o 'in [0-9.]* s' "$OUT/train$size.txt" | head -1 | tr -dc '0-9.')
  "$BIN" evaluate --model "$model" --data "$OUT/test200k.csv" --json > "$OUT/eval$size.json"
  "$SPEED" "$model" "$OUT/test200k.csv" "$OUT/rows$size.tsv" > "$OUT/speed$size.json"
  python3 - "$size" "$fit_s" "$(stat -c %s "$model")" "$(cat "$OUT/rss$size.txt")" "$OUT" >> "$OUT/results.jsonl" <<'PY'
import json, sys
size, fit_s, model_bytes, rss_kb, out = sys.argv[1:]
ev = json.load(open(f"{out}/eval{size}.json"))
speed = json.load(open(f"{out}/speed{size}.json"))
print(json.dumps({"engine": "fraud-engine", "size": size, "fit_s": float(fit_s),
                  "model_bytes": int(model_bytes), "peak_rss_mb": round(int(rss_kb) / 1024, 1),
                  "roc_auc": round(ev["roc_auc"], 4), "pr_auc": round(ev["pr_auc"], 4), **speed}))
PY
  "$OUT/ffi_ratio" "$model" "$OUT/rows$size.tsv" | sed "s/^{/{\"size\": \"$size\", /" >> "$OUT/results.jsonl"
  "$VENV/bin/python" benches/compare/sklearn_baseline.py "$OUT/train$size.csv" "$OUT/test200k.csv" \
    --min-samples-leaf "$([ "$size" = 800k ] && echo "${SKLEARN_LEAVES:-1,5,20}" || echo 1)" \
    | sed "s/^{/{\"size\": \"$size\", /" >> "$OUT/results.jsonl"
  "$BIN" export-trees --model "$model" --out "$OUT/trees$size.json" >/dev/null
  "$VENV/bin/python" -W ignore benches/compare/shap_baseline.py "$OUT/trees$size.json" "$OUT/test200k.csv" \
    | sed "s/^{/{\"size\": \"$size\", /" >> "$OUT/results.jsonl"
  if [ "$size" = 10k ]; then
    "$VENV/bin/python" -W ignore benches/compare/onnx_baseline.py "$OUT/trees$size.json" "$OUT/train$size.csv" \
      "$OUT/test200k.csv" | sed "s/^{/{\"size\": \"$size\", /" >> "$OUT/results.jsonl"
  fi
done
"$VENV/bin/python" python/benchmarks/bench_predict.py --train-rows 10000 \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); d.update(engine="python", size="10k"); print(json.dumps(d))' \
  >> "$OUT/results.jsonl"
# Target 5: predict_proba on pandas, polars and pyarrow against the numpy
# float64 matrix of the same rows, in alternate rounds.
"$VENV/bin/python" python/benchmarks/bench_frames.py --train-rows 10000 \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); d.update(engine="frames", size="10k"); print(json.dumps(d))' \
  >> "$OUT/results.jsonl"
# Target 4: POST /api/predict against GET /health at 64 connections, default
# durability, history on, rate limit off (benches/load/run.sh).
benches/load/run.sh "${LOAD_SECONDS:-10}" > "$OUT/http.txt" 2>/dev/null
python3 - "$OUT/http.txt" >> "$OUT/results.jsonl" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
def median_of(label):
    return float(re.search(label + r": ([0-9.]+)", text).group(1))
rounds = re.findall(r"throughput ratio ([0-9.]+), p99 ratio ([0-9.]+)", text)
health = re.search(r"median /health: ([0-9.]+) req/s, p99 ([0-9.]+) ms", text)
predict = re.search(r"median /api/predict: ([0-9.]+) predictions/s, p99 ([0-9.]+) ms", text)
errors = re.findall(r"non-2xx responses: (\d+)", text)
print(json.dumps({"engine": "http", "size": "default",
                  "health_rps": float(health.group(1)), "predict_rps": float(predict.group(1)),
                  "health_p99_ms": float(health.group(2)), "predict_p99_ms": float(predict.group(2)),
                  "throughput_ratio": median_of("median predict / health throughput"),
                  "p99_ratio": median_of("median predict / health p99"),
                  "rounds": [[float(a), float(b)] for a, b in rounds],
                  "predict_non_2xx": sum(int(e) for e in errors) if errors else None,
                  "history_rows": int(re.search(r"history rows written: (\d+)", text).group(1))}))
PY
echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"

python3 benches/compare/report.py "$OUT/results.jsonl"
