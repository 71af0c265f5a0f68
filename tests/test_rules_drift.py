"""drift.* rules: PSI, Kolmogorov-Smirnov and chi-squared between the training data and the
evaluated data, per feature and on the model's output; cross-checked by hand and with scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _rule_helpers import POS, by_id, one_thread, policy, record  # noqa: F401 (autouse)
from scipy import stats as ss

from govkit.checks import _drift_stats as ds
from govkit.evaluate import evaluate
from govkit.exceptions import InputError
from govkit.results import DriftEvidence, Status

NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "native-country",
]


def run(model, data, reference, *rules, **kw):
    return by_id(
        evaluate(policy(*rules), record(), data, model=model, reference_data=reference, **kw)
    )


def psi_by_hand(ref: pd.Series, cur: pd.Series, bins=10, eps=1e-4) -> float:
    """Independent PSI: each bin a condition on the values, over the reference's quantile
    edges; an edge that >= 1/bins of the reference equal is a bin [e, e] of its own, and
    missing values are one more bin; value_counts for categories."""
    if pd.api.types.is_numeric_dtype(ref):
        ref, cur = ref.astype(float), cur.astype(float)
        valid = ref.dropna()
        edges = np.unique(valid.quantile(np.arange(1, bins) / bins).to_numpy())
        points = {e for e in edges if (valid == e).mean() >= 1 / bins}

        def shares(x: pd.Series) -> np.ndarray:
            out = []
            for lo, hi in zip([-np.inf, *edges], [*edges, np.inf], strict=True):
                if lo in points:
                    out += [(x == lo).sum(), ((x > lo) & (x < hi)).sum()]
                else:
                    out.append(((x >= lo) & (x < hi)).sum())
            out.append(x.isna().sum())
            return np.asarray(out) / len(x)

        p, q = shares(ref), shares(cur)
    else:
        p_s, q_s = ref.value_counts(normalize=True), cur.value_counts(normalize=True)
        cats = p_s.index.union(q_s.index)
        p = p_s.reindex(cats, fill_value=0).to_numpy()
        q = q_s.reindex(cats, fill_value=0).to_numpy()
    p, q = np.maximum(p, eps), np.maximum(q, eps)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_before(ref: pd.Series, cur: pd.Series, bins=10, eps=1e-4) -> float:
    """PSI as defined before point masses and missing values had bins of their own:
    pandas cut on the reference's distinct quantile edges, missing values dropped."""
    ref, cur = ref.dropna().astype(float), cur.dropna().astype(float)
    edges = np.unique(ref.quantile(np.arange(1, bins) / bins).to_numpy())
    cut = [-np.inf, *edges, np.inf]
    p = pd.cut(ref, cut, right=False).value_counts(normalize=True, sort=False).to_numpy()
    q = pd.cut(cur, cut, right=False).value_counts(normalize=True, sort=False).to_numpy()
    p, q = np.maximum(p, eps), np.maximum(q, eps)
    return float(np.sum((q - p) * np.log(q / p)))


def test_psi_of_a_tiny_example_by_hand():
    # reference median 2.5 splits [1, 2 | 3, 4]; the current rows all fall in the upper bin
    got = ds.psi([1, 2, 3, 4], [3, 4, 4, 4], bins=2, epsilon=1e-4)
    expected = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1 - 0.5) * math.log(1 / 0.5)
    assert got.statistic == pytest.approx(expected, abs=1e-12)
    # categories: shares a 1/2, b 1/2 against a 1/4, b 1/4, c 1/2 (c empty in the reference)
    got = ds.psi(["a", "b"], ["a", "b", "c", "c"], epsilon=0.01)
    expected = 2 * (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.5 - 0.01) * math.log(0.5 / 0.01)
    assert got.statistic == pytest.approx(expected, abs=1e-12)


def test_a_point_mass_has_a_bin_of_its_own():
    """92 of 100 reference rows are 0: every decile is 0, so the edges collapse to [0]; 0
    gets the bin [0, 0] and the larger values (0, inf), instead of one bin [0, inf) that
    the current rows (all 50,000) fall in as well (PSI 0 before)."""
    reference = pd.Series([0.0] * 92 + list(range(1, 9)))
    current = pd.Series([50_000.0] * 100)
    assert ds.psi_bins(reference, 10) == ds.PsiBins(edges=(0.0,), points=(0.0,))
    got = ds.psi(reference, current, bins=10, epsilon=1e-4)
    # bins: x < 0, x == 0, x > 0, missing; reference 0, 0.92, 0.08, 0; current 0, 0, 1, 0
    eps = 1e-4
    expected = (eps - 0.92) * math.log(eps / 0.92) + (1 - 0.08) * math.log(1 / 0.08)
    assert got.statistic == pytest.approx(expected, abs=1e-12)
    assert got.statistic == pytest.approx(psi_by_hand(reference, current), abs=1e-12)
    assert psi_before(reference, current) == 0.0  # what the collapsed bins gave


@pytest.mark.parametrize("bins", [2, 10])
def test_a_constant_reference_sees_any_other_value(bins):
    reference, current = pd.Series(np.ones(500)), pd.Series(np.full(400, 7.0))
    eps = 1e-4
    # bins: x < 1, x == 1, x > 1, missing; reference 0, 1, 0, 0; current 0, 0, 1, 0
    expected = 2 * (1 - eps) * math.log(1 / eps)
    assert ds.psi(reference, current, bins=bins).statistic == pytest.approx(expected, abs=1e-12)
    assert ds.psi(reference, reference, bins=bins).statistic == 0.0
    assert psi_before(reference, current, bins=bins) == 0.0


def test_psi_of_a_column_without_point_masses_is_unchanged(adult_train, adult_test):
    """The extra bins are empty in both samples (0 * ln(1) each): the same value as before."""
    rng = np.random.default_rng(5)
    smooth = pd.Series(rng.normal(size=5_000)), pd.Series(rng.normal(0.3, 1.1, size=4_000))
    pairs = [smooth, (adult_train["age"], adult_test["age"])]
    pairs.append((adult_train["fnlwgt"], adult_test["fnlwgt"]))
    for ref, cur in pairs:
        assert ds.psi_bins(ref, 10).points == ()
        assert ds.psi(ref, cur).statistic == pytest.approx(psi_before(ref, cur), abs=1e-15)
    # the figures reported before the change (adult train against test)
    assert ds.psi(adult_train["age"], adult_test["age"]).statistic == pytest.approx(
        0.0005770746410670211, abs=1e-15
    )


def test_capital_gain_moved_off_its_point_mass_fails(adult_model, adult_train, adult_test):
    """92% of the training rows report no capital gain; every new applicant reports 50,000."""
    shifted = adult_test.assign(**{"capital-gain": 50_000, "capital-loss": 0})
    checks = run(
        adult_model,
        shifted,
        adult_train,
        "{id: psi, kind: drift, statistic: psi, threshold: 0.2}",
    )
    rows = {f.feature: f for f in checks["psi"].evidence.features}
    for feature in ("capital-gain", "capital-loss"):
        expected = psi_by_hand(adult_train[feature], shifted[feature])
        assert rows[feature].value == pytest.approx(expected, abs=1e-12), feature
    assert rows["capital-gain"].value > 10 and not rows["capital-gain"].passed
    assert checks["psi"].status == Status.FAIL
    assert "outside the bound: capital-gain 10.64" in checks["psi"].message


def test_identical_data_has_no_drift():
    x = pd.Series(np.arange(1000.0))
    assert ds.psi(x, x).statistic == 0.0
    assert ds.ks(x, x).statistic == 0.0 and ds.ks(x, x).p_value == 1.0
    c = pd.Series(list("abcab"))
    assert ds.chi2(c, c).statistic == 0.0 and ds.chi2(c, c).p_value == 1.0


@pytest.fixture(scope="module")
def adult_drift(adult_model, adult_train, adult_test):
    return run(
        adult_model,
        adult_test,
        adult_train,
        "{id: psi, kind: drift, statistic: psi, threshold: 0.1}",
        "{id: ks, kind: drift, statistic: ks, threshold: 0.05}",
        "{id: chi2, kind: drift, statistic: chi2, threshold: 0.001}",
        "{id: chi2-stat, kind: drift, statistic: chi2, judge_on: statistic, threshold: 1.0e+9}",
        "{id: score-ks, kind: drift, statistic: ks, scope: prediction, threshold: 0.05}",
        "{id: score-psi, kind: drift, statistic: psi, scope: prediction, threshold: 0.1}",
        "{id: label-chi2, kind: drift, statistic: chi2, scope: prediction, threshold: 0.01}",
    )


def test_psi_per_feature_equals_an_independent_computation(adult_drift, adult_train, adult_test):
    check = adult_drift["psi"]
    ev = check.evidence
    assert isinstance(ev, DriftEvidence) and ev.statistic == "population_stability_index"
    got = {f.feature: f.value for f in ev.features}
    # default: every model input feature (sex, race and fnlwgt are not inputs of the model)
    assert set(got) == set(NUMERIC + CATEGORICAL)
    for feature, value in got.items():
        assert value == pytest.approx(
            psi_by_hand(adult_train[feature], adult_test[feature]), abs=1e-12
        ), feature
    # the two Adult splits come from one census: no drift
    assert check.status == Status.PASS
    assert check.value == pytest.approx(max(got.values()), abs=1e-15) and check.value < 0.01


def test_ks_and_chi2_equal_scipy(adult_drift, adult_train, adult_test):
    ks = {f.feature: f for f in adult_drift["ks"].evidence.features}
    assert set(ks) == set(NUMERIC)  # ks judges the numeric features
    for feature, row in ks.items():
        ref = scipy_ks = ss.ks_2samp(adult_train[feature], adult_test[feature])
        assert row.value == pytest.approx(ref.statistic, abs=1e-12)
        assert row.p_value == pytest.approx(scipy_ks.pvalue, rel=1e-9)
    # the KS statistic by hand: the largest gap between the two empirical CDFs
    a, b = np.sort(adult_train["age"].to_numpy()), np.sort(adult_test["age"].to_numpy())
    grid = np.union1d(a, b)
    gap = np.max(
        np.abs(
            np.searchsorted(a, grid, "right") / a.size - np.searchsorted(b, grid, "right") / b.size
        )
    )
    assert ks["age"].value == pytest.approx(gap, abs=1e-12)

    chi2 = {f.feature: f for f in adult_drift["chi2"].evidence.features}
    assert set(chi2) == set(CATEGORICAL)
    for feature, row in chi2.items():
        table = pd.crosstab(
            np.r_[np.zeros(len(adult_train)), np.ones(len(adult_test))],
            np.r_[adult_train[feature].to_numpy(), adult_test[feature].to_numpy()],
        )
        ref = ss.chi2_contingency(table.to_numpy())
        assert row.value == pytest.approx(ref.statistic, rel=1e-9)
        assert row.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    # chi2 judges p-values by default (a bare number is a lower bound), or the statistic
    assert adult_drift["chi2"].evidence.judged_on == "p_value"
    assert adult_drift["chi2"].bound.min == 0.001
    assert adult_drift["chi2"].value == pytest.approx(min(r.p_value for r in chi2.values()))
    assert adult_drift["chi2-stat"].value == pytest.approx(max(r.value for r in chi2.values()))
    assert all(c.status == Status.PASS for c in adult_drift.values())


def test_prediction_drift_compares_the_model_output(
    adult_drift, adult_model, adult_train, adult_test
):
    cols = list(adult_model.feature_names_in_)
    s_ref = adult_model.predict_proba(adult_train[cols])[:, 1]
    s_cur = adult_model.predict_proba(adult_test[cols])[:, 1]
    (row,) = adult_drift["score-ks"].evidence.features
    assert row.feature == f"score ({POS})"
    assert row.value == pytest.approx(ss.ks_2samp(s_ref, s_cur).statistic, abs=1e-12)
    (row,) = adult_drift["score-psi"].evidence.features
    assert row.value == pytest.approx(psi_by_hand(pd.Series(s_ref), pd.Series(s_cur)), abs=1e-12)
    (row,) = adult_drift["label-chi2"].evidence.features
    assert row.feature == "predicted label"
    table = pd.crosstab(
        np.r_[np.zeros(len(s_ref)), np.ones(len(s_cur))],
        np.r_[adult_model.predict(adult_train[cols]), adult_model.predict(adult_test[cols])],
    )
    assert row.p_value == pytest.approx(ss.chi2_contingency(table.to_numpy()).pvalue, rel=1e-9)


def test_shifted_features_fail_against_their_own_bounds(adult_model, adult_train, adult_test):
    shifted = adult_test.assign(age=adult_test["age"] + 10)
    flipped = shifted.copy()
    flipped.loc[flipped.index[::5], "workclass"] = "Never-worked"
    checks = run(
        adult_model,
        flipped,
        adult_train,
        "{id: psi, kind: drift, statistic: psi, threshold: 0.2, features: {age: 0.1, "
        "education-num: null, workclass: {max: 0.5}}}",
        "{id: ks, kind: drift, statistic: ks, features: [age, hours-per-week], threshold: 0.1}",
        "{id: chi2, kind: drift, statistic: chi2, features: [workclass, sex], threshold: 0.01}",
    )
    psi = checks["psi"]
    rows = {f.feature: f for f in psi.evidence.features}
    assert rows["age"].bound.max == 0.1 and rows["education-num"].bound.max == 0.2
    assert rows["age"].value == pytest.approx(
        psi_by_hand(adult_train["age"], flipped["age"]), abs=1e-12
    )
    assert rows["age"].value > 0.1 and rows["age"].passed is False
    assert rows["education-num"].passed is True
    assert psi.status == Status.FAIL and "age" in psi.message
    assert checks["ks"].status == Status.FAIL
    ks_rows = {f.feature: f for f in checks["ks"].evidence.features}
    assert ks_rows["hours-per-week"].passed and not ks_rows["age"].passed
    chi2 = checks["chi2"]
    rows = {f.feature: f for f in chi2.evidence.features}
    assert rows["workclass"].p_value < 1e-300 or rows["workclass"].p_value == 0.0
    assert not rows["workclass"].passed and rows["sex"].passed
    assert chi2.status == Status.FAIL and "workclass" in chi2.message


def test_without_reference_data_drift_is_not_applicable(adult_model, adult_test):
    checks = run(
        adult_model, adult_test, None, "{id: d, kind: drift, statistic: psi, threshold: 0.2}"
    )
    assert checks["d"].status == Status.NOT_APPLICABLE
    assert "--reference-data" in checks["d"].message


def test_prediction_drift_needs_the_model(adult_model, adult_train, adult_test):
    y_pred = adult_model.predict(adult_test[list(adult_model.feature_names_in_)])
    result = evaluate(
        policy(
            "{id: d, kind: drift, statistic: psi, scope: prediction, threshold: 0.2}",
            "{id: f, kind: drift, statistic: psi, features: [age], threshold: 0.2}",
        ),
        record(),
        adult_test,
        predictions=y_pred,
        reference_data=adult_train,
    )
    assert result.checks[0].status == Status.NOT_APPLICABLE
    assert result.checks[1].status == Status.PASS  # feature drift needs no model


def test_a_statistic_on_the_wrong_kind_of_feature_is_an_error(adult_model, adult_train, adult_test):
    checks = run(
        adult_model,
        adult_test,
        adult_train,
        "{id: d, kind: drift, statistic: ks, features: [workclass], threshold: 0.1}",
        "{id: c, kind: drift, statistic: chi2, features: [age], threshold: 0.01}",
    )
    assert checks["d"].status == Status.ERROR
    assert "'workclass' is categorical" in checks["d"].message
    assert "use statistic chi2 or psi" in checks["d"].message
    assert "'age' is numeric" in checks["c"].message


def test_reference_without_a_compared_column_is_an_input_error(
    adult_model, adult_train, adult_test
):
    with pytest.raises(
        InputError,
        match=r"the reference data lacks 1 column.*'age' \(compared "
        r"for drift by rule 'd'\)",
    ):
        run(
            adult_model,
            adult_test,
            adult_train.drop(columns=["age"]),
            "{id: d, kind: drift, statistic: psi, threshold: 0.2}",
        )


def test_features_with_too_few_rows_are_reported_not_judged(adult_model, adult_train, adult_test):
    data = adult_test.copy()
    data.loc[data.index[50:], "capital-gain"] = np.nan  # 50 usable rows left
    checks = run(
        adult_model,
        data,
        adult_train,
        "{id: d, kind: drift, statistic: ks, features: [age, capital-gain], "
        "threshold: 0.05, min_rows: 100}",
    )
    rows = {f.feature: f for f in checks["d"].evidence.features}
    assert rows["age"].judged and not rows["capital-gain"].judged
    assert rows["capital-gain"].passed is None
    assert "1 not judged" in checks["d"].message and checks["d"].status == Status.PASS
    small = run(
        adult_model,
        adult_test.head(60),
        adult_train,
        "{id: d, kind: drift, statistic: psi, threshold: 0.2, min_rows: 100}",
    )
    assert small["d"].status == Status.ERROR and "min_rows=100" in small["d"].message


def test_missing_numeric_values_are_a_psi_bin_of_their_own():
    reference = pd.Series(np.arange(100.0))
    current = pd.Series(np.r_[np.arange(0.0, 100.0, 2), np.full(50, np.nan)])
    eps = 1e-4
    # ten decile bins of 0.1 each in the reference; the current rows: 0.05 each, and 0.5
    # missing (0 in the reference)
    expected = 10 * (0.05 - 0.1) * math.log(0.05 / 0.1) + (0.5 - eps) * math.log(0.5 / eps)
    got = ds.psi(reference, current)
    assert got.statistic == pytest.approx(expected, abs=1e-12)
    assert (got.n_reference, got.n_current) == (100, 100)  # missing rows count
    assert got.statistic == pytest.approx(psi_by_hand(reference, current), abs=1e-12)
    assert psi_before(reference, current) < 0.01  # missing values were dropped


def test_missing_values_weigh_the_same_in_numeric_and_categorical_columns():
    numbers = pd.Series([1.0] * 80 + [np.nan] * 20), pd.Series([1.0] * 40 + [np.nan] * 60)
    words = tuple(s.map({1.0: "a"}) for s in numbers)
    assert ds.psi(*numbers).statistic == pytest.approx(ds.psi(*words).statistic, abs=1e-15)


def test_half_the_ages_missing_fails_psi_and_ks_says_so(adult_model, adult_train, adult_test):
    """An upstream join broke: 49% of the new rows lost their age (PSI 0.0013 and a silent
    KS PASS before)."""
    data = adult_test.copy()
    data.loc[:8000, "age"] = np.nan
    checks = run(
        adult_model,
        data,
        adult_train,
        "{id: psi, kind: drift, statistic: psi, threshold: 0.2}",
        "{id: ks, kind: drift, statistic: ks, threshold: 0.1}",
    )
    age = {f.feature: f for f in checks["psi"].evidence.features}["age"]
    assert age.value == pytest.approx(psi_by_hand(adult_train["age"], data["age"]), abs=1e-12)
    assert checks["psi"].status == Status.FAIL
    assert "worst age 4.51; outside the bound: age 4.51" in checks["psi"].message
    ks = checks["ks"]
    assert ks.status == Status.PASS  # KS compares the values it has
    share = data["age"].isna().mean()
    assert f"{share:.1%}" == "49.1%"
    assert ks.message.endswith(
        "; missing values, left out of the KS statistic: age 49.1% of the evaluated rows "
        "(reference 0.0%)"
    )
