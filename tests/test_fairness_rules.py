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


# -- a rule comparing groups needs two groups --------------------------------------------

_COMPARING = (
    "demographic_parity_ratio",
    "demographic_parity_difference",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "impact_ratio",
)


@pytest.mark.parametrize("metric", _COMPARING)
def test_a_rule_comparing_groups_on_one_group_is_an_error(decisions, metric):
    males = decisions[decisions["sex"] == "Male"].reset_index(drop=True)
    check = run(
        males,
        f"{{id: m, kind: fairness, metric: {metric}, sensitive_features: [sex], threshold: 0.5}}",
    )
    assert check.status == Status.ERROR and check.value is None
    assert check.message == (
        f"{metric} compares groups of sex, and the data holds one group only, Male "
        "(2,027 rows): nothing to compare, so the rule cannot be judged; evaluate on data "
        "holding at least two groups"
    )


def test_fairlearn_reads_one_group_as_perfect_parity(decisions):
    """Why the rule refuses: fairlearn's own functions give ratio 1 and difference 0."""
    males = decisions[decisions["sex"] == "Male"]
    kwargs = dict(
        y_true=males["income"] == POS,
        y_pred=males["decision"] == POS,
        sensitive_features=males["sex"],
    )
    assert flm.demographic_parity_ratio(**kwargs) == 1.0
    assert flm.demographic_parity_difference(**kwargs) == 0.0
    assert flm.equalized_odds_difference(**kwargs) == 0.0


def test_one_group_left_by_min_group_size_is_an_error(decisions):
    check = run(
        decisions,
        "{id: ir, kind: fairness, metric: impact_ratio, sensitive_features: [race], "
        "threshold: 0.8, min_group_size: 1000}",
    )
    assert check.status == Status.ERROR
    assert check.message == (
        "impact_ratio compares groups of race, and only 1 of 5 groups has at least "
        "min_group_size=1000 rows, White (2,578 rows); not judged: Amer-Indian-Eskimo "
        "(29 rows), Asian-Pac-Islander (78 rows), Black (284 rows), Other (31 rows): "
        "nothing to compare, so the rule cannot be judged; lower min_group_size or "
        "evaluate on more rows"
    )


def test_a_reference_group_under_min_group_size_is_an_error(decisions):
    check = run(
        decisions,
        "{id: d, kind: fairness, metric: demographic_parity_difference, "
        "sensitive_features: [race], threshold: 1, reference_group: Black, min_group_size: 300}",
    )
    assert check.status == Status.ERROR
    assert check.message == (
        "demographic_parity_difference compares groups of race with reference_group Black "
        "(284 rows), which is under min_group_size=300: the rule cannot be judged; lower "
        "min_group_size or pick a larger reference group"
    )


def test_a_per_group_bound_is_judged_on_one_group(decisions):
    males = decisions[decisions["sex"] == "Male"].reset_index(drop=True)
    check = run(
        males,
        "{id: s, kind: fairness, metric: selection_rate, sensitive_features: [sex], "
        "threshold: {min: 0.01}}",
    )
    assert check.status == Status.PASS
    assert check.value == pytest.approx((males["decision"] == POS).mean(), abs=1e-12)
