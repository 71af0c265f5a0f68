"""PDF model cards: WeasyPrint in a child process, with a time limit and a data:-only fetcher.

Why a child process. Laying out a document can take unbounded time and memory
(a huge table, ``font-size: 1e9px``, a pathological SVG), and a native library
can crash on hostile input. So :func:`html_to_pdf` runs WeasyPrint in a fresh
``python -m govkit.report._worker`` process per document (see
:mod:`govkit.report._child`): the child has memory and CPU limits of its own and
is killed when ``timeout`` runs out; the caller gets a :class:`RenderError`
saying so, never a hung process. The child's log records (WeasyPrint's "refused
to fetch" among them) are replayed into this process's loggers.

Speed. :func:`render_card_pdf` starts the child before anything else, sends it
the card with empty placeholders of the figures' sizes to lay out, and draws the
figures meanwhile; the child then puts the drawings into its laid-out pages
(the PDF is byte for byte the one of the finished HTML). After a child has laid
out its document, a spare child is started to import WeasyPrint for the next one.

WeasyPrint is imported on first use (it is slow to import and needs Pango).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from types import ModuleType
from typing import Any, Literal

from govkit.exceptions import MissingDependencyError, RenderError
from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.report._child import ChildRender
from govkit.report._html import render_card_html, staged_card_html
from govkit.report._limits import MAX_HTML_BYTES, check_card_inputs
from govkit.report._viewmodel import PageSize
from govkit.results import AuditAnchor, EvaluationResult

__all__ = [
    "html_to_pdf",
    "render_card_pdf",
    "render_pdf_in_process",
    "lay_out",
    "write_pdf",
    "PdfVariant",
]

logger = logging.getLogger(__name__)

#: PDF/A variants a card can be written as (archival: fonts embedded, sRGB output intent,
#: XMP metadata). "pdf/a-3b" is the one the issue asks for.
PdfVariant = Literal["pdf/a-2b", "pdf/a-3b"]
_VARIANTS = ("pdf/a-2b", "pdf/a-3b")

#: Seconds a PDF may take to render before the child process is killed.
DEFAULT_TIMEOUT = 60.0

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
    from govkit.report import _svg_text, _text_layouts

    _svg_text.install(weasyprint)  # plot labels drawn as one run each (see _svg_text)
    _text_layouts.install(weasyprint)  # lines not laid out twice (see _text_layouts)
    return weasyprint


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


def html_to_pdf(
    html: str,
    *,
    pdf_variant: PdfVariant | None = None,
    tagged: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> bytes:
    """Render an HTML document to PDF bytes without fetching anything, within ``timeout`` s.

    The document is laid out by WeasyPrint in a child process (see the module
    docstring) with the data:-only fetcher of :func:`render_pdf_in_process`.
    ``pdf_variant="pdf/a-3b"`` writes PDF/A-3b; ``tagged=True`` a tagged PDF (see
    :func:`write_pdf`). ``timeout=None`` renders in this
    process instead, without a time limit (for trusted documents and benchmarks).

    Raises:
        RenderError: layout failed, ran out of time or memory, or the document is
            over :data:`~govkit.report._limits.MAX_HTML_BYTES`.
        MissingDependencyError: WeasyPrint (>= 70) or its system libraries are missing.
    """
    html = _check_html(html)
    _check_variant(pdf_variant)
    if timeout is None:
        return render_pdf_in_process(html, pdf_variant=pdf_variant, tagged=tagged)
    if not timeout > 0:
        raise RenderError(f"timeout must be a positive number of seconds or None; got {timeout!r}")
    child = ChildRender(pdf_variant=pdf_variant, tagged=tagged, timeout=timeout)
    try:
        return child.finish(html)
    except BaseException:
        child.kill()
        raise


def render_card_pdf(
    model: ModelVersionRecord,
    *,
    training_lineage: Sequence[DatasetRecord],
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
    generated_at: datetime | None = None,
    page_size: PageSize = "A4",
    pdf_variant: PdfVariant | None = None,
    tagged: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> bytes:
    """The model card of ``model`` as a PDF (see :func:`render_card_html` and :func:`html_to_pdf`).

    A4 or Letter pages with a running header (name@version), "Page n of N", a
    table of contents with page numbers, embedded fonts and document metadata
    (title, author, subject, keywords, and creation date = ``generated_at``, so
    equal inputs with a pinned ``generated_at`` give byte-identical PDFs).
    ``pdf_variant="pdf/a-3b"`` for an archival PDF/A-3b file; ``tagged=True`` for a
    tagged PDF that screen readers can navigate (the figures read as their text
    alternatives; see :func:`write_pdf`), at about a quarter more writing time.

    The child process lays the card out while the figures are drawn here (see
    the module docstring); ``timeout`` counts from when the figures are drawn,
    and the child's CPU time is limited to ``timeout`` + 5 s from when it got
    the draft.
    """
    _check_variant(pdf_variant)
    check_card_inputs(model, tuple(training_lineage), evaluation_data, run, anchor)
    common: dict[str, Any] = dict(
        training_lineage=training_lineage,
        evaluation_data=evaluation_data,
        run=run,
        anchor=anchor,
        generated_at=generated_at,
        page_size=page_size,
    )
    if timeout is None:
        html = render_card_html(model, **common)
        return render_pdf_in_process(html, pdf_variant=pdf_variant, tagged=tagged)
    if not timeout > 0:
        raise RenderError(f"timeout must be a positive number of seconds or None; got {timeout!r}")
    # started first: it imports WeasyPrint (or a spare has) while we draw
    child = ChildRender(pdf_variant=pdf_variant, tagged=tagged, timeout=timeout)
    try:
        draft, finished = staged_card_html(model, **common)
        child.lay_out(_check_html(draft))
        return child.finish(_check_html(finished()))
    except BaseException:
        child.kill()
        raise
