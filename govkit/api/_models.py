"""The API's wire format: request and response bodies as pydantic models.

These are the HTTP contract, kept apart from the domain types in :mod:`govkit.decisions`
(which may grow without changing the API): :func:`decision_out` maps one onto the other.
Non-finite numbers never reach JSON: they are sent as ``null``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
)

from govkit.api._errors import ApiError
from govkit.decisions import (
    NOT_TEXT,
    Counterfactual,
    Decision,
    DuplicateKeyError,
    JsonScalar,
    Reason,
    SubjectRecords,
    duplicate_key_path,
    is_text,
    json_type,
    key_label,
    unique_object,
)
from govkit.records import INT64_MAX, INT64_MIN

__all__ = [
    "ErrorDetail",
    "ErrorBody",
    "ErrorResponse",
    "DecisionRequest",
    "DecisionOut",
    "ErasedOut",
    "StatusOut",
    "parse_decision_request",
    "OutcomeRequest",
    "OutcomeOut",
    "parse_outcome_request",
    "ErasureRequest",
    "parse_erasure_request",
    "SubjectAccessRequest",
    "SubjectAccessOut",
    "SubjectDecisionOut",
    "subject_access_out",
    "parse_subject_access_request",
    "decision_out",
    "MAX_NAME_CHARS",
    "MAX_SUBJECT_ID_CHARS",
]

MAX_NAME_CHARS = 200
MAX_SUBJECT_ID_CHARS = 256
_Body = TypeVar("_Body", bound=BaseModel)


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


def _check_media_type(content_type: str | None) -> None:
    """415 unless the body is declared JSON (``application/json`` or ``application/*+json``)
    in UTF-8: a ``charset`` parameter other than ``utf-8`` is refused, not ignored (the
    body would be read as UTF-8 all the same)."""
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    if not (
        media == "application/json"
        or (media.startswith("application/") and media.endswith("+json"))
    ):
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the request body as JSON with Content-Type: application/json",
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise ApiError(
                415,
                "unsupported_media_type",
                "send the request body as UTF-8 JSON: Content-Type: application/json or "
                "application/json; charset=utf-8",
            )


def _refuse_constant(token: str) -> None:
    raise ValueError(f"{token} is not a JSON number; send a finite number or null")


def _invalid(message: str, details: list[tuple[str, str]]) -> ApiError:
    return ApiError(422, "invalid_request", message, details)


def parse_decision_request(
    body: bytes, content_type: str | None, *, max_features: int
) -> DecisionRequest:
    """Parse and check a decision request body; ApiError (415/422) naming each problem.

    NaN and Infinity (which Python's json accepts) are refused, and so are numbers too
    large for a float and whole numbers beyond 64 bits. No problem quotes a value.
    """
    _check_media_type(content_type)
    if not body.strip():
        raise _invalid("the request body is empty", [("body", "expected a JSON object")])
    try:
        obj = json.loads(body, parse_constant=_refuse_constant, object_pairs_hook=unique_object)
    except DuplicateKeyError as exc:
        raise _repeated(body, exc) from None
    except json.JSONDecodeError as exc:
        raise _invalid(
            "the request body is not valid JSON",
            [("body", f"{exc.msg} at line {exc.lineno} column {exc.colno}")],
        ) from None
    except RecursionError:
        raise _invalid(
            "the request body is not usable JSON", [("body", "nested too deeply")]
        ) from None
    except ValueError as exc:  # NaN/Infinity, bad UTF-8, integers with too many digits
        problem = str(exc) if "JSON number" in str(exc) else "not valid UTF-8 JSON"
        if "digits" in str(exc):
            problem = "a number has too many digits"
        raise _invalid("the request body is not valid JSON", [("body", problem)]) from None
    if not isinstance(obj, dict):
        raise _invalid(
            "the request body must be a JSON object",
            [("body", f"expected an object, got {json_type(obj)}")],
        )
    features = obj.get("features")
    if isinstance(features, dict):
        if len(features) > max_features:
            raise _invalid(
                "too many features",
                [
                    (
                        "features",
                        f"at most {max_features} features are accepted; got {len(features)}",
                    )
                ],
            )
        problems = [
            (f"features.{_label(key_label(key))}", value_problem)
            for key, value in features.items()
            if (value_problem := _key_problem(key) or _scalar_problem(value)) is not None
        ]
        if problems:
            raise _invalid("invalid feature values", problems)
    try:
        return DecisionRequest.model_validate(obj)
    except ValidationError as exc:
        raise _invalid("invalid request body", _pydantic_details(exc)) from None


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


def parse_outcome_request(body: bytes, content_type: str | None) -> OutcomeRequest:
    """Parse an outcome body (``{"outcome": 1}``); ApiError (415/422) naming the problem."""
    return _parse_json_body(body, content_type, OutcomeRequest, "invalid outcome")


def parse_erasure_request(body: bytes, content_type: str | None) -> ErasureRequest:
    """Parse an erasure body (``{"subject_id": "..."}``); ApiError (415/422), no value echoed."""
    return _parse_json_body(body, content_type, ErasureRequest, "invalid erasure request")


def parse_subject_access_request(body: bytes, content_type: str | None) -> SubjectAccessRequest:
    """Parse an access request (``{"subject_id": "..."}``); ApiError (415/422), no value echoed."""
    return _parse_json_body(body, content_type, SubjectAccessRequest, "invalid access request")


def _parse_json_body(
    body: bytes, content_type: str | None, model: type[_Body], invalid: str
) -> _Body:
    _check_media_type(content_type)
    try:
        obj = json.loads(body, parse_constant=_refuse_constant, object_pairs_hook=unique_object)
    except DuplicateKeyError as exc:
        raise _repeated(body, exc) from None
    except (ValueError, RecursionError):
        raise _invalid("the request body is not valid JSON", [("body", "not JSON")]) from None
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise _invalid(invalid, _pydantic_details(exc, model)) from None


def _repeated(body: bytes, exc: DuplicateKeyError) -> ApiError:
    """The 422 for a repeated key (which json would resolve silently to the last one)."""
    path = duplicate_key_path(body, exc.key)
    return _invalid(
        "the request body repeats a key",
        [(_label(path), "given more than once; send each key once")],
    )


def _label(key: str) -> str:
    return key if len(key) <= MAX_NAME_CHARS else key[:MAX_NAME_CHARS] + "…"


def _key_problem(key: str) -> str | None:
    return None if is_text(key) else f"the feature name is {NOT_TEXT}"


def _scalar_problem(value: object) -> str | None:
    expected = "expected a string, a finite number, a boolean or null"
    if isinstance(value, dict | list):
        return f"{expected}; got {json_type(value)}"
    if isinstance(value, str) and not is_text(value):
        return f"{expected}; got a string that is {NOT_TEXT}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{expected}; got a number too large for a float"
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not INT64_MIN <= value <= INT64_MAX
    ):
        return f"{expected}; got a whole number beyond 64 bits"
    return None


def _pydantic_details(
    exc: ValidationError, model: type[BaseModel] = DecisionRequest
) -> list[tuple[str, str]]:
    """One (field, problem) per offending field, from pydantic's errors, without input."""
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part) for part in err["loc"]]
        if loc and loc[0] == "features" and len(loc) >= 2:
            field = f"features.{_label(loc[1])}"
            if err["type"] in ("string_too_short", "string_too_long") or "[key]" in loc:
                problem = f"feature names must have 1 to {MAX_NAME_CHARS} characters"
            else:
                problem = "expected a string, a finite number, a boolean or null"
        else:
            field = ".".join(loc) or "body"
            problem = err["msg"]
            if err["type"] == "string_unicode":  # a lone surrogate: a key, or a value
                field = ".".join(p for p in loc if p != "[key]") or "body"
                problem = f"a key is {NOT_TEXT}" if "[key]" in loc or not loc else NOT_TEXT
            elif err["type"] == "extra_forbidden":
                problem = f"unknown field; expected only: {', '.join(model.model_fields)}"
        out.setdefault(field, problem)
    return list(out.items())


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
