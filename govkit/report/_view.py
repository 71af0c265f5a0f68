"""Builds the typed view-model of a model card from the domain records.

Everything the card template shows is decided here, in Python: which sections
exist, what is missing, how numbers, bounds, statuses and times read. The
template only lays the result out. Values stay plain strings (never markup);
the Jinja environment escapes them on output.

A card carries aggregates only: group counts and metrics, never rows of data.
Figures are drawn here too (when asked), from the same evidence, so their
numbering follows the page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from govkit.records import DatasetRecord, DatasetRef, ModelVersionRecord
from govkit.report._viewmodel import (
    AnchorView,
    CardView,
    ColumnView,
    ComparisonRowView,
    ComparisonTable,
    DatasetView,
    DocumentMeta,
    DriftRowView,
    DriftTable,
    ExplanationTable,
    FieldView,
    FigureView,
    FindingView,
    GraphEdge,
    GraphNode,
    GroupRowView,
    GroupTable,
    LineageGraph,
    LineageNode,
    MetricRow,
    NamedValue,
    PageSize,
    PerformanceTable,
    PolicyView,
    RuleRow,
    StatusView,
    TocEntry,
    WaiverView,
)
from govkit.results import (
    AuditAnchor,
    Bound,
    CheckResult,
    ComparisonEvidence,
    DriftEvidence,
    EvaluationResult,
    ExplanationEvidence,
    FindingsEvidence,
    GroupEvidence,
    MetricsEvidence,
    Status,
)

if TYPE_CHECKING:
    from govkit.report._figures import FigureRenderer

__all__ = [
    "build_card_view",
    "lineage_graph",
    "training_record",
    "fmt_number",
    "fmt_bound",
    "fmt_time",
    "status_view",
    "SECTIONS",
]

# Lineage deeper than this is cut off with a note (guards against absurd inputs).
_MAX_LINEAGE_DEPTH = 32
# Nodes of the lineage graph (the tree below it lists everything).
_MAX_GRAPH_NODES = 60

#: The sections of a card, in page order: (HTML id, title). The table of contents.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("model-details", "Model details"),
    ("intended-use", "Intended use"),
    ("factors", "Factors"),
    ("metrics", "Metrics"),
    ("evaluation-data", "Evaluation data"),
    ("training-data", "Training data"),
    ("quantitative-analyses", "Quantitative analyses"),
    ("ethical-considerations", "Ethical considerations"),
    ("caveats-and-recommendations", "Caveats and recommendations"),
    ("policy-evaluation", "Policy evaluation"),
    ("data-lineage", "Data lineage"),
    ("audit-anchor", "Audit anchor"),
)

_STATUS_VIEWS: dict[Status, StatusView] = {
    Status.PASS: StatusView("PASS", "\u2713", "pass"),
    Status.WARN: StatusView("WARN", "!", "warn"),
    Status.FAIL: StatusView("FAIL", "\u2717", "fail"),
    Status.ERROR: StatusView("ERROR", "\u2298", "error"),
    Status.NOT_APPLICABLE: StatusView("N/A", "\u2013", "na"),
    Status.WAIVED: StatusView("WAIVED", "\u2248", "waived"),
}


# --------------------------------------------------------------------- formatting


def fmt_number(value: float | int | None) -> str:
    """A metric value as the card prints it: 4 significant digits, ``n/a`` when absent."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if math.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"  # counts stored as floats (confusion matrices)
    return format(value, ".4g")


def fmt_bound(bound: Bound | None) -> str:
    if bound is None:
        return "\u2014"
    parts = []
    if bound.min is not None:
        parts.append(f"\u2265 {fmt_number(bound.min)}")
    if bound.max is not None:
        parts.append(f"\u2264 {fmt_number(bound.max)}")
    return " and ".join(parts) or "any value"


def fmt_time(moment: datetime | None) -> str | None:
    """ISO-like, to the second; aware times are shown in UTC, naive ones as given."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def status_view(status: Status) -> StatusView:
    return _STATUS_VIEWS[status]


def _text(value: str | None) -> str | None:
    """Blank free text counts as missing."""
    if value is None or not value.strip():
        return None
    return value


def _ref_text(ref: DatasetRef | str | None) -> str | None:
    return None if ref is None else _text(str(ref))


# ------------------------------------------------------------------------ sections


def _model_details(model: ModelVersionRecord) -> tuple[FieldView, ...]:
    meta = model.metadata
    registered = fmt_time(model.created_at)
    return (
        FieldView("Model", f"{model.name}@{model.version}"),
        FieldView("Description", _text(meta.description)),
        FieldView("Risk tier", _text(meta.risk_tier)),
        FieldView("Estimator", _text(model.estimator), mono=True),
        FieldView("Flavour", model.flavour),
        FieldView("Artifact format", model.artifact_format),
        FieldView("Target", _text(meta.target)),
        FieldView("Owner", _text(meta.owner)),
        FieldView("Contact", _text(meta.contact)),
        FieldView("Licence", _text(meta.license)),
        FieldView("Artifact SHA-256", _text(model.artifact_sha256), mono=True),
        FieldView("Registered at", registered),
        FieldView("Registered by", _text(model.created_by)),
    )


def _dataset_view(record: DatasetRecord) -> DatasetView:
    return DatasetView(
        ref=f"{record.name}@{record.version}",
        fields=(
            FieldView("Dataset", f"{record.name}@{record.version}"),
            FieldView("Rows", fmt_number(record.row_count)),
            FieldView("Fingerprint", _text(record.fingerprint), mono=True),
            FieldView("Source", _text(record.source_uri), mono=True),
            FieldView("Transformation", _text(record.transformation)),
            FieldView("Registered at", fmt_time(record.created_at)),
            FieldView("Registered by", _text(record.created_by)),
        ),
        columns=tuple(ColumnView(c.name, c.dtype) for c in record.columns),
    )


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


def _metrics(run: EvaluationResult) -> tuple[MetricRow, ...]:
    return tuple(
        MetricRow(
            rule_id=c.rule_id,
            metric=_metric_name(c),
            check_id=c.check_id,
            value=fmt_number(c.value),
            bound=fmt_bound(c.bound),
            status=status_view(c.status),
            interval=_interval(c),
        )
        for c in run.checks
        if _is_measurement(c)
    )


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


class _Figures:
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
        from govkit.report._plots import FigureSpec

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
    checks: Sequence[tuple[CheckResult, MetricsEvidence]], figs: _Figures
) -> tuple[PerformanceTable, ...]:
    tables = []
    seen: set[str] = set()
    for c, ev in checks:
        figures: list[FigureView] = []
        # several performance rules share one confusion matrix and one set of curves
        key = repr((sorted((ev.confusion or {}).items()), ev.curves))
        if figs.enabled and key not in seen and (ev.confusion or ev.curves):
            seen.add(key)
            from govkit.report._plots import group_curves_figures, performance_figure

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


def _analyses(
    run: EvaluationResult, figs: _Figures
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
                from govkit.report._plots import fairness_figure

                table = replace(table, figure=figs.make(fairness_figure(c, ev), c.rule_id))
            groups.append(table)
    for c in run.checks:
        ev = c.evidence
        if isinstance(ev, ExplanationEvidence):
            figure = None
            if figs.enabled:
                from govkit.report._plots import importance_figure

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
                from govkit.report._plots import drift_figure

                figure = figs.make(drift_figure(c, ev), c.rule_id)
            drift.append(
                DriftTable(
                    rule_id=c.rule_id,
                    check_id=c.check_id,
                    statistic=ev.statistic,
                    reference=_text(ev.reference),
                    judged_on=ev.judged_on,
                    rows=tuple(
                        DriftRowView(
                            feature=f.feature,
                            value=fmt_number(f.value),
                            p_value=fmt_number(f.p_value),
                            bound=fmt_bound(f.bound or c.bound),
                            result=(
                                "not judged"
                                if not f.judged
                                else "\u2014"
                                if f.passed is None
                                else "ok"
                                if f.passed
                                else "outside the bound"
                            ),
                        )
                        for f in ev.features
                    ),
                    figure=figure,
                )
            )
    return tuple(groups), perf, tuple(expl), tuple(drift)


def _comparisons(run: EvaluationResult) -> tuple[ComparisonTable, ...]:
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
                    worsening=fmt_number(m.worsening),
                    allowed=fmt_number(m.allowed),
                    ok=m.ok,
                )
                for m in ev.comparisons
            )
            tables.append(ComparisonTable(c.rule_id, c.check_id, ev.champion, ev.challenger, rows))
    return tuple(tables)


def _policy(
    run: EvaluationResult,
    model: ModelVersionRecord,
    figures: Mapping[str, Sequence[FigureView]] | None = None,
) -> PolicyView:
    figures = figures or {}
    rules = []
    for c in run.checks:
        findings: tuple[FindingView, ...] = ()
        if isinstance(c.evidence, FindingsEvidence):
            findings = tuple(FindingView(f.item, f.ok, f.detail) for f in c.evidence.findings)
        rules.append(
            RuleRow(
                rule_id=c.rule_id,
                check_id=c.check_id,
                description=c.description,
                severity=c.severity,
                status=status_view(c.status),
                value=fmt_number(c.value),
                bound=fmt_bound(c.bound),
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
            FieldView("Policy", _text(run.policy_name)),
            FieldView("Policy digest", _text(run.policy_digest), mono=True),
            FieldView("Model evaluated", str(run.model)),
            FieldView("Rows evaluated", fmt_number(run.n_rows)),
            FieldView("Started", fmt_time(run.started_at)),
            FieldView("Finished", fmt_time(run.finished_at)),
            FieldView("govkit version", _text(run.govkit_version)),
        ),
        verdict=status_view(run.status),
        counts=tuple((status_view(s), counts[s]) for s in Status if counts[s]),
        rules=tuple(rules),
    )


def _find(records: Sequence[DatasetRecord], ref: DatasetRef) -> DatasetRecord | None:
    matches = [r for r in records if r.name == ref.name]
    if ref.version is not None:
        matches = [r for r in matches if r.version == ref.version]
    return max(matches, key=lambda r: r.version, default=None)


def training_record(
    model: ModelVersionRecord, lineage: Sequence[DatasetRecord]
) -> DatasetRecord | None:
    """The record the model declares as its training data; else the first of the lineage."""
    if model.training_data is not None:
        return _find(lineage, model.training_data)
    return lineage[0] if lineage else None


def _lineage_node(
    ref: DatasetRef,
    records: Sequence[DatasetRecord],
    shown: set[tuple[str, int]],
    depth: int,
) -> LineageNode:
    record = _find(records, ref)
    if record is None:
        return LineageNode(str(ref), None, None, (), None, "record not provided", ())
    key = (record.name, record.version)
    label = f"{record.name}@{record.version}"
    parents = tuple(str(p) for p in record.parents)
    if key in shown:
        return LineageNode(label, None, None, parents, None, "shown above", ())
    shown.add(key)
    if depth >= _MAX_LINEAGE_DEPTH:
        return LineageNode(label, None, None, parents, None, "lineage truncated", ())
    children = tuple(_lineage_node(p, records, shown, depth + 1) for p in record.parents)
    return LineageNode(
        ref=label,
        source=_text(record.source_uri),
        transformation=_text(record.transformation),
        parents=parents,
        fingerprint=_text(record.fingerprint),
        note=None,
        children=children,
    )


def _lineage(
    training: DatasetRecord | None, records: Sequence[DatasetRecord]
) -> tuple[LineageNode, ...]:
    if training is None:
        return ()
    return (_lineage_node(training.ref, records, set(), 0),)


def _anchor(
    anchor: AuditAnchor | None, run: EvaluationResult | None, evaluation: DatasetRecord | None
) -> AnchorView:
    run_fp = run.data_fingerprint if run is not None else None
    note = None
    if run_fp and evaluation is not None and evaluation.fingerprint != run_fp:
        note = (
            "The data the run evaluated does not match the fingerprint of the evaluation "
            f"dataset {evaluation.name}@{evaluation.version} shown in this card."
        )
    return AnchorView(
        sequence=None if anchor is None else str(anchor.sequence),
        fields=(
            FieldView("Audit sequence", None if anchor is None else str(anchor.sequence)),
            FieldView("Audit event hash", None if anchor is None else anchor.hash, mono=True),
            FieldView("Data fingerprint evaluated", _text(run_fp), mono=True),
        ),
        recorded=anchor is not None,
        fingerprint_note=note,
    )


def lineage_graph(
    model: ModelVersionRecord,
    training: DatasetRecord | None,
    evaluation: DatasetRecord | None,
    records: Sequence[DatasetRecord],
) -> LineageGraph:
    """Source data -> datasets -> model version: the nodes and edges the lineage plot draws."""
    pool = [*records, *([evaluation] if evaluation is not None else [])]
    nodes: dict[str, GraphNode] = {}
    edges: list[GraphEdge] = []
    model_ref = f"{model.name}@{model.version}"
    nodes["model"] = GraphNode(
        "model", model_ref, _text(model.estimator) or "model version", "model"
    )
    todo: list[DatasetRecord] = []

    def dataset_node(record: DatasetRecord, kind: str) -> str | None:
        key = f"ds:{record.name}@{record.version}"
        if key not in nodes:
            if len(nodes) >= _MAX_GRAPH_NODES:
                return None
            nodes[key] = GraphNode(
                key, f"{record.name}@{record.version}", f"{fmt_number(record.row_count)} rows", kind
            )
            todo.append(record)
        return key

    def edge(src: str | None, dst: str, dashed: bool = False) -> None:
        if src is None:
            return
        if not any(e.src == src and e.dst == dst for e in edges):
            edges.append(GraphEdge(src, dst, dashed, nodes[src].title, nodes[dst].title))

    if training is not None:
        edge(dataset_node(training, "dataset"), "model")
    elif model.training_data is not None:
        key = f"missing:{model.training_data}"
        nodes[key] = GraphNode(key, str(model.training_data), "record not provided", "missing")
        edge(key, "model")
    if evaluation is not None:
        edge(dataset_node(evaluation, "evaluation"), "model", dashed=True)
    seen: set[tuple[str, int]] = set()
    while todo:
        record = todo.pop(0)
        if (record.name, record.version) in seen:
            continue
        seen.add((record.name, record.version))
        child = f"ds:{record.name}@{record.version}"
        for ref in record.parents:
            parent = _find(pool, ref)
            if parent is not None:
                edge(dataset_node(parent, "dataset"), child)
            elif len(nodes) < _MAX_GRAPH_NODES:
                key = f"missing:{ref}"
                nodes.setdefault(key, GraphNode(key, str(ref), "record not provided", "missing"))
                edge(key, child)
        source = _text(record.source_uri)
        if not record.parents and source is not None and len(nodes) < _MAX_GRAPH_NODES:
            key = f"source:{source}"
            nodes.setdefault(key, GraphNode(key, source, "source", "source"))
            edge(key, child)
    return LineageGraph(nodes=tuple(nodes.values()), edges=tuple(edges))


def _w3c(moment: datetime) -> str:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _document_meta(
    model: ModelVersionRecord, run: EvaluationResult | None, generated_at: datetime
) -> DocumentMeta:
    meta = model.metadata
    ref = f"{model.name}@{model.version}"
    subject = f"Model card of {ref}"
    if run is not None:
        subject += f": policy {run.policy_name}, verdict {status_view(run.status).text}"
    description = _text(meta.description)
    if description is not None:
        short = " ".join(description.split())
        subject += ". " + (short if len(short) <= 200 else short[:199] + "\u2026")
    keywords = ["model card", model.name, ref]
    if run is not None:
        keywords += [f"policy {run.policy_name}", f"verdict {status_view(run.status).text}"]
    keywords += [f"sensitive feature {f}" for f in meta.sensitive_features if _text(f)]
    return DocumentMeta(
        title=f"Model card: {ref}",
        author=_text(meta.owner) or _text(model.created_by) or "govkit",
        subject=subject,
        keywords=tuple(dict.fromkeys(" ".join(k.replace(",", " ").split()) for k in keywords)),
        created=_w3c(generated_at),
    )


# ---------------------------------------------------------------------- the card


def build_card_view(
    model: ModelVersionRecord,
    *,
    training_lineage: Sequence[DatasetRecord],
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
    generated_at: datetime,
    govkit_version: str,
    figures: bool = False,
    page_size: PageSize = "A4",
    figure_renderer: FigureRenderer | None = None,
) -> CardView:
    """The view-model of one card; pure, so equal inputs give equal views.

    ``figures`` draws the plots (matplotlib, or ``figure_renderer``: see
    :class:`FigurePlan`); the Markdown and JSON exports leave it off.
    """
    meta = model.metadata
    training = training_record(model, training_lineage)
    figs = _Figures(figures, figure_renderer)
    groups, perf, expl, drift = _analyses(run, figs) if run is not None else ((), (), (), ())
    lineage_figure = None
    if figures:
        from govkit.report._lineage_plot import lineage_figure as draw_lineage

        graph = lineage_graph(model, training, evaluation_data, training_lineage)
        lineage_figure = figs.make(draw_lineage(graph))
    return CardView(
        ref=f"{model.name}@{model.version}",
        generated_at=fmt_time(generated_at) or "",
        govkit_version=govkit_version,
        verdict=status_view(run.status) if run is not None else None,
        model_details=_model_details(model),
        intended_use=(
            FieldView("Intended use", _text(meta.intended_use)),
            FieldView("Intended users", _text(meta.intended_users)),
        ),
        out_of_scope_uses=tuple(u for u in meta.out_of_scope_uses if _text(u)),
        factors=(
            FieldView(
                "Sensitive features",
                ", ".join(meta.sensitive_features) if meta.sensitive_features else None,
            ),
            FieldView("Factors", _text(meta.factors)),
        ),
        metrics=_metrics(run) if run is not None else (),
        evaluation_data=_dataset_view(evaluation_data) if evaluation_data is not None else None,
        evaluation_data_ref=(
            None
            if evaluation_data is not None
            else _ref_text(model.evaluation_data or meta.evaluation_data)
        ),
        training_data=_dataset_view(training) if training is not None else None,
        training_data_ref=None if training is not None else _ref_text(model.training_data),
        group_tables=groups,
        performance_tables=perf,
        explanation_tables=expl,
        ethical_considerations=_text(meta.ethical_considerations),
        caveats_and_recommendations=_text(meta.caveats_and_recommendations),
        policy=_policy(run, model, figs.by_rule) if run is not None else None,
        lineage=_lineage(training, training_lineage),
        anchor=_anchor(anchor, run, evaluation_data),
        meta=_document_meta(model, run, generated_at),
        toc=tuple(TocEntry(anchor, title) for anchor, title in SECTIONS),
        drift_tables=drift,
        comparison_tables=_comparisons(run) if run is not None else (),
        lineage_figure=lineage_figure,
        figures=tuple(figs.drawn),
        page_size=page_size,
    )
