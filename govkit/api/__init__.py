"""The HTTP API: decisions, their letters and erasure over HTTP (``govkit serve``).

>>> from govkit.api import ApiSettings, create_app
>>> app = create_app(service, settings=ApiSettings(rate_limit=600))   # an ASGI app
>>> uvicorn.run(app, host="127.0.0.1", port=8000)

``service`` is anything satisfying :class:`DecisionBackend` (``govkit serve`` passes a
:class:`govkit.service.DecisionService`). Routes, scopes and error codes:

- ``POST /v1/models/{name}/versions/{version}/decisions`` (scope ``decide``) -> 201
- ``GET /v1/decisions/{id}[?format=json|html|pdf]`` (scope ``read``)
- ``DELETE /v1/subjects/{subject_id}`` (scope ``admin``)
- ``GET /healthz``, ``GET /readyz`` (no key); ``/docs`` and ``/openapi.json``
- every error: ``{"error": {"code", "message", "details": [{"field", "problem"}]}}`` with
  ``code`` one of :data:`ERROR_CODES`.

FastAPI and uvicorn are the optional extra ``govkit[api]``; importing this package does
not import them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from govkit._optional import import_optional
from govkit.api._backend import DecisionBackend
from govkit.api._dashboard_backend import DashboardBackend
from govkit.api._errors import ERROR_CODES, ErrorCode
from govkit.api._settings import ApiSettings

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI

__all__ = [
    "create_app",
    "ApiSettings",
    "DecisionBackend",
    "DashboardBackend",
    "ERROR_CODES",
    "ErrorCode",
]


def create_app(
    backend: DecisionBackend,
    *,
    settings: ApiSettings | None = None,
    routers: Sequence[Any] = (),
    dashboard: DashboardBackend | None = None,
) -> FastAPI:
    """The FastAPI (ASGI) application serving ``backend``.

    ``routers`` are further FastAPI ``APIRouter``\\ s to serve next to the API (for
    example the dashboard); :func:`govkit.api._auth.require_scope` guards their routes.
    ``dashboard`` (a :class:`DashboardBackend`, e.g. :class:`govkit.dashboard.DashboardData`)
    adds the read-only compliance dashboard at ``/dashboard/``.
    MissingDependencyError when the ``api`` extra is not installed.
    """
    for module in ("fastapi", "starlette"):
        import_optional(module, feature="the HTTP API (govkit serve)")
    from govkit.api._app import build_app

    return build_app(
        backend, settings=settings or ApiSettings(), routers=routers, dashboard=dashboard
    )
