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


def rows_per_s(call, rows, repeats, clock=time.perf_counter):
    """Median rows per second over `repeats` calls (one warm-up first), by
    `clock`: wall time, or the process's CPU time (all threads), which a
    busy machine disturbs less."""
    call()
    runs = []
    for _ in range(repeats):
        start = clock()
        call()
        runs.append(rows / (clock() - start))
    return statistics.median(runs)


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

    speed = {name: rows_per_s(lambda x=x: model.predict_proba(x), args.rows, args.repeats)
             for name, x in inputs.items()}
    cpu = {name: rows_per_s(lambda x=x: model.predict_proba(x), args.rows, args.repeats,
                            clock=time.process_time)
           for name, x in inputs.items()}
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
