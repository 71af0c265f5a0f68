"""Per-decision explanations: the types every layer shares (no I/O).

A :class:`Decision` is what the model decided about one person, why (attributions on
the original input columns, the principal reasons in plain language, optionally a
counterfactual), and where it is recorded (decision id, audit sequence). The explain
engine produces a :class:`DecisionExplanation`; the store keeps a ``Decision``
encrypted under its subject's key; letters and the HTTP API render it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from govkit.exceptions import InputError, InvalidFieldsError
from govkit.records import INT64_MAX, INT64_MIN, ModelRef

__all__ = [
    "JsonScalar",
    "Scope",
    "SCOPES",
    "Reason",
    "FeatureChange",
    "Counterfactual",
    "DecisionExplanation",
    "Decision",
    "SubjectRecords",
    "ApiPrincipal",
    "ApiKeyInfo",
    "json_type",
    "is_text",
    "key_label",
    "NOT_TEXT",
    "FeatureField",
    "FieldKind",
    "field_kind",
    "validate_features",
    "parse_features_json",
    "DuplicateKeyError",
    "unique_object",
    "duplicate_key_path",
]

#: a feature value as it arrives in JSON
JsonScalar = str | int | float | bool | None


#: what is wrong with a string holding a lone surrogate (JSON can write one: "\ud800")
NOT_TEXT = "not valid Unicode text (a lone surrogate escape such as \\ud800)"


def is_text(value: str) -> bool:
    """Whether ``value`` is Unicode text: no lone surrogate (which JSON's ``\\ud800``
    escapes can give, and which no UTF-8 writer, log or database takes)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def key_label(key: str) -> str:
    """A key as a message can name it: a lone surrogate written as its escape (``\\ud800``)."""
    return key if is_text(key) else key.encode("utf-8", "backslashreplace").decode("utf-8")


def json_type(value: object) -> str:
    """What kind of JSON value ``value`` is, for messages that must not show the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a value of another type"


Scope = Literal["decide", "read", "admin"]
SCOPES: tuple[Scope, ...] = ("decide", "read", "admin")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reason(_Frozen):
    """One principal reason: a feature that pushed the score, with its size and direction."""

    rank: int = Field(ge=1)
    feature: str
    label: str  # what the person recognises: "your reported capital gains"
    value: JsonScalar
    display_value: str  # "$0", "40 hours", "Married"
    contribution: float  # attribution in the explained output's units
    effect: Literal["raised", "lowered"]  # on the score
    towards_outcome: bool  # did it push towards the outcome that was decided?
    text: str  # the sentence, in the decision's locale


class FeatureChange(_Frozen):
    feature: str
    label: str
    current: JsonScalar
    proposed: JsonScalar
    display_current: str
    display_proposed: str


class Counterfactual(_Frozen):
    """The smallest change to actionable features that flips the outcome, or why none was found."""

    found: bool
    changes: tuple[FeatureChange, ...] = ()
    score: float | None = None  # the score with the changes applied
    text: str  # plain-language summary, in the decision's locale
    searched: str  # what was searched: features, bounds, budget
    evaluations: int = Field(ge=0)  # model calls the search used


class DecisionExplanation(_Frozen):
    """What the explain engine says about one row; contains the person's values (personal data)."""

    score: float  # probability of the model's positive label (or the regression output)
    prediction: JsonScalar  # the model's predicted label
    outcome: str  # DecisionSpec.favourable_outcome / unfavourable_outcome
    favourable: bool
    threshold: float
    base_value: float
    output_space: str  # what the attributions add up to: "probability", "log-odds", "raw"
    attributions: dict[str, float]  # original input column -> attribution
    additivity_error: float  # |base + sum(attributions) - model output|
    reliable: bool  # additivity within tolerance; an unreliable explanation says so
    method: str  # "tree", "linear", "permutation", "lightgbm-native", ...
    background: str | None = None  # fingerprint of the reference data, when the method uses one
    reasons: tuple[Reason, ...]
    counterfactual: Counterfactual | None = None
    locale: str = "en"


class Decision(_Frozen):
    """A recorded decision about one person."""

    decision_id: str
    tenant: str
    model: ModelRef
    created_at: datetime
    features: dict[str, JsonScalar]  # the input as given (personal data)
    explanation: DecisionExplanation
    has_subject: bool = False  # a subject id was given (pseudonymised, never stored in clear)
    audit_sequence: int | None = None  # the decision.recorded event; None until stored

    def __repr__(self) -> str:  # no feature values: a repr ends up in logs
        exp = self.explanation
        return (
            f"Decision(decision_id={self.decision_id!r}, model={self.model}, "
            f"outcome={exp.outcome!r}, reliable={exp.reliable}, "
            f"audit_sequence={self.audit_sequence})"
        )

    def _repr_html_(self) -> str:
        from govkit._html_repr import table

        exp = self.explanation
        return table(
            f"Decision {self.decision_id} ({self.model})",
            [(r.rank, r.text) for r in exp.reasons],
            header=("rank", "reason"),
            summary=[
                ("outcome", exp.outcome),
                ("score", exp.score),
                ("reliable explanation", "yes" if exp.reliable else "NO"),
                ("counterfactual", exp.counterfactual.text if exp.counterfactual else None),
                ("audit sequence", self.audit_sequence),
            ],
        )


class SubjectRecords(_Frozen):
    """What is recorded about one data subject: their decisions, newest first, and the
    outcomes observed for them (decision id -> outcome); an access request's answer."""

    decisions: tuple[Decision, ...]
    outcomes: dict[str, JsonScalar]

    def __repr__(self) -> str:  # no personal data: a repr ends up in logs
        return f"SubjectRecords({len(self.decisions)} decisions, {len(self.outcomes)} outcomes)"


class ApiPrincipal(_Frozen):
    """Who is calling the API: an API key's id, tenant and scopes (never the secret)."""

    key_id: str
    tenant: str
    scopes: frozenset[Scope]
    name: str | None = None


class ApiKeyInfo(_Frozen):
    key_id: str
    tenant: str
    scopes: tuple[Scope, ...]
    name: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None


# -- the input of a decision ----------------------------------------------------------

_NUMERIC_KINDS = {"number", "integer", "money", "percent", "years", "count"}
_WHOLE_KINDS = {"integer", "count"}


FieldKind = Literal["number", "integer", "string", "boolean", "any"]
Category = str | int | float | bool
#: categories named in a problem at most (the rest are counted)
MAX_LISTED_CATEGORIES = 30


@dataclass(frozen=True)
class FeatureField:
    """One input the model needs: its name, the JSON type it must arrive as, and the
    values its encoder learned (``categories``; None when any value of the type goes).

    A value outside ``categories`` is refused: an encoder that ignores unknown values
    would score the person as if the field were blank, and the explanation would still
    add up.
    """

    name: str
    kind: FieldKind
    categories: tuple[Category, ...] | None = None
    _known: frozenset[Category] = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_known", frozenset(self.categories or ()))


def field_kind(spec_kind: str | None, column_kind: str | None) -> FieldKind:
    """The JSON kind of an input, from its metadata kind and its training column's kind."""
    if spec_kind in _WHOLE_KINDS:
        return "integer"
    if spec_kind in _NUMERIC_KINDS:
        # a column the model was trained on as int64 takes whole numbers: the row is built
        # as int64 (a fraction was truncated silently; 1e20 overflowed)
        return "integer" if column_kind == "int" else "number"
    if spec_kind == "boolean":
        return "boolean"
    if spec_kind == "category":
        return "string" if column_kind in (None, "string", "category") else "any"
    if column_kind == "int":
        return "integer"
    if column_kind == "float":
        return "number"
    if column_kind == "bool":
        return "boolean"
    if column_kind in ("string", "category"):
        return "string"
    return "any"


def _problem(field: FeatureField, value: object) -> str | None:
    """What is wrong with ``value`` for ``field`` (without the value), or None."""
    problem = _kind_problem(field, value)
    if problem is None and field.categories is not None and value not in field._known:
        return _category_problem(field.categories, value)
    return problem


def _category_problem(categories: tuple[Category, ...], value: object) -> str:
    """The problem of a value the model's encoder never saw: the categories it knows (the
    model's, not a person's), and the closest one to a misspelt string."""
    import difflib
    import json

    listed = ", ".join(
        json.dumps(c, ensure_ascii=False) for c in categories[:MAX_LISTED_CATEGORIES]
    )
    more = len(categories) - MAX_LISTED_CATEGORIES
    problem = (
        "not a category the model was trained on; expected one of "
        + (listed or "(none)")
        + (f" and {more} more" if more > 0 else "")
    )
    if isinstance(value, str):
        texts = {c.casefold(): c for c in categories if isinstance(c, str)}
        close = difflib.get_close_matches(value.casefold(), list(texts), n=1)
        if close:
            problem += f" (did you mean {json.dumps(texts[close[0]], ensure_ascii=False)}?)"
    return problem


def _kind_problem(field: FeatureField, value: object) -> str | None:
    expected = {
        "number": "a finite number",
        "integer": "a whole number",
        "string": "a string",
        "boolean": "true or false",
        "any": "a string, number or boolean",
    }[field.kind]
    if value is None or isinstance(value, dict | list | tuple):
        return f"expected {expected}, got {json_type(value)}"
    if field.kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected {expected}, got {json_type(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"expected {expected}, got NaN or infinity"
        if field.kind == "integer" and isinstance(value, float) and not value.is_integer():
            return f"expected {expected}, got a fraction"
        if field.kind == "integer" and not INT64_MIN <= value <= INT64_MAX:  # an int64 column
            return f"expected {expected} within 64 bits (the model's column), got a larger one"
        return None
    if field.kind == "string" and not isinstance(value, str):
        return f"expected {expected}, got {json_type(value)}"
    if field.kind == "boolean" and not isinstance(value, bool):
        return f"expected {expected}, got {json_type(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected {expected}, got NaN or infinity"
    if isinstance(value, str) and not is_text(value):
        return f"expected {expected}, got a string that is {NOT_TEXT}"
    return None


def validate_features(
    fields: Sequence[FeatureField], features: object, *, where: str = "features"
) -> dict[str, JsonScalar]:
    """The features in model order, or InvalidFieldsError listing every problem."""
    if not isinstance(features, Mapping):
        raise InvalidFieldsError(
            "invalid input", problems=((where, f"expected an object, got {json_type(features)}"),)
        )
    problems: list[tuple[str, str]] = []
    known = {f.name for f in fields}
    for key in features:
        if not isinstance(key, str) or key not in known:
            label = key_label(key) if isinstance(key, str) else key
            problems.append((f"{where}.{label}", "not an input of this model"))
    clean: dict[str, JsonScalar] = {}
    for field in fields:
        if field.name not in features:
            problems.append((f"{where}.{field.name}", "missing"))
            continue
        value = features[field.name]
        problem = _problem(field, value)
        if problem:
            problems.append((f"{where}.{field.name}", problem))
        else:
            clean[field.name] = value
    if problems:
        raise InvalidFieldsError("invalid features", problems=tuple(problems))
    return clean


class DuplicateKeyError(Exception):
    """A JSON object repeats a key (``json.loads`` alone keeps the last one, silently)."""

    def __init__(self, key: str) -> None:
        super().__init__("a JSON object repeats a key")
        self.key = key


def unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads(..., object_pairs_hook=unique_object)``: DuplicateKeyError for a repeated
    key. It costs ~2 µs on a 20-feature body; :func:`duplicate_key_path` then says where."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return obj


class _Pairs(list[tuple[str, Any]]):
    """An object as its key-value pairs, duplicates kept (to find where one is)."""


def duplicate_key_path(text: str | bytes, key: str, *, root: str = "") -> str:
    """The path (``features.age``, ``rows[2].age``) of the first repeated key in ``text``,
    which a parse with :func:`unique_object` refused for ``key``; ``root`` prefixes it.

    Parsed a second time, only when refusing; when that parse fails, ``key`` alone.
    """
    import json

    def search(value: Any, path: str) -> str | None:
        if isinstance(value, _Pairs):
            seen: set[str] = set()
            for name, _ in value:
                if name in seen:
                    return f"{path}.{name}" if path else name
                seen.add(name)
            for name, item in value:
                found = search(item, f"{path}.{name}" if path else name)
                if found is not None:
                    return found
        elif isinstance(value, list):
            for index, item in enumerate(value):
                found = search(item, f"{path}[{index}]")
                if found is not None:
                    return found
        return None

    try:
        tree = json.loads(text, object_pairs_hook=_Pairs, parse_constant=float)
    except (ValueError, RecursionError):
        tree = None
    found = search(tree, root)
    if found is None:
        return f"{root}.{key}" if root else key
    return found


def parse_features_json(text: str, *, source: str) -> dict[str, Any]:
    """A JSON object of feature values from ``text``; NaN/Infinity tokens and repeated keys
    are refused."""
    import json
    import re

    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not valid JSON")

    try:
        value = json.loads(text, parse_constant=refuse, object_pairs_hook=unique_object)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except ValueError as exc:
        raise InputError(f"{source}: {exc} (send null or a number)") from None
    except DuplicateKeyError as exc:
        path = duplicate_key_path(text, exc.key, root="features")
        # the line of the second one, when the key is written plainly in just two places
        spots = [m.start() for m in re.finditer(re.escape(json.dumps(exc.key)) + r"\s*:", text)]
        where = f"{source}:{text.count(chr(10), 0, spots[1]) + 1}" if len(spots) == 2 else source
        raise InputError(
            f"{where}: {path}: given more than once; give each feature once (JSON keeps only "
            "the last, silently)"
        ) from None
    if not isinstance(value, dict):
        raise InputError(
            f"{source}: expected a JSON object of feature values, got {json_type(value)}"
        )
    return value
