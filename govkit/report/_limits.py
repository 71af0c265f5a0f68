"""Input limits of a model card: refuse absurd inputs early, with the field that broke the limit.

A card is a summary an auditor reads. A 10 MB description, 100,000 groups or a
lineage of thousands of datasets is a mistake or an attack, and laying it out
would take minutes and gigabytes; so the card refuses it before any rendering,
naming where the oversized value sits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pydantic import BaseModel

from govkit.exceptions import RenderError
from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.report._weasy import MAX_HTML_BYTES
from govkit.results import AuditAnchor, EvaluationResult

__all__ = ["MAX_TEXT_CHARS", "MAX_ITEMS", "MAX_TOTAL_CHARS", "MAX_HTML_BYTES", "check_card_inputs"]

#: The longest free-text value a card takes (a description, a rule message, a group label).
MAX_TEXT_CHARS = 100_000
#: The most entries of one list a card takes (groups of a rule, columns, rules, datasets).
MAX_ITEMS = 5_000
#: All text of all inputs together.
MAX_TOTAL_CHARS = 2_000_000


def _walk(value: object, path: str) -> Iterator[tuple[str, object]]:
    yield path, value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(key, f"{path}[key {str(key)[:40]!r}]")
            yield from _walk(item, f"{path}[{str(key)[:40]!r}]")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def check_card_inputs(
    model: ModelVersionRecord,
    training_lineage: Sequence[DatasetRecord],
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
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
    total = 0
    for root, obj in roots:
        for path, value in _walk(obj, root):
            if isinstance(value, str):
                total += len(value)
                if len(value) > MAX_TEXT_CHARS:
                    raise RenderError(
                        f"card input too large: {path} is {len(value):,} characters; a card "
                        f"field holds at most {MAX_TEXT_CHARS:,}. Keep long documents next to "
                        "the model and give their link instead"
                    )
            elif isinstance(value, list | tuple | dict) and len(value) > MAX_ITEMS:
                raise RenderError(
                    f"card input too large: {path} has {len(value):,} entries; a card takes "
                    f"at most {MAX_ITEMS:,}"
                )
    if total > MAX_TOTAL_CHARS:
        raise RenderError(
            f"card input too large: {total:,} characters of text in all; a card takes at most "
            f"{MAX_TOTAL_CHARS:,}"
        )
