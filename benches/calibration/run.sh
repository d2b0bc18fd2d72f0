#!/usr/bin/env bash
# Calibration study of the training defaults (issue 10): our engine through the
# release `fraud-server` CLI (train, then predict: what users do) against
# scikit-learn's RandomForestClassifier and LightGBM, each with its own
# defaults, on the same stratified folds of every dataset, in one run:
#
#   - our generator at label noise 0, 0.25, 0.5, 1 (its default) and 2;
#   - scikit-learn's make_classification at class separations 0.5, 1 and 2 and
#     0.5%, 2% and 10% positives;
#   - the datasets scikit-learn ships for classification (breast cancer; iris,
#     wine and digits as their last class against the rest);
#
# then training time on the 800k-row benchmark of benches/compare/run.sh:
# auto against one plain run with the old fixed defaults, and against
# scikit-learn. Prints a Markdown table and whether each target holds.
#
#   benches/calibration/run.sh          # about 10 minutes on 2 cores
#
# Installs scikit-learn, LightGBM and pandas into <target>/calibration-venv
# (CALIBRATION_VENV overrides); CSVs and models go to <target>/calibration.
# FOLDS, JOBS (threads per model, default 2) and SPEED_REPEATS (default 3)
# override the rest; extra arguments go to study.py (--variant, --only).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
VENV="${CALIBRATION_VENV:-$TARGET/calibration-venv}"
OUT="$TARGET/calibration"
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -m pip install --quiet scikit-learn lightgbm pandas numpy

cargo build --release --quiet -p fraud-server
BIN="$TARGET/release/fraud-server"

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start" >&2
"$VENV/bin/python" benches/calibration/study.py --bin "$BIN" --work "$OUT" \
  --folds "${FOLDS:-5}" --jobs "${JOBS:-2}" --speed "${SPEED_REPEATS:-3}" \
  --json "$OUT/results.json" "$@"
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" >&2
