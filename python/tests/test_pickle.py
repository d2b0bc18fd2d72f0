"""Pickling goes through the model file's bytes, never a Python object graph."""

import copy
import pickle
import pickletools

import numpy as np

import fraud_engine
from fraud_engine import FraudForestClassifier


def test_model_pickles_as_its_file_bytes(model, holdout):
    for protocol in range(3, pickle.HIGHEST_PROTOCOL + 1):
        data = pickle.dumps(model, protocol=protocol)
        assert model.to_bytes() in data
        ops = {op.name for op, _, _ in pickletools.genops(data)}
        assert "BUILD" not in ops  # no __dict__/state restored: the bytes are all there is
        again = pickle.loads(data)
        assert again == model
        np.testing.assert_array_equal(again.predict_proba(holdout), model.predict_proba(holdout))
    assert copy.deepcopy(model) == model
    assert copy.copy(model) == model


def test_tampered_pickle_is_rejected_by_the_loader(model):
    data = bytearray(pickle.dumps(model))
    blob = model.to_bytes()
    at = bytes(data).index(blob) + len(blob) // 2
    data[at] ^= 0xFF
    try:
        pickle.loads(bytes(data))
    except fraud_engine.CorruptModelError:
        return
    raise AssertionError("a corrupted model inside a pickle loaded")


def test_estimator_pickles_through_model_bytes(frame, holdout):
    X, y = frame.drop(columns=["is_fraud"]), frame["is_fraud"]
    clf = FraudForestClassifier(n_estimators=8, random_state=1).fit(X, y)
    data = pickle.dumps(clf)
    assert clf.model_.to_bytes() in data
    again = pickle.loads(data)
    assert isinstance(again.model_, fraud_engine.Model) and again.model_ == clf.model_
    Xh = holdout.drop(columns=["is_fraud"])
    np.testing.assert_array_equal(again.predict_proba(Xh), clf.predict_proba(Xh))
    assert again.get_params() == clf.get_params()
    assert list(again.feature_names_in_) == list(clf.feature_names_in_)
    unfitted = pickle.loads(pickle.dumps(FraudForestClassifier(n_estimators=3)))
    assert unfitted.n_estimators == 3 and not hasattr(unfitted, "model_")
