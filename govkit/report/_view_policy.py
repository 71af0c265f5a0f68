"""The policy side of a card view: the metrics table and the policy evaluation section.

:func:`metric_rows` lists the measured checks (value, bound, status, confidence
interval); :func:`policy_view` lists every rule of the run with its verdict,
findings, waiver and links to the figures drawn for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from govkit.records import ModelVersionRecord
from govkit.report._view_format import fmt_measured, fmt_number, fmt_time, status_view, text_or_none
from govkit.report._viewmodel import (
    FieldView,
    FigureView,
    FindingView,
    MetricRow,
    PolicyView,
    RuleRow,
    TocEntry,
    WaiverView,
)
from govkit.results import (
    CheckResult,
    DriftEvidence,
    EvaluationResult,
    FindingsEvidence,
    GroupEvidence,
    MetricsEvidence,
    Status,
)

__all__ = ["metric_rows", "policy_view"]


def _metric_name(check: CheckResult) -> str:
    if isinstance(check.evidence, GroupEvidence):
        return check.evidence.metric
    return check.check_id.rsplit(".", 1)[-1]


def _is_measurement(check: CheckResult) -> bool:
    """Performance and fairness checks: those with a measured value or metric evidence."""
    return check.value is not None or isinstance(
        check.evidence, GroupEvidence | MetricsEvidence | DriftEvidence
    )


def _interval(check: CheckResult) -> str | None:
    ci = check.interval
    if ci is None:
        return None
    judged = {"estimate": "the estimate", "lower": "the lower end", "upper": "the upper end"}
    end = judged.get(ci.judged_on, ci.judged_on)
    return (
        f"{ci.level:.0%} CI {fmt_number(ci.low)} to {fmt_number(ci.high)} "
        f"({fmt_number(ci.resamples)} resamples; judged on {end})"
    )


def _waiver(check: CheckResult) -> WaiverView | None:
    w = check.waiver
    if w is None:
        return None
    return WaiverView(
        justification=w.justification,
        approver=w.approver,
        expires=w.expires.isoformat(),
        unmet=status_view(check.unmet_status) if check.unmet_status is not None else None,
        model=w.model,
    )


def metric_rows(run: EvaluationResult) -> tuple[MetricRow, ...]:
    rows = []
    for c in run.checks:
        if not _is_measurement(c):
            continue
        value, bound = fmt_measured(c.value, c.bound)
        rows.append(
            MetricRow(
                rule_id=c.rule_id,
                metric=_metric_name(c),
                check_id=c.check_id,
                value=value,
                bound=bound,
                status=status_view(c.status),
                interval=_interval(c),
            )
        )
    return tuple(rows)


def policy_view(
    run: EvaluationResult,
    model: ModelVersionRecord,
    figures: Mapping[str, Sequence[FigureView]] | None = None,
    *,
    run_fields: Sequence[FieldView] = (),
    binding_note: str | None = None,
) -> PolicyView:
    figures = figures or {}
    rules = []
    for c in run.checks:
        findings: tuple[FindingView, ...] = ()
        if isinstance(c.evidence, FindingsEvidence):
            findings = tuple(FindingView(f.item, f.ok, f.detail) for f in c.evidence.findings)
        value, bound = fmt_measured(c.value, c.bound)
        rules.append(
            RuleRow(
                rule_id=c.rule_id,
                check_id=c.check_id,
                description=c.description,
                severity=c.severity,
                status=status_view(c.status),
                value=value,
                bound=bound,
                message=c.message,
                findings=findings,
                figures=tuple(
                    TocEntry(f.id, f"Figure {f.number}") for f in figures.get(c.rule_id, ())
                ),
                interval=_interval(c),
                waiver=_waiver(c),
            )
        )
    counts = run.counts
    model_note = None
    if (run.model.name, run.model.version) != (model.name, model.version):
        model_note = (
            f"This policy run evaluated {run.model}, not {model.name}@{model.version}, "
            "the model this card describes."
        )
    return PolicyView(
        name=run.policy_name,
        model_note=model_note,
        fields=(
            *run_fields,
            FieldView("Policy", text_or_none(run.policy_name)),
            FieldView("Policy digest", text_or_none(run.policy_digest), mono=True),
            FieldView("Model evaluated", str(run.model)),
            FieldView("Rows evaluated", fmt_number(run.n_rows)),
            FieldView("Started", fmt_time(run.started_at)),
            FieldView("Finished", fmt_time(run.finished_at)),
            FieldView("govkit version", text_or_none(run.govkit_version)),
        ),
        verdict=status_view(run.status),
        counts=tuple((status_view(s), counts[s]) for s in Status if counts[s]),
        rules=tuple(rules),
        binding_note=binding_note,
    )
