"""The compliance dashboard: server-rendered, read-only HTML pages next to the API.

Pages (Jinja2 templates ``templates/dashboard/*.html.j2``, autoescaped; one local
stylesheet; charts are inline SVG; no script, no external request):

- ``/dashboard/`` inventory: every model version, owner, risk tier, latest verdict,
  last evaluated, waivers (filter ``?q=&verdict=``, sort ``?sort=&order=``);
- ``/dashboard/models/{name}/versions/{version}``: rule trends, fairness bars, lineage,
  runs, audit events, links to the card (``/card.html``, ``/card.pdf``);
- ``/dashboard/runs/{run_id}``: every check with value, bound and evidence;
- ``/dashboard/decisions``: volume per day, share of reliable explanations, recent
  decisions by id (the key's tenant only; no personal data);
- ``/dashboard/audit``: chain status and recent events.

Sign-in: see :mod:`govkit.api._dashboard_session`. When API keys exist every page
needs a key with the ``read`` scope, from the session cookie or, for scripts, the
``Authorization: Bearer`` / ``X-API-Key`` header. A browser without one is sent to the
sign-in page; other clients get the API's JSON 401. Errors are HTML pages for browsers
and the API's one JSON error shape for everyone else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from govkit.api._auth import SentKey, authorize, client_host
from govkit.api._context import context, run_blocking
from govkit.api._dashboard_backend import DashboardBackend, InventoryRow
from govkit.api._dashboard_session import COOKIE, SESSION_TTL, Sessions
from govkit.api._dashboard_svg import (
    STATUS_COLOURS,
    group_bars,
    lineage_graph,
    trend_chart,
    volume_chart,
)
from govkit.api._errors import ApiError, error_payload
from govkit.api._routes import DECISION_ID_PATTERN, MODEL_NAME_PATTERN, translate
from govkit.decisions import ApiPrincipal
from govkit.exceptions import GovkitError
from govkit.records import MAX_VERSION

if TYPE_CHECKING:
    import jinja2

__all__ = ["build_dashboard_router", "PAGE_CSP"]

log = logging.getLogger(__name__)

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_CARD_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_VERDICT_ORDER = {"FAIL": 0, "WARN": 1, "WAIVED": 2, "PASS": 3, "NONE": 4}
SORTS = ("name", "owner", "risk", "verdict", "evaluated")
MAX_QUERY = 200

ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN)]
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]
_ = DECISION_ID_PATTERN  # decision ids shown are the store's own (checked on write)


class _NeedLogin(Exception):
    """No usable credentials: a browser goes to the sign-in page."""


def _environment() -> jinja2.Environment:
    import jinja2

    from govkit._resources import resource_dir

    folder = resource_dir("templates") / "dashboard"

    def load(name: str) -> str | None:
        path = folder / name
        return path.read_text(encoding="utf-8") if path.is_file() else None

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        trend_chart=trend_chart,
        group_bars=group_bars,
        volume_chart=volume_chart,
        lineage_graph=lineage_graph,
        colours=STATUS_COLOURS,
        quote=lambda text: quote(str(text), safe=""),
    )
    env.filters["num"] = lambda v: "—" if v is None else f"{v:.4g}"
    env.filters["when"] = lambda d: "—" if d is None else d.strftime("%Y-%m-%d %H:%M UTC")
    return env


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _header_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return request.headers.get("x-api-key") or None


def _safe_next(target: str | None) -> str:
    """A local dashboard path to return to after sign-in (never another site)."""
    if not target or len(target) > 1000:
        return "/dashboard/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/dashboard/"):
        return "/dashboard/"
    if "\\" in target or target.startswith("//"):
        return "/dashboard/"
    return target


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={**_HEADERS, "Content-Security-Policy": PAGE_CSP, **(headers or {})},
    )


def sort_inventory(rows: list[InventoryRow], key: str, order: str) -> list[InventoryRow]:
    """Rows sorted by ``key`` (one of :data:`SORTS`); missing values last either way."""

    def text(value: str | None) -> tuple[int, str]:
        return (1, "") if not value else (0, value.casefold())

    keys: dict[str, Callable[[InventoryRow], Any]] = {
        "name": lambda r: (r.name.casefold(), r.version),
        "owner": lambda r: (text(r.owner), r.name.casefold(), r.version),
        "risk": lambda r: (text(r.risk_tier), r.name.casefold(), r.version),
        "verdict": lambda r: (_VERDICT_ORDER[r.shown_verdict], r.name.casefold(), r.version),
        "evaluated": lambda r: (
            r.last_evaluated is None,
            r.last_evaluated.timestamp() if r.last_evaluated else 0.0,
        ),
    }
    out = sorted(rows, key=keys[key], reverse=order == "desc")
    if order == "desc" and key in ("owner", "risk", "evaluated"):  # keep missing values last
        missing = [r for r in out if _missing(r, key)]
        out = [r for r in out if not _missing(r, key)] + missing
    return out


def _missing(row: InventoryRow, key: str) -> bool:
    return {
        "owner": not row.owner,
        "risk": not row.risk_tier,
        "evaluated": row.last_evaluated is None,
    }.get(key, False)


def build_dashboard_router(dashboard: DashboardBackend) -> APIRouter:
    """The dashboard's routes (not in the OpenAPI spec: they serve HTML)."""
    router = APIRouter(include_in_schema=False)
    sessions = Sessions()
    env = _environment()

    def render(name: str, **values: Any) -> str:
        return env.get_template(name).render(**values)

    def error_response(request: Request, error: ApiError) -> Response:
        if _wants_html(request):
            body = render(
                "error.html.j2",
                status=error.status,
                code=error.code,
                message=error.message,
                principal=None,
                auth=True,
                page="error",
            )
            return _html(body, error.status, error.headers)
        return Response(
            error_payload(error.code, error.message, error.details),
            status_code=error.status,
            media_type="application/json",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
            | error.headers,
        )

    def login_redirect(request: Request, *, drop: bool) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(
            f"/dashboard/login?next={quote(target, safe='')}", status_code=303
        )
        if drop:
            response.delete_cookie(COOKIE, path="/dashboard")
        return response

    async def page(
        request: Request,
        template: str,
        work: Callable[[ApiPrincipal | None], dict[str, Any]],
        *,
        not_found: str = "not found",
        name: str = "",
    ) -> Response:
        ctx = context(request)
        header_token = _header_token(request)
        session_id = request.cookies.get(COOKIE)
        token = header_token or sessions.token(session_id)
        client = client_host(request)

        def job() -> str:
            principal = None
            auth = dashboard.auth_required()
            if auth:
                if token is None:
                    raise _NeedLogin
                principal = authorize(ctx, SentKey(token, client), "read")
            values = work(principal)
            return render(template, principal=principal, auth=auth, page=name, **values)

        try:
            body = await run_blocking(request, job)
        except _NeedLogin:
            if _wants_html(request):
                return login_redirect(request, drop=False)
            return error_response(
                request,
                ApiError(
                    401,
                    "unauthenticated",
                    "the dashboard needs an API key with the 'read' scope: sign in at "
                    "/dashboard/login or send 'Authorization: Bearer KEY'",
                    headers={"WWW-Authenticate": 'Bearer realm="govkit"'},
                ),
            )
        except ApiError as exc:
            if exc.status == 401 and header_token is None and _wants_html(request):
                sessions.drop(session_id)  # the session's key was revoked
                return login_redirect(request, drop=True)
            return error_response(request, exc)
        except GovkitError as exc:
            return error_response(request, translate(exc, not_found=not_found))
        return _html(body)

    @router.get("/")
    async def root() -> Response:
        return RedirectResponse("/dashboard/", status_code=307)

    @router.get("/dashboard")
    async def dashboard_bare() -> Response:
        return RedirectResponse("/dashboard/", status_code=307)

    @router.get("/dashboard/static/dashboard.css")
    async def stylesheet() -> Response:
        from govkit._resources import read_text

        return Response(
            read_text("templates", "dashboard/dashboard.css"),
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    @router.get("/dashboard/login")
    async def login_form(request: Request, next: str | None = None) -> Response:
        body = render(
            "login.html.j2",
            next=_safe_next(next),
            failed=False,
            principal=None,
            auth=True,
            page="login",
        )
        return _html(body)

    @router.post("/dashboard/login")
    async def login(request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and origin != "null":
            host = request.headers.get("host", "")
            if urlsplit(origin).netloc != host:
                return error_response(
                    request, ApiError(403, "forbidden", "sign-in from another site is refused")
                )
        elif origin == "null":
            return error_response(
                request, ApiError(403, "forbidden", "sign-in from an opaque origin is refused")
            )
        form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
        token = (form.get("key") or [""])[0].strip()
        target = _safe_next(next(iter(form.get("next", ())), None))
        ctx = context(request)
        try:
            if not token:
                raise ApiError(401, "unauthenticated", "no API key was entered")
            key = SentKey(token, client_host(request))
            await run_blocking(request, authorize, ctx, key, "read")
        except ApiError as exc:
            if exc.status == 429:
                return error_response(request, exc)
            log.info("dashboard sign-in refused (%s)", exc.code)
            body = render(
                "login.html.j2", next=target, failed=True, principal=None, auth=True, page="login"
            )
            return _html(body, 401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            sessions.create(token),
            max_age=int(SESSION_TTL),
            path="/dashboard",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.post("/dashboard/logout")
    async def logout(request: Request) -> Response:
        sessions.drop(request.cookies.get(COOKIE))
        response = RedirectResponse("/dashboard/login", status_code=303)
        response.delete_cookie(COOKIE, path="/dashboard")
        return response

    @router.get("/dashboard/")
    async def inventory(
        request: Request,
        q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
        verdict: Literal["", "PASS", "WARN", "FAIL", "WAIVED", "NONE"] = "",
        sort: Literal["name", "owner", "risk", "verdict", "evaluated"] = "name",
        order: Literal["asc", "desc"] = "asc",
    ) -> Response:
        def work(principal: ApiPrincipal | None) -> dict[str, Any]:
            rows = dashboard.inventory()
            total = len(rows)
            needle = q.strip().casefold()
            if needle:
                rows = [
                    r
                    for r in rows
                    if needle in r.name.casefold() or needle in (r.owner or "").casefold()
                ]
            if verdict:
                rows = [r for r in rows if r.shown_verdict == verdict]
            return {
                "rows": sort_inventory(rows, sort, order),
                "total": total,
                "q": q,
                "verdict": verdict,
                "sort": sort,
                "order": order,
                "sorts": SORTS,
            }

        return await page(request, "inventory.html.j2", work, name="inventory")

    @router.get("/dashboard/models/{name}/versions/{version}")
    async def model_version(request: Request, name: ModelName, version: Version) -> Response:
        def work(principal: ApiPrincipal | None) -> dict[str, Any]:
            tenant = principal.tenant if principal else None
            return {"m": dashboard.model_version(name, version, tenant=tenant)}

        return await page(
            request,
            "model.html.j2",
            work,
            not_found="no such model version is registered",
            name="model",
        )

    async def card(
        request: Request, name: str, version: int, fmt: Literal["html", "pdf"]
    ) -> Response:
        ctx = context(request)
        token = _header_token(request) or sessions.token(request.cookies.get(COOKIE))
        client = client_host(request)

        def job() -> bytes:
            if dashboard.auth_required():
                if token is None:
                    raise _NeedLogin
                authorize(ctx, SentKey(token, client), "read")
            return dashboard.card(name, version, fmt)

        try:
            content = await run_blocking(request, job)
        except _NeedLogin:
            if _wants_html(request):
                return login_redirect(request, drop=False)
            return error_response(
                request, ApiError(401, "unauthenticated", "the dashboard needs an API key")
            )
        except ApiError as exc:
            return error_response(request, exc)
        except GovkitError as exc:
            return error_response(
                request,
                translate(exc, not_found="no such model version is registered"),
            )
        if fmt == "pdf":
            return Response(
                content,
                media_type="application/pdf",
                headers={
                    **_HEADERS,
                    "Content-Disposition": f'inline; filename="card-{name}-{version}.pdf"',
                },
            )
        return Response(
            content,
            media_type="text/html; charset=utf-8",
            headers={**_HEADERS, "Content-Security-Policy": _CARD_CSP},
        )

    @router.get("/dashboard/models/{name}/versions/{version}/card.html")
    async def card_html(request: Request, name: ModelName, version: Version) -> Response:
        return await card(request, name, version, "html")

    @router.get("/dashboard/models/{name}/versions/{version}/card.pdf")
    async def card_pdf(request: Request, name: ModelName, version: Version) -> Response:
        return await card(request, name, version, "pdf")

    @router.get("/dashboard/runs/{run_id}")
    async def policy_run(
        request: Request, run_id: Annotated[int, Path(ge=1, le=2**62)]
    ) -> Response:
        def work(principal: ApiPrincipal | None) -> dict[str, Any]:
            return {"r": dashboard.policy_run(run_id)}

        return await page(
            request,
            "run.html.j2",
            work,
            not_found="no such policy run is recorded",
            name="run",
        )

    @router.get("/dashboard/decisions")
    async def decisions(
        request: Request,
        days: Annotated[int, Query(ge=1, le=366)] = 30,
        limit: Annotated[int, Query(ge=0, le=500)] = 50,
    ) -> Response:
        def work(principal: ApiPrincipal | None) -> dict[str, Any]:
            tenant = principal.tenant if principal else None
            return {"d": dashboard.decisions(tenant, days=days, limit=limit), "days": days}

        return await page(request, "decisions.html.j2", work, name="decisions")

    @router.get("/dashboard/audit")
    async def audit(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Response:
        def work(principal: ApiPrincipal | None) -> dict[str, Any]:
            tenant = principal.tenant if principal else None
            return {"a": dashboard.audit(tenant, limit=limit)}

        return await page(request, "audit.html.j2", work, name="audit")

    return router
