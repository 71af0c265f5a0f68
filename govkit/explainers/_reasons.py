"""Reason codes: the factors that moved a decision, in words a person can read.

A reason names a feature the way the model's metadata describes it
(``FeatureSpec.description`` completes "your ...": "your reported capital gains"; a
column without a description gets its name made readable, "capital_gain" -> "capital
gain"), shows the person's value formatted for its kind and the decision's locale
(money as currency, percentages, years, counts, categories, yes/no; numbers by Babel),
and says whether it raised or lowered the score. Sentences come from the message
catalog ``templates/locales/<locale>/reasons.yaml``; English ships, other locales add a
folder (ids they leave out fall back to English).

Which reasons, in which order: the attributions are ranked by size (ties: column
order). The *principal reasons* are the ``k`` largest that pushed the score towards the
outcome that was decided (raised it when the score is at or above the threshold,
lowered it otherwise); after them come at most ``opposing`` (and no more than ``k``) of
the largest factors that weighed the other way (``towards_outcome=False``). A factor
with a zero (or non-finite) attribution is never a reason.

Sensitive features (``ModelMetadata.sensitive_features``) are reported like any other
input when the model uses them. Hiding them would misstate the logic of the decision:
GDPR Art. 15(1)(h) asks for meaningful information about the logic involved, and an
adverse-action notice (ECOA / Regulation B) must give the reasons actually used. The
remedy for a model that leans on a protected characteristic is upstream -- the policy
gate (``explanation.sensitive_not_in_top_k``, fairness rules) or removing the feature
-- not an explanation that leaves it out. The counterfactual search, by contrast, never
proposes changing a sensitive feature (see :mod:`govkit.explainers._counterfactual`).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from govkit.decisions import JsonScalar, Reason
from govkit.records import FeatureSpec, ModelMetadata

if TYPE_CHECKING:
    from babel import Locale
    from babel.numbers import NumberPattern

__all__ = [
    "FeatureText",
    "Formatter",
    "MESSAGE_IDS",
    "feature_texts",
    "humanise",
    "json_scalar",
    "reason_codes",
]

logger = logging.getLogger(__name__)

#: every id of the ``reasons`` catalog the code uses (a test keeps the catalog in step)
MESSAGE_IDS = (
    "label",
    "reason_first_raised",
    "reason_first_lowered",
    "reason_raised",
    "reason_lowered",
    "reason_other_raised",
    "reason_other_lowered",
    "value_missing",
    "value_true",
    "value_false",
    "value_with_unit",
    "list_separator",
    "counterfactual_found",
    "counterfactual_change",
    "counterfactual_and",
    "counterfactual_none",
    "counterfactual_no_features",
    "searched_range",
    "searched_values",
    "searched_summary",
    "searched_budget",
    "searched_nothing",
)

_NUMERIC_KINDS = frozenset({"number", "integer", "money", "percent", "years", "count"})
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class FeatureText:
    """How one input column is named and formatted."""

    name: str
    description: str  # completes "your ...": "reported capital gains"
    spec: FeatureSpec


def humanise(name: str) -> str:
    """A column name as words: "capital_gain" / "capitalGain" -> "capital gain" (acronyms kept)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name))
    words = [w for w in re.split(r"[\s_.\-]+", text) if w]
    return " ".join(w if (w.isupper() and len(w) > 1) else w.lower() for w in words) or str(name)


def feature_texts(names: Sequence[str], metadata: ModelMetadata) -> tuple[FeatureText, ...]:
    texts = []
    for name in names:
        spec = metadata.feature_spec(name)
        texts.append(FeatureText(name, spec.description or humanise(name), spec))
    return tuple(texts)


def json_scalar(value: Any) -> JsonScalar:
    """A cell as JSON: numpy scalars to Python; NaN / NA / NaT to None."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


@lru_cache(maxsize=32)
def _babel_locale(locale: str) -> Locale:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        # the message catalog falls back to English for an unknown locale; so do numbers
        logger.info("no number formats for locale %r; using English", locale)
        return Locale.parse("en")


class Formatter:
    """Labels, values and sentences in one locale (Babel for numbers, the catalog for words)."""

    def __init__(self, locale: str, catalog: Mapping[str, str]) -> None:
        self.locale = locale
        self.catalog = catalog

    def text(self, message_id: str, **fields: str) -> str:
        """A catalog message filled in, its first letter capitalised."""
        out = self.catalog[message_id].format(**fields)
        return out[:1].upper() + out[1:]

    def label(self, feature: FeatureText) -> str:
        return self.catalog["label"].format(description=feature.description)

    def join(self, parts: Sequence[str]) -> str:
        return self.catalog["list_separator"].join(parts)

    def value(self, feature: FeatureText, value: Any) -> str:
        """``value`` formatted for the feature's kind, unit and the locale."""
        spec = feature.spec
        value = json_scalar(value)
        if value is None:
            return self.catalog["value_missing"]
        if spec.kind == "boolean" or isinstance(value, bool):
            truthy = value if isinstance(value, bool) else value not in (0, "0", "false", "no")
            return self.catalog["value_true" if truthy else "value_false"]
        if spec.kind == "category" or not isinstance(value, int | float):
            if isinstance(value, float) and value.is_integer():
                return str(int(value))
            return str(value)
        if isinstance(value, float) and value == 0:
            value = 0.0  # not "-$0" for -0.0 (and one cached text for both zeros)
        text, with_unit = _number_text(self.locale, spec.kind, spec.unit, value)
        if with_unit:
            return self.catalog["value_with_unit"].format(number=text, unit=spec.unit)
        return text


@lru_cache(maxsize=8192, typed=True)
def _number_text(locale: str, kind: str, unit: str | None, value: int | float) -> tuple[str, bool]:
    """A number as the locale writes it for the feature's kind and unit, and whether the
    unit still has to be added (``value_with_unit``). Babel's formatting is most of a
    reason's cost and the same values recur across decisions (ages, hours, amounts), so
    the texts are kept; ``typed`` keeps 1 and 1.0 apart.

    From :data:`_SCIENTIFIC_FROM` on, the number is written in the locale's scientific
    notation ("1.235E25 years", "1,5E30 $"): Babel writes out every digit otherwise, and
    fails (``decimal.InvalidOperation``) on the digits beyond its 28 of precision."""
    from babel import numbers, units

    loc = _babel_locale(locale)
    written = value * 100 if kind == "percent" and unit != "%" else value  # a fraction: x100
    sci = _SCIENTIFIC if abs(written) >= _SCIENTIFIC_FROM else None
    if kind == "money" and unit and _CURRENCY_RE.match(unit):
        if sci is not None:
            scientific = _scientific(loc.currency_formats["standard"].pattern)
            return numbers.format_currency(
                value, unit, format=scientific, locale=loc, currency_digits=False
            ), False
        if float(value).is_integer():  # "$0", "$52,300": no ".00" on whole amounts
            pattern = _whole_currency(loc)
            text: str = pattern.apply(value, loc, currency=unit, currency_digits=False)
            return text, False  # (NumberPattern.apply has no return annotation)
        return numbers.format_currency(value, unit, locale=loc), False
    if kind == "percent":  # a fraction (0.35 -> 35%), or percent points when unit is "%"
        fraction = value / 100 if unit == "%" else value
        if sci is not None:
            scientific = _scientific(loc.percent_formats[None].pattern)
            return numbers.format_percent(fraction, format=scientific, locale=loc), False
        return (
            numbers.format_percent(round(fraction, 3), locale=loc, decimal_quantization=False),
            False,
        )
    if kind == "years" and not unit:
        return units.format_unit(_tidy(value), "duration-year", format=sci, locale=loc), False
    whole = kind in ("integer", "count")
    shown = round(value) if whole and sci is None else _tidy(value)
    cldr = _CLDR_UNITS.get(unit.strip().lower()) if unit else None
    if cldr is not None:  # "1 year", "16 years", "1 Stunde": plural rules of the locale
        return units.format_unit(shown, cldr, format=sci, locale=loc), False
    return numbers.format_decimal(shown, format=sci, locale=loc), bool(unit)


#: from this magnitude on a value is written in scientific notation (no real amount, age or
#: count of a person reaches it; the API accepts any finite number)
_SCIENTIFIC_FROM = 1e15
_SCIENTIFIC = "0.###E0"


@lru_cache(maxsize=32)
def _scientific(pattern: str) -> str:
    """A locale's currency or percent pattern with its number in scientific notation
    ("#,##0.00\xa0¤" -> "0.###E0\xa0¤"), one pattern per sign where it has two."""
    return ";".join(re.sub(r"[#0,.]+", _SCIENTIFIC, part, count=1) for part in pattern.split(";"))


#: units written in English in the metadata -> CLDR unit ids, which Babel formats with the
#: plural rules and words of the locale; any other unit is printed as given
_CLDR_UNITS = {
    **dict.fromkeys(("year", "years", "yr", "yrs"), "duration-year"),
    **dict.fromkeys(("month", "months"), "duration-month"),
    **dict.fromkeys(("week", "weeks"), "duration-week"),
    **dict.fromkeys(("day", "days"), "duration-day"),
    **dict.fromkeys(("hour", "hours", "h", "hrs"), "duration-hour"),
    **dict.fromkeys(("minute", "minutes", "min"), "duration-minute"),
    **dict.fromkeys(
        ("km", "kilometre", "kilometres", "kilometer", "kilometers"), "length-kilometer"
    ),
    **dict.fromkeys(("mile", "miles"), "length-mile"),
    **dict.fromkeys(("kg", "kilogram", "kilograms"), "mass-kilogram"),
}


@lru_cache(maxsize=32)
def _whole_currency(locale: Locale) -> NumberPattern:
    """The locale's standard currency pattern without its decimals ("¤#,##0.00" -> "¤#,##0")."""
    from babel import numbers

    return numbers.parse_pattern(re.sub(r"\.0+", "", locale.currency_formats["standard"].pattern))


def _tidy(value: int | float) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def reason_codes(
    values: np.ndarray,
    cell: Callable[[int], Any],
    features: Sequence[FeatureText],
    *,
    positive: bool,
    k: int,
    opposing: int,
    fmt: Formatter,
) -> tuple[Reason, ...]:
    """The principal reasons (and up to ``opposing`` counter-reasons) of one decision.

    ``values[j]`` is the attribution of ``features[j]``; ``cell(j)`` the person's value;
    ``positive`` whether the score reached the threshold (the decided direction is "up").
    """
    phi = values.tolist()  # Python floats: a dozen numpy scalar operations cost more
    usable = [j for j, v in enumerate(phi) if v != 0 and math.isfinite(v)]
    usable.sort(key=lambda j: -abs(phi[j]))  # stable: ties keep column order
    towards = [j for j in usable if (phi[j] > 0) == positive][:k]
    against = [j for j in usable if (phi[j] > 0) != positive][: min(opposing, k)]
    reasons = []
    for rank, j in enumerate(towards + against, start=1):
        principal = rank <= len(towards)
        effect: Literal["raised", "lowered"] = "raised" if phi[j] > 0 else "lowered"
        if not principal:
            message = f"reason_other_{effect}"
        elif rank == 1:
            message = f"reason_first_{effect}"
        else:
            message = f"reason_{effect}"
        feature = features[j]
        raw = cell(j)
        label = fmt.label(feature)
        shown = fmt.value(feature, raw)
        reasons.append(
            Reason(
                rank=rank,
                feature=feature.name,
                label=label,
                value=json_scalar(raw),
                display_value=shown,
                contribution=phi[j],
                effect=effect,
                towards_outcome=principal,
                text=fmt.text(message, label=label, value=shown),
            )
        )
    return tuple(reasons)


def numeric_kind(spec: FeatureSpec) -> bool:
    return spec.kind in _NUMERIC_KINDS
