"""Artifacts: identified by SHA-256, loaded only under explicit trust."""

from __future__ import annotations

import hashlib
import pickle
import tracemalloc

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from govkit.artifacts import describe_model, load_artifact, sha256_file
from govkit.exceptions import InputError, IntegrityError, UntrustedArtifactError

HGB_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def logreg(xy):
    return LogisticRegression().fit(*xy)


class Canary:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_sha256_file(tmp_path):
    p = tmp_path / "m.skops"
    p.write_bytes(b"abc")
    assert sha256_file(p) == hashlib.sha256(b"abc").hexdigest()


def test_sha256_file_reads_a_block_at_a_time(tmp_path):
    """A file of 8 MiB and a bit: the digest of all its bytes, hashed without holding
    them (a multi-gigabyte artifact must not need its size in memory)."""
    data = np.random.default_rng(0).bytes(8 * 2**20 + 123)
    p = tmp_path / "big.skops"
    p.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    del data
    tracemalloc.start()
    try:
        digest = sha256_file(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert digest == expected
    assert peak < 2 * 2**20, peak  # reading the whole file would hold 8 MiB


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "model artifact not found"),
        (lambda p: p.mkdir(), "expected a model artifact file, found a directory"),
    ],
)
def test_sha256_file_names_what_is_wrong(tmp_path, make, expected):
    p = tmp_path / "model.skops"
    make(p)
    with pytest.raises(InputError, match=expected) as info:
        sha256_file(p)
    assert str(p) in str(info.value)


def test_skops_with_default_trusted_types_loads_without_trust(tmp_path, logreg, xy):
    p = tmp_path / "lr.skops"
    sio.dump(logreg, p)
    model = load_artifact(p, expected_sha256=sha256_file(p))
    np.testing.assert_array_equal(model.predict(xy[0]), logreg.predict(xy[0]))


def test_skops_untrusted_type_needs_review(tmp_path, xy):
    p = tmp_path / "hgb.skops"
    sio.dump(HistGradientBoostingClassifier(max_iter=3).fit(*xy), p)
    with pytest.raises(UntrustedArtifactError) as info:
        load_artifact(p, expected_sha256=None)
    assert HGB_TYPE in str(info.value)
    assert f"--trust-type {HGB_TYPE}" in str(info.value)
    assert load_artifact(p, expected_sha256=None, trusted_types=[HGB_TYPE]).predict(xy[0]).shape
    assert load_artifact(p, expected_sha256=None, trust=True) is not None


@pytest.mark.parametrize("suffix", [".joblib", ".pkl"])
def test_pickle_refused_without_trust_and_runs_nothing(tmp_path, suffix):
    canary = tmp_path / "canary"
    p = tmp_path / f"evil{suffix}"
    if suffix == ".joblib":
        joblib.dump(Canary(canary), p)
    else:
        p.write_bytes(pickle.dumps(Canary(canary)))
    with pytest.raises(UntrustedArtifactError) as info:
        load_artifact(p, expected_sha256=sha256_file(p))
    message = str(info.value)
    assert "can execute arbitrary code" in message and "--trust" in message and "skops" in message
    assert not canary.exists()


def test_trusted_joblib_loads(tmp_path, logreg, xy):
    p = tmp_path / "lr.joblib"
    joblib.dump(logreg, p)
    model = load_artifact(p, expected_sha256=sha256_file(p), trust=True)
    np.testing.assert_array_equal(model.predict(xy[0]), logreg.predict(xy[0]))


def test_hash_mismatch_is_refused_before_loading(tmp_path, logreg):
    p = tmp_path / "lr.skops"
    sio.dump(logreg, p)
    registered = sha256_file(p)
    p.write_bytes(p.read_bytes() + b"\0")
    with pytest.raises(IntegrityError) as info:
        load_artifact(p, expected_sha256=registered, trust=True)
    assert registered in str(info.value) and sha256_file(p) in str(info.value)
    assert "changed after registration" in str(info.value)


@pytest.mark.parametrize(
    "name,content,match",
    [
        ("model.onnx", b"x", "unsupported model artifact type '.onnx'"),
        ("model.skops", b"not a zip", "not a valid skops file"),
        ("model.ubj", b"\x00garbage", "model.ubj: not a valid XGBoost model file"),
        ("model.json", b'{"learner": 1}', "model.json: not a valid XGBoost model file"),
    ],
)
def test_bad_artifacts(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError, match=match):
        load_artifact(p, expected_sha256=None)


def test_missing_artifact(tmp_path):
    with pytest.raises(InputError, match="model artifact not found"):
        load_artifact(tmp_path / "none.skops", expected_sha256=None)


def test_describe_model(logreg):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    assert describe_model(logreg)[:2] == ("sklearn", "LogisticRegression")
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    assert describe_model(pipe)[1] == "Pipeline[LogisticRegression]"
    with pytest.raises(InputError, match="unsupported model type"):
        describe_model(object())


@pytest.mark.parametrize("suffix", [".ubj", ".json"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_xgboost_model_files_load_without_trust_as_saved(tmp_path, xy, suffix, kind):
    """XGBoost's own format is data parsed by XGBoost: no trust needed, same predictions."""
    import pandas as pd
    import xgboost as xgb

    X, y = xy
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    cls = xgb.XGBClassifier if kind == "classifier" else xgb.XGBRegressor
    model = cls(n_estimators=5, max_depth=2).fit(frame, y)
    path = tmp_path / f"model{suffix}"
    model.save_model(path)
    loaded = load_artifact(path, expected_sha256=sha256_file(path))
    assert type(loaded) is cls
    assert describe_model(loaded) == ("xgboost", cls.__name__, ("a", "b", "c"))
    predict = "predict_proba" if kind == "classifier" else "predict"
    np.testing.assert_array_equal(getattr(loaded, predict)(frame), getattr(model, predict)(frame))
    registered = sha256_file(path)
    path.write_bytes(path.read_bytes()[:-1] + b" ")  # any change to the file is caught
    with pytest.raises(IntegrityError, match="changed after registration"):
        load_artifact(path, expected_sha256=registered)


def test_a_bare_xgboost_booster_is_refused_with_the_fix(tmp_path, xy):
    import xgboost as xgb

    X, y = xy
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=3)
    path = tmp_path / "booster.ubj"
    booster.save_model(path)
    with pytest.raises(
        InputError,
        match=r"booster.ubj: the XGBoost model was not saved from the "
        r"scikit-learn API \(estimator type not recorded\)",
    ):
        load_artifact(path, expected_sha256=None)
