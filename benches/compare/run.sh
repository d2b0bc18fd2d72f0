#!/usr/bin/env bash
# Side-by-side comparison with scikit-learn's RandomForestClassifier on the same
# machine, data and run: training time, model size, peak memory, held-out
# ROC-AUC / PR-AUC, single-row latency and batch throughput, printed as ratios;
# and the shap package's time for one TreeSHAP explanation of our exported forest.
#
#   benches/compare/run.sh            # about 10 minutes on 2 cores
#
# Installs scikit-learn, pandas and shap into target/compare-venv. Data: 1,000,000
# generated rows (seed 1): the first 800k (and the first 10k) train, the last
# 200k are held out. Results land in target/compare/ as JSON lines.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
OUT="$REPO/target/compare"
VENV="$REPO/target/compare-venv"
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -m pip install --quiet scikit-learn pandas numpy shap

cargo build --release --quiet -p fraud-server
cargo build --release --quiet -p fraud-benches --example score_speed
BIN="$REPO/target/release/fraud-server"
SPEED="$REPO/target/release/examples/score_speed"

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
  "$SPEED" "$model" "$OUT/test200k.csv" > "$OUT/speed$size.json"
  python3 - "$size" "$fit_s" "$(stat -c %s "$model")" "$(cat "$OUT/rss$size.txt")" "$OUT" >> "$OUT/results.jsonl" <<'PY'
import json, sys
size, fit_s, model_bytes, rss_kb, out = sys.argv[1:]
ev = json.load(open(f"{out}/eval{size}.json"))
speed = json.load(open(f"{out}/speed{size}.json"))
print(json.dumps({"engine": "fraud-engine", "size": size, "fit_s": float(fit_s),
                  "model_bytes": int(model_bytes), "peak_rss_mb": round(int(rss_kb) / 1024, 1),
                  "roc_auc": round(ev["roc_auc"], 4), "pr_auc": round(ev["pr_auc"], 4), **speed}))
PY
  "$VENV/bin/python" benches/compare/sklearn_baseline.py "$OUT/train$size.csv" "$OUT/test200k.csv" \
    --min-samples-leaf "$([ "$size" = 800k ] && echo 1,5,20 || echo 1)" \
    | sed "s/^{/{\"size\": \"$size\", /" >> "$OUT/results.jsonl"
  "$BIN" export-trees --model "$model" --out "$OUT/trees$size.json" >/dev/null
  "$VENV/bin/python" -W ignore benches/compare/shap_baseline.py "$OUT/trees$size.json" "$OUT/test200k.csv" \
    | sed "s/^{/{\"size\": \"$size\", /" >> "$OUT/results.jsonl"
done

python3 benches/compare/report.py "$OUT/results.jsonl"
