"""WeasyPrint itself: import and check it, lay out a document, write its PDF.

The layer the PDF worker (:mod:`govkit.report._worker`) runs on, kept free of the
card's modules (templates, records, plots) so that a worker starts by importing
WeasyPrint and little else. :mod:`govkit.report._pdf` builds the cards and runs this
in a child process with a time limit; :func:`render_pdf_in_process` runs it here.
Only ``data:`` URLs are ever fetched (:mod:`govkit.report._fetcher`).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, Literal

from govkit.exceptions import MissingDependencyError, RenderError

__all__ = [
    "MAX_HTML_BYTES",
    "PdfVariant",
    "changes",
    "lay_out",
    "render_pdf_in_process",
    "weasyprint_as_it_comes",
    "write_pdf",
]

logger = logging.getLogger("govkit.report._pdf")  # the name its records always had

#: The largest HTML document the PDF renderer accepts.
MAX_HTML_BYTES = 16 * 1024 * 1024

#: PDF/A variants a card can be written as (archival: fonts embedded, sRGB output intent,
#: XMP metadata). "pdf/a-3b" is the one the issue asks for.
PdfVariant = Literal["pdf/a-2b", "pdf/a-3b"]
_VARIANTS = ("pdf/a-2b", "pdf/a-3b")

# The fetcher subclasses the URLFetcher class API of WeasyPrint 70 (which also
# fixed GHSA-jf6q-chmf-3h3v); older versions are refused rather than trusted.
_MIN_WEASYPRINT = (70, 0)


def _weasyprint() -> ModuleType:
    try:
        weasyprint = importlib.import_module("weasyprint")
    except ImportError as exc:
        raise MissingDependencyError(
            "PDF model cards need the package 'weasyprint', which is not installed; "
            "install it with: pip install 'weasyprint>=70'"
        ) from exc
    except OSError as exc:  # Pango / HarfBuzz shared libraries missing
        raise MissingDependencyError(
            f"PDF model cards need WeasyPrint's system libraries (Pango): {exc}; "
            "see https://doc.courtbouillon.org/weasyprint/stable/first_steps.html"
        ) from exc
    version = tuple(int(p) for p in weasyprint.__version__.split(".")[:2] if p.isdigit())
    if version < _MIN_WEASYPRINT:
        raise MissingDependencyError(
            f"PDF model cards need weasyprint>={'.'.join(map(str, _MIN_WEASYPRINT))}; "
            f"found {weasyprint.__version__}. Upgrade it with: pip install -U 'weasyprint>=70'"
        )
    for change, _ in changes():
        change.install(weasyprint)
    return weasyprint


def changes() -> tuple[
    tuple[ModuleType, Callable[[], contextlib.AbstractContextManager[None]]], ...
]:
    """govkit's changes to WeasyPrint, each with its switch back to WeasyPrint's own code
    for a block. Each is installed (on the versions it was checked against) in the
    process that lays out PDFs, by :func:`_weasyprint`."""
    from govkit.report import _leaders, _svg_paths, _svg_text, _target_counters, _text_layouts

    return (
        (_svg_text, _svg_text.letter_by_letter),  # plot labels drawn as one run each
        (_svg_paths, _svg_paths.parsed_each_time),  # plot paths without per-number parsing
        (_text_layouts, _text_layouts.rebuilt_each_time),  # lines not laid out twice
        (_leaders, _leaders.copied_each_time),  # a leader's dots as one run, not a box each
        (_target_counters, _target_counters.made_three_times),  # contents made twice, not 3x
    )


@contextlib.contextmanager
def weasyprint_as_it_comes() -> Iterator[None]:
    """WeasyPrint's own code inside the block, none of govkit's changes to it: the
    baseline the benchmarks compare with."""
    with contextlib.ExitStack() as stack:
        for _, switch in changes():
            stack.enter_context(switch())
        yield


def _check_html(html: object) -> str:
    if not isinstance(html, str):
        raise TypeError(f"html_to_pdf expects the HTML document as str; got {type(html).__name__}")
    size = len(html.encode("utf-8", "surrogatepass"))
    if size > MAX_HTML_BYTES:
        raise RenderError(
            f"the HTML document is {size:,} bytes; the PDF renderer takes at most "
            f"{MAX_HTML_BYTES:,}"
        )
    return html


def _check_variant(pdf_variant: str | None) -> None:
    if pdf_variant is not None and pdf_variant not in _VARIANTS:
        raise RenderError(
            f"pdf_variant must be one of {', '.join(map(repr, _VARIANTS))} or None; "
            f"got {pdf_variant!r}"
        )


def render_pdf_in_process(
    html: str, *, pdf_variant: PdfVariant | None = None, tagged: bool = False
) -> bytes:
    """Render ``html`` to PDF bytes in this process (no time limit; see :func:`html_to_pdf`).

    Only ``data:`` URLs are resolved (see :mod:`govkit.report._fetcher`); there is
    no base URL, so relative references resolve to nothing; file attachments
    (``<link rel=attachment>``, ``<a rel=attachment>``) are dropped after layout
    even if their fetch were to succeed. A refused resource is logged by
    WeasyPrint and left out; the rest of the document renders. ``tagged`` writes a
    tagged PDF (see :func:`write_pdf`).
    """
    html = _check_html(html)
    _check_variant(pdf_variant)
    return write_pdf(lay_out(html), pdf_variant=pdf_variant, tagged=tagged)


def lay_out(html: str) -> Any:
    """WeasyPrint's laid-out ``Document`` of ``html``, fetching nothing but ``data:`` URLs."""
    weasyprint = _weasyprint()
    from govkit.report._fetcher import DataOnlyURLFetcher

    with _render_errors():
        return weasyprint.HTML(
            string=html, base_url=None, url_fetcher=DataOnlyURLFetcher()
        ).render()


def write_pdf(
    document: Any, *, pdf_variant: PdfVariant | None = None, tagged: bool = False
) -> bytes:
    """The PDF of a laid-out document, attachments dropped (see :func:`render_pdf_in_process`).

    ``tagged=True`` adds the structure tree screen readers and reflow use (WeasyPrint's
    ``pdf_tags``): headings, paragraphs, lists, tables with header cells, figures with
    their ``alt`` text and captions, links, the document language, and the title shown
    instead of the file name. It claims no PDF/UA conformance: no validator checks it here.
    """
    options: dict[str, object] = {}
    if pdf_variant is not None:
        options["pdf_variant"] = pdf_variant
    if tagged:
        options["pdf_tags"] = True
    with _render_errors():
        _drop_attachments(document)
        pdf = document.write_pdf(**options)
    if not isinstance(pdf, bytes) or not pdf.startswith(b"%PDF-"):
        raise RenderError("could not render the PDF: WeasyPrint returned no PDF document")
    return pdf


@contextlib.contextmanager
def _render_errors() -> Iterator[None]:
    try:
        yield
    except RenderError:
        raise
    except MemoryError as exc:
        raise RenderError("could not render the PDF: out of memory") from exc
    except Exception as exc:  # WeasyPrint raises many types; report them as one
        raise RenderError(f"could not render the PDF: {type(exc).__name__}: {exc}") from exc


def _drop_attachments(document: object) -> None:
    """Belt and braces: no embedded files, whatever the fetcher would have returned."""
    metadata = getattr(document, "metadata", None)
    if metadata is not None and getattr(metadata, "attachments", None):
        logger.warning(
            "dropped %d PDF attachment(s) declared by the document", len(metadata.attachments)
        )
        metadata.attachments = []
    for page in getattr(document, "pages", ()):
        links = getattr(page, "links", None)
        if links:
            kept = [link for link in links if link[0] != "attachment"]
            if len(kept) != len(links):
                logger.warning("dropped %d attachment link(s)", len(links) - len(kept))
                page.links[:] = kept
