"""The registry's context in a card view: the data the run evaluated, lifecycle and binding.

:func:`run_dataset` names the registered dataset the shown run evaluated (by fingerprint);
:func:`evaluated_view` is the header's "Evaluated data", flagged when it is not the
version's registered evaluation dataset; :func:`lifecycle_fields` lists the stage,
aliases, bound policy and approvals; :func:`binding_note` says when the shown run is not
of the bound policy (or of another version of it).
"""

from __future__ import annotations

from govkit.records import DatasetRecord
from govkit.report._context import CardContext
from govkit.report._view_format import fmt_number, fmt_time
from govkit.report._viewmodel import EvaluatedDataView, FieldView
from govkit.results import EvaluationResult

__all__ = ["run_dataset", "evaluated_view", "lifecycle_fields", "binding_note", "run_fields"]


def run_dataset(
    run: EvaluationResult | None, evaluation: DatasetRecord | None, context: CardContext | None
) -> DatasetRecord | None:
    """The registered dataset whose fingerprint ``run`` evaluated (None: none known)."""
    if run is None or not run.data_fingerprint:
        return None
    if evaluation is not None and evaluation.fingerprint == run.data_fingerprint:
        return evaluation
    if context is not None and context.run_data is not None:
        if context.run_data.fingerprint == run.data_fingerprint:
            return context.run_data
    return None


def evaluated_view(
    run: EvaluationResult | None, evaluation: DatasetRecord | None, context: CardContext | None
) -> EvaluatedDataView | None:
    """What the shown run evaluated, and a warning when it is not the evaluation dataset."""
    if run is None:
        return None
    data = run_dataset(run, evaluation, context)
    fp = run.data_fingerprint
    if data is not None:
        text = f"{data.name}@{data.version} ({fmt_number(data.row_count)} rows)"
    elif fp:
        text = f"unregistered data ({fmt_number(run.n_rows)} rows, {fp})"
    else:
        text = f"data without a fingerprint ({fmt_number(run.n_rows)} rows)"
    if evaluation is None:
        warning: str | None = "The model version has no registered evaluation dataset."
    elif data is None or (data.name, data.version) != (evaluation.name, evaluation.version):
        warning = (
            f"This is not the registered evaluation dataset {evaluation.name}@"
            f"{evaluation.version} ({fmt_number(evaluation.row_count)} rows)."
        )
    else:
        warning = None
    return EvaluatedDataView(text=text, warning=warning)


def lifecycle_fields(context: CardContext | None) -> tuple[FieldView, ...]:
    """Stage, aliases, bound policy, approval requirement and approvals (none: no context)."""
    if context is None:
        return ()
    bound = context.binding
    if bound is None:
        policy, required = "none (the model is bound to no policy)", None
    else:
        policy = f"{bound.policy_name} ({bound.policy_digest})"
        required = (
            "yes, independent (by someone other than the owner and the registrant)"
            if bound.approval_required and bound.approval_independent
            else "yes"
            if bound.approval_required
            else "no"
        )
    approvals = "; ".join(
        f"{a.approver}, {fmt_time(a.approved_at)}" + (f": {a.note}" if a.note.strip() else "")
        for a in context.approvals
    )
    return (
        FieldView("Lifecycle stage", context.stage),
        FieldView("Aliases", ", ".join(context.aliases) or "none"),
        FieldView("Bound policy", policy),
        FieldView("Approval required", required),
        FieldView("Approvals", approvals or "none"),
    )


def run_fields(context: CardContext | None) -> tuple[FieldView, ...]:
    """Which recorded run the card shows, and why."""
    if context is None or context.run_choice is None:
        return ()
    run = f"run {context.run_id}: " if context.run_id is not None else ""
    return (FieldView("Run shown", run + context.run_choice),)


def binding_note(run: EvaluationResult, context: CardContext | None) -> str | None:
    """Set when the run is not of the policy the model is bound to, as bound."""
    bound = context.binding if context is not None else None
    if bound is None:
        return None
    if run.policy_name != bound.policy_name:
        return (
            f"This run is of policy {run.policy_name}, not {bound.policy_name}, the policy the "
            "model is bound to; the promotion gate does not read it."
        )
    if run.policy_digest != bound.policy_digest:
        return (
            f"This run used another version of policy {bound.policy_name} ({run.policy_digest}) "
            f"than the one the model is bound to ({bound.policy_digest})."
        )
    return None
