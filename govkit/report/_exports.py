"""Standard exports of a model card: Hugging Face metadata (YAML) and Model Card Toolkit JSON.

* :func:`hf_metadata` builds the YAML front matter of a Hugging Face model card
  (hub-docs ``modelcard.md``): ``license``, ``library_name``, ``pipeline_tag``,
  ``tags`` and a ``model-index`` whose metrics are the numbers the policy run
  measured, on the evaluation dataset. :func:`govkit.report.card_markdown` puts
  it on top of the Markdown card.
* :func:`card_json` writes the fields of the Model Card Toolkit schema
  (``model_card_toolkit/schema/v0.0.2/model_card.schema.json``): model details,
  parameters and data, quantitative analysis (every measured metric, overall
  and per group), and considerations. That schema allows no other top-level
  field, so govkit's own facts are mapped onto it: the audit anchor is the
  card's citation, and every rule that did not pass is a limitation.

Both hold aggregates only and are deterministic (same inputs, same bytes).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.report._context import CardContext
from govkit.report._html import card_view
from govkit.report._view_lineage import training_record
from govkit.report._viewmodel import NOT_PROVIDED, CardView, DatasetView, FieldView
from govkit.results import (
    AuditAnchor,
    CheckResult,
    EvaluationResult,
    GroupEvidence,
    MetricsEvidence,
    Status,
)

__all__ = ["hf_metadata", "hf_front_matter", "card_json", "card_dict", "MCT_SCHEMA_VERSION"]

#: The Model Card Toolkit schema version the JSON export follows.
MCT_SCHEMA_VERSION = "0.0.2"

# Licence identifiers the Hugging Face Hub knows, keyed by their SPDX spelling (lower case).
_HF_LICENSES = {
    "apache-2.0": "apache-2.0",
    "mit": "mit",
    "bsd-2-clause": "bsd-2-clause",
    "bsd-3-clause": "bsd-3-clause",
    "gpl-2.0": "gpl-2.0",
    "gpl-3.0": "gpl-3.0",
    "lgpl-3.0": "lgpl-3.0",
    "agpl-3.0": "agpl-3.0",
    "mpl-2.0": "mpl-2.0",
    "cc-by-4.0": "cc-by-4.0",
    "cc-by-sa-4.0": "cc-by-sa-4.0",
    "cc-by-nc-4.0": "cc-by-nc-4.0",
    "cc0-1.0": "cc0-1.0",
    "unlicense": "unlicense",
    "openrail": "openrail",
}
_SPDX_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,63}$")
_URI = re.compile(r"^https?://[^\s<>\"]+$")
_HF_LIBRARIES = {"sklearn": "sklearn", "lightgbm": "lightgbm", "xgboost": "xgboost"}


def _text(value: str | None) -> str | None:
    return None if value is None or not value.strip() else value.strip()


def _number(value: float | None) -> float | None:
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return None
    return float(value)


def _measurements(run: EvaluationResult) -> list[tuple[str, float, str]]:
    """(metric type, value, name) of every number the run measured, each once."""
    out: list[tuple[str, float, str]] = []
    seen: set[object] = set()

    def add(key: object, kind: str, value: float | None, name: str) -> None:
        v = _number(value)
        if v is not None and key not in seen:
            seen.add(key)
            out.append((kind, v, name))

    for c in run.checks:
        ev = c.evidence
        if isinstance(ev, MetricsEvidence):
            for kind, value in ev.values.items():
                add(kind, kind, value, f"{kind} (rule {c.rule_id})")
        elif isinstance(ev, GroupEvidence):
            kind = c.check_id.rsplit(".", 1)[-1]
            by = " x ".join(ev.sensitive_features) or "group"
            add((kind, by), kind, c.value, f"{kind} by {by} (rule {c.rule_id})")
    return out


# ------------------------------------------------------------------ Hugging Face


def hf_metadata(
    model: ModelVersionRecord,
    *,
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
) -> dict[str, Any]:
    """The metadata of a Hugging Face model card, as a dict for the YAML front matter."""
    meta = model.metadata
    data: dict[str, Any] = {}
    licence = _text(meta.license)
    if licence is not None:
        known = _HF_LICENSES.get(licence.lower())
        if known is not None:
            data["license"] = known
        else:
            data["license"] = "other"
            slug = re.sub(r"[^a-z0-9.]+", "-", licence.lower()).strip("-")[:64]
            data["license_name"] = slug or "custom"
    library = _HF_LIBRARIES.get(model.flavour)
    if library is not None:
        data["library_name"] = library
    data["pipeline_tag"] = "tabular-classification"
    data["tags"] = ["tabular-classification", "govkit", "model-card"]
    if run is not None:
        data["tags"].append(f"policy-{status_tag(run.status)}")
    metrics = _measurements(run) if run is not None else []
    if metrics:
        dataset_name = (
            f"{evaluation_data.name}@{evaluation_data.version}"
            if evaluation_data is not None
            else str(run.model if run is not None else model.name)
        )
        dataset: dict[str, Any] = {
            "type": evaluation_data.name if evaluation_data is not None else "unregistered",
            "name": dataset_name,
        }
        if run is not None and run.data_fingerprint:
            dataset["revision"] = run.data_fingerprint
        data["model-index"] = [
            {
                "name": f"{model.name}@{model.version}",
                "results": [
                    {
                        "task": {
                            "type": "tabular-classification",
                            "name": "Tabular classification",
                        },
                        "dataset": dataset,
                        "metrics": [
                            {"type": kind, "value": value, "name": name, "verified": False}
                            for kind, value, name in metrics
                        ],
                    }
                ],
            }
        ]
    return data


def status_tag(status: Status) -> str:
    return {"N/A": "na"}.get(status.value, status.value.lower())


def hf_front_matter(
    model: ModelVersionRecord,
    *,
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
) -> str:
    """``---`` YAML ``---``: the front matter of a Hugging Face model card."""
    import yaml

    body = yaml.safe_dump(
        hf_metadata(model, evaluation_data=evaluation_data, run=run),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100_000,
    )
    return f"---\n{body}---\n"


# ------------------------------------------------------------- Model Card Toolkit


def _field(fields: Sequence[FieldView], label: str) -> str | None:
    for f in fields:
        if f.label == label:
            return f.value
    return None


def _dataset_entry(
    ds: DatasetView | None, record: DatasetRecord | None, role: str, sensitive: Sequence[str]
) -> dict[str, Any] | None:
    if ds is None or record is None:
        return None
    parts = [f"{role} data: {record.row_count:,} rows", f"fingerprint {record.fingerprint}"]
    if _text(record.transformation):
        parts.append(f"transformation: {record.transformation}")
    if record.parents:
        parts.append("derived from " + ", ".join(str(p) for p in record.parents))
    if _text(record.source_uri):
        parts.append(f"source: {record.source_uri}")
    entry: dict[str, Any] = {"name": ds.ref, "description": "; ".join(parts)}
    if record.source_uri and _URI.match(record.source_uri.strip()):
        entry["link"] = record.source_uri.strip()
    present = [s for s in sensitive if any(c.name == s for c in record.columns)]
    if present:
        entry["sensitive"] = {"sensitive_data": present}
    return entry


def _rule_limitation(c: CheckResult) -> dict[str, str]:
    text = f"Policy rule {c.rule_id} ({c.check_id}) {c.status.value}"
    if c.message:
        text += f": {c.message}"
    if c.waiver is not None:
        w = c.waiver
        text += (
            f" (waived: {w.justification}; approved by {w.approver} for {w.model}, "
            f"until {w.expires.isoformat()})"
        )
    return {"description": text}


def card_dict(
    view: CardView,
    model: ModelVersionRecord,
    *,
    training: DatasetRecord | None,
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
    lineage: Sequence[DatasetRecord] = (),
) -> dict[str, Any]:
    """The card as a dict with the fields of the Model Card Toolkit schema v0.0.2.

    The schema has no field for the artifact's digest, the verdict or the lifecycle: they
    are citations (``govkit model artifact``, ``govkit audit anchor``, ``govkit
    lifecycle``), the anchor's naming the verdict, why this run and the data evaluated.
    """
    meta = model.metadata
    details: dict[str, Any] = {"name": model.name}
    if description := _text(meta.description):
        details["overview"] = " ".join(description.split())
        details["documentation"] = description
    owner = _text(meta.owner)
    contact = _text(meta.contact)
    if owner or contact:
        details["owners"] = [
            {k: v for k, v in (("name", owner), ("contact", contact)) if v is not None}
        ]
    details["version"] = {"name": str(model.version), "date": model.created_at.date().isoformat()}
    licence = _text(meta.license)
    if licence is not None:
        details["licenses"] = [
            {"identifier": licence} if _SPDX_LIKE.match(licence) else {"custom_text": licence}
        ]
    links = sorted(
        {
            r.source_uri.strip()
            for r in (training, evaluation_data, *lineage)
            if r is not None and r.source_uri and _URI.match(r.source_uri.strip())
        }
    )
    if links:
        details["references"] = [{"reference": u} for u in links]
    citations: list[dict[str, str]] = []
    if anchor is not None and run is not None:
        shown = _field(view.policy.fields, "Run shown") if view.policy is not None else None
        evaluated = view.evaluated
        citations.append(
            {
                "style": "govkit audit anchor",
                "citation": (
                    f"Policy run of {run.policy_name} ({run.policy_digest}) on {run.model}, "
                    f"verdict {run.status.value}, recorded at audit sequence "
                    f"{anchor.sequence}, event hash {anchor.hash}; evaluated data "
                    f"{run.data_fingerprint or 'not fingerprinted'}"
                    + (f", {evaluated.text}" if evaluated is not None else "")
                    + (f". {evaluated.warning}" if evaluated and evaluated.warning else "")
                    + (f". Run shown: {shown}" if shown else "")
                ),
            }
        )
    citations.append(
        {
            "style": "govkit model artifact",
            "citation": (
                f"{model.name}@{model.version}: {model.artifact_format} artifact, SHA-256 "
                f"{model.artifact_sha256}"
            ),
        }
    )
    if view.lifecycle:
        citations.append(
            {
                "style": "govkit lifecycle",
                "citation": "; ".join(
                    f"{f.label}: {f.value or NOT_PROVIDED}" for f in view.lifecycle
                ),
            }
        )
    details["citations"] = citations

    params: dict[str, Any] = {"model_architecture": model.estimator}
    data = [
        d
        for d in (
            _dataset_entry(view.training_data, training, "Training", meta.sensitive_features),
            _dataset_entry(
                view.evaluation_data, evaluation_data, "Evaluation", meta.sensitive_features
            ),
        )
        if d is not None
    ]
    if data:
        params["data"] = data
    columns = {c.name: c.dtype for c in (training.columns if training is not None else ())}
    features = list(meta.feature_names) or [c for c in columns if c != meta.target]
    if features:
        params["input_format"] = "One row per case with the columns: " + ", ".join(features)
        params["input_format_map"] = [
            {"key": f, "value": columns.get(f, "unknown")} for f in features
        ]
    if _text(meta.target):
        positive = "" if meta.positive_label is None else f" = {meta.positive_label}"
        params["output_format"] = f"Predicted class of {meta.target} and P({meta.target}{positive})"

    performance: list[dict[str, Any]] = []
    for m in view.metrics:
        if m.value == "n/a":
            continue
        entry = {"type": m.check_id.rsplit(".", 1)[-1], "value": m.value}
        across = next((t.features for t in view.group_tables if t.rule_id == m.rule_id), None)
        if across:
            entry["slice"] = "across " + " x ".join(across)
        performance.append(entry)
    for t in view.group_tables:
        for row in t.rows:
            slice_ = ", ".join(f"{f}={v}" for f, v in zip(t.features, row.labels, strict=False))
            for name, value in zip(t.metric_names, row.values, strict=True):
                if value != "n/a":
                    performance.append({"type": name, "value": value, "slice": slice_})
    quantitative: dict[str, Any] = {}
    if performance:
        quantitative["performance_metrics"] = performance

    considerations: dict[str, Any] = {}
    if users := _text(meta.intended_users):
        considerations["users"] = [{"description": users}]
    if use := _text(meta.intended_use):
        considerations["use_cases"] = [{"description": use}]
    limitations = []
    if caveats := _text(meta.caveats_and_recommendations):
        limitations.append({"description": caveats})
    limitations += [
        {"description": f"Out of scope: {u.strip()}"} for u in meta.out_of_scope_uses if _text(u)
    ]
    if run is not None:
        limitations += [_rule_limitation(c) for c in run.checks if c.status != Status.PASS]
    if limitations:
        considerations["limitations"] = limitations
    if ethics := _text(meta.ethical_considerations):
        considerations["ethical_considerations"] = [{"name": ethics}]

    out: dict[str, Any] = {"schema_version": MCT_SCHEMA_VERSION, "model_details": details}
    out["model_parameters"] = params
    if quantitative:
        out["quantitative_analysis"] = quantitative
    if considerations:
        out["considerations"] = considerations
    return out


def card_json(
    model: ModelVersionRecord,
    *,
    training_lineage: Sequence[DatasetRecord],
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
    generated_at: datetime | None = None,
    context: CardContext | None = None,
) -> str:
    """The model card as Model Card Toolkit JSON (schema v0.0.2), deterministic.

    Raises:
        RenderError: an input is over a size limit.
    """
    view = card_view(
        model,
        training_lineage=training_lineage,
        evaluation_data=evaluation_data,
        run=run,
        anchor=anchor,
        generated_at=generated_at,
        context=context,
    )
    training = training_record(model, tuple(training_lineage))
    data = card_dict(
        view,
        model,
        training=training,
        evaluation_data=evaluation_data,
        run=run,
        anchor=anchor,
        lineage=training_lineage,
    )
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
