"""The quantitative analyses of a card view: one table per check, with its figures.

Group (fairness), performance, explanation, drift and champion/challenger
comparison tables, each built from the evidence of one check of the run, with
its figures when figures are on; :class:`CardFigures` draws the figure specs
(see the ``_plot_*`` modules) in page order and numbers them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from govkit.report._view_format import fmt_measured, fmt_number, text_or_none
from govkit.report._viewmodel import (
    ComparisonRowView,
    ComparisonTable,
    DriftRowView,
    DriftTable,
    ExplanationTable,
    FigureView,
    GroupRowView,
    GroupTable,
    NamedValue,
    PerformanceTable,
)
from govkit.results import (
    Bound,
    CheckResult,
    ComparisonEvidence,
    DriftEvidence,
    EvaluationResult,
    ExplanationEvidence,
    FeatureDrift,
    GroupEvidence,
    MetricComparison,
    MetricsEvidence,
)

if TYPE_CHECKING:
    from govkit.report._figures import FigureRenderer

__all__ = ["CardFigures", "quantitative_analyses", "comparison_tables"]


def _ordered_keys(dicts: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for d in dicts:
        for key in d:
            seen.setdefault(key, None)
    return tuple(seen)


def _group_table(check: CheckResult, ev: GroupEvidence) -> GroupTable:
    names = _ordered_keys([ev.overall, *(g.metrics for g in ev.groups)])
    width = len(ev.sensitive_features)
    rows = []
    for g in ev.groups:
        labels = tuple(g.group) if len(g.group) == width else (" / ".join(g.group),)
        if len(labels) < width:
            labels = labels + ("",) * (width - len(labels))
        rows.append(
            GroupRowView(
                labels=labels,
                count=fmt_number(g.count),
                values=tuple(fmt_number(g.metrics.get(n)) for n in names),
                judged=g.judged,
            )
        )
    return GroupTable(
        rule_id=check.rule_id,
        check_id=check.check_id,
        metric=ev.metric,
        features=ev.sensitive_features or ("group",),
        metric_names=names,
        overall=tuple(fmt_number(ev.overall.get(n)) for n in names),
        rows=tuple(rows),
        any_unjudged=any(not g.judged for g in ev.groups),
    )


class CardFigures:
    """Draws figure specs in page order and numbers them; a no-op when figures are off."""

    def __init__(self, enabled: bool, render: FigureRenderer | None = None) -> None:
        self.enabled = enabled
        if render is None:
            from govkit.report._figures import draw_figure

            render = draw_figure
        self.render: FigureRenderer = render
        self.drawn: list[FigureView] = []
        self.by_rule: dict[str, list[FigureView]] = {}

    def make(self, spec: object, rule_id: str | None = None) -> FigureView | None:
        if not self.enabled or spec is None:
            return None
        from govkit.report._plot_spec import FigureSpec

        assert isinstance(spec, FigureSpec)
        number = len(self.drawn) + 1
        fig_id = f"figure-{number}"
        drawn = self.render(fig_id, spec)
        view = FigureView(
            id=fig_id,
            number=number,
            title=spec.title,
            alt=spec.alt,
            caption=spec.caption,
            src=drawn.src,
            width=f"{drawn.width_pt:g}pt",
            error=drawn.error,
        )
        self.drawn.append(view)
        if rule_id is not None:
            self.by_rule.setdefault(rule_id, []).append(view)
        return view


def _performance_tables(
    checks: Sequence[tuple[CheckResult, MetricsEvidence]], figs: CardFigures
) -> tuple[PerformanceTable, ...]:
    tables = []
    seen: set[str] = set()
    for c, ev in checks:
        figures: list[FigureView] = []
        # several performance rules share one confusion matrix and one set of curves
        key = repr((sorted((ev.confusion or {}).items()), ev.curves))
        if figs.enabled and key not in seen and (ev.confusion or ev.curves):
            seen.add(key)
            from govkit.report._plot_performance import group_curves_figures, performance_figure

            main = figs.make(performance_figure(ev, rule_id=c.rule_id), c.rule_id)
            figures += [main] if main is not None else []
            if ev.curves is not None:
                for spec in group_curves_figures(ev.curves):
                    fig = figs.make(spec, c.rule_id)
                    figures += [fig] if fig is not None else []
        tables.append(
            PerformanceTable(
                rule_id=c.rule_id,
                check_id=c.check_id,
                values=tuple(NamedValue(k, fmt_number(v)) for k, v in ev.values.items()),
                confusion=tuple(
                    NamedValue(k, fmt_number(v)) for k, v in (ev.confusion or {}).items()
                ),
                figures=tuple(figures),
            )
        )
    return tuple(tables)


def quantitative_analyses(
    run: EvaluationResult, figs: CardFigures
) -> tuple[
    tuple[GroupTable, ...],
    tuple[PerformanceTable, ...],
    tuple[ExplanationTable, ...],
    tuple[DriftTable, ...],
]:
    """The tables (and figures) of the quantitative analyses, figures numbered in page order."""
    perf_checks = [(c, c.evidence) for c in run.checks if isinstance(c.evidence, MetricsEvidence)]
    perf = _performance_tables(perf_checks, figs)
    groups: list[GroupTable] = []
    expl: list[ExplanationTable] = []
    drift: list[DriftTable] = []
    for c in run.checks:
        ev = c.evidence
        if isinstance(ev, GroupEvidence):
            table = _group_table(c, ev)
            if figs.enabled:
                from govkit.report._plot_fairness import fairness_figure

                table = replace(table, figure=figs.make(fairness_figure(c, ev), c.rule_id))
            groups.append(table)
    for c in run.checks:
        ev = c.evidence
        if isinstance(ev, ExplanationEvidence):
            figure = None
            if figs.enabled:
                from govkit.report._plot_explanations import importance_figure

                figure = figs.make(importance_figure(ev, rule_id=c.rule_id), c.rule_id)
            expl.append(
                ExplanationTable(
                    rule_id=c.rule_id,
                    check_id=c.check_id,
                    method=ev.method,
                    rows=f"{fmt_number(ev.rows_valid)} of {fmt_number(ev.rows_evaluated)}",
                    max_abs_error=fmt_number(ev.max_abs_error),
                    features=tuple(
                        NamedValue(f.feature, fmt_number(f.mean_abs_attribution))
                        for f in ev.top_features
                    ),
                    figure=figure,
                )
            )
    for c in run.checks:
        ev = c.evidence
        if isinstance(ev, DriftEvidence):
            figure = None
            if figs.enabled:
                from govkit.report._plot_drift import drift_figure

                figure = figs.make(drift_figure(c, ev), c.rule_id)
            drift.append(
                DriftTable(
                    rule_id=c.rule_id,
                    check_id=c.check_id,
                    statistic=ev.statistic,
                    reference=text_or_none(ev.reference),
                    judged_on=ev.judged_on,
                    rows=tuple(_drift_row(f, c.bound, ev.judged_on) for f in ev.features),
                    figure=figure,
                )
            )
    return tuple(groups), perf, tuple(expl), tuple(drift)


def _drift_row(f: FeatureDrift, rule_bound: Bound | None, judged_on: str) -> DriftRowView:
    bound = f.bound or rule_bound
    value, p_value = fmt_number(f.value), fmt_number(f.p_value)
    if judged_on == "p_value":
        p_value, shown_bound = fmt_measured(f.p_value, bound)
    else:
        value, shown_bound = fmt_measured(f.value, bound)
    if not f.judged:
        result = "not judged"
    elif f.passed is None:
        result = "\u2014"
    else:
        result = "ok" if f.passed else "outside the bound"
    return DriftRowView(
        feature=f.feature, value=value, p_value=p_value, bound=shown_bound, result=result
    )


def _worse_and_allowed(m: MetricComparison) -> tuple[str, str]:
    """How much worse, and how much is allowed, printed so that they compare as they are."""
    worse, allowed = fmt_measured(m.worsening, Bound(max=m.allowed))
    return worse, allowed.removeprefix("\u2264 ")


def comparison_tables(run: EvaluationResult) -> tuple[ComparisonTable, ...]:
    tables = []
    for c in run.checks:
        ev = c.evidence
        if isinstance(ev, ComparisonEvidence):
            rows = tuple(
                ComparisonRowView(
                    metric=m.metric
                    + (f" by {' x '.join(m.sensitive_features)}" if m.sensitive_features else ""),
                    champion=fmt_number(m.champion),
                    challenger=fmt_number(m.challenger),
                    worsening=_worse_and_allowed(m)[0],
                    allowed=_worse_and_allowed(m)[1],
                    ok=m.ok,
                )
                for m in ev.comparisons
            )
            tables.append(ComparisonTable(c.rule_id, c.check_id, ev.champion, ev.challenger, rows))
    return tuple(tables)
