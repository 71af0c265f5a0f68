"""The ``/docs`` page: Swagger UI served from the installed package, nothing from a CDN.

FastAPI's own ``/docs`` loads Swagger UI's script and stylesheet from a CDN: on a network
without internet access the page stays blank, and a third-party script would run in the
page where people paste API keys ("Authorize"). Here the files come from the
``fastapi-swagger`` package (part of the ``api`` extra) under ``/docs/assets/``, and the
page carries a Content-Security-Policy allowing scripts, styles, images and requests from
this server only, plus the one inline script that starts Swagger UI (by its SHA-256,
computed from the page as served).

Asset URLs carry a digest of the file's bytes (``?v=...``), so the files can be cached
as immutable: a new version of the package changes the URL.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from govkit.exceptions import MissingDependencyError

__all__ = ["ASSETS", "build_docs_router", "docs_csp", "inline_script_hashes"]

#: the files the page uses, with their content types
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_PACKAGE = "fastapi_swagger.resources"
_ASSET_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
#: Swagger UI's settings: FastAPI's defaults, and no online validator (it would send the
#: spec's URL to swagger.io; the CSP would block it anyway)
_UI_PARAMETERS: dict[str, Any] = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
    "validatorUrl": None,
}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


@dataclass(frozen=True)
class _Asset:
    content: bytes
    version: str  # a digest of the bytes, for the URL


@functools.cache
def _asset(name: str) -> _Asset:
    """The bytes of one of Swagger UI's files from the installed package (read once)."""
    from importlib import resources

    try:
        content = resources.files(_PACKAGE).joinpath(name).read_bytes()
    except ImportError:
        raise MissingDependencyError(
            "the /docs page needs the optional package 'fastapi-swagger' (Swagger UI's "
            "files, served from this server), which is not installed; install it with: "
            "pip install 'govkit[api]'"
        ) from None
    return _Asset(content, hashlib.sha256(content).hexdigest()[:16])


def inline_script_hashes(html: str) -> list[str]:
    """CSP sources (``'sha256-...'``) of the page's inline scripts, as the browser hashes them."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    ]


def docs_csp(html: str) -> str:
    """The Content-Security-Policy of the page ``html``: this server only, and its own init."""
    scripts = " ".join(["'self'", *inline_script_hashes(html)])
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _page(title: str, base: str, openapi_url: str) -> str:
    from fastapi.openapi.docs import get_swagger_ui_html

    def url(name: str) -> str:
        return f"{base}/docs/assets/{name}?v={_asset(name).version}"

    response = get_swagger_ui_html(
        openapi_url=base + openapi_url,
        title=f"{title} - Swagger UI",
        swagger_js_url=url("swagger-ui-bundle.js"),
        swagger_css_url=url("swagger-ui.css"),
        swagger_favicon_url=url("favicon-32x32.png"),
        swagger_ui_parameters=_UI_PARAMETERS,
    )
    return bytes(response.body).decode("utf-8")


def build_docs_router(*, title: str, openapi_url: str) -> APIRouter:
    """``GET /docs`` and ``GET /docs/assets/{name}`` (not in the OpenAPI document)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs_page(request: Request) -> Response:
        base = request.scope.get("root_path", "").rstrip("/")
        html = _page(title, base, openapi_url)
        headers = {**_PAGE_HEADERS, "Content-Security-Policy": docs_csp(html)}
        return Response(html, media_type="text/html; charset=utf-8", headers=headers)

    @router.get("/docs/assets/{name}")
    async def docs_asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404)
        return Response(_asset(name).content, media_type=media_type, headers=_ASSET_HEADERS)

    return router
