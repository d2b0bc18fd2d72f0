"""Prints the comparison harness's results as a Markdown table with ratios."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]


def size_of(r):
    """The training-set label ("10k", "800k") of a result line."""
    return str(r["size"]) if "size" in r else str(r["train_rows"])


def pick(engine, size, leaf=None):
    for r in rows:
        if r["engine"] == engine and size_of(r) == size and (leaf is None or r.get("min_samples_leaf") == leaf):
            return r
    return None


for size in ("10k", "800k"):
    ours = pick("fraud-engine", size)
    if ours is None:
        continue
    print(f"\n### Trained on {size} rows, scored on 200k held-out rows\n")
    print("| | fraud-engine | " + " | ".join(
        f"sklearn leaf={r['min_samples_leaf']}" for r in rows if r["engine"] == "sklearn" and size_of(r) == size) + " |")
    others = [r for r in rows if r["engine"] == "sklearn" and size_of(r) == size]
    print("|---|---:|" + "---:|" * len(others))

    def line(label, key, fmt, ours_key=None, better="lower"):
        v = ours.get(ours_key or key)
        cells = []
        for r in others:
            o = r.get(key)
            if o is None or v in (None, 0):
                cells.append(fmt(o) if o is not None else "")
                continue
            if better == "diff":
                cells.append(f"{fmt(o)} ({v - o:+.4f})")
                continue
            ratio = o / v if better == "lower" else v / o
            cells.append(f"{fmt(o)} ({ratio:,.1f}x)")
        print(f"| {label} | {fmt(v)} | " + " | ".join(cells) + " |")

    line("training time (s)", "fit_s", lambda x: f"{x:.2f}")
    line("model file / pickle (MB)", "pickle_bytes", lambda x: f"{x / 1e6:.1f}", ours_key="model_bytes")
    line("peak memory (MB)", "peak_rss_mb", lambda x: f"{x:.0f}")
    line("nodes", "nodes", lambda x: f"{x:,}")
    line("held-out ROC-AUC", "roc_auc", lambda x: f"{x:.4f}", better="diff")
    line("held-out PR-AUC", "pr_auc", lambda x: f"{x:.4f}", better="diff")
    line("one transaction (us)", "single_row_us", lambda x: f"{x:,.2f}")
    line("batch, 2 threads (rows/s)", "batch_rows_per_s", lambda x: f"{x:,.0f}", better="higher")
    shap_row = next((r for r in rows if r["engine"] == "shap" and size_of(r) == size), None)
    if shap_row:
        print(f"\nOne TreeSHAP explanation: fraud-engine {ours['explain_us']:,.1f} us, shap {shap_row['shap_version']} "
              f"{shap_row['explain_us']:,.1f} us ({shap_row['explain_us'] / ours['explain_us']:,.1f}x); shap in a "
              f"1,000-row batch {shap_row['explain_batch_us_per_row']:,.1f} us per row.")
    print(f"\nfraud-engine also: JSON object {ours['json_row_us']:.2f} us, explanation {ours['explain_us']:.1f} us, "
          f"forest-only batch {ours['forest_batch_rows_per_s']:,.0f} rows/s. In brackets: how many times better fraud-engine is, or by how much its AUC is higher.")
