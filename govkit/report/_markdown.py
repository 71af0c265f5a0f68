"""Markdown model cards (GitHub-flavoured), from the same view-model as the HTML card.

With ``front_matter=True`` (the default) the card starts with the YAML metadata of a
Hugging Face model card (see :mod:`govkit.report._exports`), so the file can be
uploaded as a model repository's README.md.

Every value goes through :func:`md_inline` (or :func:`md_block` for prose), the one
place that neutralises Markdown and HTML: control characters show as U+FFFD and bidi
controls as ``[U+202E]`` (:func:`govkit._text.document_text`); ``& < >`` become entities,
so raw HTML in a value renders as text; inline syntax characters are backslash-escaped; line breaks
are flattened inside tables and list items, and block markers are escaped at the
start of prose lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from govkit._text import document_text
from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.report._context import CardContext
from govkit.report._exports import hf_front_matter
from govkit.report._html import card_view
from govkit.report._view_context import run_dataset
from govkit.report._viewmodel import (
    NOT_PROVIDED,
    CardView,
    DatasetView,
    FieldView,
    LineageNode,
    StatusView,
)
from govkit.results import AuditAnchor, EvaluationResult

__all__ = ["card_markdown", "md_inline", "md_block"]

_INLINE = re.compile(r"([\\`*_\[\]|~])")
# heading, list item, thematic break or setext underline at the start of a line
_BLOCK_START = re.compile(r"^(#{1,6}|[-+=]+|\d{1,9}[.)])(?=\s|$)")
_MISSING = f"*{NOT_PROVIDED}*"


def md_inline(text: str | None) -> str:
    """``text`` as inert inline Markdown on one line; None reads *Not provided*."""
    if text is None:
        return _MISSING
    # no line breaks: they would end a table row or list item
    text = " ".join(document_text(text).split())
    text = _INLINE.sub(r"\\\1", text)
    text = _BLOCK_START.sub(_escape_block_marker, text)  # values may open a list item
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_block(text: str | None) -> str:
    """Multi-line prose as inert Markdown paragraphs, keeping its line breaks."""
    if text is None or not text.strip():
        return _MISSING
    paragraphs = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = [md_inline(line) for line in para.splitlines() if line.strip()]
        paragraphs.append("\\\n".join(lines))  # backslash + newline: a hard line break
    return "\n\n".join(paragraphs)


def _escape_block_marker(match: re.Match[str]) -> str:
    marker = match.group(1)
    return marker[:-1] + "\\" + marker[-1]


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """A GFM table; cells must already be escaped. ``align``: 'l'/'r' per column."""
    marks = [("---:" if a == "r" else "---") for a in align.ljust(len(header), "l")]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _fields(items: Sequence[FieldView]) -> list[str]:
    return _table(["Field", "Value"], ([md_inline(f.label), md_inline(f.value)] for f in items))


def _dataset(ds: DatasetView | None, declared: str | None) -> list[str]:
    if ds is None:
        note = (
            f" (declared as {md_inline(declared)}; its record was not supplied)" if declared else ""
        )
        return [_MISSING + note]
    cols = ", ".join(f"{md_inline(c.name)} ({md_inline(c.dtype)})" for c in ds.columns)
    return [*_fields(ds.fields), "", f"**Columns ({len(ds.columns)}):** {cols or _MISSING}"]


def _lineage(nodes: Sequence[LineageNode], depth: int = 0) -> list[str]:
    out = []
    pad = "  " * depth
    for n in nodes:
        if n.note is not None:
            out.append(f"{pad}- **{md_inline(n.ref)}** ({md_inline(n.note)})")
            continue
        parents = ", ".join(md_inline(p) for p in n.parents) or "none (original data)"
        out.append(
            f"{pad}- **{md_inline(n.ref)}** \u00b7 source: {md_inline(n.source)} \u00b7 "
            f"transformation: {md_inline(n.transformation)} \u00b7 parents: {parents}"
        )
        out += _lineage(n.children, depth + 1)
    return out


def _status(s: StatusView) -> str:
    return f"{s.symbol} {s.text}"


def render_markdown(card: CardView) -> str:
    """The Markdown text of a card view."""
    c = card
    out: list[str] = [f"# Model card: {md_inline(c.ref)}", ""]
    out += [f"Generated {md_inline(c.generated_at)} by govkit {md_inline(c.govkit_version)}", ""]
    out += _table(
        ["Policy verdict", "Policy", "Audit record", "Evaluated data"],
        [
            [
                _status(c.verdict) if c.verdict else _MISSING,
                md_inline(c.policy.name) if c.policy else _MISSING,
                f"sequence #{md_inline(c.anchor.sequence)}" if c.anchor.recorded else _MISSING,
                md_inline(c.evaluated.text) if c.evaluated else _MISSING,
            ]
        ],
    )
    if c.evaluated is not None and c.evaluated.warning is not None:
        out += ["", f"> **Warning:** Evaluated data: {md_inline(c.evaluated.warning)}"]
    if c.policy is not None and c.policy.binding_note is not None:
        out += ["", f"> **Warning:** {md_inline(c.policy.binding_note)}"]

    def section(title: str, body: list[str]) -> None:
        out.extend(["", f"## {title}", "", *body])

    lifecycle = (
        ["", "**Lifecycle and approvals:**", "", *_fields(c.lifecycle)] if c.lifecycle else []
    )
    section("Model details", [*_fields(c.model_details), *lifecycle])
    uses = [f"- {md_inline(u)}" for u in c.out_of_scope_uses] or [_MISSING]
    section("Intended use", [*_fields(c.intended_use), "", "**Out-of-scope uses:**", "", *uses])
    section("Factors", _fields(c.factors))
    section(
        "Metrics",
        _table(
            ["Metric", "Rule", "Check", "Value", "Bound", "Status"],
            (
                [
                    md_inline(m.metric),
                    md_inline(m.rule_id),
                    md_inline(m.check_id),
                    md_inline(m.value),
                    md_inline(m.bound),
                    _status(m.status),
                ]
                for m in c.metrics
            ),
            align="lllrll",
        )
        if c.metrics
        else [_MISSING],
    )
    section("Evaluation data", _dataset(c.evaluation_data, c.evaluation_data_ref))
    section("Training data", _dataset(c.training_data, c.training_data_ref))

    analyses: list[str] = []
    for perf in c.performance_tables:
        analyses += [f"### Performance (rule {md_inline(perf.rule_id)})", ""]
        values = [*perf.values, *perf.confusion]
        analyses += _table(
            ["Metric", "Value"], ([md_inline(v.name), md_inline(v.value)] for v in values), "lr"
        )
        analyses.append("")
    for g in c.group_tables:
        analyses += [
            f"### {md_inline(g.metric)} by {md_inline(' x '.join(g.features))} "
            f"(rule {md_inline(g.rule_id)})",
            "",
        ]
        header = [
            *(md_inline(f) for f in g.features),
            "Count",
            *(md_inline(n) for n in g.metric_names),
            "Judged",
        ]
        rows = [
            [
                "**All groups**",
                *[""] * (len(g.features) - 1),
                "",
                *(md_inline(v) for v in g.overall),
                "",
            ]
        ]
        rows += [
            [
                *(md_inline(x) for x in r.labels),
                md_inline(r.count),
                *(md_inline(v) for v in r.values),
                "yes" if r.judged else "not judged",
            ]
            for r in g.rows
        ]
        align = "l" * len(g.features) + "r" * (1 + len(g.metric_names)) + "l"
        analyses += _table(header, rows, align)
        analyses.append("")
    for e in c.explanation_tables:
        analyses += [f"### Explanations ({md_inline(e.method)}, rule {md_inline(e.rule_id)})", ""]
        analyses += _table(
            ["Feature", "Mean abs. attribution"],
            ([md_inline(f.name), md_inline(f.value)] for f in e.features),
            "lr",
        )
        analyses.append("")
    for d in c.drift_tables:
        analyses += [f"### Drift ({md_inline(d.statistic)}, rule {md_inline(d.rule_id)})", ""]
        analyses += _table(
            ["Feature", md_inline(d.statistic), "p-value", "Bound", "Result"],
            (
                [
                    md_inline(r.feature),
                    md_inline(r.value),
                    md_inline(r.p_value),
                    md_inline(r.bound),
                    md_inline(r.result),
                ]
                for r in d.rows
            ),
            "lrrll",
        )
        analyses.append("")
    for t in c.comparison_tables:
        analyses += [
            f"### Champion {md_inline(t.champion)} and challenger {md_inline(t.challenger)} "
            f"(rule {md_inline(t.rule_id)})",
            "",
        ]
        analyses += _table(
            ["Metric", "Champion", "Challenger", "Worse by", "Allowed", "Result"],
            (
                [
                    md_inline(r.metric),
                    md_inline(r.champion),
                    md_inline(r.challenger),
                    md_inline(r.worsening),
                    md_inline(r.allowed),
                    "ok" if r.ok else "\u2717 too much worse",
                ]
                for r in t.rows
            ),
            "lrrrrl",
        )
        analyses.append("")
    section("Quantitative analyses", analyses[:-1] if analyses else [_MISSING])
    section("Ethical considerations", [md_block(c.ethical_considerations)])
    section("Caveats and recommendations", [md_block(c.caveats_and_recommendations)])

    if c.policy is None:
        section("Policy evaluation", [_MISSING])
    else:
        p = c.policy
        rules = _table(
            ["Rule", "Check", "Severity", "Status", "Value", "Bound", "Message"],
            (
                [
                    md_inline(r.rule_id),
                    md_inline(r.check_id),
                    md_inline(r.severity),
                    _status(r.status),
                    md_inline(r.value),
                    md_inline(r.bound),
                    md_inline(r.message or "-"),
                ]
                for r in p.rules
            ),
            align="llllrll",
        )
        warning = [
            f"> **Warning:** {md_inline(note)}\n"
            for note in (p.model_note, p.binding_note)
            if note is not None
        ]
        waivers = [
            f"- **{md_inline(r.rule_id)}** waived"
            + (f" (would be {md_inline(r.waiver.unmet.text)})" if r.waiver.unmet else "")
            + f": {md_inline(r.waiver.justification)} \u2014 approved by "
            f"{md_inline(r.waiver.approver)} for {md_inline(r.waiver.model)}, "
            f"until {md_inline(r.waiver.expires)}"
            for r in p.rules
            if r.waiver is not None
        ]
        intervals = [
            f"- **{md_inline(r.rule_id)}**: {md_inline(r.interval)}"
            for r in p.rules
            if r.interval is not None
        ]
        extra: list[str] = []
        if waivers:
            extra += ["", "**Waivers:**", "", *waivers]
        if intervals:
            extra += ["", "**Confidence intervals:**", "", *intervals]
        section(
            "Policy evaluation",
            [
                f"Overall verdict: **{_status(p.verdict)}**",
                "",
                *warning,
                *_fields(p.fields),
                "",
                *rules,
                *extra,
            ],
        )
    section("Data lineage", _lineage(c.lineage) or [_MISSING])
    body = _fields(c.anchor.fields)
    if c.anchor.fingerprint_note:
        body += ["", f"> **Warning:** {md_inline(c.anchor.fingerprint_note)}"]
    section("Audit anchor", body)
    return "\n".join(out) + "\n"


def card_markdown(
    model: ModelVersionRecord,
    *,
    training_lineage: Sequence[DatasetRecord],
    evaluation_data: DatasetRecord | None,
    run: EvaluationResult | None,
    anchor: AuditAnchor | None,
    generated_at: datetime | None = None,
    front_matter: bool = True,
    context: CardContext | None = None,
) -> str:
    """The model card as GitHub-flavoured Markdown (same sections as the HTML card).

    ``front_matter`` puts the Hugging Face model card metadata (YAML: licence,
    library, tags and a ``model-index`` with the measured metrics) on top.
    """
    body = render_markdown(
        card_view(
            model,
            training_lineage=training_lineage,
            evaluation_data=evaluation_data,
            run=run,
            anchor=anchor,
            generated_at=generated_at,
            context=context,
        )
    )
    if not front_matter:
        return body
    # the model-index names the data the metrics were measured on
    measured_on = run_dataset(run, evaluation_data, context) if run is not None else None
    return hf_front_matter(model, evaluation_data=measured_on, run=run) + "\n" + body
