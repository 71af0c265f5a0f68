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

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from govkit.exceptions import RenderError
from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.report._child import ChildRender
from govkit.report._context import CardContext
from govkit.report._html import render_card_html, staged_card_html
from govkit.report._limits import check_card_inputs
from govkit.report._viewmodel import PageSize
from govkit.report._weasy import (
    PdfVariant,
    _check_html,
    _check_variant,
    render_pdf_in_process,
)
from govkit.results import AuditAnchor, EvaluationResult

__all__ = ["html_to_pdf", "render_card_pdf", "PdfVariant", "DEFAULT_TIMEOUT"]

logger = logging.getLogger(__name__)

#: Seconds a PDF may take to render before the child process is killed.
DEFAULT_TIMEOUT = 60.0


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
    :func:`~govkit.report._weasy.write_pdf`). ``timeout=None`` renders in this
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
    context: CardContext | None = None,
) -> bytes:
    """The model card of ``model`` as a PDF (see :func:`render_card_html` and :func:`html_to_pdf`).

    A4 or Letter pages with a running header (name@version), "Page n of N", a
    table of contents with page numbers, embedded fonts and document metadata
    (title, author, subject, keywords, and creation date = ``generated_at``, so
    equal inputs with a pinned ``generated_at`` give byte-identical PDFs).
    ``pdf_variant="pdf/a-3b"`` for an archival PDF/A-3b file; ``tagged=True`` for a
    tagged PDF that screen readers can navigate (the figures read as their text
    alternatives; see :func:`~govkit.report._weasy.write_pdf`), at about a quarter more
    writing time.

    The child process lays the card out while the figures are drawn here (see
    the module docstring); ``timeout`` counts from when the figures are drawn,
    and the child's CPU time is limited to ``timeout`` + 5 s from when it got
    the draft.
    """
    _check_variant(pdf_variant)
    check_card_inputs(model, tuple(training_lineage), evaluation_data, run, anchor, context)
    common: dict[str, Any] = dict(
        context=context,
        training_lineage=training_lineage,
        evaluation_data=evaluation_data,
        run=run,
        anchor=anchor,
        generated_at=generated_at,
        page_size=page_size,
    )
    if timeout is None:
        html = render_card_html(model, **common, for_print=True)
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
