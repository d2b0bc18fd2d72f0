"""The README's code blocks run as written, in order, from a fresh copy of the
repository: shell blocks in one bash session (so `export` and `cd` carry on),
Python blocks with the Python the README's own venv installs, C blocks
compiled against the library the README builds. A README that drifts from
the code fails here."""

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```([a-z0-9,]+)\n(.*?)^```$", re.S | re.M)


def readme_blocks():
    """(language, code) for each fenced block of the README."""
    text = (REPO / "README.md").read_text()
    return [(lang.split(",")[0], code) for lang, code in BLOCK.findall(text)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_copy(dest):
    """The files a clone has (tracked, and new files not ignored), with the
    build directory shared so the copy does not compile the dependencies
    again."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO / name.decode()
        if source.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    shared = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")).resolve()
    shared.mkdir(parents=True, exist_ok=True)
    (dest / "target").symlink_to(shared)


def test_every_readme_block_runs_as_written(tmp_path):
    blocks = readme_blocks()
    languages = {lang for lang, _ in blocks}
    assert {"sh", "python"} <= languages, languages
    clone = tmp_path / "clone"
    fresh_copy(clone)
    port = free_port()
    # One script, so that the shell's state carries from block to block.
    # Python blocks run with the venv an earlier block made (the README says
    # so); C blocks are compiled and run like the C block's own commands.
    script = ["set -euo pipefail"]
    for i, (lang, code) in enumerate(blocks):
        if lang == "sh":
            script.append(f"echo '--- README block {i} (sh)'")
            script.append(code)
        elif lang == "python":
            script.append(f"echo '--- README block {i} (python)'")
            script.append(f"demo/.venv/bin/python - <<'README_PYTHON_{i}'\n{code}README_PYTHON_{i}")
        elif lang == "c":
            script.append(f"echo '--- README block {i} (c)'")
            script.append(f"cat > demo/readme_{i}.c <<'README_C_{i}'\n{code}README_C_{i}")
            script.append(
                f"cc -std=c99 -Wall -Wextra -Werror -I include demo/readme_{i}.c "
                f"target/release/libfraud_engine.a -lpthread -ldl -lm -o demo/readme_{i} && demo/readme_{i}"
            )
    env = dict(os.environ)
    # The README uses the default port; the test gives the server a free one.
    env["PORT"] = str(port)
    env.pop("CARGO_TARGET_DIR", None)
    env.pop("VIRTUAL_ENV", None)
    text = "\n".join(script).replace("127.0.0.1:5000", f"127.0.0.1:{port}")
    result = subprocess.run(
        ["bash", "-c", text], cwd=clone, env=env, capture_output=True, text=True, timeout=1500,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    # What the blocks promise happened.
    demo = clone / "demo"
    for name in ("tx.csv", "holdout.csv", "new.csv", "model.fem", "scored.csv", "explained.csv",
                 "tuned.fem", "rust-model.fem", "python-model.fem"):
        assert (demo / name).is_file(), name
    header = (demo / "scored.csv").read_text().splitlines()[0].split(",")
    assert header[-3:] == ["fraud_probability", "predicted_is_fraud", "risk_level"]
    assert '"fraud_probability"' in out and "'fraud_probability'" in out, out[-3000:]
