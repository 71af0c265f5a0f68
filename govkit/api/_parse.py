"""Reading request bodies: media type, JSON, the request models; 415/422 naming each problem.

One parse per body (:func:`json.loads` with hooks that refuse NaN and Infinity tokens and
repeated keys), then the pydantic models of :mod:`govkit.api._models`. No problem quotes
a value that was sent: values are a person's data, and error bodies end up in client logs.
"""

from __future__ import annotations

import json
import math
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from govkit.api._errors import ApiError
from govkit.api._models import (
    MAX_NAME_CHARS,
    DecisionRequest,
    ErasureRequest,
    OutcomeRequest,
    SubjectAccessRequest,
)
from govkit.decisions import (
    NOT_TEXT,
    DuplicateKeyError,
    duplicate_key_path,
    is_text,
    json_type,
    key_label,
    unique_object,
)
from govkit.records import INT64_MAX, INT64_MIN

__all__ = [
    "parse_decision_request",
    "parse_outcome_request",
    "parse_erasure_request",
    "parse_subject_access_request",
]

_Body = TypeVar("_Body", bound=BaseModel)


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
