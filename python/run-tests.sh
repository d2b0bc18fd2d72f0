#!/usr/bin/env bash
# Builds the fraud_engine wheel into a fresh virtualenv and runs its tests.
#
#   python/run-tests.sh            # from anywhere; exits non-zero on any failure
#
# Needs python3 (3.9+, with venv and pip) and cargo. The venv lives at
# $REPO/.venv (override with FRAUD_VENV); cargo builds into $CARGO_TARGET_DIR
# or $REPO/target. Extra arguments go to pytest.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FRAUD_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
# The notebook kernel and the examples run `python` from PATH: make it this venv's.
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"

# pyspark (tests/test_spark.py) runs on a Java runtime: Debian's
# default-jre-headless, installed once (through sudo when not root).
if ! command -v java >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends default-jre-headless
fi

python -m pip install --quiet --upgrade pip
# shap: test_explain.py checks our TreeSHAP values against the shap package's;
# dask, pyspark and pyarrow: test_dask.py and test_spark.py run them for real;
# polars and pyarrow: test_arrow.py and the parity test read Arrow input.
python -m pip install --quiet "maturin>=1.9.4,<2" \
    pytest hypothesis numpy pandas scikit-learn flask nbclient nbformat ipykernel matplotlib mypy \
    shap "dask[dataframe,distributed]" pyspark polars pyarrow

# The wheel, built and installed the way users get it (no build isolation:
# maturin is already in the venv).
python -m pip install --quiet --no-build-isolation --force-reinstall --no-deps "$REPO/python"

# The CLI (and server) and the C library the parity tests compare against.
cargo build --release --quiet -p fraud-server -p fraud-ffi
export FRAUD_SERVER_BIN="$CARGO_TARGET_DIR/release/fraud-server"
export FRAUD_FFI_STATIC_LIB="$CARGO_TARGET_DIR/release/libfraud_engine.a"

# stubtest and mypy --strict run in tests/test_typing.py.

# Every temporary file of the suites (pytest's, Dask's scratch space,
# Spark's) goes to one directory, removed at exit. The JVM always writes its
# perf-data files to /tmp, so they are switched off.
SUITE_TMP="$(mktemp -d)"
trap 'rm -rf "$SUITE_TMP"' EXIT
export TMPDIR="$SUITE_TMP"
export JDK_JAVA_OPTIONS="-XX:-UsePerfData"

cd "$REPO/python"
# The pytest script, not `python -m pytest`: that would put python/ on
# sys.path first, and the source tree's fraud_engine/ would shadow the wheel.
pytest "$@"
