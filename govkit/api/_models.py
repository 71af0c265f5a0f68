"""The API's wire format: request and response bodies as pydantic models.

These are the HTTP contract, kept apart from the domain types in :mod:`govkit.decisions`
(which may grow without changing the API): :func:`decision_out` maps one onto the other.
Request bodies are read by :mod:`govkit.api._parse`.
Non-finite numbers never reach JSON: they are sent as ``null``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from govkit.decisions import Counterfactual, Decision, JsonScalar, Reason, SubjectRecords
from govkit.records import INT64_MAX, INT64_MIN

__all__ = [
    "ErrorDetail",
    "ErrorBody",
    "ErrorResponse",
    "DecisionRequest",
    "DecisionOut",
    "ErasedOut",
    "StatusOut",
    "OutcomeRequest",
    "OutcomeOut",
    "ErasureRequest",
    "SubjectAccessRequest",
    "SubjectAccessOut",
    "SubjectDecisionOut",
    "subject_access_out",
    "decision_out",
    "MAX_NAME_CHARS",
    "MAX_SUBJECT_ID_CHARS",
]

MAX_NAME_CHARS = 200
MAX_SUBJECT_ID_CHARS = 256


class ErrorDetail(BaseModel):
    field: str = Field(description="Where: 'features.age', 'subject_id', 'version', 'body'")
    problem: str = Field(description="What is wrong and what was expected (never the value)")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code; see govkit.api.ERROR_CODES")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The one shape of every 4xx and 5xx response."""

    error: ErrorBody


FeatureName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
FeatureValue = Annotated[
    str | Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)] | float | bool | None,
    Field(
        description="A JSON scalar: string, finite number (whole numbers within 64 bits), "
        "boolean or null"
    ),
]


class DecisionRequest(BaseModel):
    """One decision to make: the person's feature values, and optionally who they are."""

    model_config = ConfigDict(extra="forbid", strict=True)

    features: dict[FeatureName, FeatureValue] = Field(
        description="Input column -> value; every input of the model, nothing else"
    )
    subject_id: (
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_SUBJECT_ID_CHARS)] | None
    ) = Field(
        default=None,
        description="Who the decision is about; pseudonymised (keyed HMAC), never stored in clear."
        " Needed to erase their data later with DELETE /v1/subjects/{subject_id}",
    )
    counterfactual: bool | None = Field(
        default=None,
        description="Search for the smallest change that flips the outcome (default: the "
        "model's setting)",
    )


class OutcomeRequest(BaseModel):
    """The observed outcome of a decision: the label the model predicted (e.g. 1 = repaid)."""

    model_config = ConfigDict(extra="forbid")

    # int, not StrictInt: 1.0 is the JSON integer 1 (JSON Schema says so, and JavaScript
    # writes no other); 1.5 is refused. Strings stay strings (the union's exact match).
    outcome: (
        Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
        | StrictBool
        | Annotated[str, StringConstraints(min_length=1, max_length=200)]
    ) = Field(description="The observed label: a whole number, a boolean or a string")


class OutcomeOut(BaseModel):
    decision_id: str
    recorded: bool
    replaced: bool  # an earlier outcome of this decision was replaced


class _SubjectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SUBJECT_ID_CHARS)] = (
        Field(description="The subject_id given with their decisions")
    )


class ErasureRequest(_SubjectBody):
    """Whose personal data to erase; in the body, so the id stays out of URLs and access logs."""


class SubjectAccessRequest(_SubjectBody):
    """Whose decisions to give out (GDPR Art. 15); in the body, out of URLs and access logs."""


# -- responses ------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


class ModelOut(BaseModel):
    name: str
    version: int | None


class ReasonOut(BaseModel):
    rank: int
    feature: str
    label: str
    value: JsonScalar
    display_value: str
    contribution: float | None
    effect: Literal["raised", "lowered"]
    towards_outcome: bool
    text: str


class FeatureChangeOut(BaseModel):
    feature: str
    label: str
    current: JsonScalar
    proposed: JsonScalar
    display_current: str
    display_proposed: str


class CounterfactualOut(BaseModel):
    found: bool
    changes: list[FeatureChangeOut]
    score: float | None
    text: str
    searched: str
    evaluations: int


class DecisionLinks(BaseModel):
    self: str
    letter_html: str
    letter_pdf: str


class DecisionOut(BaseModel):
    """A recorded decision: what was decided, why, and where it is recorded."""

    decision_id: str
    tenant: str
    model: ModelOut
    created_at: datetime
    outcome: str
    favourable: bool
    prediction: JsonScalar
    score: float | None = Field(description="Probability of the positive label (or the output)")
    threshold: float | None
    base_value: float | None
    output_space: str
    method: str
    attributions: dict[str, float | None] = Field(description="Input column -> attribution")
    additivity_error: float | None
    reliable: bool = Field(description="The attributions add up to the model output")
    reasons: list[ReasonOut]
    counterfactual: CounterfactualOut | None
    locale: str
    has_subject: bool
    audit_sequence: int | None = Field(description="Where the decision sits in the audit log")
    features: dict[str, JsonScalar]
    links: DecisionLinks


class ErasedOut(BaseModel):
    subject_erased: bool
    decisions_erased: int


class SubjectDecisionOut(DecisionOut):
    """A decision as ``GET /v1/decisions/{id}`` gives it, with the outcome observed later."""

    observed_outcome: JsonScalar = Field(
        default=None, description="The outcome recorded for this decision; null if none was"
    )


class SubjectAccessOut(BaseModel):
    """Every decision recorded about one data subject in the key's tenant, newest first."""

    count: int = Field(description="How many decisions were recorded about the subject")
    decisions: list[SubjectDecisionOut]


def subject_access_out(records: SubjectRecords, *, base: str = "") -> SubjectAccessOut:
    """The wire form of an access request's answer (links relative to ``base``)."""
    decisions = [
        SubjectDecisionOut(
            **dict(decision_out(d, base=base)),
            observed_outcome=records.outcomes.get(d.decision_id),
        )
        for d in records.decisions
    ]
    return SubjectAccessOut(count=len(decisions), decisions=decisions)


class StatusOut(BaseModel):
    status: str


def _reason(r: Reason) -> ReasonOut:
    return ReasonOut(
        rank=r.rank,
        feature=r.feature,
        label=r.label,
        value=r.value,
        display_value=r.display_value,
        contribution=_finite(r.contribution),
        effect=r.effect,
        towards_outcome=r.towards_outcome,
        text=r.text,
    )


def _counterfactual(c: Counterfactual | None) -> CounterfactualOut | None:
    if c is None:
        return None
    return CounterfactualOut(
        found=c.found,
        changes=[FeatureChangeOut(**change.model_dump()) for change in c.changes],
        score=_finite(c.score),
        text=c.text,
        searched=c.searched,
        evaluations=c.evaluations,
    )


def decision_out(decision: Decision, *, base: str = "") -> DecisionOut:
    """The wire form of a decision; links are relative to ``base`` (the app's root path)."""
    e = decision.explanation
    own = f"{base}/v1/decisions/{decision.decision_id}"

    def scalar(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return DecisionOut(
        decision_id=decision.decision_id,
        tenant=decision.tenant,
        model=ModelOut(name=decision.model.name, version=decision.model.version),
        created_at=decision.created_at,
        outcome=e.outcome,
        favourable=e.favourable,
        prediction=scalar(e.prediction),
        score=_finite(e.score),
        threshold=_finite(e.threshold),
        base_value=_finite(e.base_value),
        output_space=e.output_space,
        method=e.method,
        attributions={k: _finite(v) for k, v in e.attributions.items()},
        additivity_error=_finite(e.additivity_error),
        reliable=e.reliable,
        reasons=[_reason(r) for r in e.reasons],
        counterfactual=_counterfactual(e.counterfactual),
        locale=e.locale,
        has_subject=decision.has_subject,
        audit_sequence=decision.audit_sequence,
        features={k: scalar(v) for k, v in decision.features.items()},
        links=DecisionLinks(
            self=own, letter_html=f"{own}?format=html", letter_pdf=f"{own}?format=pdf"
        ),
    )
