"""Builds the typed view-model of a model card from the domain records.

Everything the card template shows is decided in Python: which sections exist,
what is missing, how numbers, bounds, statuses and times read. The template
only lays the result out. Values stay plain strings (never markup); the Jinja
environment escapes them on output.

This module assembles the card (:func:`build_card_view`) and builds the short
sections itself (model details, datasets, audit anchor, document metadata); the
rest comes from :mod:`~govkit.report._view_analyses` (quantitative analyses and
their figures), :mod:`~govkit.report._view_policy` (metrics and the policy
evaluation), :mod:`~govkit.report._view_lineage` (data lineage) and
:mod:`~govkit.report._view_format` (how values print).

A card carries aggregates only: group counts and metrics, never rows of data.
Figures are drawn while the view is built (when asked), from the same evidence,
so their numbering follows the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.report._context import CardContext
from govkit.report._view_analyses import CardFigures, comparison_tables, quantitative_analyses
from govkit.report._view_context import (
    binding_note,
    evaluated_view,
    lifecycle_fields,
    run_fields,
)
from govkit.report._view_format import (
    fmt_number,
    fmt_time,
    ref_text,
    status_view,
    text_or_none,
)
from govkit.report._view_lineage import lineage_graph, lineage_tree, training_record
from govkit.report._view_policy import metric_rows, policy_view
from govkit.report._viewmodel import (
    AnchorView,
    CardView,
    ColumnView,
    DatasetView,
    DocumentMeta,
    FieldView,
    PageSize,
    TocEntry,
)
from govkit.results import AuditAnchor, EvaluationResult

if TYPE_CHECKING:
    from govkit.report._figures import FigureRenderer

__all__ = ["build_card_view", "SECTIONS"]

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


# ------------------------------------------------------------------------ sections


def _model_details(model: ModelVersionRecord) -> tuple[FieldView, ...]:
    meta = model.metadata
    registered = fmt_time(model.created_at)
    return (
        FieldView("Model", f"{model.name}@{model.version}"),
        FieldView("Description", text_or_none(meta.description)),
        FieldView("Risk tier", text_or_none(meta.risk_tier)),
        FieldView("Estimator", text_or_none(model.estimator), mono=True),
        FieldView("Flavour", model.flavour),
        FieldView("Artifact format", model.artifact_format),
        FieldView("Target", text_or_none(meta.target)),
        FieldView("Owner", text_or_none(meta.owner)),
        FieldView("Contact", text_or_none(meta.contact)),
        FieldView("Licence", text_or_none(meta.license)),
        FieldView("Artifact SHA-256", text_or_none(model.artifact_sha256), mono=True),
        FieldView("Registered at", registered),
        FieldView("Registered by", text_or_none(model.created_by)),
    )


def _dataset_view(record: DatasetRecord) -> DatasetView:
    return DatasetView(
        ref=f"{record.name}@{record.version}",
        fields=(
            FieldView("Dataset", f"{record.name}@{record.version}"),
            FieldView("Rows", fmt_number(record.row_count)),
            FieldView("Fingerprint", text_or_none(record.fingerprint), mono=True),
            FieldView("Source", text_or_none(record.source_uri), mono=True),
            FieldView("Transformation", text_or_none(record.transformation)),
            FieldView("Registered at", fmt_time(record.created_at)),
            FieldView("Registered by", text_or_none(record.created_by)),
        ),
        columns=tuple(ColumnView(c.name, c.dtype) for c in record.columns),
    )


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
            FieldView("Data fingerprint evaluated", text_or_none(run_fp), mono=True),
        ),
        recorded=anchor is not None,
        fingerprint_note=note,
    )


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
    description = text_or_none(meta.description)
    if description is not None:
        short = " ".join(description.split())
        subject += ". " + (short if len(short) <= 200 else short[:199] + "\u2026")
    keywords = ["model card", model.name, ref]
    if run is not None:
        keywords += [f"policy {run.policy_name}", f"verdict {status_view(run.status).text}"]
    keywords += [f"sensitive feature {f}" for f in meta.sensitive_features if text_or_none(f)]
    return DocumentMeta(
        title=f"Model card: {ref}",
        author=text_or_none(meta.owner) or text_or_none(model.created_by) or "govkit",
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
    context: CardContext | None = None,
) -> CardView:
    """The view-model of one card; pure, so equal inputs give equal views.

    ``figures`` draws the plots (matplotlib, or ``figure_renderer``: see
    :class:`FigurePlan`); the Markdown and JSON exports leave it off.
    """
    meta = model.metadata
    training = training_record(model, training_lineage)
    records = [*training_lineage, *(context.evaluation_lineage if context is not None else ())]
    figs = CardFigures(figures, figure_renderer)
    groups, perf, expl, drift = (
        quantitative_analyses(run, figs) if run is not None else ((), (), (), ())
    )
    lineage_figure = None
    if figures:
        from govkit.report._lineage_plot import lineage_figure as draw_lineage

        graph = lineage_graph(model, training, evaluation_data, records)
        lineage_figure = figs.make(draw_lineage(graph))
    return CardView(
        ref=f"{model.name}@{model.version}",
        generated_at=fmt_time(generated_at) or "",
        govkit_version=govkit_version,
        verdict=status_view(run.status) if run is not None else None,
        model_details=_model_details(model),
        intended_use=(
            FieldView("Intended use", text_or_none(meta.intended_use)),
            FieldView("Intended users", text_or_none(meta.intended_users)),
        ),
        out_of_scope_uses=tuple(u for u in meta.out_of_scope_uses if text_or_none(u)),
        factors=(
            FieldView(
                "Sensitive features",
                ", ".join(meta.sensitive_features) if meta.sensitive_features else None,
            ),
            FieldView("Factors", text_or_none(meta.factors)),
        ),
        metrics=metric_rows(run) if run is not None else (),
        evaluation_data=_dataset_view(evaluation_data) if evaluation_data is not None else None,
        evaluation_data_ref=(
            None
            if evaluation_data is not None
            else ref_text(model.evaluation_data or meta.evaluation_data)
        ),
        training_data=_dataset_view(training) if training is not None else None,
        training_data_ref=None if training is not None else ref_text(model.training_data),
        group_tables=groups,
        performance_tables=perf,
        explanation_tables=expl,
        ethical_considerations=text_or_none(meta.ethical_considerations),
        caveats_and_recommendations=text_or_none(meta.caveats_and_recommendations),
        policy=(
            policy_view(
                run,
                model,
                figs.by_rule,
                run_fields=run_fields(context),
                binding_note=binding_note(run, context),
            )
            if run is not None
            else None
        ),
        lineage=lineage_tree(training, records, evaluation_data),
        anchor=_anchor(anchor, run, evaluation_data),
        meta=_document_meta(model, run, generated_at),
        toc=tuple(TocEntry(anchor, title) for anchor, title in SECTIONS),
        drift_tables=drift,
        comparison_tables=comparison_tables(run) if run is not None else (),
        lineage_figure=lineage_figure,
        figures=tuple(figs.drawn),
        page_size=page_size,
        evaluated=evaluated_view(run, evaluation_data, context),
        lifecycle=lifecycle_fields(context),
    )
