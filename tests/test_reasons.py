"""Reason codes: which factors, in which order and direction (from the attributions), in what
words, with values formatted per feature kind (checked against Babel and by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _decision_helpers import CREDIT, credit_data, credit_metadata, lgbm_classifier
from babel import numbers
from threadpoolctl import threadpool_limits

from govkit._i18n import messages
from govkit._resources import resource_dir
from govkit.explainers import DecisionExplainer
from govkit.explainers._reasons import MESSAGE_IDS, FeatureText, Formatter, humanise
from govkit.records import FeatureSpec, ModelMetadata

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


def fmt(locale: str = "en") -> Formatter:
    return Formatter(locale, messages(locale, "reasons"))


def feature(kind: str = "number", unit: str | None = None, name: str = "x") -> FeatureText:
    return FeatureText(name, name, FeatureSpec(kind=kind, unit=unit))


# -- which reasons, in which order ------------------------------------------------------------


def test_principal_reasons_follow_the_attributions(model, credit):
    _, _, test = credit
    explainer = DecisionExplainer.build(model, metadata=credit_metadata(reasons=3))
    decided_up = decided_down = 0
    for i in range(60):
        ex = explainer.explain(test.iloc[[i]])
        phi = np.array([ex.attributions[c] for c in CREDIT])
        up = ex.score >= ex.threshold
        decided_up += up
        decided_down += not up
        # expected by hand: largest |phi| first among those pushing towards the decision
        order = sorted(range(len(CREDIT)), key=lambda j: (-abs(phi[j]), j))
        towards = [CREDIT[j] for j in order if phi[j] != 0 and (phi[j] > 0) == up][:3]
        against = [CREDIT[j] for j in order if phi[j] != 0 and (phi[j] > 0) != up][:2]
        assert [r.feature for r in ex.reasons] == towards + against
        assert [r.rank for r in ex.reasons] == list(range(1, len(towards + against) + 1))
        for r in ex.reasons:
            assert r.contribution == ex.attributions[r.feature]
            assert r.effect == ("raised" if r.contribution > 0 else "lowered")
            assert r.towards_outcome == (r.feature in towards)
            assert r.value == test.iloc[i][r.feature]
    assert decided_up and decided_down  # both directions were exercised


def test_reason_count_is_configurable(model, credit):
    _, _, test = credit
    row = test.iloc[[3]]
    two = DecisionExplainer.build(model, metadata=credit_metadata(reasons=2))
    assert sum(r.towards_outcome for r in two.explain(row).reasons) == 2
    assert sum(r.towards_outcome for r in two.explain(row, reasons=1).reasons) == 1
    assert two.explain(row, reasons=0).reasons == ()
    alone = DecisionExplainer.build(model, metadata=credit_metadata(), opposing_reasons=0)
    assert all(r.towards_outcome for r in alone.explain(row).reasons)


def test_sentences_and_labels(model, credit):
    _, _, test = credit
    explainer = DecisionExplainer.build(model, metadata=credit_metadata())
    for i in range(20):
        ex = explainer.explain(test.iloc[[i]])
        for r in ex.reasons:
            description = credit_metadata().feature_spec(r.feature).description or "age"
            assert r.label == f"your {description}"
            label = r.label[0].upper() + r.label[1:]
            if r.rank == 1:
                tail = f"{r.effect} the score the most."
            elif r.towards_outcome:
                tail = f"also {r.effect} the score."
            else:
                tail = f"{r.effect} the score."
            assert r.text == f"{label} ({r.display_value}) {tail}"


def test_capital_gains_example_from_the_issue():
    spec = FeatureSpec(description="reported capital gains", kind="money", unit="USD")
    capital = FeatureText("capital-gain", "reported capital gains", spec)
    f = fmt()
    text = f.text("reason_first_lowered", label=f.label(capital), value=f.value(capital, 0))
    assert text == "Your reported capital gains ($0) lowered the score the most."


def test_sensitive_inputs_are_reported_honestly(credit):
    """A model that leans on age (sensitive): the reasons say so rather than hide it."""
    X, _, test = credit
    y = (X["age"] > 50).astype(int)  # a model driven by the sensitive feature
    model = lgbm_classifier(n_estimators=20).fit(X, y)
    explainer = DecisionExplainer.build(model, metadata=credit_metadata())
    top = [explainer.explain(test.iloc[[i]]).reasons[0].feature for i in range(10)]
    assert top == ["age"] * 10


def test_descriptions_fall_back_to_feature_descriptions_then_the_name(model, credit):
    _, _, test = credit
    meta = ModelMetadata(feature_descriptions={"income": "household income"})
    ex = DecisionExplainer.build(model, metadata=meta).explain(test.iloc[[0]], reasons=6)
    labels = {r.feature: r.label for r in ex.reasons}
    assert labels.get("income", "your household income") == "your household income"
    if "late_payments" in labels:
        assert labels["late_payments"] == "your late payments"
    assert all(r.label.startswith("your ") for r in ex.reasons)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("capital_gain", "capital gain"),
        ("hoursPerWeek", "hours per week"),
        ("education-num", "education num"),
        ("DTI_ratio", "DTI ratio"),
        ("Age", "age"),
    ],
)
def test_humanise(name, words):
    assert humanise(name) == words


# -- values formatted per kind and locale ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "unit", "value", "shown"),
    [
        ("money", "USD", 0, "$0"),
        ("money", "USD", 52_300.0, "$52,300"),
        ("money", "USD", 1_234.5, "$1,234.50"),
        ("money", "GBP", 12, "£12"),
        ("money", None, 1_500, "1,500"),
        ("percent", None, 0.35, "35%"),
        ("percent", None, 0.3512, "35.1%"),
        ("percent", "%", 42, "42%"),
        ("years", None, 1, "1 year"),
        ("years", None, 16, "16 years"),
        ("count", None, 3.0, "3"),
        ("integer", None, 3.6, "4"),
        ("number", "hours", 40, "40 hours"),
        ("integer", "hours", 1, "1 hour"),  # units CLDR knows follow the plural rules
        ("count", "years", 1.0, "1 year"),
        ("count", "years", 9, "9 years"),
        ("number", "points", 1, "1 points"),  # a unit CLDR does not know: printed as given
        ("number", None, 0.123456, "0.123"),
        ("number", None, 1_234_567.891, "1,234,567.891"),
        ("category", None, "Married-civ-spouse", "Married-civ-spouse"),
        ("boolean", None, True, "yes"),
        ("boolean", None, 0, "no"),
        ("number", None, None, "not given"),
        ("number", None, math.nan, "not given"),
        ("number", None, "Private", "Private"),  # a category without a declared kind
    ],
)
def test_values_in_english(kind, unit, value, shown):
    assert fmt().value(feature(kind, unit), value) == shown


def test_values_follow_babel_in_other_locales():
    f = fmt("de")
    assert f.value(feature("number"), 1_234.5) == numbers.format_decimal(1_234.5, locale="de")
    assert f.value(feature("number"), 1_234.5) == "1.234,5"
    # whole amounts drop the decimals Babel would show, and nothing else
    full = numbers.format_currency(52_300, "EUR", locale="de")
    assert f.value(feature("money", "EUR"), 52_300) == full.replace(",00", "")
    assert f.value(feature("money", "EUR"), 12.5) == numbers.format_currency(
        12.5, "EUR", locale="de"
    )
    assert f.value(feature("percent"), 0.35) == numbers.format_percent(0.35, locale="de")
    assert f.value(feature("count", "years"), 1) == "1 Jahr"
    assert f.value(feature("integer", "hours"), 40) == "40 Stunden"


def test_numpy_values_become_json_values(model, credit):
    _, _, test = credit
    ex = DecisionExplainer.build(model, metadata=credit_metadata()).explain(test.iloc[[0]])
    for r in ex.reasons:
        assert type(r.value) in (int, float)
    assert ex.model_dump_json()  # everything serialises


# -- the catalog and the code stay in step -----------------------------------------------------


def test_english_catalog_has_exactly_the_ids_the_code_uses():
    catalog = messages("en", "reasons")
    assert set(catalog) == set(MESSAGE_IDS)
    assert (resource_dir("templates") / "locales" / "en" / "reasons.yaml").is_file()


def test_number_texts_are_kept_and_equal_to_formatting_afresh() -> None:
    from govkit.explainers._reasons import _number_text

    cases = [
        ("en", "money", "USD", 52300),
        ("de", "money", "EUR", 52300.5),
        ("en", "percent", None, 0.35),
        ("de", "years", None, 16),
        ("en", "integer", "hours", 40),
        ("de", "number", "kg", 2.5),
        ("de", "number", None, 1234.5),
        ("en", "count", None, 3.0),
        ("en", "number", "widgets", 7),
    ]
    _number_text.cache_clear()
    first = [_number_text(*case) for case in cases]
    assert first == [_number_text.__wrapped__(*case) for case in cases]
    assert first[0] == ("$52,300", False) and first[1][0] == "52.300,50\xa0€"
    assert first[-1] == ("7", True)  # a unit Babel does not know: the catalog adds it
    misses = _number_text.cache_info().misses
    assert [_number_text(*case) for case in cases] == first
    info = _number_text.cache_info()
    assert (info.misses, info.hits) == (misses, len(cases))  # the second time, all kept


def test_a_negative_zero_is_shown_as_zero() -> None:
    from govkit.explainers._reasons import FeatureText, Formatter

    fmt = Formatter("en", messages("en", "reasons"))
    money = FeatureText("gain", "capital gain", FeatureSpec(kind="money", unit="USD"))
    share = FeatureText("share", "share", FeatureSpec(kind="percent"))
    assert fmt.value(money, -0.0) == fmt.value(money, 0.0) == "$0"
    assert fmt.value(share, -0.0) == "0%"


@pytest.mark.parametrize(
    ("kind", "unit", "value", "shown"),
    [
        # below 1e15: every digit, as before
        ("money", "USD", 999_999_999_999_999.0, "$999,999,999,999,999"),
        # from 1e15: the locale's scientific notation, the unit as for any other value
        ("money", "USD", 1e15, "$1E15"),
        ("money", "USD", -1.23456e25, "-$1.235E25"),
        ("years", None, 1e25, "1E25 years"),
        ("integer", None, 1e25, "1E25"),  # not rounded to an int of 26 digits
        ("count", "hours", 1.7976931348623157e308, "1.798E308 hours"),
        ("number", None, -3e300, "-3E300"),
        ("number", "km", 2e28, "2E28 kilometers"),
        ("number", "widgets", 5e20, "5E20 widgets"),
        ("percent", None, 1e25, "1E27%"),  # a fraction: x100
        ("percent", "%", 1e25, "1E25%"),
        ("number", None, 2**70, "1.181E21"),  # an int beyond 64 bits (Python API)
    ],
)
def test_huge_values_are_written_in_scientific_notation(kind, unit, value, shown):
    # Babel fails on them otherwise (decimal.InvalidOperation beyond 28 digits: a 500 from
    # the API, a traceback from `govkit explain`); any finite JSON number is accepted.
    assert fmt().value(feature(kind, unit), value) == shown


def test_huge_values_follow_the_locale() -> None:
    f = fmt("de")
    assert f.value(feature("money", "EUR"), -1.5e30) == "-1,5E30\xa0€"
    assert f.value(feature("years"), 1.23456e25) == "1,235E25 Jahre"
    assert f.value(feature("percent"), 1e25) == "1E27\xa0%"
    assert numbers.format_scientific(1.5e30, locale="de") == "1,5E30"  # Babel's own notation
