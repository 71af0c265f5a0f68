"""HTML model cards: a strict, autoescaping Jinja2 environment over the shipped templates.

The only markup a card inserts unescaped is the SVG of its figures, which govkit
draws and checks itself (:mod:`govkit.report._figures`); every value that comes
from a record or a policy run is escaped on output.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import jinja2
import markupsafe

from govkit import __version__, _resources
from govkit._text import document_text, printable_text
from govkit.exceptions import RenderError
from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.report._context import CardContext
from govkit.report._figures import FigurePlan, FigureRenderer
from govkit.report._limits import check_card_inputs
from govkit.report._view import build_card_view
from govkit.report._viewmodel import NOT_PROVIDED, CardView, PageSize
from govkit.results import AuditAnchor, EvaluationResult

__all__ = [
    "render_card_html",
    "staged_card_html",
    "card_view",
    "render_view",
    "environment",
    "CARD_TEMPLATE",
]

_PAGE_SIZES = ("A4", "Letter")

CARD_TEMPLATE = "card.html.j2"

# Shipped template names only: no folders, no dot files, so a name can never walk
# out of the templates folder.
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _load_template(name: str) -> tuple[str, str, Callable[[], bool]] | None:
    """Read a shipped template through :mod:`govkit._resources` (checkout or wheel)."""
    if not _TEMPLATE_NAME.match(name):
        return None
    try:
        source = _resources.read_text("templates", name)
    except (FileNotFoundError, NotADirectoryError):
        return None  # jinja2 raises TemplateNotFound naming the template
    return source, f"govkit/templates/{name}", lambda: True


def strict_environment(what: str, text: Callable[[str], str] = document_text) -> jinja2.Environment:
    """A template environment for shipped templates: autoescaped, strict about undefined
    names, and refusing to print a missing value (``what`` names the document in the error).
    Every string printed goes through ``text`` first: by default control characters show
    as U+FFFD and bidi controls as ``[U+202E]`` (:func:`govkit._text.document_text`).
    """

    def finalize(value: object) -> object:
        # The view-models resolve every missing value before the template sees it; a
        # None reaching the output is a bug, not the text "None".
        if value is None:
            raise RenderError(f"internal error: the {what} template printed a missing value")
        if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
            return text(value)
        return value

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


@functools.cache
def environment(for_print: bool = False) -> jinja2.Environment:
    """The card environment, built on first use; ``for_print`` (the PDF's) also writes
    emoji, which the PDF's fonts lack, as their code points."""
    env = strict_environment("card", printable_text if for_print else document_text)
    env.globals["NOT_PROVIDED"] = NOT_PROVIDED
    return env


def card_view(
    model: ModelVersionRecord,
    *,
    training_lineage: Sequence[DatasetRecord],
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
    generated_at: datetime | None = None,
    figures: bool = False,
    page_size: PageSize = "A4",
    figure_renderer: FigureRenderer | None = None,
    context: CardContext | None = None,
) -> CardView:
    """The view-model a card is rendered from (also used by the Markdown and JSON cards).

    Raises:
        RenderError: an input is over a size limit (see :mod:`govkit.report._limits`).
    """
    if page_size not in _PAGE_SIZES:
        raise RenderError(
            f"page_size must be one of {', '.join(map(repr, _PAGE_SIZES))}; got {page_size!r}"
        )
    lineage = tuple(training_lineage)
    check_card_inputs(model, lineage, evaluation_data, run, anchor, context)
    return build_card_view(
        model,
        training_lineage=lineage,
        evaluation_data=evaluation_data,
        run=run,
        anchor=anchor,
        generated_at=generated_at if generated_at is not None else datetime.now(UTC),
        govkit_version=__version__,
        figures=figures,
        page_size=page_size,
        figure_renderer=figure_renderer,
        context=context,
    )


def render_card_html(
    model: ModelVersionRecord,
    *,
    training_lineage: Sequence[DatasetRecord],
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
    generated_at: datetime | None = None,
    page_size: PageSize = "A4",
    figures: bool = True,
    context: CardContext | None = None,
    for_print: bool = False,
) -> str:
    """The model card of ``model`` as a standalone HTML document.

    Sections follow Mitchell et al. (2019), "Model Cards for Model Reporting",
    plus the policy evaluation, data lineage and audit anchor, with a table of
    contents and plots (inline SVG) of the evidence the policy run kept. Every
    free-text value is escaped; the page embeds no external resource. Equal
    inputs and an equal ``generated_at`` give byte-identical output;
    ``generated_at`` defaults to now (UTC). ``page_size`` sets the printed page
    ("A4" or "Letter"); ``figures=False`` leaves the plots out. ``context`` (filled by
    :func:`govkit.cards.card` from the store) adds why this run is shown, the data it
    evaluated, the lifecycle stage, bound policy and approvals, and the evaluation data's
    lineage (see :class:`~govkit.report._context.CardContext`). ``for_print`` is the
    HTML the PDF is laid out from (emoji as code points).

    Raises:
        RenderError: an input is over a size limit, or the template is missing or failed.
        MissingDependencyError: ``figures`` is on and matplotlib is not installed.
    """
    view = card_view(
        model,
        training_lineage=training_lineage,
        evaluation_data=evaluation_data,
        run=run,
        anchor=anchor,
        generated_at=generated_at,
        figures=figures,
        page_size=page_size,
        context=context,
    )
    return render_view(view, for_print=for_print)


def staged_card_html(
    model: ModelVersionRecord,
    *,
    training_lineage: Sequence[DatasetRecord],
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
    generated_at: datetime | None = None,
    page_size: PageSize = "A4",
    context: CardContext | None = None,
    for_print: bool = True,
) -> tuple[str, Callable[[], str]]:
    """The card's HTML in two steps, for a PDF laid out while its figures are drawn.

    Returns the HTML with an empty placeholder of the final size in place of
    every figure, and a function that draws the figures and returns the HTML
    :func:`render_card_html` gives for the same inputs. The two differ only in
    the figures' ``src`` (unless a figure could not be drawn), so a layout of the
    first, with the drawings put in, is a layout of the second. ``for_print`` (on: this
    is the PDF's path) is as for :func:`render_card_html`.
    """
    plan = FigurePlan()
    view = functools.partial(
        card_view,
        model,
        training_lineage=tuple(training_lineage),
        evaluation_data=evaluation_data,
        run=run,
        anchor=anchor,
        generated_at=generated_at if generated_at is not None else datetime.now(UTC),
        figures=True,
        page_size=page_size,
        context=context,
    )
    layout = render_view(view(figure_renderer=plan.plan), for_print=for_print)

    def final() -> str:
        plan.draw_all()
        return render_view(view(figure_renderer=plan.replay), for_print=for_print)

    return layout, final


def render_view(view: CardView, *, for_print: bool = False) -> str:
    try:
        template = environment(for_print).get_template(CARD_TEMPLATE)
        return template.render(card=view)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(
            f"model card template {exc.name!r} is not installed with govkit; "
            "reinstall govkit (the wheel ships it under govkit/_data/templates)"
        ) from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"could not render the model card: {exc}") from exc
