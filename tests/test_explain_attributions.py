"""Attributions invariants, and the codec that lets shap's masker carry categorical columns."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from govkit.explainers import Attributions, ExplanationError
from govkit.explainers._explainers import _Codec

finite = st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def attributions(draw: st.DrawFn) -> Attributions:
    n = draw(st.integers(1, 8))
    p = draw(st.integers(1, 5))
    values = draw(hnp.arrays(np.float64, (n, p), elements=finite))
    base = draw(hnp.arrays(np.float64, (n,), elements=finite))
    noise = draw(hnp.arrays(np.float64, (n,), elements=st.floats(-1, 1)))
    return Attributions(
        values=values,
        base_values=base,
        model_output=base + values.sum(axis=1) + noise,
        feature_names=tuple(f"f{j}" for j in range(p)),
        method="tree",
        output_space="log_odds",
    )


@given(attributions(), st.floats(0, 2))
def test_valid_is_error_within_tolerance(att, tol):
    error = att.additivity_error()
    np.testing.assert_allclose(
        error, np.abs(att.base_values + att.values.sum(1) - att.model_output)
    )
    np.testing.assert_array_equal(att.valid(tol), error <= tol)
    assert (att.valid(tol) <= att.valid(tol + 1)).all()  # monotone in the tolerance


@given(attributions())
def test_mean_abs_is_sorted_and_complete(att):
    importance = att.mean_abs()
    assert set(importance) == set(att.feature_names)
    values = list(importance.values())
    assert values == sorted(values, reverse=True)
    for name, value in importance.items():
        j = att.feature_names.index(name)
        assert value == pytest.approx(np.abs(att.values[:, j]).mean())


def test_non_finite_rows_are_never_valid():
    att = Attributions(
        values=np.array([[1.0, np.nan], [1.0, 2.0], [np.inf, 0.0]]),
        base_values=np.array([0.0, 0.0, 0.0]),
        model_output=np.array([1.0, 3.0, np.inf]),
        feature_names=("a", "b"),
        method="permutation",
        output_space="probability",
    )
    np.testing.assert_array_equal(att.valid(1e9), [False, True, False])


def test_attributions_are_immutable_and_checked():
    att = Attributions(
        values=[[1.0, 2.0]],
        base_values=[0.5],
        model_output=[3.5],
        feature_names=["a", "b"],
        method="linear",
        output_space="raw",
    )
    assert att.feature_names == ("a", "b")
    with pytest.raises(ValueError, match="read-only"):
        att.values[0, 0] = 9.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        att.method = "tree"  # type: ignore[misc]
    with pytest.raises(ExplanationError, match=r"values must have shape \(n_rows, 3\)"):
        Attributions(
            values=[[1.0, 2.0]],
            base_values=[0.5],
            model_output=[3.5],
            feature_names=("a", "b", "c"),
            method="tree",
            output_space="raw",
        )
    with pytest.raises(ExplanationError, match=r"model_output must have shape \(1,\)"):
        Attributions(
            values=[[1.0, 2.0]],
            base_values=[0.5],
            model_output=[3.5, 1.0],
            feature_names=("a", "b"),
            method="tree",
            output_space="raw",
        )
    with pytest.raises(ExplanationError, match="tol must be a number >= 0"):
        att.valid(-1.0)


@st.composite
def mixed_frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 12))
    words = st.sampled_from(["a", "b", ">50K", "", "x y"])
    maybe_word = st.one_of(st.none(), words)
    return pd.DataFrame(
        {
            "int": draw(st.lists(st.integers(-1000, 1000), min_size=n, max_size=n)),
            "float": draw(st.lists(st.one_of(st.just(np.nan), finite), min_size=n, max_size=n)),
            "text": pd.Series(draw(st.lists(maybe_word, min_size=n, max_size=n)), dtype="str"),
            "cat": pd.Categorical(
                draw(st.lists(maybe_word, min_size=n, max_size=n)),
                categories=["a", "b", ">50K", "", "x y"],
            ),
            "flag": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        }
    )


@settings(max_examples=60)
@given(mixed_frames())
def test_codec_round_trips_values_and_dtypes(frame):
    codec = _Codec.fit(frame)
    codes = codec.encode(frame)
    assert codes.dtype == np.float64 and codes.shape == frame.shape
    pd.testing.assert_frame_equal(codec.decode(codes), frame.reset_index(drop=True))


@settings(max_examples=30)
@given(mixed_frames(), st.randoms(use_true_random=False))
def test_codec_mixes_rows_column_by_column(frame, rnd):
    """What shap's masker does: each column of a masked row comes from some real row."""
    codec = _Codec.fit(frame)
    codes = codec.encode(frame)
    picks = np.array([[rnd.randrange(len(frame)) for _ in frame.columns] for _ in range(5)])
    mixed = codes[picks, np.arange(frame.shape[1])]
    decoded = codec.decode(mixed)
    for j, column in enumerate(frame.columns):
        expected = frame[column].iloc[picks[:, j]].reset_index(drop=True)
        pd.testing.assert_series_equal(decoded[column], expected, check_names=False)
