"""The package as a type checker sees it: ``mypy --strict`` passes on the
examples and on typed use of every result, rejects a misspelt name, and
``stubtest`` finds the stubs true to the compiled module.

mypy runs in a temporary directory, so it reads the installed package (with
its compiled module), not the source tree.
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mypy(tmp_path_factory):
    """Runs `mypy --strict` in a scratch directory; the runs share a cache
    (the first one reads numpy's and pandas' types, the rest reuse them)."""
    work = tmp_path_factory.mktemp("mypy")

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(work / "cache"),
             *map(str, args)],
            cwd=work, capture_output=True, text=True,
        )

    run.work = work
    return run


def test_the_package_passes_mypy_strict(mypy):
    result = mypy("-p", "fraud_engine")
    assert result.returncode == 0, result.stdout + result.stderr


def test_examples_and_typed_use_pass_mypy_strict(mypy):
    result = mypy(REPO / "examples/python/flask_app.py", REPO / "python/tests/typing/usage.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelt_name_is_a_type_error(mypy):
    typo = mypy.work / "typo.py"
    typo.write_text('import fraud_engine\nfraud_engine.laod("model.fem")\n')
    result = mypy(typo)
    assert result.returncode == 1
    assert 'Module has no attribute "laod"' in result.stdout, result.stdout


def test_stubs_match_the_compiled_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "fraud_engine._native", "--ignore-missing-stub"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_has_what_the_types_promise():
    import fraud_engine

    assert fraud_engine.DEFAULT_TRAIN_PARAMS["n_trees"] == 100
    assert "DEFAULT_TRAIN_PARAMS" in fraud_engine.__all__
    from fraud_engine import FraudForestClassifier  # lazily imported at run time

    assert FraudForestClassifier.__name__ == "FraudForestClassifier"
