"""ONNX Runtime's TreeEnsemble on the same forests, for the comparison harness
(run.sh): scikit-learn's forest converted by skl2onnx, and ours written as an
ONNX TreeEnsembleRegressor from `fraud-server export-trees` (double input,
thresholds and leaf values as doubles, the split rule BRANCH_LEQ, the leaf
values divided by the tree count and summed: the probability our engine
gives, though the operator's output is a float).

    python onnx_baseline.py TREES.json TRAIN.csv TEST.csv

Prints one JSON object: batch rows/s on two threads and one-row latency for
each forest, or why ONNX Runtime could not be used.
"""
import json
import sys
import time

import numpy as np
import pandas as pd


def encode_ours(export, frame):
    matrix = np.empty((len(frame), len(export["features"])))
    for j, f in enumerate(export["features"]):
        column = frame[f["name"]]
        if f["kind"] == "categorical":
            codes = dict(zip(f["categories"], f["category_codes"]))
            matrix[:, j] = [codes.get(v, f["unknown_code"]) for v in column]
        else:
            matrix[:, j] = column.to_numpy(dtype=float)
    return matrix


def our_forest_as_onnx(export):
    from onnx import TensorProto, helper, numpy_helper

    scale = 1.0 / len(export["trees"])
    nodes = {k: [] for k in ("treeids", "nodeids", "featureids", "modes", "truenodeids", "falsenodeids")}
    values, targets = [], {"treeids": [], "nodeids": [], "ids": [], "weights": []}
    for t, tree in enumerate(export["trees"]):
        for i, (left, right) in enumerate(zip(tree["children_left"], tree["children_right"])):
            nodes["treeids"].append(t)
            nodes["nodeids"].append(i)
            leaf = left == -1
            nodes["featureids"].append(0 if leaf else tree["feature"][i])
            nodes["modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            nodes["truenodeids"].append(0 if leaf else left)
            nodes["falsenodeids"].append(0 if leaf else right)
            values.append(0.0 if leaf else tree["threshold"][i])
            if leaf:
                targets["treeids"].append(t)
                targets["nodeids"].append(i)
                targets["ids"].append(0)
                targets["weights"].append(tree["value"][i] * scale)
    node = helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
        n_targets=1, aggregate_function="SUM",
        nodes_treeids=nodes["treeids"], nodes_nodeids=nodes["nodeids"],
        nodes_featureids=nodes["featureids"], nodes_modes=nodes["modes"],
        nodes_truenodeids=nodes["truenodeids"], nodes_falsenodeids=nodes["falsenodeids"],
        nodes_values_as_tensor=numpy_helper.from_array(np.array(values, dtype=np.float64)),
        target_treeids=targets["treeids"], target_nodeids=targets["nodeids"], target_ids=targets["ids"],
        target_weights_as_tensor=numpy_helper.from_array(np.array(targets["weights"], dtype=np.float64)),
    )
    n = len(export["features"])
    graph = helper.make_graph([node], "fraud_engine_forest",
                              [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, n])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])


def timings(session, batch, one):
    name = session.get_inputs()[0].name
    session.run(None, {name: batch[:1000]})
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        session.run(None, {name: batch})
        runs.append(len(batch) / (time.perf_counter() - start))
    single = []
    for _ in range(200):
        start = time.thread_time()
        session.run(None, {name: one})
        single.append(time.thread_time() - start)
    return sorted(runs)[2], sorted(single)[100] * 1e6


def main():
    out = {"engine": "onnxruntime"}
    try:
        import onnxruntime as ort
        out["onnxruntime_version"] = ort.__version__
    except ImportError as e:
        out["error"] = f"onnxruntime does not install here: {e}"
        print(json.dumps(out))
        return
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    export = json.load(open(sys.argv[1]))
    test = pd.read_csv(sys.argv[3])
    ours = encode_ours(export, test)
    try:
        model = our_forest_as_onnx(export)
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        got = session.run(None, {"X": ours[:1000]})[0][:, 0]
        out["ours_batch_rows_per_s"], out["ours_one_row_cpu_us"] = timings(session, ours, ours[:1])
        out["ours_first_scores"] = [float(x) for x in got[:3]]
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        out["ours_error"] = f"{type(e).__name__}: {e}"
    try:
        from skl2onnx import to_onnx
        from sklearn.ensemble import RandomForestClassifier

        sys.path.insert(0, __file__.rsplit("/", 1)[0])
        from sklearn_baseline import encode

        train = pd.read_csv(sys.argv[2])
        x_train = encode(train)
        x_test = encode(test, x_train.columns).to_numpy(dtype=np.float32)
        forest = RandomForestClassifier(n_estimators=len(export["trees"]), min_samples_leaf=1, n_jobs=2,
                                        random_state=42).fit(x_train.to_numpy(dtype=np.float32), train["is_fraud"])
        onx = to_onnx(forest, x_test[:1], options={"zipmap": False})
        session = ort.InferenceSession(onx.SerializeToString(), options, providers=["CPUExecutionProvider"])
        out["sklearn_forest_batch_rows_per_s"], out["sklearn_forest_one_row_cpu_us"] = timings(session, x_test, x_test[:1])
        out["sklearn_forest_nodes"] = int(sum(e.tree_.node_count for e in forest.estimators_))
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        out["sklearn_error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
