"""The shap package's time for one explanation of the same model and row that
fraud-engine explains, for the comparison harness (run.sh):
`shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")` on the
forest exported by `fraud-server export-trees`.

    python shap_baseline.py TREES.json TEST.csv
"""
import json
import sys
import time

import numpy as np
import pandas as pd
import shap


def main():
    export = json.load(open(sys.argv[1]))
    frame = pd.read_csv(sys.argv[2], nrows=1000)
    scale = 1.0 / len(export["trees"])
    model = {"trees": [{
        "children_left": np.array(t["children_left"]),
        "children_right": np.array(t["children_right"]),
        "children_default": np.array(t["children_left"]),
        "features": np.array(t["feature"]),
        "thresholds": np.array(t["threshold"], dtype=float),
        "values": np.array(t["value"], dtype=float).reshape(-1, 1) * scale,
        "node_sample_weight": np.array(t["cover"], dtype=float),
    } for t in export["trees"]]}
    matrix = np.empty((len(frame), len(export["features"])))
    for j, f in enumerate(export["features"]):
        column = frame[f["name"]]
        if f["kind"] == "categorical":
            codes = dict(zip(f["categories"], f["category_codes"]))
            matrix[:, j] = [codes.get(v, f["unknown_code"]) for v in column]
        else:
            matrix[:, j] = column.to_numpy(dtype=float)
    explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
    explainer.shap_values(matrix[:1])
    samples = []
    cpu = []
    for i in range(30):
        start, start_cpu = time.perf_counter(), time.thread_time()
        explainer.shap_values(matrix[i:i + 1])
        samples.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    start = time.perf_counter()
    explainer.shap_values(matrix)
    batch = (time.perf_counter() - start) / len(matrix)
    print(json.dumps({"engine": "shap", "shap_version": shap.__version__,
                      "explain_us": round(sorted(samples)[15] * 1e6, 1),
                      # This thread's CPU time, comparable with ours on a shared machine.
                      "explain_cpu_us": round(sorted(cpu)[15] * 1e6, 1),
                      "explain_batch_us_per_row": round(batch * 1e6, 1)}))


if __name__ == "__main__":
    main()
