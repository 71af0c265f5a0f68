"""``/docs`` serves Swagger UI from the installed package: nothing from a CDN, a strict CSP.

In-process (TestClient, the real DecisionService over an empty SQLite store): the page
names no URL outside the app; every file it references answers 200 with its content
type, cache headers, and the package's bytes; the Content-Security-Policy allows this
server only plus the page's inline script by its SHA-256 (computed here from the page);
``docs=False`` switches page, assets and spec off; a ``root_path`` prefix is respected.
In Debian's Chromium (Playwright, uvicorn on loopback): Swagger UI renders the
operations, "Try it out" reaches the server, no console error (a CSP violation is one),
and every request goes to 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from html.parser import HTMLParser
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("fastapi")

from api_helpers import assert_error, serve  # noqa: E402
from browser_helpers import watched_page
from fastapi.testclient import TestClient  # noqa: E402

from govkit.api import ApiSettings, create_app  # noqa: E402

SUMMARY = "Decide, explain and record one decision"
TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


class _Page(HTMLParser):
    """Every src/href of a page, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_inline = False

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        self._in_inline = tag == "script" and "src" not in found
        if self._in_inline:
            self.inline.append("")

    def handle_endtag(self, tag):
        self._in_inline = False

    def handle_data(self, data):
        if self._in_inline:
            self.inline[-1] += data


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def csp(header: str) -> dict[str, list[str]]:
    out = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        out[name] = values
    return out


def package_file(name: str) -> bytes:
    return resources.files("fastapi_swagger.resources").joinpath(name).read_bytes()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from govkit.service import DecisionService
    from govkit.store import Store

    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('docs') / 'govkit.db'}")
    yield DecisionService(store)
    store.close()


@pytest.fixture(scope="module")
def client(service):
    with TestClient(create_app(service)) as c:
        yield c


def test_the_page_references_nothing_outside_the_app(client):
    resp = client.get("/docs")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert "http://" not in resp.text and "https://" not in resp.text
    page = parse(resp.text)
    assert len(page.urls) == 3
    for url in page.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
        assert parts.path.startswith("/docs/assets/"), url
    assert "url: '/openapi.json'" in resp.text
    assert '"validatorUrl": null' in resp.text  # no badge fetched from swagger.io


def test_every_asset_is_the_packages_file_with_its_type_and_cache_headers(client):
    page = parse(client.get("/docs").text)
    served = set()
    for url in page.urls:
        parts = urlsplit(url)
        name = parts.path.rsplit("/", 1)[1]
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert resp.headers["content-type"] == TYPES[name]
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert resp.content == package_file(name)
        # the URL names the bytes, so a new package version is a new URL
        version = parse_qs(parts.query)["v"][0]
        assert version == hashlib.sha256(resp.content).hexdigest()[:16]
        served.add(name)
    assert served == set(TYPES)


@pytest.mark.parametrize(
    "path", ["/docs/assets/other.js", "/docs/assets/__init__.py", "/docs/assets/..%2F__init__.py"]
)
def test_only_the_named_assets_are_served(client, path):
    assert_error(client.get(path), 404, "not_found")


def test_the_csp_allows_this_server_and_the_pages_own_inline_script_only(client):
    resp = client.get("/docs")
    policy = csp(resp.headers["content-security-policy"])
    inline = parse(resp.text).inline
    assert len(inline) == 1 and "SwaggerUIBundle(" in inline[0]
    digest = base64.b64encode(hashlib.sha256(inline[0].encode("utf-8")).digest()).decode()
    assert policy["script-src"] == ["'self'", f"'sha256-{digest}'"]
    assert policy["default-src"] == ["'none'"]
    for name in ("style-src", "connect-src"):
        assert policy[name] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]  # its CSS draws icons as data: SVG
    for name in ("frame-ancestors", "object-src", "base-uri", "form-action"):
        assert policy[name] == ["'none'"]
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert b"data:image" in package_file("swagger-ui.css")  # why img-src allows data:


def test_docs_false_switches_off_the_page_its_assets_and_the_spec(service):
    with TestClient(create_app(service, settings=ApiSettings(docs=False))) as c:
        for path in ["/docs", "/openapi.json", *(f"/docs/assets/{name}" for name in TYPES)]:
            assert_error(c.get(path), 404, "not_found")


def test_a_root_path_prefix_is_respected(service):
    with TestClient(create_app(service), root_path="/govkit") as c:
        resp = c.get("/docs")
        page = parse(resp.text)
        assert all(url.startswith("/govkit/docs/assets/") for url in page.urls), page.urls
        assert "url: '/govkit/openapi.json'" in resp.text
        for url in page.urls:
            assert c.get(url).status_code == 200, url
        assert c.get("/govkit/openapi.json").json()["servers"] == [{"url": "/govkit"}]


def test_without_the_package_the_page_says_what_to_install(service, monkeypatch):
    from govkit.api import _docs_page

    monkeypatch.setitem(sys.modules, "fastapi_swagger", None)
    monkeypatch.setitem(sys.modules, "fastapi_swagger.resources", None)
    _docs_page._asset.cache_clear()
    try:
        with TestClient(create_app(service)) as c:
            error = assert_error(c.get("/docs"), 501, "not_implemented")
            assert "pip install 'govkit[api]'" in error["message"]
            assert "fastapi-swagger" in error["message"]
            assert c.get("/openapi.json").status_code == 200  # the spec itself is still served
    finally:
        _docs_page._asset.cache_clear()


# -- in a real browser -------------------------------------------------------------------


@pytest.mark.browser
def test_swagger_ui_renders_and_works_in_a_browser_with_nothing_from_elsewhere(browser, service):
    with serve(create_app(service)) as base:
        watched = watched_page(browser)
        page, errors, hosts = watched.page, watched.errors, watched.hosts
        page.add_init_script(
            "window.cspViolations = [];"
            "document.addEventListener('securitypolicyviolation', e => "
            "window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        page.goto(f"{base}/docs")
        page.get_by_text(SUMMARY).wait_for(timeout=30_000)
        assert page.title() == "govkit decision API - Swagger UI"
        # open GET /healthz, "Try it out", "Execute": Swagger UI's request reaches the server
        healthz = page.locator(".opblock", has=page.locator("[data-path='/healthz']"))
        healthz.locator(".opblock-summary").first.click()
        healthz.get_by_role("button", name="Try it out").click()
        healthz.get_by_role("button", name="Execute").click()
        status = healthz.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for()
        assert status.inner_text().strip() == "200"
        # the Authorize dialog (where keys are pasted) opens
        page.get_by_role("button", name="Authorize").first.click()
        page.get_by_text("Available authorizations").wait_for()
        violations = page.evaluate("window.cspViolations")
        page.context.close()
    assert violations == []
    assert errors == []
    assert hosts == {"127.0.0.1"}
