"""One Model scoring from many threads at once; the GIL is released for long calls."""

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import fraud_engine


def test_many_threads_score_one_model(model, holdout):
    records = holdout.to_dict("records")
    expected_single = [model.predict(r)["fraud_probability"] for r in records[:300]]
    expected_batch = model.predict_proba(holdout)

    def work(k):
        if k % 2:
            return [model.predict(r)["fraud_probability"] for r in records[:300]]
        return model.predict_proba(holdout).tolist()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(work, range(64)))
    for k, result in enumerate(results):
        assert result == (expected_single if k % 2 else expected_batch.tolist())


class Ticker:
    """Counts how often a second thread gets to run."""

    def __init__(self):
        self.count = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run)

    def run(self):
        while not self.stop:
            self.count += 1
            time.sleep(0)  # hands the GIL back at once


def gil_released_during(call):
    """Whether another Python thread ran while `call()` was in native code.

    With a huge switch interval the interpreter never takes the GIL away from
    this thread, so the ticker advances only if the native call releases it.
    """
    old = sys.getswitchinterval()
    ticker = Ticker()
    ticker.thread.start()
    try:
        time.sleep(0.05)
        sys.setswitchinterval(1000)
        # Let the ticker run once more so that its next wait for the GIL uses
        # the new interval; a wait begun under the old 5 ms one would still
        # force one switch during `call()`.
        time.sleep(0.01)
        before = ticker.count
        call()
        after = ticker.count
    finally:
        sys.setswitchinterval(old)
        ticker.stop = True
        ticker.thread.join()
    return after - before


def test_training_releases_the_gil(frame):
    assert gil_released_during(lambda: fraud_engine.train(frame, n_trees=40)) > 0


def test_batch_scoring_releases_the_gil(model):
    matrix = np.tile(np.array([[120.0, 3, 2, 1, 0, 40, 4, 50]]), (300_000, 1))
    assert gil_released_during(lambda: model.predict_proba(matrix)) > 0


def test_the_ticker_stays_still_when_the_gil_is_held():
    # The check above can fail: pure Python work holds the GIL throughout.
    assert gil_released_during(lambda: sum(i * i for i in range(300_000))) == 0
