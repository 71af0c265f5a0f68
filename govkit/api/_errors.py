"""One JSON error shape for every 4xx and 5xx the API sends.

::

    {"error": {"code": "invalid_features", "message": "...",
               "details": [{"field": "features.age", "problem": "missing"}]}}

``code`` is stable (clients branch on it; :data:`ERROR_CODES` lists them all with their
status), ``message`` is for people, ``details`` names each offending field with what is
wrong, never the value that was sent: values are a person's data, and error bodies end
up in client logs. Nothing here imports FastAPI; the handlers that use it live in
:mod:`govkit.api._app`.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ERROR_CODES",
    "ErrorCode",
    "ApiError",
    "error_payload",
    "code_for_status",
    "log_unhandled",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorCode:
    status: int
    meaning: str


#: every ``error.code`` the API can send, with its HTTP status and what it means
ERROR_CODES: dict[str, ErrorCode] = {
    "bad_request": ErrorCode(400, "The request is malformed at the HTTP level."),
    "unauthenticated": ErrorCode(
        401,
        "No API key was sent (Authorization: Bearer KEY or X-API-Key: KEY), or the key is "
        "unknown or revoked.",
    ),
    "forbidden": ErrorCode(403, "The API key lacks the scope the operation needs."),
    "not_found": ErrorCode(
        404,
        "No such route, model version, decision or subject in the key's tenant (another "
        "tenant's records are reported as not found).",
    ),
    "method_not_allowed": ErrorCode(405, "The route does not accept this HTTP method."),
    "erased": ErrorCode(410, "The decision existed, but its subject's personal data was erased."),
    "payload_too_large": ErrorCode(
        413, "The request body is larger than the server accepts (ApiSettings.max_body_bytes)."
    ),
    "unsupported_media_type": ErrorCode(
        415,
        "The request body is not sent as application/json in UTF-8 (a charset other than "
        "utf-8 is refused), or is sent with a Content-Encoding other than identity (the "
        "server decodes none; Accept-Encoding: identity says so).",
    ),
    "invalid_request": ErrorCode(
        422,
        "The body, a path or a query parameter is malformed: not JSON, NaN or Infinity, a "
        "key given twice, a nested value where a scalar belongs, too many features, an "
        "unknown or mistyped field. details names each field and what is wrong.",
    ),
    "invalid_features": ErrorCode(
        422,
        "The features do not fit the model: missing, unknown, of the wrong kind for the "
        "model's inputs, or a category its encoder never saw in training. details names "
        "each feature and what was expected (for a category, the ones the model knows).",
    ),
    "invalid_input": ErrorCode(
        422,
        "The model or the service cannot use the input as given (for example a value the "
        "model itself rejects, or a subject_id when no subject key is configured).",
    ),
    "rate_limited": ErrorCode(
        429,
        "The API key sent more requests than ApiSettings.rate_limit allows, or the client "
        "address sent more unknown or revoked keys than ApiSettings.auth_failure_limit "
        "allows; see Retry-After.",
    ),
    "internal_error": ErrorCode(500, "An unexpected server error; it was logged on the server."),
    "not_implemented": ErrorCode(
        501, "The operation needs an optional package that is not installed on the server."
    ),
    "unavailable": ErrorCode(
        503,
        "The audit store cannot be reached or written, or the letter could not be rendered "
        "in time; try again later.",
    ),
    "model_unavailable": ErrorCode(
        503,
        "The model version is registered but cannot be loaded on this server: its file is "
        "missing or changed since registration, or its types are not trusted here. The "
        "server's log names the cause; the operator must fix it (Retry-After: 60).",
    ),
    "not_ready": ErrorCode(503, "GET /readyz: the backend cannot serve yet; message says why."),
    "http_error": ErrorCode(0, "Any other HTTP error status (status as sent)."),
}

_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    410: "erased",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    501: "not_implemented",
    503: "unavailable",
}


def code_for_status(status: int) -> str:
    """The generic error code of an HTTP status."""
    return _BY_STATUS.get(status, "http_error")


@dataclass
class ApiError(Exception):
    """An error response: raised anywhere in a request, rendered by the app's handler."""

    status: int
    code: str
    message: str
    details: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in ERROR_CODES:  # pragma: no cover - a programming error
            raise ValueError(f"undocumented API error code {self.code!r}")
        super().__init__(self.message)

    def body(self) -> bytes:
        return error_payload(self.code, self.message, self.details)


def error_payload(code: str, message: str, details: Sequence[tuple[str, str]] = ()) -> bytes:
    """The JSON bytes of an error response."""
    body: dict[str, Any] = {
        "error": {
            "code": code,
            "message": message,
            "details": [{"field": f, "problem": p} for f, p in details],
        }
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def log_unhandled(exc: BaseException, *, method: str, route: str) -> None:
    """Log an unexpected exception: its type and where it was raised, never its message.

    Messages of arbitrary exceptions can hold request data (a KeyError names the key, a
    ValueError quotes the value), so only the exception type and the stack frames
    (file, line, function) are logged; no request data, no locals.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in reversed(frames[-8:]))
    log.error(
        "unhandled %s in %s %s (message withheld: it may hold request data); raised at %s",
        type(exc).__name__,
        method,
        route,
        where or "?",
    )
