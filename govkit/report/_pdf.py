"""PDF model cards: WeasyPrint with a fetcher that loads nothing from outside the document.

WeasyPrint is imported on first use (it is slow to import and needs Pango).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from datetime import datetime
from types import ModuleType

from govkit.exceptions import MissingDependencyError, RenderError
from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.report._html import render_card_html
from govkit.results import AuditAnchor, EvaluationResult

__all__ = ["html_to_pdf", "render_card_pdf"]

logger = logging.getLogger(__name__)

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
    return weasyprint


def html_to_pdf(html: str) -> bytes:
    """Render an HTML document to PDF bytes without fetching anything.

    Only ``data:`` URLs are resolved (see :mod:`govkit.report._fetcher`); there is
    no base URL, so relative references resolve to nothing; file attachments
    (``<link rel=attachment>``, ``<a rel=attachment>``) are dropped after layout
    even if their fetch were to succeed. A refused resource is logged by
    WeasyPrint and left out; the rest of the document renders.

    Raises:
        RenderError: WeasyPrint failed to lay out or write the document.
        MissingDependencyError: WeasyPrint (>= 70) or its system libraries are missing.
    """
    if not isinstance(html, str):
        raise TypeError(f"html_to_pdf expects the HTML document as str; got {type(html).__name__}")
    weasyprint = _weasyprint()
    from govkit.report._fetcher import DataOnlyURLFetcher

    try:
        document = weasyprint.HTML(
            string=html, base_url=None, url_fetcher=DataOnlyURLFetcher()
        ).render()
        _drop_attachments(document)
        pdf = document.write_pdf()
    except RenderError:
        raise
    except Exception as exc:  # WeasyPrint raises many types; report them as one
        raise RenderError(f"could not render the PDF: {type(exc).__name__}: {exc}") from exc
    if not isinstance(pdf, bytes) or not pdf.startswith(b"%PDF-"):
        raise RenderError("could not render the PDF: WeasyPrint returned no PDF document")
    return pdf


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


def render_card_pdf(
    model: ModelVersionRecord,
    *,
    training_lineage: Sequence[DatasetRecord],
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
    generated_at: datetime | None = None,
) -> bytes:
    """The model card of ``model`` as an A4 PDF (see :func:`render_card_html`)."""
    html = render_card_html(
        model,
        training_lineage=training_lineage,
        evaluation_data=evaluation_data,
        run=run,
        anchor=anchor,
        generated_at=generated_at,
    )
    return html_to_pdf(html)
