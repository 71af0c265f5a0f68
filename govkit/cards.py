"""The card job: render a registered model version's card and log its digest (``govkit card``).

Part of the Python API of :mod:`govkit.workflows`, which re-exports it; kept apart so that
rendering a card imports neither pandas nor the policy engine, and the PDF child process,
started first, gets its document sooner.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from govkit._registration import _as_model_ref, current_actor
from govkit.exceptions import InputError, NotFoundError
from govkit.records import DatasetRecord, ModelRef, ModelVersionRecord
from govkit.store import Store, StoredRun

if TYPE_CHECKING:
    from govkit.report._context import CardContext

__all__ = ["card", "select_run", "parse_generated_at", "RunChoice", "MAX_RENDER_TIMEOUT"]

#: A day: longer waits overflow the platform's timer (1e10 s was an OverflowError traceback)
MAX_RENDER_TIMEOUT = 86_400


@dataclass(frozen=True)
class RunChoice:
    """The recorded run a card (or ``model show``) reports, and why that one."""

    run: StoredRun | None
    why: str  # "the latest run of the bound policy credit-scoring"


def select_run(
    store: Store,
    record: ModelVersionRecord,
    *,
    policy: str | None = None,
    run_id: int | None = None,
) -> RunChoice:
    """The run to report for ``record``: run ``run_id``, else the latest run of ``policy``,
    else the latest run of the policy the model is bound to, else (bound to none) the
    latest run of any policy.

    Raises:
        InputError: both ``policy`` and ``run_id``; no run ``run_id``, or it is of another
            model version; ``policy`` has no recorded run of this version.
    """
    ref = record.ref
    if policy is not None and run_id is not None:
        raise InputError("--policy and --run choose the run two ways; give one of them")
    bound = store.model_lifecycle(record.name)["binding"]
    bound_name = bound.policy_name if bound is not None else None
    stored: StoredRun | None
    if run_id is not None:
        try:
            stored, _info, _by = store.get_run(run_id)
        except NotFoundError:
            raise InputError(f"--run {run_id}: no policy run {run_id} is recorded") from None
        if stored.result.model != ref:
            raise InputError(
                f"--run {run_id}: that run is of {stored.result.model}, not {ref}; "
                "a card reports a run of its own model version"
            )
    elif policy is not None:
        stored = store.latest_run(ref, policy=policy)
        if stored is None:
            raise InputError(f"--policy {policy}: no run of policy {policy!r} on {ref} is recorded")
    else:
        stored = store.latest_run(ref, policy=bound_name)
    if stored is None:
        looked = f"the bound policy {bound_name}" if bound_name else "any policy"
        return RunChoice(None, f"no run of {looked} is recorded")
    # said the same way however the run was chosen, so that a card re-rendered with
    # --run and --generated-at is the same file
    name = stored.result.policy_name
    latest = store.latest_run(ref, policy=name)
    which = "the latest run" if latest and latest.run_id == stored.run_id else "an earlier run"
    if bound_name is None:
        return RunChoice(stored, f"{which} of policy {name} (the model is bound to no policy)")
    if name == bound_name:
        return RunChoice(stored, f"{which} of the bound policy {name}")
    return RunChoice(stored, f"{which} of policy {name}, not the bound policy {bound_name}")


def _context(
    store: Store, record: ModelVersionRecord, chosen: RunChoice, evaluation: DatasetRecord | None
) -> CardContext:
    """What the store knows around the version: lifecycle, binding, approvals, data."""
    from govkit.report._context import CardApproval, CardBinding, CardContext

    info = store.model_lifecycle(record.name)
    bound = info["binding"]
    stage = info["stages"].get(record.version)
    fingerprint = chosen.run.result.data_fingerprint if chosen.run is not None else None
    run_data = None
    if fingerprint and (evaluation is None or evaluation.fingerprint != fingerprint):
        matches = [d for d in store.list_datasets() if d.fingerprint == fingerprint]
        run_data = matches[-1] if matches else None
    return CardContext(
        run_choice=chosen.why,
        run_id=chosen.run.run_id if chosen.run is not None else None,
        run_data=run_data,
        stage=None if stage is None else info["names"].label(stage),
        aliases=tuple(sorted(a for a, v in info["aliases"].items() if v == record.version)),
        binding=(
            None
            if bound is None
            else CardBinding(
                bound.policy_name,
                bound.policy_digest,
                bound.approval_required,
                bound.approval_independent,
            )
        ),
        approvals=tuple(
            CardApproval(a.approver, a.note, a.approved_at)
            for a in info["approvals"]
            if a.model.version == record.version
        ),
        evaluation_lineage=tuple(store.lineage(evaluation.ref)) if evaluation is not None else (),
    )


def parse_generated_at(text: str) -> datetime:
    """``--generated-at TIME``: an ISO 8601 time with a time zone, as logged with a card."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--generated-at: expected an ISO 8601 time such as the generated_at logged with a "
            f"card (2025-03-14T09:26:53.123456+00:00); got {text[:60]!r}"
        ) from None
    if moment.tzinfo is None:
        raise InputError(f"--generated-at {text[:60]}: give a time zone, e.g. +00:00")
    return moment


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
    policy: str | None = None,
    run_id: int | None = None,
    generated_at: datetime | None = None,
) -> bytes:
    """Render the model card of a version and log its digest.

    The card reports the run :func:`select_run` picks: ``run_id``, else the latest run of
    ``policy``, else the latest run of the bound policy. The card's ``generated_at`` (now,
    unless given) and run are logged with its digest: re-rendering with both
    (``run_id`` and ``generated_at``) gives the same bytes while the registry is
    unchanged, so an auditor can tie a filed copy to the log. ``tagged=True`` writes a
    tagged PDF for screen readers (see :func:`govkit.report.render_card_pdf`).
    """
    from datetime import UTC

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
    if generated_at is not None and generated_at.tzinfo is None:
        raise InputError(
            f"--generated-at {generated_at.isoformat()}: give a time zone (the logged "
            "generated_at ends in +00:00)"
        )
    record = store.get_model_version(_as_model_ref(model))
    chosen = select_run(store, record, policy=policy, run_id=run_id)
    lineage = store.lineage(record.training_data) if record.training_data else []
    evaluation = store.get_dataset(record.evaluation_data) if record.evaluation_data else None
    latest = chosen.run
    generated_at = (generated_at or datetime.now(UTC)).astimezone(UTC)
    kw: dict[str, Any] = dict(
        training_lineage=lineage,
        evaluation_data=evaluation,
        run=latest.result if latest else None,
        anchor=latest.anchor if latest else None,
        generated_at=generated_at,
        context=_context(store, record, chosen, evaluation),
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
            "policy_run_id": latest.run_id if latest else None,
        },
        actor=actor or current_actor(),
        subject=f"model:{record.ref}",  # as every other event about a model version
    )
    return content
