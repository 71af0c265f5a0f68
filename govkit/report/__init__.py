"""Model cards: HTML (Jinja2), PDF (WeasyPrint), Markdown and JSON renderings of a model version.

A card reads the registry records of a model and its data, and the result of a
policy run; it never computes anything itself and carries aggregates only (the
plots are drawn from the aggregates the run kept, see :mod:`govkit.curves`).

* :func:`render_card_html` -- standalone HTML with plots (SVG data: URLs);
* :func:`render_card_pdf` / :func:`html_to_pdf` -- A4 or Letter PDF, optionally
  PDF/A-3b, rendered in a child process with a time limit;
* :func:`card_markdown` -- Markdown with Hugging Face model card metadata;
* :func:`card_json` -- JSON with the fields of the Model Card Toolkit schema;
* :func:`render_letter_html` / :func:`render_letter_pdf` -- the letter explaining one
  decision to the person it is about (GDPR Art. 15(1)(h), ECOA principal reasons).

>>> html = render_card_html(model, training_lineage=[train, raw], evaluation_data=test,
...                         run=result, anchor=anchor)            # doctest: +SKIP
>>> pdf = render_card_pdf(model, training_lineage=[train, raw], evaluation_data=test,
...                       run=result, anchor=anchor)              # doctest: +SKIP

Importing this package is cheap: each name loads its module on first use, and
WeasyPrint on the first PDF.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govkit._lazy import lazy_exports

# each name loads its module on first use: the PDF worker imports this package too, and
# needs none of the card's modules (templates, records, plots)
_EXPORTS = {
    "render_card_html": "govkit.report._html",
    "render_card_pdf": "govkit.report._pdf",
    "html_to_pdf": "govkit.report._pdf",
    "card_markdown": "govkit.report._markdown",
    "card_json": "govkit.report._exports",
    "hf_metadata": "govkit.report._exports",
    "PageSize": "govkit.report._viewmodel",
    "PdfVariant": "govkit.report._weasy",
    "DEFAULT_TIMEOUT": "govkit.report._pdf",
    "render_letter_html": "govkit.report._letter",
    "render_letter_pdf": "govkit.report._letter",
}
__all__ = [
    "render_card_html",
    "render_card_pdf",
    "html_to_pdf",
    "card_markdown",
    "card_json",
    "hf_metadata",
    "PageSize",
    "PdfVariant",
    "DEFAULT_TIMEOUT",
    "render_letter_html",
    "render_letter_pdf",
]

if TYPE_CHECKING:  # pragma: no cover
    from govkit.report._exports import card_json, hf_metadata
    from govkit.report._html import render_card_html
    from govkit.report._letter import render_letter_html, render_letter_pdf
    from govkit.report._markdown import card_markdown
    from govkit.report._pdf import DEFAULT_TIMEOUT, html_to_pdf, render_card_pdf
    from govkit.report._viewmodel import PageSize
    from govkit.report._weasy import PdfVariant


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
