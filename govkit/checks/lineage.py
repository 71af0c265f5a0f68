"""lineage.* checks: where the model's data came from, and whether it is what was registered."""

from __future__ import annotations

from govkit.checks._registry import CheckContext, Measured, register
from govkit.checks.documentation import filled_fields
from govkit.data import fingerprint
from govkit.policy import LineageRule
from govkit.results import Finding, FindingsEvidence


def _evidence(findings: list[Finding]) -> FindingsEvidence:
    return FindingsEvidence(findings=tuple(findings))


@register(
    "lineage.training_data_registered",
    summary=(
        "the model version names registered training data, and every dataset on its lineage "
        "path has a source URI or registered parents"
    ),
    parameters=(),
)
def check_training_data(rule: LineageRule, ctx: CheckContext) -> Measured:
    record = ctx.model_record
    if record is None or record.training_data is None or not ctx.training_lineage:
        return Measured(
            0.0,
            False,
            "the model version has no registered training data",
            _evidence([Finding(item="training data", ok=False, detail="not registered")]),
        )
    findings = [
        Finding(item="training data", ok=True, detail=f"{record.training_data} is registered")
    ]
    for ds in ctx.training_lineage:
        ok = bool(ds.source_uri) or bool(ds.parents)
        detail = (
            f"source {ds.source_uri}"
            if ds.source_uri
            else f"derived from {', '.join(map(str, ds.parents))}"
            if ds.parents
            else "no source URI and no registered parents: an unregistered hop"
        )
        findings.append(Finding(item=f"{ds.name}@{ds.version}", ok=ok, detail=detail))
    bad = [f.item for f in findings if not f.ok]
    message = (
        f"training data {record.training_data} and {len(ctx.training_lineage) - 1} ancestor(s) "
        "registered with a source"
        if not bad
        else f"lineage incomplete: {', '.join(bad)} lack(s) a source"
    )
    return Measured(float(not bad), not bad, message, _evidence(findings))


@register(
    "lineage.data_fingerprint",
    summary="the data given to the check has the fingerprint of the registered evaluation data",
    parameters=(),
)
def check_data_fingerprint(rule: LineageRule, ctx: CheckContext) -> Measured:
    registered = ctx.evaluation_data
    if registered is None:
        return Measured(
            0.0,
            False,
            "the model version has no registered evaluation data to compare with "
            "(register it and pass --evaluation-data when registering the model)",
            _evidence([Finding(item="evaluation data", ok=False, detail="not registered")]),
        )
    given = ctx.data_fingerprint
    if registered.order_independent or given is None:
        given = fingerprint(ctx.data, order_independent=registered.order_independent)
    ok = given == registered.fingerprint
    detail = (
        f"matches {registered.name}@{registered.version}"
        if ok
        else f"given {given}, registered {registered.fingerprint}"
    )
    message = (
        f"the data is {registered.name}@{registered.version} ({registered.row_count:,} rows)"
        if ok
        else f"the data differs from the registered evaluation data "
        f"{registered.name}@{registered.version}: fingerprint {given} != {registered.fingerprint}"
    )
    return Measured(
        float(ok), ok, message, _evidence([Finding(item="fingerprint", ok=ok, detail=detail)])
    )


@register(
    "lineage.metadata_present",
    summary="the named model metadata fields are filled in",
    parameters=("fields",),
)
def check_metadata(rule: LineageRule, ctx: CheckContext) -> Measured:
    return filled_fields(list(rule.fields), ctx)
