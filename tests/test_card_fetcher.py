"""The PDF renderer fetches nothing: no local files, no network, no attachments."""

from __future__ import annotations

import base64
import logging
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from urllib.request import Request

import pytest

from govkit.exceptions import RenderError
from govkit.report import html_to_pdf, render_card_pdf

weasyprint = pytest.importorskip("weasyprint")

from govkit.report._fetcher import DataOnlyURLFetcher, FetchRefusedError  # noqa: E402

# 1x1 transparent PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


class _Listener:
    """An HTTP server on loopback that records every request it receives."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                listener.requests.append(self.path)
                body = b"p { color: red }"
                self.send_response(200)
                self.send_header("Content-Type", "text/css")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> _Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[_Listener]:
    with _Listener() as server:
        yield server


@pytest.fixture
def canary(tmp_path: Path) -> tuple[Path, str]:
    token = "canary-" + secrets.token_hex(16)
    path = tmp_path / "canary.txt"
    path.write_text(token + "\n", encoding="utf-8")
    return path, token


def _hostile_html(listener: _Listener, canary: Path) -> str:
    file_url = canary.as_uri()
    http = listener.url
    return f"""<!DOCTYPE html>
<html><head>
<base href="{canary.parent.as_uri()}/">
<link rel="attachment" href="{file_url}" title="canary">
<link rel="attachment" href="canary.txt">
<link rel="stylesheet" href="{http}/link.css">
<style>@import url({http}/import.css);</style>
<style>@import "{file_url}";</style>
<style>
@font-face {{ font-family: Evil; src: url({http}/font.woff); }}
body {{ background-image: url({http}/bg.png); }}
p {{ list-style-image: url({file_url}); }}
</style>
</head><body>
<h1>hostile</h1>
<img src="file:///etc/hostname">
<img src="{file_url}">
<img src="{http}/img.png">
<img src="https://127.0.0.1:{listener.port}/tls.png">
<img src="ftp://127.0.0.1:{listener.port}/ftp.png">
<img src="canary.txt">
<object data="{http}/object.svg" type="image/svg+xml"></object>
<embed src="{file_url}" type="text/plain">
<a rel="attachment" href="{file_url}">attached link</a>
<a rel="attachment" href="{http}/attached.bin">remote attachment</a>
<svg width="10" height="10"><image href="{http}/svg.png" width="10" height="10"/></svg>
<p style="font-family: Evil">text</p>
</body></html>"""


def _all_pdf_bytes(pdf: bytes) -> bytes:
    """The raw file plus every decoded stream, so compression cannot hide a leak."""
    from pypdf import PdfReader
    from pypdf.generic import StreamObject

    reader = PdfReader(BytesIO(pdf))
    chunks = [pdf]
    for num in range(1, int(reader.trailer["/Size"])):
        obj = reader.get_object(num)
        if isinstance(obj, StreamObject):
            chunks.append(obj.get_data())
    assert len(chunks) > 3  # the page content streams, at least
    return b"\n".join(chunks)


def _attachment_names(pdf: bytes) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(pdf))
    names = list(reader.attachments)
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            if annot.get_object().get("/Subtype") == "/FileAttachment":
                names.append("annotation")
    return names


# ------------------------------------------------------------------ the fetcher


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/hostname",
        "FILE:///etc/hostname",
        " file:///etc/hostname",
        "http://127.0.0.1:9/x",
        "https://127.0.0.1:9/x",
        "ftp://127.0.0.1:9/x",
        "HtTp://127.0.0.1:9/x",
        "jar:file:///x.jar!/a",
        "gopher://127.0.0.1:9/x",
        "/etc/hostname",
        "relative.css",
        "",
    ],
)
def test_fetcher_refuses_every_scheme_but_data(url: str) -> None:
    with pytest.raises(FetchRefusedError, match="refused to fetch") as info:
        DataOnlyURLFetcher().fetch(url)
    assert isinstance(info.value, RenderError)
    assert "data: URL" in str(info.value)


def test_fetcher_refuses_before_any_io(listener: _Listener, canary: tuple[Path, str]) -> None:
    fetcher = DataOnlyURLFetcher()
    for url in (f"{listener.url}/direct", canary[0].as_uri()):
        with pytest.raises(FetchRefusedError):
            fetcher.fetch(url)
        with pytest.raises(FetchRefusedError):
            fetcher(url)
        with pytest.raises(FetchRefusedError):
            fetcher.open(Request(url))
    assert listener.requests == []
    # the inherited urllib opener has no handler left to open anything with
    assert fetcher.handlers == [] and fetcher.handle_open == {}


def test_fetcher_serves_data_urls() -> None:
    fetcher = DataOnlyURLFetcher()
    text = fetcher.fetch("data:text/plain;charset=utf-8,h%C3%A9llo")
    assert text.read() == "héllo".encode() and text.content_type == "text/plain"
    assert text.charset == "utf-8"
    png = fetcher.fetch("data:image/png;base64," + base64.b64encode(PNG).decode())
    assert png.read() == PNG and png.content_type == "image/png"
    bare = fetcher.fetch("DATA:,plain")
    assert bare.read() == b"plain" and bare.content_type == "text/plain"
    with pytest.raises(FetchRefusedError, match="malformed data: URL"):
        fetcher.fetch("data:text/plain;base64")


def test_fetcher_is_a_weasyprint_url_fetcher() -> None:
    from weasyprint.urls import URLFetcher

    fetcher = DataOnlyURLFetcher()
    assert isinstance(fetcher, URLFetcher)
    assert fetcher._fail_on_errors is False  # refused resources are skipped, not fatal


# --------------------------------------------------------- rendering hostile HTML


def test_hostile_html_fetches_nothing_and_embeds_nothing(
    listener: _Listener, canary: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    path, token = canary
    with caplog.at_level(logging.ERROR, logger="weasyprint"):
        pdf = html_to_pdf(_hostile_html(listener, path))
    assert pdf.startswith(b"%PDF-")
    assert listener.requests == []
    assert token.encode() not in _all_pdf_bytes(pdf)
    assert _attachment_names(pdf) == []
    assert b"/EmbeddedFile" not in _all_pdf_bytes(pdf)
    assert "refused to fetch" in caplog.text  # WeasyPrint logged the refusals
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages)
    assert "hostile" in text and token not in text


def test_data_url_images_still_render() -> None:
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    pdf = html_to_pdf(f'<p>logo</p><img src="{uri}" width="20" height="20">')
    assert b"/Subtype /Image" in _all_pdf_bytes(pdf)


def test_escaped_card_text_fetches_nothing(listener: _Listener, canary: tuple[Path, str]) -> None:
    from test_card import make_inputs

    path, token = canary
    payload = (
        f'<img src="{path.as_uri()}"> <link rel="attachment" href="{path.as_uri()}">'
        f"<style>@import url({listener.url}/x)</style> {listener.url}/plain"
    )
    hostile = make_inputs(payload)
    pdf = render_card_pdf(hostile.model, **hostile.kwargs())
    assert listener.requests == []
    assert token.encode() not in _all_pdf_bytes(pdf)
    assert _attachment_names(pdf) == []


def test_checks_would_catch_a_leaky_renderer(listener: _Listener, canary: tuple[Path, str]) -> None:
    """Control: WeasyPrint's default fetcher does leak here, so the assertions above bite."""
    path, token = canary
    html = (
        f'<link rel="attachment" href="{path.as_uri()}">'
        f"<style>@import url({listener.url}/import.css);</style><p>x</p>"
    )
    pdf = weasyprint.HTML(string=html).write_pdf()
    assert listener.requests == ["/import.css"]
    assert token.encode() in _all_pdf_bytes(pdf)
    assert _attachment_names(pdf) != []
