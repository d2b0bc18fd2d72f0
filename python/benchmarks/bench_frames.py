"""predict_proba on the same rows as numpy, pandas, polars and pyarrow, in one run.

    python python/benchmarks/bench_frames.py [--train-rows 10000] [--rows 200000] [--trees 100]

The numpy input is the encoded float64 matrix (categories as codes), the
engine's own fastest path; each frame holds the same rows as the user has
them (the category as text). Prints rows per second for each input and its
ratio to numpy as one JSON object, after checking that every input gives
bit-identical probabilities. Target (issue 15): pandas and polars at least
0.8x numpy.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

import fraud_engine


def interleaved_rows_per_s(calls, rows, repeats, clock=time.perf_counter):
    """Median rows per second of each of `calls` (a dict of name to call)
    over `repeats` rounds, the calls run in turn within each round so that
    all see the same machine (one warm-up round first), by `clock`: wall
    time, or the process's CPU time (all threads), which a busy machine
    disturbs less."""
    for call in calls.values():
        call()
    runs = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = clock()
            call()
            runs[name].append(rows / (clock() - start))
    return {name: statistics.median(r) for name, r in runs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    model = fraud_engine.train(fraud_engine.generate(args.train_rows, seed=1), n_trees=args.trees)
    features = model.feature_names
    frame = fraud_engine.generate(args.rows, seed=2)[features]
    codes = model.category_codes("merchant_category")
    inputs = {
        "numpy_float64": np.ascontiguousarray(
            frame.assign(merchant_category=frame["merchant_category"].map(codes)).to_numpy(np.float64)
        ),
        "pandas": frame,
        "pandas_categorical": frame.astype({"merchant_category": "category"}),
        "polars": pl.from_pandas(frame),
        "pyarrow": pa.Table.from_pandas(frame, preserve_index=False),
    }
    expected = model.predict_proba(inputs["numpy_float64"])
    for name, x in inputs.items():
        assert np.array_equal(model.predict_proba(x), expected), f"{name} scores differently"

    calls = {name: (lambda x=x: model.predict_proba(x)) for name, x in inputs.items()}
    speed = interleaved_rows_per_s(calls, args.rows, args.repeats)
    cpu = interleaved_rows_per_s(calls, args.rows, args.repeats, clock=time.process_time)
    base = speed["numpy_float64"]
    print(json.dumps({
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "trees": args.trees,
        "train_rows": args.train_rows,
        "rows": args.rows,
        "rows_per_s": {name: round(v) for name, v in speed.items()},
        "ratio_to_numpy": {name: round(v / base, 2) for name, v in speed.items()},
        "cpu_time_ratio_to_numpy": {name: round(v / cpu["numpy_float64"], 2) for name, v in cpu.items()},
        "bit_identical": True,
        "targets_met": {name: speed[name] / base >= 0.8 for name in ("pandas", "polars")},
    }, indent=2))


if __name__ == "__main__":
    main()
