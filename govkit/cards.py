"""The card job: render a registered model version's card and log its digest (``govkit card``).

Part of the Python API of :mod:`govkit.workflows`, which re-exports it; kept apart so that
rendering a card imports neither pandas nor the policy engine, and the PDF child process,
started first, gets its document sooner.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from govkit._registration import _as_model_ref, current_actor
from govkit.exceptions import InputError
from govkit.records import ModelRef
from govkit.store import Store

__all__ = ["card", "MAX_RENDER_TIMEOUT"]

#: A day: longer waits overflow the platform's timer (1e10 s was an OverflowError traceback)
MAX_RENDER_TIMEOUT = 86_400


def card(
    model: ModelRef | str,
    *,
    store: Store,
    format: Literal["html", "pdf", "md", "json"] = "html",
    page_size: Literal["A4", "Letter"] = "A4",
    pdf_variant: Literal["pdf/a-3b"] | None = None,
    tagged: bool = False,
    timeout: float | None = 60.0,
    actor: str | None = None,
) -> bytes:
    """Render the model card of a version (latest policy run included) and log its digest.

    The card's ``generated_at`` is logged with its digest: re-rendering with it gives the
    same bytes, so an auditor can tie a filed copy to the log. ``tagged=True`` writes a
    tagged PDF for screen readers (see :func:`govkit.report.render_card_pdf`).
    """
    from datetime import UTC, datetime

    from govkit.report import card_json, card_markdown, render_card_html, render_card_pdf

    if timeout is not None and not 0 < timeout <= MAX_RENDER_TIMEOUT:  # NaN fails too
        raise InputError(
            f"--timeout: expected a number of seconds above 0 and at most "
            f"{MAX_RENDER_TIMEOUT:,} (a day), found {timeout:g}"
        )
    if pdf_variant is not None and format != "pdf":
        raise InputError(f"--pdfa applies to --format pdf only; got --format {format}")
    if tagged and format != "pdf":
        raise InputError(f"--tagged applies to --format pdf only; got --format {format}")
    record = store.get_model_version(_as_model_ref(model))
    lineage = store.lineage(record.training_data) if record.training_data else []
    evaluation = store.get_dataset(record.evaluation_data) if record.evaluation_data else None
    latest = store.latest_run(record.ref)
    generated_at = datetime.now(UTC)
    kw: dict[str, Any] = dict(
        training_lineage=lineage,
        evaluation_data=evaluation,
        run=latest.result if latest else None,
        anchor=latest.anchor if latest else None,
        generated_at=generated_at,
    )
    if format == "pdf":
        content = render_card_pdf(
            record,
            **kw,
            page_size=page_size,
            pdf_variant=pdf_variant,
            tagged=tagged,
            timeout=timeout,
        )
    elif format == "html":
        content = render_card_html(record, **kw, page_size=page_size).encode("utf-8")
    elif format == "md":
        content = card_markdown(record, **kw).encode("utf-8")
    else:
        content = card_json(record, **kw).encode("utf-8")
    store.record_event(
        "card.rendered",
        {
            "model": str(record.ref),
            "format": format,
            "pdf_variant": pdf_variant,
            "tagged": tagged if format == "pdf" else None,
            "generated_at": generated_at.isoformat(),
            "sha256": hashlib.sha256(content).hexdigest(),
            "policy_run_sequence": latest.anchor.sequence if latest else None,
        },
        actor=actor or current_actor(),
        subject=f"model:{record.ref}",  # as every other event about a model version
    )
    return content
