"""Model cards: HTML (Jinja2), PDF (WeasyPrint) and Markdown renderings of a model version.

A card reads the registry records of a model and its data, and the result of a
policy run; it never computes anything itself and carries aggregates only.

>>> html = render_card_html(model, training_lineage=[train, raw], evaluation_data=test,
...                         run=result, anchor=anchor)            # doctest: +SKIP
>>> pdf = render_card_pdf(model, training_lineage=[train, raw], evaluation_data=test,
...                       run=result, anchor=anchor)              # doctest: +SKIP

Importing this package is cheap: WeasyPrint loads on the first PDF.
"""

from __future__ import annotations

from govkit.report._html import render_card_html
from govkit.report._markdown import card_markdown
from govkit.report._pdf import html_to_pdf, render_card_pdf

__all__ = ["render_card_html", "render_card_pdf", "html_to_pdf", "card_markdown"]
