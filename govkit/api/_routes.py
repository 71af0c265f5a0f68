"""The routes: decisions, letters, erasure, health.

Each blocking backend call runs in a worker thread (:func:`run_blocking`); a decision
runs on the event loop's thread when nothing in it waits (``call_as(inline=True)``).
Backend errors become API errors here, where the message can say what kind of thing was
looked for (a model version, a decision) without quoting anything the caller sent: not
even the path's name, version or id (they reach client logs, and an id can be a person's).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from govkit.api._auth import Credentials, call_as
from govkit.api._context import AppContext, context, run_blocking
from govkit.api._errors import ApiError, log_unhandled
from govkit.api._models import (
    MAX_SUBJECT_ID_CHARS,
    DecisionOut,
    DecisionRequest,
    ErasedOut,
    ErasureRequest,
    ErrorResponse,
    OutcomeOut,
    OutcomeRequest,
    StatusOut,
    SubjectAccessOut,
    SubjectAccessRequest,
    decision_out,
    subject_access_out,
)
from govkit.api._parse import (
    parse_decision_request,
    parse_erasure_request,
    parse_outcome_request,
    parse_subject_access_request,
)
from govkit.api._settings import ApiSettings
from govkit.decisions import ApiPrincipal, Decision
from govkit.exceptions import (
    ErasedError,
    GovkitError,
    InputError,
    InvalidFieldsError,
    MissingDependencyError,
    ModelUnavailableError,
    NotFoundError,
    RenderError,
    StoreError,
    WouldWait,
)
from govkit.records import MAX_VERSION

__all__ = ["build_router", "translate"]

log = logging.getLogger(__name__)

MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
DECISION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_LETTER_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"


def _err(description: str, **headers: str) -> dict[str, Any]:
    out: dict[str, Any] = {"model": ErrorResponse, "description": description}
    if headers:
        out["headers"] = {
            name.replace("_", "-"): {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return out


#: the error responses every /v1 operation can give
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _err(
        "No API key, or an unknown or revoked one (`unauthenticated`)",
        WWW_Authenticate='Bearer realm="govkit" (with error="invalid_token" for a bad key)',
    ),
    403: _err("The API key lacks the scope (`forbidden`)"),
    413: _err("The request body is too large (`payload_too_large`)"),
    422: _err("A malformed body, path or query parameter"),
    429: _err(
        "Over the key's rate limit, or too many failed keys from the address (`rate_limited`)",
        Retry_After="Seconds until the key may send another request",
    ),
    500: _err("An unexpected server error (`internal_error`)"),
    501: _err("An optional package is missing on the server (`not_implemented`)"),
    503: _err("The audit store is unavailable (`unavailable`)"),
}


ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN, description="Registered model name")]
Version = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Model version")]
DecisionId = Annotated[str, Path(pattern=DECISION_ID_PATTERN, description="Decision id")]
Alias = Annotated[str, Path(pattern=ALIAS_PATTERN, description="Model alias, e.g. production")]


def _scrub(text: str, values: Iterable[Any]) -> str:
    """``text`` with any of ``values`` (what the caller sent about a person) blanked out.

    Where a value stands whole: not inside a longer word, so that a category named in a
    message ("Married-civ-spouse" after "Married" was sent) is not mangled into one that
    shows the value by its gap.
    """
    words = set()
    for value in values:
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        word = str(value)
        if len(word) >= (3 if isinstance(value, str) else 4):
            words.add(word)
    for word in sorted(words, key=len, reverse=True):
        whole = rf"(?<![\w-])(?<!\w\.){re.escape(word)}(?![\w-])(?!\.\w)"
        text = re.sub(whole, "[redacted]", text)
    return text


def translate(
    exc: GovkitError, *, not_found: str, sent: Mapping[str, Any] | None = None
) -> ApiError:
    """The API error for a backend exception (the mapping of govkit.api._backend)."""
    values = list((sent or {}).values())
    if isinstance(exc, InvalidFieldsError):
        return ApiError(
            422,
            "invalid_features",
            "the features do not fit the model's inputs",
            [(_scrub(f, values), _scrub(p, values)) for f, p in exc.problems],
        )
    if isinstance(exc, InputError):
        return ApiError(422, "invalid_input", _scrub(str(exc), values)[:1000])
    if isinstance(exc, ErasedError):
        return ApiError(410, "erased", "the personal data of this decision's subject was erased")
    if isinstance(exc, NotFoundError):
        return ApiError(404, "not_found", not_found)
    if isinstance(exc, RenderError):
        log.warning("a letter could not be rendered: %s", type(exc).__name__)
        return ApiError(
            503,
            "unavailable",
            "the letter could not be rendered; try again later",
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, ModelUnavailableError):  # names the model and file, no person
        log.error("%s", exc)
        return ApiError(
            503,
            "model_unavailable",
            "this model version cannot be served now; the server's log says why",
            headers={"Retry-After": "60"},
        )
    if isinstance(exc, StoreError):  # the store's messages name no person; operators need them
        log.warning("the audit store is unavailable: %s", exc)
        return ApiError(
            503,
            "unavailable",
            "the audit store is unavailable; try again later",
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, MissingDependencyError):
        return ApiError(501, "not_implemented", str(exc))
    log_unhandled(exc, method="?", route="backend call")
    return ApiError(
        500, "internal_error", "an unexpected error occurred; it was logged on the server"
    )


def _json(model: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        model.model_dump_json(),
        status_code=status,
        media_type="application/json",
        headers={**_NO_STORE, **(headers or {})},
    )


# -- the work of each route, run in a worker thread once the key is checked ---------------


def _decide(
    principal: ApiPrincipal,
    ctx: AppContext,
    name: str,
    version: int,
    body: bytes,
    content_type: str | None,
    base: str,
    *,
    wait: bool = True,
) -> Response:
    req = parse_decision_request(body, content_type, max_features=ctx.settings.max_features)
    decide = partial(
        ctx.backend.decide,
        principal,
        name,
        version,
        req.features,
        subject_id=req.subject_id,
        counterfactual=req.counterfactual,
        wait=wait,
    )
    return _decided(decide, name, version, req, base)


def _decided(
    decide: Callable[[], Decision], name: str, version: int, req: DecisionRequest, base: str
) -> Response:
    """The response to ``decide()``; a WouldWait becomes one that finishes the decision."""
    try:
        decision = decide()
    except WouldWait as pending:
        raise WouldWait(partial(_decided, pending.finish, name, version, req, base)) from None
    except GovkitError as exc:
        sent = {**req.features, "subject_id": req.subject_id}
        raise translate(exc, not_found="no such model version is registered", sent=sent) from None
    out = decision_out(decision, base=base)
    return _json(out, status=201, headers={"Location": out.links.self})


def _decide_alias(
    principal: ApiPrincipal,
    ctx: AppContext,
    name: str,
    alias: str,
    body: bytes,
    content_type: str | None,
    base: str,
    *,
    wait: bool = True,
) -> Response:
    try:
        version = ctx.backend.resolve_alias(name, alias, wait=wait)
    except WouldWait:
        args = (principal, ctx, name, alias, body, content_type, base)
        raise WouldWait(partial(_decide_alias, *args)) from None
    except GovkitError as exc:
        raise translate(exc, not_found="no such model or alias is registered") from None
    return _decide(principal, ctx, name, version, body, content_type, base, wait=wait)


def _outcome(
    principal: ApiPrincipal,
    ctx: AppContext,
    decision_id: str,
    body: bytes,
    content_type: str | None,
) -> Response:
    req = parse_outcome_request(body, content_type)
    try:
        replaced = ctx.backend.record_outcome(principal, decision_id, req.outcome)
    except GovkitError as exc:
        raise translate(
            exc, not_found="no such decision in your tenant", sent={"o": req.outcome}
        ) from None
    return _json(OutcomeOut(decision_id=decision_id, recorded=True, replaced=replaced))


def _read(
    principal: ApiPrincipal,
    ctx: AppContext,
    decision_id: str,
    fmt: Literal["json", "html", "pdf"],
    base: str,
) -> Response:
    try:
        if fmt == "json":
            decision = ctx.backend.get_decision(principal, decision_id)
            return _json(decision_out(decision, base=base))
        content = ctx.backend.letter(principal, decision_id, fmt)
    except GovkitError as exc:
        raise translate(exc, not_found="no such decision in your tenant") from None
    if fmt == "html":
        return Response(
            content,
            media_type="text/html; charset=utf-8",
            headers={**_NO_STORE, "Content-Security-Policy": _LETTER_CSP},
        )
    return Response(
        content,
        media_type="application/pdf",
        headers={
            **_NO_STORE,
            "Content-Disposition": f'inline; filename="decision-{decision_id}.pdf"',
        },
    )


def _erase(principal: ApiPrincipal, ctx: AppContext, subject_id: str) -> Response:
    try:
        count = ctx.backend.erase_subject(principal, subject_id)
    except GovkitError as exc:
        raise translate(
            exc,
            not_found="no decision of this subject is recorded in your tenant (or it was "
            "already erased)",
            sent={"subject_id": subject_id},
        ) from None
    return _json(ErasedOut(subject_erased=True, decisions_erased=count))


def _erase_posted(
    principal: ApiPrincipal, ctx: AppContext, body: bytes, content_type: str | None
) -> Response:
    return _erase(principal, ctx, parse_erasure_request(body, content_type).subject_id)


def _subject_access(
    principal: ApiPrincipal, ctx: AppContext, body: bytes, content_type: str | None, base: str
) -> Response:
    subject_id = parse_subject_access_request(body, content_type).subject_id
    try:
        records = ctx.backend.subject_records(principal, subject_id)
    except GovkitError as exc:
        raise translate(
            exc,
            not_found="no decision of this subject is recorded in your tenant (or it was erased)",
            sent={"subject_id": subject_id},
        ) from None
    return _json(subject_access_out(records, base=base))


def _subject_responses() -> dict[int | str, dict[str, Any]]:
    """The responses of the routes taking a subject id in a JSON body (OpenAPI)."""
    return {
        **COMMON_RESPONSES,
        404: _err("No decision of this subject in the API key's tenant (`not_found`)"),
        415: _err("The body is not JSON (`unsupported_media_type`)"),
        422: _err("Malformed body, or no subject key on the server"),
    }


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` declaring a required JSON body of ``schema`` (the routes read their
    bodies by hand, so FastAPI cannot derive it)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _decision_responses(not_found: str) -> dict[int | str, dict[str, Any]]:
    """The responses of the two decision-creating routes (OpenAPI)."""
    return {
        **COMMON_RESPONSES,
        201: {
            "description": "The decision, recorded in the audit log",
            "headers": {
                "Location": {
                    "description": "Where to read the decision again",
                    "schema": {"type": "string"},
                }
            },
        },
        404: _err(not_found),
        415: _err("The body is not JSON (`unsupported_media_type`)"),
        422: _err(
            "Malformed body (`invalid_request`), features that do not fit the model "
            "(`invalid_features`) or an input the model cannot use (`invalid_input`)"
        ),
        503: _err(
            "The audit store is unavailable (`unavailable`), or the model version cannot be "
            "loaded on this server (`model_unavailable`: its file is missing or changed, or "
            "its types are not trusted here)"
        ),
    }


def build_router(settings: ApiSettings) -> APIRouter:
    """The API's routes (paths are absolute; the app includes the router once)."""
    router = APIRouter()
    request_schema = DecisionRequest.model_json_schema()
    request_schema["properties"]["features"]["maxProperties"] = settings.max_features
    body_spec = _json_body(request_schema)

    @router.post(
        "/v1/models/{name}/versions/{version}/decisions",
        status_code=201,
        response_model=DecisionOut,
        tags=["decisions"],
        summary="Decide, explain and record one decision",
        responses=_decision_responses("No such model version (`not_found`)"),
        openapi_extra=body_spec,
    )
    async def create_decision(
        request: Request, name: ModelName, version: Version, key: Credentials
    ) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type")
        base = request.scope.get("root_path", "")
        return await call_as(
            request,
            key,
            "decide",
            _decide,
            context(request),
            name,
            version,
            body,
            content_type,
            base,
            inline=True,
        )

    @router.post(
        "/v1/models/{name}/aliases/{alias}/decisions",
        status_code=201,
        response_model=DecisionOut,
        tags=["decisions"],
        summary="Decide with the version an alias (e.g. production) names now",
        responses=_decision_responses("No such model or alias (`not_found`)"),
        openapi_extra=body_spec,
    )
    async def create_decision_by_alias(
        request: Request, name: ModelName, alias: Alias, key: Credentials
    ) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type")
        base = request.scope.get("root_path", "")
        return await call_as(
            request,
            key,
            "decide",
            _decide_alias,
            context(request),
            name,
            alias,
            body,
            content_type,
            base,
            inline=True,
        )

    @router.post(
        "/v1/decisions/{decision_id}/outcome",
        response_model=OutcomeOut,
        tags=["decisions"],
        summary="Attach the observed outcome (label) to a recorded decision",
        responses={
            **COMMON_RESPONSES,
            404: _err("No such decision in the API key's tenant (`not_found`)"),
            410: _err("The subject's personal data was erased (`erased`)"),
            415: _err("The body is not JSON (`unsupported_media_type`)"),
            422: _err("Malformed body (`invalid_request`) or outcome (`invalid_input`)"),
        },
        openapi_extra=_json_body(OutcomeRequest.model_json_schema()),
    )
    async def record_outcome(
        request: Request, decision_id: DecisionId, key: Credentials
    ) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type")
        return await call_as(
            request, key, "decide", _outcome, context(request), decision_id, body, content_type
        )

    @router.get(
        "/v1/decisions/{decision_id}",
        response_model=DecisionOut,
        tags=["decisions"],
        summary="A recorded decision as JSON, or its letter as HTML or PDF",
        responses={
            **COMMON_RESPONSES,
            200: {
                "description": "The decision (JSON) or its letter (`format=html|pdf`)",
                "content": {
                    "text/html": {"schema": {"type": "string"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                },
            },
            404: _err("No such decision in the API key's tenant (`not_found`)"),
            410: _err("The subject's personal data was erased (`erased`)"),
        },
    )
    async def get_decision(
        request: Request,
        decision_id: DecisionId,
        key: Credentials,
        fmt: Annotated[
            Literal["json", "html", "pdf"],
            Query(alias="format", description="json: the decision; html or pdf: the letter"),
        ] = "json",
    ) -> Response:
        base = request.scope.get("root_path", "")
        return await call_as(request, key, "read", _read, context(request), decision_id, fmt, base)

    @router.delete(
        "/v1/subjects/{subject_id:path}",
        response_model=ErasedOut,
        tags=["subjects"],
        summary="Erase a data subject's personal data (crypto-shredding)",
        responses={
            **COMMON_RESPONSES,
            404: _err("No decision of this subject in the API key's tenant (`not_found`)"),
            422: _err("Not a usable subject id, or no subject key on the server"),
        },
    )
    async def erase_subject(
        request: Request,
        subject_id: Annotated[
            str,
            Path(
                min_length=1,
                max_length=MAX_SUBJECT_ID_CHARS,
                description="The subject_id given with their decisions",
            ),
        ],
        key: Credentials,
    ) -> Response:
        return await call_as(request, key, "admin", _erase, context(request), subject_id)

    @router.post(
        "/v1/erasures",
        response_model=ErasedOut,
        tags=["subjects"],
        summary="Erase a data subject's personal data; the id in the body, not the URL",
        description="The same as `DELETE /v1/subjects/{subject_id}`, but the subject id "
        "travels in the JSON body, so it stays out of URLs, proxy and access logs.",
        responses=_subject_responses(),
        openapi_extra=_json_body(ErasureRequest.model_json_schema()),
    )
    async def erase_subject_posted(request: Request, key: Credentials) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type")
        return await call_as(
            request, key, "admin", _erase_posted, context(request), body, content_type
        )

    @router.post(
        "/v1/subject-access",
        response_model=SubjectAccessOut,
        tags=["subjects"],
        summary="Every decision about a data subject (a GDPR Art. 15 access request)",
        description="The subject's decisions in the API key's tenant, newest first, each "
        "with its features, reasons and letter links, for answering a right-of-access "
        "request. The disclosure is recorded in the audit log (`subject.accessed`, naming "
        "the subject's random key id and the count, never the subject id). The id travels "
        "in the body, out of URLs, proxy and access logs.",
        responses=_subject_responses(),
        openapi_extra=_json_body(SubjectAccessRequest.model_json_schema()),
    )
    async def subject_access(request: Request, key: Credentials) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type")
        base = request.scope.get("root_path", "")
        return await call_as(
            request, key, "admin", _subject_access, context(request), body, content_type, base
        )

    @router.get(
        "/healthz",
        response_model=StatusOut,
        tags=["health"],
        summary="Liveness: the process answers",
        responses={500: COMMON_RESPONSES[500]},
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        response_model=StatusOut,
        tags=["health"],
        summary="Readiness: the backend can serve (database reachable)",
        responses={
            500: COMMON_RESPONSES[500],
            503: _err("Not ready (`not_ready`); message says why"),
        },
    )
    async def readyz(request: Request) -> dict[str, str]:
        ctx = context(request)
        try:
            reason = await run_blocking(request, ctx.backend.ready)
        except Exception as exc:  # a failing probe is a "not ready", with the type logged
            log_unhandled(exc, method="GET", route="/readyz")
            reason = f"the readiness check failed ({type(exc).__name__})"
        if reason is not None:
            raise ApiError(503, "not_ready", f"not ready: {str(reason)[:300]}")
        return {"status": "ready"}

    return router
