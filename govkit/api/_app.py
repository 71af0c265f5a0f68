"""The FastAPI application: routes, the error shape for everything, limits.

Request path, outermost first: :class:`HttpBasicsMiddleware` (HEAD as GET without a
body; the default headers) -> :class:`CatchAllMiddleware` (an unexpected exception
becomes a logged, generic 500) -> :class:`BodyLimitMiddleware` (413 before parsing) ->
FastAPI's routing and exception handlers (every error rendered by
:mod:`govkit.api._errors`) -> the route, whose blocking backend calls run in worker
threads.

More routers can be included next to the API (``routers=``: the dashboard will be
one); their errors take the same JSON shape unless they handle them themselves.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from govkit import __version__
from govkit.api._backend import DecisionBackend
from govkit.api._context import AppContext
from govkit.api._dashboard_backend import DashboardBackend
from govkit.api._errors import ApiError, code_for_status, error_payload, log_unhandled
from govkit.api._limits import (
    ASGIApp,
    AuthFailureThrottle,
    BodyLimitMiddleware,
    RateLimiter,
    Receive,
    Scope,
    Send,
    send_error,
)
from govkit.api._routes import build_router, translate
from govkit.api._settings import ApiSettings
from govkit.exceptions import GovkitError

__all__ = ["build_app", "CatchAllMiddleware", "HttpBasicsMiddleware"]

log = logging.getLogger(__name__)

_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

DESCRIPTION = """\
Per-decision explanations: decide with a registered model, explain the decision in
plain language, record it in the tamper-evident audit log, serve it as JSON or as a
letter (HTML, PDF), and erase a data subject's personal data.

Authenticate with an API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`); each
operation needs a scope (`decide`, `read` or `admin`), and a key sees only its
tenant's decisions. Every error has one shape:
`{"error": {"code": ..., "message": ..., "details": [{"field": ..., "problem": ...}]}}`;
no error quotes a value that was sent.
"""


class CatchAllMiddleware:
    """Turn any exception that escaped the handlers into a generic 500, logged without data.

    Starlette's own last-resort handler would log the exception's message (which can
    hold request data) and re-raise; this one logs the type and stack frames only.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            route = getattr(scope.get("route"), "path", "(no route)")
            log_unhandled(exc, method=scope.get("method", "?"), route=route)
            if not started:
                await send_error(
                    send,
                    500,
                    "internal_error",
                    "an unexpected error occurred; it was logged on the server",
                )


_DEFAULT_RAW = [
    (name.lower().encode("latin-1"), value.encode()) for name, value in _HEADERS.items()
]


class HttpBasicsMiddleware:
    """HEAD on every GET route, and ``no-store`` / ``nosniff`` on every response.

    RFC 9110 (9.1, 9.3.2): a general-purpose server supports HEAD, answered as GET
    without the body (uptime monitors and load balancers probe with it); FastAPI's routes
    answer it 405. Here HEAD runs the GET route, the body is dropped and the headers
    (``Content-Length`` included) kept; a 405's ``Allow`` names HEAD with GET.
    Responses that set no ``Cache-Control`` or ``X-Content-Type-Options`` of their own
    (health, readiness, the OpenAPI document) get the API's: nothing it sends is for
    a cache, and nothing is to be sniffed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def basics_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", ()))
                names = {name.lower() for name, _ in raw}
                raw += [pair for pair in _DEFAULT_RAW if pair[0] not in names]
                if message["status"] == 405:
                    raw = [_allow_head(name, value) for name, value in raw]
                message = {**message, "headers": raw}
            elif head and message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, basics_send)


def _allow_head(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    if name.lower() != b"allow":
        return name, value
    methods = [m.strip() for m in value.split(b",")]
    if b"GET" in methods and b"HEAD" not in methods:
        methods.append(b"HEAD")
    return name, b", ".join(methods)


def _error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        error_payload(code, message, details),
        status_code=status,
        media_type="application/json",
        headers={**_HEADERS, **(headers or {})},
    )


def _validation_details(exc: RequestValidationError) -> list[tuple[str, str]]:
    """(field, problem) of FastAPI's validation errors, without the input they quote."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        field = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else "request")
        problem = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            field, problem = "body", f"not valid JSON ({err.get('ctx', {}).get('error', '?')})"
        out.setdefault(field, problem)
    return list(out.items())


def _install_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _error_response(422, "invalid_request", "invalid request", _validation_details(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        if status == 404:
            message = "no such route"  # never the path: it may hold a subject id
        elif status == 405:
            message = "this route does not accept the method; Allow names those it does"
        else:
            try:
                message = http.HTTPStatus(status).phrase
            except ValueError:
                message = "HTTP error"
        return _error_response(status, code_for_status(status), message, headers=exc.headers)

    async def on_govkit(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GovkitError)
        error = translate(exc, not_found="not found")
        return _error_response(
            error.status, error.code, error.message, error.details, error.headers
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(GovkitError, on_govkit)


def build_app(
    backend: DecisionBackend,
    *,
    settings: ApiSettings,
    routers: Sequence[Any] = (),
    dashboard: DashboardBackend | None = None,
) -> FastAPI:
    """The ASGI application serving ``backend`` (see :func:`govkit.api.create_app`)."""
    app = FastAPI(
        title="govkit decision API",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # our own /docs: Swagger UI from the package, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs else None,
        # no 307 to "the path without its slash": its Location is built from the Host
        # header, and a client following it resends the body (a person's features)
        redirect_slashes=False,
    )
    limiter = (
        RateLimiter(settings.rate_limit, burst=settings.rate_burst)
        if settings.rate_limit is not None
        else None
    )
    throttle = (
        AuthFailureThrottle(settings.auth_failure_limit)
        if settings.auth_failure_limit is not None
        else None
    )
    app.state.govkit = AppContext(
        backend=backend, settings=settings, rate_limiter=limiter, auth_throttle=throttle
    )
    app.include_router(build_router(settings))
    if settings.docs:
        from govkit.api._docs_page import build_docs_router

        app.include_router(build_docs_router(title=app.title, openapi_url="/openapi.json"))
    for router in routers:
        app.include_router(router)
    if dashboard is not None:
        from govkit.api._dashboard import build_dashboard_router

        app.include_router(build_dashboard_router(dashboard))
    _install_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(HttpBasicsMiddleware)  # added last: outermost (the 500s too)
    return app
