"""Per-decision explanations: the types every layer shares (no I/O).

A :class:`Decision` is what the model decided about one person, why (attributions on
the original input columns, the principal reasons in plain language, optionally a
counterfactual), and where it is recorded (decision id, audit sequence). The explain
engine produces a :class:`DecisionExplanation`; the store keeps a ``Decision``
encrypted under its subject's key; letters and the HTTP API render it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from govkit.records import ModelRef

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
]

#: a feature value as it arrives in JSON
JsonScalar = str | int | float | bool | None


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
