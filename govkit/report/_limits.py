"""Input limits of a model card: refuse absurd inputs early, with the field that broke the limit.

A card is a summary an auditor reads. A 10 MB description, 100,000 groups or a
lineage of thousands of datasets is a mistake or an attack, and laying it out
would take minutes and gigabytes; so the card refuses it before any rendering,
naming where the oversized value sits. The limits are defined in :mod:`govkit._size_limits`,
which registration checks a model's metadata against too.
"""

from __future__ import annotations

from collections.abc import Sequence

from govkit._size_limits import MAX_ITEMS, MAX_TEXT_CHARS, MAX_TOTAL_CHARS, first_oversize, fmt_loc
from govkit.exceptions import RenderError
from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.report._context import CardContext
from govkit.report._weasy import MAX_HTML_BYTES
from govkit.results import AuditAnchor, EvaluationResult

__all__ = ["MAX_TEXT_CHARS", "MAX_ITEMS", "MAX_TOTAL_CHARS", "MAX_HTML_BYTES", "check_card_inputs"]


def check_card_inputs(
    model: ModelVersionRecord,
    training_lineage: Sequence[DatasetRecord],
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
    context: CardContext | None = None,
) -> None:
    """Raise :class:`RenderError` naming the first value over a limit.

    Raises:
        RenderError: a text over :data:`MAX_TEXT_CHARS`, a list over :data:`MAX_ITEMS`,
            more than :data:`MAX_ITEMS` lineage records, or over :data:`MAX_TOTAL_CHARS`
            of text in all.
    """
    if len(training_lineage) > MAX_ITEMS:
        raise RenderError(
            f"card input too large: {len(training_lineage):,} lineage records; a card takes at "
            f"most {MAX_ITEMS:,}"
        )
    roots: list[tuple[str, object]] = [
        ("model", model),
        ("evaluation_data", evaluation_data),
        ("run", run),
        ("anchor", anchor),
    ]
    roots += [(f"training_lineage[{i}]", r) for i, r in enumerate(training_lineage)]
    if context is not None:
        if len(context.evaluation_lineage) > MAX_ITEMS or len(context.approvals) > MAX_ITEMS:
            raise RenderError(
                f"card input too large: over {MAX_ITEMS:,} evaluation lineage records or "
                "approvals; a card takes at most that many"
            )
        roots += [("context.run_data", context.run_data)]
        roots += [
            (f"context.evaluation_lineage[{i}]", r)
            for i, r in enumerate(context.evaluation_lineage)
        ]
        roots += [
            (f"context.approvals[{i}]", [a.approver, a.note])
            for i, a in enumerate(context.approvals)
        ]
    total = 0
    for root, obj in roots:
        over, chars = first_oversize(obj, (root,))
        total += chars
        if over is not None and over.kind == "text":
            raise RenderError(
                f"card input too large: {fmt_loc(over.loc)} is {over.size:,} characters; a card "
                f"field holds at most {MAX_TEXT_CHARS:,}. Keep long documents next to "
                "the model and give their link instead"
            )
        if over is not None:
            raise RenderError(
                f"card input too large: {fmt_loc(over.loc)} has {over.size:,} entries; a card "
                f"takes at most {MAX_ITEMS:,}"
            )
    if total > MAX_TOTAL_CHARS:
        raise RenderError(
            f"card input too large: {total:,} characters of text in all; a card takes at most "
            f"{MAX_TOTAL_CHARS:,}"
        )
