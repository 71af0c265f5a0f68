"""Fairness rule options: impact ratio, reference group, min_group_size, bootstrap intervals."""

from __future__ import annotations

from pathlib import Path

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from govkit.evaluate import evaluate
from govkit.fairness import group_table
from govkit.policy import parse_policy
from govkit.results import Status

DECISIONS = Path(__file__).resolve().parent.parent / "examples" / "policies"
POS = ">50K"


@pytest.fixture(scope="module")
def decisions():
    return pd.read_csv(DECISIONS / "decisions_single_threshold.csv")


def run(decisions, rule: str):
    policy = parse_policy(f"schema_version: 1\nname: t\nrules:\n  - {rule}\n")
    return evaluate(
        policy,
        None,
        decisions,
        target="income",
        predictions=decisions["decision"].to_numpy(),
        positive_label=POS,
    ).checks[0]


def selection_rates(df, by):
    return (df["decision"] == POS).groupby([df[c] for c in by]).mean()


def test_impact_ratio_is_rate_over_highest_rate(decisions):
    check = run(
        decisions,
        "{id: ir, kind: fairness, metric: impact_ratio, "
        "sensitive_features: [race], threshold: 0.8}",
    )
    rates = selection_rates(decisions, ["race"])
    expected = rates / rates.max()
    got = {row.group[0]: row.metrics["impact_ratio"] for row in check.evidence.groups}
    for race, value in expected.items():
        assert got[race] == pytest.approx(value, abs=1e-12)
    assert check.value == pytest.approx(expected.min(), abs=1e-12)
    assert check.status == Status.FAIL


def test_impact_ratio_against_a_reference_group(decisions):
    check = run(
        decisions,
        "{id: ir, kind: fairness, metric: impact_ratio, "
        "sensitive_features: [sex], threshold: 0.5, reference_group: Male}",
    )
    rates = selection_rates(decisions, ["sex"])
    assert check.value == pytest.approx(rates["Female"] / rates["Male"], abs=1e-12)
    assert "against Male" in check.message


def test_difference_against_reference_group(decisions):
    check = run(
        decisions,
        "{id: d, kind: fairness, metric: demographic_parity_difference, "
        "sensitive_features: [race], threshold: 1, reference_group: White}",
    )
    rates = selection_rates(decisions, ["race"])
    assert check.value == pytest.approx((rates - rates["White"]).abs().max(), abs=1e-12)


def test_min_group_size_reports_but_does_not_judge(decisions):
    sizes = decisions.groupby("race").size()
    small = sizes[sizes < 100].index.tolist()
    assert small, "the fixture needs a small group"
    check = run(
        decisions,
        "{id: d, kind: fairness, metric: demographic_parity_ratio, "
        "sensitive_features: [race], threshold: 0.1, min_group_size: 100}",
    )
    rates = selection_rates(decisions, ["race"])
    big = rates.drop(index=small)
    assert check.value == pytest.approx(big.min() / big.max(), abs=1e-12)
    judged = {row.group[0]: row.judged for row in check.evidence.groups}
    assert all(not judged[g] for g in small) and judged["White"]
    assert len(check.evidence.groups) == len(sizes)  # small groups still reported
    assert "reported but not judged" in check.message


def test_per_group_precision_and_accuracy_equal_fairlearn(decisions):
    y = (decisions["income"] == POS).astype(int)
    p = (decisions["decision"] == POS).astype(int)
    mf = flm.MetricFrame(
        metrics={"precision": skm.precision_score, "accuracy": skm.accuracy_score},
        y_true=y,
        y_pred=p,
        sensitive_features=decisions["sex"],
    )
    for metric in ("precision", "accuracy"):
        check = run(
            decisions,
            f"{{id: m, kind: fairness, metric: {metric}, "
            f"sensitive_features: [sex], threshold: {{min: 0}}}}",
        )
        for row in check.evidence.groups:
            assert row.metrics[metric] == pytest.approx(
                mf.by_group.loc[row.group[0], metric], abs=1e-12
            )


def test_bootstrap_weights_equal_resampled_rows(decisions):
    """The interval resamples rows as integer weights: one replicate equals the resampled data."""
    rng = np.random.default_rng(3)
    n = len(decisions)
    idx = rng.integers(0, n, n)
    weights = np.bincount(idx, minlength=n).astype(float)
    y, p, s = decisions["income"], decisions["decision"], decisions[["sex"]]
    weighted = group_table(y, p, sensitive_features=s, pos_label=POS, sample_weight=weights)
    resampled = group_table(y.iloc[idx], p.iloc[idx], sensitive_features=s.iloc[idx], pos_label=POS)
    for metric in ("selection_rate", "true_positive_rate"):
        np.testing.assert_allclose(weighted.metric(metric), resampled.metric(metric), atol=1e-12)


def test_bootstrap_interval_and_judging_on_its_bounds(decisions):
    rule = (
        "{{id: d, kind: fairness, metric: demographic_parity_ratio, sensitive_features: [sex],"
        " threshold: {{min: {t}}}, confidence_interval: {{resamples: 200, judge_on: {j}}}}}"
    )
    est = run(decisions, rule.format(t=0.5, j="estimate"))
    low, high = est.interval.low, est.interval.high
    assert low < est.value < high and est.interval.level == 0.95
    again = run(decisions, rule.format(t=0.5, j="estimate"))
    assert (again.interval.low, again.interval.high) == (low, high)  # seeded
    threshold = (est.value + high) / 2  # above the estimate, below the upper bound
    assert run(decisions, rule.format(t=threshold, j="estimate")).status == Status.FAIL
    assert run(decisions, rule.format(t=threshold, j="upper")).status == Status.PASS
    assert run(decisions, rule.format(t=(low + est.value) / 2, j="lower")).status == Status.FAIL


def test_unknown_reference_group_is_an_error_result(decisions):
    check = run(
        decisions,
        "{id: d, kind: fairness, metric: impact_ratio, "
        "sensitive_features: [sex], threshold: 0.8, reference_group: Males}",
    )
    assert check.status == Status.ERROR
    assert "reference_group Males does not occur" in check.message
