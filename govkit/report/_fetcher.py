"""The URL fetcher of govkit's PDF renderer: ``data:`` URLs only, nothing else, ever.

Why. WeasyPrint loads every URL a document names -- ``<img src>``, ``<link
rel=stylesheet>``, CSS ``@import`` and ``url()``, ``@font-face``, SVG ``href``,
``<object>``/``<embed>``, and ``<link rel=attachment>`` / ``<a rel=attachment>``,
which embed the fetched bytes in the PDF -- through its URL fetcher, and the
default fetcher opens ``file:``, ``http(s):`` and ``ftp:`` URLs. WeasyPrint's
documentation warns that rendering untrusted HTML with it can read local files
and reach internal services (SSRF). A model card is built from text that teams
declare (metadata, dataset sources, rule messages); escaping keeps that text
inert, and this fetcher is the second wall should markup ever slip through.

Past fetcher bypasses show why the wall is built this way:

* CVE-2024-28184 (GHSA-35jj-wx47-4w8r, WeasyPrint 61.0-61.1): PDF attachments
  were fetched without the configured ``url_fetcher``, so ``rel=attachment``
  could embed arbitrary local files even when the fetcher forbade them.
* CVE-2025-68616 (GHSA-983w-rhvv-gwmv, before 68.0): a fetcher that checked the
  first URL still followed HTTP redirects to any host, bypassing SSRF guards.
* GHSA-jf6q-chmf-3h3v (before 70.0): ``write_pdf(stylesheets=..., xmp_metadata=...)``
  used a default fetcher; govkit passes neither.

So the policy is an allow-list of one scheme, decided in :meth:`fetch` from the
URL string alone, before any I/O: no resolution, no redirects (there is no
request to redirect), no proxy, no file system. ``data:`` URLs are decoded here,
in memory. The opener machinery inherited from :class:`urllib.request.OpenerDirector`
is emptied as well, so no code path around :meth:`fetch` can open anything.
The renderer additionally drops attachments after layout (see ``_pdf.py``).
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote_to_bytes

from weasyprint.urls import URLFetcher, URLFetcherResponse

from govkit.exceptions import RenderError

__all__ = ["DataOnlyURLFetcher", "FetchRefusedError", "ALLOWED_SCHEMES"]

#: The only URL scheme the card renderer resolves.
ALLOWED_SCHEMES = frozenset({"data"})

_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*):")


class FetchRefusedError(RenderError):
    """A document asked for a resource the card renderer never fetches."""


def _shorten(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


class DataOnlyURLFetcher(URLFetcher):  # type: ignore[misc]  # weasyprint ships no types
    """A WeasyPrint URL fetcher that serves ``data:`` URLs and refuses everything else.

    Use a fresh instance per document (``URLFetcher`` keeps per-request state).
    """

    def __init__(self) -> None:
        # Refused fetches are logged by WeasyPrint and rendering continues, so a
        # hostile reference costs a missing image, not the whole card.
        super().__init__(
            timeout=1,
            allowed_protocols=tuple(ALLOWED_SCHEMES),
            allow_redirects=False,
            fail_on_errors=False,
        )
        # Remove every urllib handler (http, https, ftp, file, proxy, data, ...):
        # even a caller that reaches OpenerDirector.open() finds nothing to open.
        self.handlers.clear()
        self.handle_open.clear()
        self.handle_error.clear()
        self.process_request.clear()
        self.process_response.clear()

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        match = _SCHEME.match(url) if isinstance(url, str) else None
        scheme = match[1].lower() if match else None
        if scheme not in ALLOWED_SCHEMES:
            raise FetchRefusedError(
                f"refused to fetch {_shorten(str(url))!r}: govkit cards embed no external "
                "resources (file, http, https, ftp and every other scheme are blocked, "
                "only data: URLs are read); inline the resource as a data: URL instead"
            )
        return _decode_data_url(url.strip())

    def open(self, url: object, data: object = None, timeout: object = None) -> URLFetcherResponse:
        full_url = getattr(url, "full_url", url)
        return self.fetch(str(full_url))

    def __call__(self, url: str) -> URLFetcherResponse:
        return self.fetch(url)


def _decode_data_url(url: str) -> URLFetcherResponse:
    """Decode an RFC 2397 ``data:[<mediatype>][;base64],<data>`` URL in memory."""
    header, comma, payload = url[len("data:") :].partition(",")
    if not comma:
        raise FetchRefusedError(f"malformed data: URL {_shorten(url)!r}: no ',' before the data")
    params = [p.strip() for p in header.split(";")]
    is_base64 = bool(params) and params[-1].lower() == "base64"
    if is_base64:
        params = params[:-1]
    media_type = params[0] if params and "/" in params[0] else "text/plain"
    charset = None
    for p in params[1:] if params and "/" in params[0] else params:
        key, _, val = p.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip()
    if media_type == "text/plain" and charset is None:
        charset = "US-ASCII"
    raw = unquote_to_bytes(payload)
    if is_base64:
        try:
            body = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=False)
        except (binascii.Error, ValueError) as exc:
            raise FetchRefusedError(f"malformed base64 in data: URL {_shorten(url)!r}") from exc
    else:
        body = raw
    content_type = media_type if charset is None else f"{media_type}; charset={charset}"
    return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})
