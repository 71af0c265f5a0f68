"""The view-model types of a model card: plain, frozen, typed values for the templates.

Built by :func:`govkit.report._view.build_card_view`; read by the HTML template and
the Markdown writer. Text fields hold plain strings (never markup); ``None`` means
"Not provided" and is rendered as such.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "NOT_PROVIDED",
    "AnchorView",
    "CardView",
    "ColumnView",
    "DatasetView",
    "ExplanationTable",
    "FieldView",
    "FindingView",
    "GroupRowView",
    "GroupTable",
    "LineageNode",
    "MetricRow",
    "NamedValue",
    "PerformanceTable",
    "PolicyView",
    "RuleRow",
    "StatusView",
]

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
class MetricRow:
    rule_id: str
    metric: str
    check_id: str
    value: str
    bound: str
    status: StatusView


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


@dataclass(frozen=True, slots=True)
class PerformanceTable:
    rule_id: str
    check_id: str
    values: tuple[NamedValue, ...]
    confusion: tuple[NamedValue, ...]


@dataclass(frozen=True, slots=True)
class ExplanationTable:
    rule_id: str
    check_id: str
    method: str
    rows: str  # "valid of evaluated"
    max_abs_error: str
    features: tuple[NamedValue, ...]


@dataclass(frozen=True, slots=True)
class FindingView:
    item: str
    ok: bool
    detail: str


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


@dataclass(frozen=True, slots=True)
class PolicyView:
    name: str
    model_note: str | None  # set when the run evaluated another model version
    fields: tuple[FieldView, ...]
    verdict: StatusView
    counts: tuple[tuple[StatusView, int], ...]
    rules: tuple[RuleRow, ...]


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
