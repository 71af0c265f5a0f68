"""Counterfactuals: the change found really flips the model's decision (re-scored here), no
smaller single change on the grid does, and only actionable features change, within bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _decision_helpers import (
    ADULT_CAT,
    adult_pipeline,
    adult_small,
    credit_data,
    credit_metadata,
    lgbm_classifier,
)
from threadpoolctl import threadpool_limits

from govkit.explainers import DecisionExplainer
from govkit.explainers._counterfactual import MAX_CANDIDATES, _grid
from govkit.explainers._reasons import FeatureText
from govkit.records import DecisionSpec, FeatureSpec, ModelMetadata

pytest.importorskip("lightgbm")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def credit():
    X, y = credit_data(2_000)
    return X.iloc[:1_700], y.iloc[:1_700], X.iloc[1_700:].reset_index(drop=True)


@pytest.fixture(scope="module")
def model(credit):
    X, y, _ = credit
    return lgbm_classifier().fit(X, y)


def apply(row: pd.DataFrame, changes) -> pd.DataFrame:
    changed = row.copy()
    for c in changes:
        changed[c.feature] = pd.Series([c.proposed], index=row.index).astype(row[c.feature].dtype)
    return changed


def grid(spec: FeatureSpec) -> np.ndarray:
    """The candidate values of a numeric feature, by hand: min, min + step, ..., max."""
    count = int(np.floor((spec.max - spec.min) / spec.step + 1e-9)) + 1
    return spec.min + spec.step * np.arange(count)


def declined_rows(model, test: pd.DataFrame, n: int, score=None) -> list[pd.DataFrame]:
    proba = score(test) if score else model.predict_proba(test)[:, 1]
    return [test.iloc[[i]] for i in np.flatnonzero(proba < 0.5)[:n]]


# -- LightGBM, numeric features ------------------------------------------------------------------


def test_single_change_flips_and_is_the_smallest_on_the_grid(model, credit):
    _, _, test = credit
    meta = credit_metadata(counterfactual=True)
    explainer = DecisionExplainer.build(model, metadata=meta)
    specs = {name: meta.feature_spec(name) for name in ("income", "debt_ratio")}
    found = 0
    for row in declined_rows(model, test, 12):
        ex = explainer.explain(row)
        cf = ex.counterfactual
        assert cf is not None and cf.evaluations <= 64
        if not cf.found:
            assert cf.text.startswith("None found within bounds")
            continue
        found += 1
        changed = apply(row, cf.changes)
        new_score = model.predict_proba(changed)[0, 1]
        assert new_score >= 0.5  # the decision really flips
        assert cf.score == pytest.approx(new_score, abs=1e-12)
        distance = 0.0
        for c in cf.changes:
            assert c.feature in specs  # never late_payments (immutable) or age (sensitive)
            spec = specs[c.feature]
            assert spec.min <= c.proposed <= spec.max
            assert np.isclose(grid(spec), c.proposed, atol=1e-9).any()  # on the grid
            assert c.current == row[c.feature].iloc[0]
            distance += abs(c.proposed - c.current) / (spec.max - spec.min)
        # no smaller single-feature change on the grid flips the decision
        for name, spec in specs.items():
            current = row[name].iloc[0]
            values = grid(spec)
            d = np.abs(values - current) / (spec.max - spec.min)
            smaller = values[(d < distance - 1e-12) & ~np.isclose(values, current)]
            if smaller.size:
                trial = pd.concat([row] * smaller.size, ignore_index=True)
                trial[name] = smaller
                assert (model.predict_proba(trial)[:, 1] < 0.5).all(), name
        if len(cf.changes) == 1:
            c = cf.changes[0]
            assert cf.text == (
                f"If {c.label} had been {c.display_proposed} instead of {c.display_current}, "
                "the outcome would have been “approved”."
            )
    assert found >= 5


def test_favourable_decisions_flip_the_other_way(model, credit):
    _, _, test = credit
    explainer = DecisionExplainer.build(model, metadata=credit_metadata())
    proba = model.predict_proba(test)[:, 1]
    i = int(np.flatnonzero(proba > 0.6)[0])
    cf = explainer.explain(test.iloc[[i]], counterfactual=True).counterfactual
    assert cf.found and cf.text.endswith("the outcome would have been “declined”.")
    assert model.predict_proba(apply(test.iloc[[i]], cf.changes))[0, 1] < 0.5


def test_boolean_features_are_switched(model, credit):
    _, _, test = credit
    meta = credit_metadata()
    features = dict(meta.features)
    for name in ("income", "debt_ratio"):
        features[name] = features[name].model_copy(update={"actionable": False})
    features["has_mortgage"] = FeatureSpec(description="mortgage", kind="boolean", actionable=True)
    meta = meta.model_copy(update={"features": features})
    explainer = DecisionExplainer.build(model, metadata=meta)
    proba = model.predict_proba(test)[:, 1]
    mortgage = test["has_mortgage"].to_numpy()
    flipped = test.assign(has_mortgage=1 - mortgage)
    proba_flipped = model.predict_proba(flipped)[:, 1]
    checked = 0
    for i in np.flatnonzero(proba < 0.5)[:40]:
        cf = explainer.explain(test.iloc[[i]], counterfactual=True).counterfactual
        assert cf.found == bool(proba_flipped[i] >= 0.5)
        assert cf.evaluations == 1  # one searchable feature with one candidate; no pairs
        if cf.found:
            (change,) = cf.changes
            assert change.feature == "has_mortgage"
            assert change.proposed == 1 - mortgage[i]
            assert change.display_proposed in ("yes", "no")
            checked += 1
    assert checked >= 1


def test_no_actionable_features(model, credit):
    _, _, test = credit
    explainer = DecisionExplainer.build(
        model, metadata=ModelMetadata(decision=DecisionSpec(counterfactual=True))
    )
    cf = explainer.explain(test.iloc[[0]]).counterfactual
    assert cf.found is False and cf.changes == () and cf.evaluations == 0
    assert cf.text.startswith("None found within bounds")
    assert cf.searched.startswith("nothing")


def test_counterfactual_only_when_asked(model, credit):
    _, _, test = credit
    row = test.iloc[[0]]
    plain = DecisionExplainer.build(model, metadata=credit_metadata())
    assert plain.explain(row).counterfactual is None
    assert plain.explain(row, counterfactual=True).counterfactual is not None
    always = DecisionExplainer.build(model, metadata=credit_metadata(counterfactual=True))
    assert always.explain(row).counterfactual is not None
    assert always.explain(row, counterfactual=False).counterfactual is None


# -- pairs and honest failures, with a logistic model whose reach we can compute --------------


@pytest.fixture(scope="module")
def logistic():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(1_500, 3)), columns=["a", "b", "c"])
    y = (X["a"] + X["b"] + X["c"] + rng.logistic(size=len(X)) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    test = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    margin = model.decision_function(test)
    i = int(np.flatnonzero((margin > -1.8) & (margin < -1.2))[0])
    return model, X, test.iloc[[i]], float(-margin[i])


def reach_metadata(model, row, gap: float, share: float, **decision) -> ModelMetadata:
    """a and b may rise until each alone closes ``share`` of the log-odds ``gap``."""
    features = {}
    for j, name in enumerate(["a", "b"]):
        x = float(row[name].iloc[0])
        top = x + share * gap / model.coef_[0, j]
        features[name] = FeatureSpec(actionable=True, min=x - 1.0, max=top, step=0.01)
    features["c"] = FeatureSpec(immutable=True, actionable=True, min=-5, max=5, step=0.1)
    return ModelMetadata(features=features, decision=DecisionSpec(**decision))


def test_pairs_are_searched_when_no_single_change_flips(logistic):
    model, X, row, gap = logistic
    meta = reach_metadata(model, row, gap, share=0.7)
    explainer = DecisionExplainer.build(model, metadata=meta, background=X.iloc[:100])
    cf = explainer.explain(row, counterfactual=True).counterfactual
    assert cf.found and {c.feature for c in cf.changes} == {"a", "b"}
    assert model.predict_proba(apply(row, cf.changes))[0, 1] >= 0.5
    for c in cf.changes:
        spec = meta.features[c.feature]
        assert spec.min <= c.proposed <= spec.max + 1e-9
    for name in ("a", "b"):  # indeed, no single change on the grid flips
        values = grid(meta.features[name])
        trial = pd.concat([row] * values.size, ignore_index=True)
        trial[name] = values
        assert (model.predict_proba(trial)[:, 1] < 0.5).all()
    assert cf.evaluations == 3  # a alone, b alone, the pair
    assert cf.text.startswith("If your a had been") and " and your b had been " in cf.text


def test_none_found_within_bounds_is_said_honestly(logistic):
    model, X, row, gap = logistic
    meta = reach_metadata(model, row, gap, share=0.4)  # even both together fall short
    explainer = DecisionExplainer.build(model, metadata=meta, background=X.iloc[:100])
    cf = explainer.explain(row, counterfactual=True).counterfactual
    assert cf.found is False and cf.changes == () and cf.score is None
    assert cf.text == (
        "None found within bounds: no change to your a, your b within the allowed ranges "
        "would have changed the decision."
    )
    assert cf.evaluations == 3
    assert cf.searched.startswith("changes to your a from ") and "your b from " in cf.searched
    assert "your c" not in cf.searched  # immutable: not searched


def test_the_budget_bounds_the_search(logistic):
    model, X, row, gap = logistic
    meta = reach_metadata(model, row, gap, share=0.4)
    explainer = DecisionExplainer.build(
        model, metadata=meta, background=X.iloc[:100], counterfactual_budget=1
    )
    cf = explainer.explain(row, counterfactual=True).counterfactual
    assert cf.found is False and cf.evaluations == 1
    assert cf.searched.endswith("; the search stopped at its limit of 1 model evaluations")


def test_long_grids_are_coarsened_to_multiples_of_the_step():
    feature = FeatureText("x", "x", FeatureSpec(actionable=True, min=0, max=1_000_000, step=1))
    g = _grid(feature, 0, 12.0, np.dtype("float64"))
    assert len(g.values) <= MAX_CANDIDATES
    assert all(float(v).is_integer() for v in g.values) and g.values[0] == 0
    steps = np.diff(g.values)
    assert (steps == steps[0]).all() and steps[0] > 1


# -- categories through a one-hot pipeline -----------------------------------------------------


def test_categories_change_to_declared_values_only(adult_train):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = adult_small(adult_train)
    model = adult_pipeline(HistGradientBoostingClassifier(max_iter=30, random_state=0))
    model.fit(X, y)
    educations = tuple(sorted(X["education"].unique()))
    meta = ModelMetadata(
        sensitive_features=("sex",),
        features={
            "education": FeatureSpec(kind="category", actionable=True, values=educations),
            "hours-per-week": FeatureSpec(
                kind="integer", unit="hours", actionable=True, min=1, max=80, step=1
            ),
            "sex": FeatureSpec(kind="category", actionable=True, values=("Male", "Female")),
            "marital-status": FeatureSpec(
                kind="category", actionable=True, immutable=True, values=("Never-married",)
            ),
        },
        decision=DecisionSpec(counterfactual=True, favourable_outcome="above 50K"),
    )
    explainer = DecisionExplainer.build(model, metadata=meta)
    test = X.iloc[1_600:1_700]
    seen = set()
    for row in declined_rows(model, test, 8, lambda t: model.predict_proba(t)[:, 1]):
        cf = explainer.explain(row).counterfactual
        assert cf.evaluations <= 64
        if not cf.found:
            continue
        assert model.predict_proba(apply(row, cf.changes))[0, 1] >= 0.5
        for c in cf.changes:
            assert c.feature in ("education", "hours-per-week")  # never sex, marital-status
            seen.add(c.feature)
            if c.feature == "education":
                assert c.proposed in educations and c.proposed != c.current
            else:
                assert isinstance(c.proposed, int) and 1 <= c.proposed <= 80
                assert c.display_proposed == f"{c.proposed} hours"
    assert seen  # some counterfactual was found
    assert set(ADULT_CAT) >= {"education", "sex", "marital-status"}
