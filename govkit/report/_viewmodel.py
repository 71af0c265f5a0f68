"""The view-model types of a model card: plain, frozen, typed values for the templates.

Built by :func:`govkit.report._view.build_card_view`; read by the HTML template and
the Markdown and JSON writers. Text fields hold plain strings (never markup); ``None``
means "Not provided" and is rendered as such. Figures are ``data:`` URLs of SVG
drawings made and checked by :mod:`govkit.report._figures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "NOT_PROVIDED",
    "AnchorView",
    "CardView",
    "ColumnView",
    "DatasetView",
    "ComparisonRowView",
    "ComparisonTable",
    "DocumentMeta",
    "DriftRowView",
    "DriftTable",
    "EvaluatedDataView",
    "ExplanationTable",
    "FieldView",
    "FigureView",
    "FindingView",
    "GroupRowView",
    "GraphEdge",
    "GraphNode",
    "GroupTable",
    "LineageGraph",
    "LineageNode",
    "MetricRow",
    "NamedValue",
    "PerformanceTable",
    "PolicyView",
    "RuleRow",
    "StatusView",
    "TocEntry",
    "WaiverView",
    "PageSize",
]

PageSize = Literal["A4", "Letter"]

#: What the card says wherever a value was not declared or not supplied.
NOT_PROVIDED = "Not provided"


@dataclass(frozen=True, slots=True)
class StatusView:
    """A status as text, symbol and CSS class: never colour alone."""

    text: str  # "PASS", "FAIL", ...
    symbol: str
    css: str  # suffix of the ``status-*`` class


@dataclass(frozen=True, slots=True)
class FieldView:
    """One labelled value of a definition list; ``value`` None reads "Not provided"."""

    label: str
    value: str | None
    mono: bool = False  # digests, URIs and identifiers


@dataclass(frozen=True, slots=True)
class NamedValue:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ColumnView:
    name: str
    dtype: str


@dataclass(frozen=True, slots=True)
class DatasetView:
    ref: str
    fields: tuple[FieldView, ...]
    columns: tuple[ColumnView, ...]


@dataclass(frozen=True, slots=True)
class FigureView:
    """A plot: an SVG image (a data: URL), its accessible description and caption.

    ``src`` is None when the figure could not be drawn; ``error`` then says why
    and the card shows that instead (the numbers remain in the tables).
    """

    id: str  # HTML id, "figure-3"
    number: int
    title: str
    alt: str
    caption: str
    src: str | None  # data:image/svg+xml;base64,...
    width: str  # CSS length, "496.8pt"
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MetricRow:
    rule_id: str
    metric: str
    check_id: str
    value: str
    bound: str
    status: StatusView
    interval: str | None = None


@dataclass(frozen=True, slots=True)
class GroupRowView:
    labels: tuple[str, ...]  # one per sensitive feature
    count: str
    values: tuple[str, ...]  # one per metric name of the table
    judged: bool


@dataclass(frozen=True, slots=True)
class GroupTable:
    rule_id: str
    check_id: str
    metric: str
    features: tuple[str, ...]
    metric_names: tuple[str, ...]
    overall: tuple[str, ...]
    rows: tuple[GroupRowView, ...]
    any_unjudged: bool
    figure: FigureView | None = None


@dataclass(frozen=True, slots=True)
class PerformanceTable:
    rule_id: str
    check_id: str
    values: tuple[NamedValue, ...]
    confusion: tuple[NamedValue, ...]
    figures: tuple[FigureView, ...] = ()


@dataclass(frozen=True, slots=True)
class ExplanationTable:
    rule_id: str
    check_id: str
    method: str
    rows: str  # "valid of evaluated"
    max_abs_error: str
    features: tuple[NamedValue, ...]
    figure: FigureView | None = None


@dataclass(frozen=True, slots=True)
class DriftRowView:
    feature: str
    value: str
    p_value: str
    bound: str
    result: str  # "ok", "outside the bound", "not judged", "\u2014"


@dataclass(frozen=True, slots=True)
class DriftTable:
    rule_id: str
    check_id: str
    statistic: str
    reference: str | None
    judged_on: str  # "statistic" or "p_value"
    rows: tuple[DriftRowView, ...]
    figure: FigureView | None = None


@dataclass(frozen=True, slots=True)
class ComparisonRowView:
    metric: str
    champion: str
    challenger: str
    worsening: str
    allowed: str
    ok: bool


@dataclass(frozen=True, slots=True)
class ComparisonTable:
    rule_id: str
    check_id: str
    champion: str
    challenger: str
    rows: tuple[ComparisonRowView, ...]


@dataclass(frozen=True, slots=True)
class FindingView:
    item: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class WaiverView:
    """The approved exception that turned an unmet rule into WAIVED."""

    justification: str
    approver: str
    expires: str
    unmet: StatusView | None  # what the status would have been without the waiver
    model: str


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule_id: str
    check_id: str
    description: str
    severity: str
    status: StatusView
    value: str
    bound: str
    message: str
    findings: tuple[FindingView, ...]
    figures: tuple[TocEntry, ...] = ()  # links to the figures of this rule's evidence
    interval: str | None = None  # "95% CI 0.81 to 0.86 (judged on the lower end)"
    waiver: WaiverView | None = None


@dataclass(frozen=True, slots=True)
class PolicyView:
    name: str
    model_note: str | None  # set when the run evaluated another model version
    fields: tuple[FieldView, ...]
    verdict: StatusView
    counts: tuple[tuple[StatusView, int], ...]
    rules: tuple[RuleRow, ...]
    binding_note: str | None = None  # set when the run is not of the bound policy


@dataclass(frozen=True, slots=True)
class EvaluatedDataView:
    """The data the shown run evaluated, for the card's header."""

    text: str  # "adult-test@1 (16,281 rows)", "unregistered data (199 rows, sha256:...)"
    warning: str | None  # set when it is not the registered evaluation dataset


@dataclass(frozen=True, slots=True)
class LineageNode:
    ref: str
    source: str | None
    transformation: str | None
    parents: tuple[str, ...]
    fingerprint: str | None
    note: str | None  # "record not provided", "shown above", ...
    children: tuple[LineageNode, ...]


@dataclass(frozen=True, slots=True)
class GraphNode:
    key: str
    title: str  # "adult-train@2", a source URI, the model reference
    detail: str  # "36,177 rows", "record not provided", ...
    kind: str  # model | dataset | evaluation | source | missing | more


@dataclass(frozen=True, slots=True)
class GraphEdge:
    src: str
    dst: str
    dashed: bool  # evaluated on (dashed) rather than derived from / trained on
    src_title: str
    dst_title: str


@dataclass(frozen=True, slots=True)
class LineageGraph:
    """Source data -> datasets -> model version, as nodes and edges (for the lineage plot)."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


@dataclass(frozen=True, slots=True)
class TocEntry:
    anchor: str  # id of the section
    title: str


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    """What the HTML head says about the card, and WeasyPrint copies into the PDF."""

    title: str
    author: str
    subject: str
    keywords: tuple[str, ...]
    created: str  # W3C date-time, from the card's generated_at


@dataclass(frozen=True, slots=True)
class AnchorView:
    sequence: str | None
    fields: tuple[FieldView, ...]
    recorded: bool
    fingerprint_note: str | None


@dataclass(frozen=True, slots=True)
class CardView:
    """Everything one model card shows, section by section."""

    ref: str
    generated_at: str
    govkit_version: str
    verdict: StatusView | None
    model_details: tuple[FieldView, ...]
    intended_use: tuple[FieldView, ...]
    out_of_scope_uses: tuple[str, ...]
    factors: tuple[FieldView, ...]
    metrics: tuple[MetricRow, ...]
    evaluation_data: DatasetView | None
    evaluation_data_ref: str | None  # declared reference when the record is missing
    training_data: DatasetView | None
    training_data_ref: str | None
    group_tables: tuple[GroupTable, ...]
    performance_tables: tuple[PerformanceTable, ...]
    explanation_tables: tuple[ExplanationTable, ...]
    ethical_considerations: str | None
    caveats_and_recommendations: str | None
    policy: PolicyView | None
    lineage: tuple[LineageNode, ...]
    anchor: AnchorView
    meta: DocumentMeta
    toc: tuple[TocEntry, ...]
    drift_tables: tuple[DriftTable, ...] = ()
    comparison_tables: tuple[ComparisonTable, ...] = ()
    lineage_figure: FigureView | None = None
    figures: tuple[FigureView, ...] = ()  # every figure, in page order
    page_size: PageSize = "A4"
    evaluated: EvaluatedDataView | None = None  # what the shown run evaluated
    lifecycle: tuple[FieldView, ...] = ()  # stage, aliases, bound policy, approvals
