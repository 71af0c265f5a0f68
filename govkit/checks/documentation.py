"""documentation.* checks: the model-card fields auditors and affected people need."""

from __future__ import annotations

from govkit.checks._registry import CheckContext, Measured, register
from govkit.policy import DocumentationRule
from govkit.results import Finding, FindingsEvidence


def filled_fields(fields: list[str], ctx: CheckContext) -> Measured:
    """Shared by documentation.required_fields and lineage.metadata_present."""
    meta = ctx.model_record.metadata if ctx.model_record else None
    findings = []
    for name in fields:
        value = getattr(meta, name, None) if meta else None
        ok = value not in (None, "", (), [], {}) and not (
            isinstance(value, str) and not value.strip()
        )
        findings.append(Finding(item=name, ok=ok, detail="filled" if ok else "not provided"))
    missing = [f.item for f in findings if not f.ok]
    share = (len(findings) - len(missing)) / len(findings)
    message = (
        f"all {len(findings)} required fields are filled"
        if not missing
        else f"not provided: {', '.join(missing)} (add them to the model metadata file)"
    )
    return Measured(share, not missing, message, FindingsEvidence(findings=tuple(findings)))


@register(
    "documentation.required_fields",
    summary=(
        "model-card fields filled: by default intended use, out-of-scope uses, ethical "
        "considerations, owner and the contact for contesting a decision"
    ),
    parameters=("fields",),
)
def check_required_fields(rule: DocumentationRule, ctx: CheckContext) -> Measured:
    return filled_fields(list(rule.fields), ctx)
