"""Decision letters: what a model decided about one person, and why, as HTML or PDF.

A letter gives the person the decision and its date, the principal reasons, the
kinds of data used, the logic in plain words (the kind of model, what the score
means), the significance and consequences, how to contest the decision and ask
for a human review, who is responsible, and the references that find the
decision again (decision id, model name@version, audit sequence number) -- the
"meaningful information about the logic involved" of GDPR Art. 15(1)(h) and
the principal reasons of an adverse-action notice (ECOA / Regulation B).

Every word of it comes from the message catalog ``templates/locales/<locale>/
letter.yaml`` (:func:`govkit._i18n.messages`, in the decision's locale, English
filling any missing id), and every value from the decision and the model's
metadata; metadata that is missing gets a generic sentence, never an empty
heading. HTML and PDF are one template, ``templates/letter.html.j2``.

Why the PDF is laid out in this process, not in a child. Model cards are laid
out in a child process with a time limit (:mod:`govkit.report._pdf`) because a
card takes arbitrary amounts of text. A letter is rendered per HTTP request,
and a child per letter (a Python start and a WeasyPrint import) costs about a
second. ``benchmarks/bench_letter.py`` measured, p50 on 2 busy shared CPUs with
the contenders interleaved: bare WeasyPrint ``render()`` 0.13 s;
``render_letter_pdf`` 0.19 s, 1.3-1.45x (bare ``render()`` + ``write_pdf()``
alone is 1.33-1.4x: writing the PDF and subsetting its fonts is most of the
difference); the same HTML through the child 1.2 s, 9-10x. A warm worker pool
would save the start but add IPC, a pool to supervise and memory per worker,
for inputs that need no sandbox, because a letter's inputs are bounded before
anything is laid out. Every value a letter prints goes through
:class:`~govkit.report._letter_view._Writer`, which refuses (with a
:class:`RenderError` naming the field, never its value) a short field over
:data:`MAX_SHORT_CHARS`, a paragraph over :data:`MAX_PROSE_CHARS`, more than
:data:`MAX_REASONS` reasons or counterfactual changes, more than
:data:`MAX_FEATURES` input features and more than :data:`MAX_LETTER_CHARS` of
printed text in all. The values are plain text, escaped on output and laid out
with govkit's own style sheet (fixed-layout tables, long words broken), so the
layout time grows with the text and stays bounded: a letter with every input
at its limit (12 pages) takes 0.9 s. The PDF goes through the same hardened
path as the cards (:func:`~govkit.report._weasy.render_pdf_in_process`: a
data:-only URL fetcher, no base URL, attachments dropped), so markup that
slipped through escaping could still fetch nothing. Layout is serialised by a
lock: WeasyPrint does not promise thread safety, a web server renders from a
thread pool, and WeasyPrint holds the GIL for most of a layout anyway.
"""

from __future__ import annotations

import functools
import threading

import jinja2

from govkit import _i18n
from govkit.decisions import Decision
from govkit.exceptions import RenderError
from govkit.records import ModelVersionRecord
from govkit.report._html import strict_environment
from govkit.report._letter_view import (
    MAX_FEATURES,
    MAX_LETTER_CHARS,
    MAX_PROSE_CHARS,
    MAX_REASONS,
    MAX_SHORT_CHARS,
    LetterView,
    letter_view,
)

__all__ = [
    "render_letter_html",
    "render_letter_pdf",
    "letter_view",
    "LetterView",
    "LETTER_TEMPLATE",
    "MAX_SHORT_CHARS",
    "MAX_PROSE_CHARS",
    "MAX_REASONS",
    "MAX_FEATURES",
    "MAX_LETTER_CHARS",
]

LETTER_TEMPLATE = "letter.html.j2"

# WeasyPrint does not promise thread safety; a web server renders letters from a thread pool.
_LAYOUT_LOCK = threading.Lock()


# ------------------------------------------------------------------ rendering


@functools.cache
def _environment() -> jinja2.Environment:
    return strict_environment("letter")


def render_letter_html(decision: Decision, model: ModelVersionRecord) -> str:
    """The letter about ``decision`` (made with ``model``) as a standalone HTML document.

    In the decision's locale (``decision.explanation.locale``); every value is
    escaped; the page embeds no external resource. Equal inputs give
    byte-identical output (the date printed is the decision's).

    Raises:
        InputError: ``model`` is not the model version that made the decision.
        RenderError: a value is over a size limit, or the template is missing or failed.
    """
    view = letter_view(decision, model)
    t = _i18n.messages(view.lang, "letter")
    try:
        return _environment().get_template(LETTER_TEMPLATE).render(letter=view, t=t)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(
            f"letter template {exc.name!r} is not installed with govkit; reinstall govkit "
            "(the wheel ships it under govkit/_data/templates)"
        ) from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"could not render the decision letter: {exc}") from exc


def render_letter_pdf(
    decision: Decision, model: ModelVersionRecord, *, tagged: bool = True
) -> bytes:
    """The letter about ``decision`` as an A4 PDF (see :func:`render_letter_html`).

    Embedded font subsets, "Page n of N" with the reference on every page, and
    document metadata: title, subject (reference and outcome), author (the
    controller, else the model's owner) and creation date = the decision's time,
    so equal inputs give byte-identical PDFs. Laid out in this process; see the
    module docstring for why that is safe.

    Tagged by default: the person the letter is about may read it with a screen
    reader, which then gets the headings, the list of reasons, the tables with
    their header cells and the letter's language (about 5% more time; see
    :func:`govkit.report._weasy.write_pdf`).

    Raises:
        InputError: ``model`` is not the model version that made the decision.
        RenderError: a value is over a size limit, or layout failed.
        MissingDependencyError: WeasyPrint or its system libraries are missing.
    """
    from govkit.report._weasy import render_pdf_in_process

    html = render_letter_html(decision, model)
    with _LAYOUT_LOCK:
        return render_pdf_in_process(html, tagged=tagged)
