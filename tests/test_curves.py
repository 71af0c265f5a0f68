"""govkit.curves: what cards plot (curves, attribution histograms, drift); rows never kept."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from govkit.curves import (
    attribution_distributions,
    calibration_curve,
    classifier_curves,
    roc_curve,
)
from govkit.exceptions import InputError
from govkit.results import (
    CheckResult,
    DriftEvidence,
    EvaluationResult,
    ExplanationEvidence,
    FeatureDrift,
    FeatureImportance,
    MetricsEvidence,
    Status,
)


@pytest.fixture(scope="module")
def scored() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n = 20_000
    y = rng.random(n) < 0.24
    s = np.clip(rng.normal(0.3 + 0.35 * y, 0.18), 0, 1).round(3)  # ties, like real scores
    groups = pd.DataFrame(
        {
            "sex": rng.choice(["Male", "Female"], n, p=[0.67, 0.33]),
            "race": rng.choice(["White", "Black", "Other"], n, p=[0.85, 0.12, 0.03]),
        }
    )
    return y, s, groups


def test_roc_matches_scikit_learn(scored: tuple[np.ndarray, np.ndarray, pd.DataFrame]) -> None:
    y, s, _ = scored
    curve = roc_curve(y, s, max_points=101)
    assert curve is not None and curve.auc is not None
    assert curve.auc == pytest.approx(skm.roc_auc_score(y, s), abs=1e-6)
    assert len(curve.fpr) <= 101 + 2
    assert curve.fpr[0] == 0 and curve.tpr[0] == 0 and curve.fpr[-1] == 1 and curve.tpr[-1] == 1
    # every kept point is a real operating point of the exact curve
    fpr, tpr, _ = skm.roc_curve(y, s)
    exact = set(zip(np.round(fpr, 6), np.round(tpr, 6), strict=True))
    assert all((f, t) in exact for f, t in zip(curve.fpr, curve.tpr, strict=True))
    assert list(curve.fpr) == sorted(curve.fpr)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=2, max_size=200).filter(
        lambda rows: len({r[0] for r in rows}) == 2
    )
)
def test_roc_auc_equals_scikit_learn_on_any_input(rows: list[tuple[bool, float]]) -> None:
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows])
    curve = roc_curve(y, s)
    assert curve is not None
    assert curve.auc == pytest.approx(skm.roc_auc_score(y, s), abs=2e-6)


def test_roc_of_one_class_is_none() -> None:
    assert roc_curve([1, 1, 1], [0.2, 0.4, 0.9]) is None


def test_calibration_bins_and_small_bins_hidden() -> None:
    y = np.array([0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1])
    s = np.array([0.05, 0.05, 0.1, 0.12, 0.15, 0.18, 0.91, 0.92, 0.95, 0.97, 0.99])
    cal = calibration_curve(y, s, n_bins=10, min_bin_rows=5)
    assert cal is not None
    assert cal.counts[0] == 2 and cal.counts[1] == 4 and cal.counts[9] == 5
    assert cal.mean_predicted[1] is None  # 4 rows < 5: count kept, values not
    assert cal.fraction_positive[9] == pytest.approx(4 / 5)
    assert cal.mean_predicted[9] == pytest.approx(np.mean(s[6:]))
    assert calibration_curve([0, 1], [-0.5, 2.0]) is None  # not probabilities


def test_classifier_curves_per_group(scored: tuple[np.ndarray, np.ndarray, pd.DataFrame]) -> None:
    y, s, groups = scored
    curves = classifier_curves(y, s, groups=groups, min_group_size=1000)
    assert curves.overall.count == len(y) and curves.overall.positives == int(y.sum())
    by = {g.sensitive_feature: g for g in curves.by_feature}
    assert list(by) == ["sex", "race"]
    race = by["race"].groups
    assert [g.group for g in race] == [("White",), ("Black",), ("Other",)]  # largest first
    assert race[2].judged is False and race[2].roc is None  # ~600 rows < 1000
    white = (groups["race"] == "White").to_numpy()
    assert race[0].roc is not None
    assert race[0].roc.auc == pytest.approx(skm.roc_auc_score(y[white], s[white]), abs=1e-6)
    assert sum(g.count for g in race) == len(y)


def test_curves_are_small_and_round_trip_through_json(
    scored: tuple[np.ndarray, np.ndarray, pd.DataFrame],
) -> None:
    y, s, groups = scored
    curves = classifier_curves(y, s, groups=groups)
    evidence = MetricsEvidence(values={"roc_auc": 0.8}, curves=curves)
    check = CheckResult(
        rule_id="auc",
        check_id="performance.roc_auc",
        kind="performance",
        severity="error",
        status=Status.PASS,
        evidence=evidence,
    )
    text = check.model_dump_json()
    assert len(text) < 60_000  # 20,000 rows -> a few thousand numbers at most
    assert CheckResult.model_validate_json(text) == check


def test_inputs_are_validated() -> None:
    with pytest.raises(InputError, match="0/1 or booleans"):
        roc_curve(["yes", "no"], [0.1, 0.2])
    with pytest.raises(InputError, match=r"shape \(3,\)"):
        roc_curve([0, 1, 1], [0.1, 0.2])
    with pytest.raises(InputError, match="sensitive feature 'sex' has 2 values for 3 rows"):
        classifier_curves([0, 1, 1], [0.1, 0.2, 0.3], groups={"sex": ["a", "b"]})


# ---------------------------------------------------------- attribution histograms


def test_attribution_distributions_bin_values_and_colour_by_rank() -> None:
    rng = np.random.default_rng(0)
    n = 500
    X = pd.DataFrame({"age": rng.integers(18, 90, n), "job": rng.choice(["a", "b"], n)})
    # attribution rises with age: high bins must hold old people
    phi = np.column_stack([(X["age"] - 50) / 10 + rng.normal(0, 0.1, n), rng.normal(0, 1, n)])
    dists = attribution_distributions(phi, X, ["age", "job"], bins=10, min_bin_rows=5)
    age, job = dists
    assert age.feature == "age" and sum(age.counts) == n and len(age.bin_edges) == 11
    ranks = [r for r in age.mean_feature_rank if r is not None]
    assert ranks == sorted(ranks) and ranks[0] < 0.2 and ranks[-1] > 0.8
    for count, rank in zip(age.counts, age.mean_feature_rank, strict=True):
        if count < 5:
            assert rank is None
    assert set(job.mean_feature_rank) == {None}  # not numeric: no colour
    # only aggregates: no attribution value or feature value of a row is stored
    stored = set(age.bin_edges) | {r for r in age.mean_feature_rank if r is not None}
    assert not stored & set(np.round(phi[:, 0], 6))  # edges are rounded outwards
    assert age.bin_edges[0] <= phi[:, 0].min() and age.bin_edges[-1] >= phi[:, 0].max()
    assert not stored & set(X["age"].astype(float))


def test_attribution_distributions_skip_non_finite_and_check_shapes() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    (d,) = attribution_distributions(np.array([[0.1], [np.nan], [0.3]]), X, ["a"], bins=4)
    assert sum(d.counts) == 2
    with pytest.raises(InputError, match=r"shape \(n_rows, 2\)"):
        attribution_distributions(np.zeros((3, 1)), X, ["a", "b"])
    with pytest.raises(InputError, match="not among the attribution columns"):
        attribution_distributions(np.zeros((3, 1)), X, ["a"], features=["zz"])
    evidence = ExplanationEvidence(
        method="tree",
        rows_evaluated=3,
        rows_valid=3,
        tolerance=1e-6,
        max_abs_error=0.0,
        top_features=(FeatureImportance(feature="a", mean_abs_attribution=0.2),),
        distributions=(d,),
    )
    assert ExplanationEvidence.model_validate_json(evidence.model_dump_json()) == evidence


# ------------------------------------------------------------------------ drift


def test_drift_evidence_round_trips() -> None:
    """Drift evidence (built from the drift check's own statistic) survives JSON."""
    from govkit.checks._drift_stats import psi

    ref = pd.DataFrame({"x": np.arange(1000.0), "c": ["a", "b"] * 500})
    cur = pd.DataFrame({"x": np.arange(1000.0) + 300, "c": ["a", "b"] * 500})
    ev = DriftEvidence(
        statistic="population_stability_index",
        reference="train@1",
        features=tuple(
            FeatureDrift(feature=f, value=psi(ref[f], cur[f]).statistic) for f in ("x", "c")
        ),
    )
    assert ev.features[0].value is not None and ev.features[0].value > 0.1
    assert ev.features[1].value == pytest.approx(0.0, abs=1e-12)
    check = CheckResult(
        rule_id="drift",
        check_id="drift.psi",
        kind="drift",
        severity="warning",
        status=Status.PASS,
        evidence=ev,
    )
    again = CheckResult.model_validate_json(check.model_dump_json())
    assert isinstance(again.evidence, DriftEvidence) and again == check


def test_old_results_still_load() -> None:
    """Results written before the optional fields existed read back unchanged."""
    old = {
        "policy_name": "p",
        "policy_digest": "sha256:00",
        "model": {"name": "m", "version": 1},
        "n_rows": 1,
        "started_at": "2025-01-01T00:00:00Z",
        "finished_at": "2025-01-01T00:00:01Z",
        "govkit_version": "0.1.0",
        "checks": [
            {
                "rule_id": "a",
                "check_id": "performance.accuracy",
                "kind": "performance",
                "severity": "error",
                "status": "PASS",
                "evidence": {"kind": "metrics", "values": {"accuracy": 0.9}},
            },
            {
                "rule_id": "e",
                "check_id": "explanation.coverage",
                "kind": "explanation",
                "severity": "error",
                "status": "PASS",
                "evidence": {
                    "kind": "explanation",
                    "method": "tree",
                    "rows_evaluated": 1,
                    "rows_valid": 1,
                    "tolerance": 0.0,
                    "max_abs_error": 0.0,
                    "top_features": [],
                },
            },
        ],
    }
    run = EvaluationResult.model_validate(json.loads(json.dumps(old)))
    ev = run.checks[0].evidence
    assert isinstance(ev, MetricsEvidence) and ev.curves is None
    assert isinstance(run.checks[1].evidence, ExplanationEvidence)
    assert run.checks[1].evidence.distributions == ()
