"""lineage.* checks: where the model's data came from, and whether it is what was registered.

Dask engine: only ``data_fingerprint`` reads the data; it compares the ordered fingerprint
of the rows in partition order (:func:`govkit.checks._dask.fingerprint_dask`, the same
format as :func:`govkit.data.fingerprint`) and is ERROR for evaluation data registered
with an order-independent fingerprint.
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime

from govkit.checks._registry import CheckContext, Measured, NotApplicable, register
from govkit.checks.documentation import filled_fields
from govkit.data import fingerprint
from govkit.exceptions import EvaluationError
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
    if ctx.dask is not None and registered.order_independent:
        raise EvaluationError(
            f"{registered.name}@{registered.version} is registered with an order-independent "
            "fingerprint, which sorts every row in one process; the Dask engine computes only "
            "the ordered fingerprint. Register the evaluation data without "
            "--order-independent, or run this check with --engine pandas"
        )
    if ctx.dask is not None and given is None:
        from govkit.checks._dask import fingerprint_dask

        columns = list(ctx.data.columns)  # the data as given, without the model's output
        given = fingerprint_dask(ctx.dask.frame[columns], n_rows=ctx.dask.n_rows)
    elif registered.order_independent or given is None:
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


def _source_allowed(uri: str, patterns: list[str]) -> str | None:
    """The first pattern ``uri`` matches: a glob when it has *, ? or [, else a prefix."""
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            if fnmatch.fnmatchcase(uri, pattern):
                return pattern
        elif uri.startswith(pattern):
            return pattern
    return None


@register(
    "lineage.sources_allowed",
    summary=(
        "every dataset on the training data's lineage path comes from an allowed source "
        "(URI prefix or glob pattern); a dataset with neither a source nor registered "
        "parents is an unregistered hop and fails"
    ),
    parameters=("allowed",),
)
def check_sources_allowed(rule: LineageRule, ctx: CheckContext) -> Measured:
    if not ctx.training_lineage:
        return Measured(
            0.0,
            False,
            "the model version has no registered training data, so its sources are unknown",
            _evidence([Finding(item="training data", ok=False, detail="not registered")]),
        )
    findings = []
    for ds in ctx.training_lineage:
        if ds.source_uri:
            match = _source_allowed(ds.source_uri, rule.allowed)
            ok = match is not None
            detail = (
                f"{ds.source_uri} (allowed by '{match}')"
                if ok
                else f"{ds.source_uri} is not on the allow-list"
            )
        else:
            ok = bool(ds.parents)
            detail = (
                f"derived from {', '.join(map(str, ds.parents))}"
                if ok
                else "no source URI and no registered parents: an unregistered hop"
            )
        findings.append(Finding(item=f"{ds.name}@{ds.version}", ok=ok, detail=detail))
    bad = [f for f in findings if not f.ok]
    message = (
        f"all {len(findings)} dataset(s) on the lineage path come from allowed sources"
        if not bad
        else "not from an allowed source: " + "; ".join(f"{f.item}: {f.detail}" for f in bad)
    )
    share = (len(findings) - len(bad)) / len(findings)
    return Measured(share, not bad, message, _evidence(findings))


def _normalised(name: str) -> str:
    return name.strip().casefold()


@register(
    "lineage.pii_absent",
    summary=(
        "none of the declared PII columns is a model input feature (names compared "
        "case-insensitively)"
    ),
    parameters=("columns",),
)
def check_pii_absent(rule: LineageRule, ctx: CheckContext) -> Measured:
    features = list(ctx.feature_names)
    if not features:
        raise NotApplicable(
            "the model's input features are unknown (recorded predictions without "
            "feature_names in the model metadata)"
        )
    by_name = {_normalised(f): f for f in features}
    findings = []
    for column in rule.columns:
        used = by_name.get(_normalised(column))
        findings.append(
            Finding(
                item=column,
                ok=used is None,
                detail=f"model input feature '{used}'" if used else "not a model input",
            )
        )
    found = [f.item for f in findings if not f.ok]
    message = (
        f"none of {len(findings)} declared PII column(s) is among the {len(features)} model "
        "input features"
        if not found
        else f"PII column(s) used as model input: {', '.join(found)}; remove them from the "
        "model's features"
    )
    return Measured(float(len(found)), not found, message, _evidence(findings))


@register(
    "lineage.max_data_age_days",
    summary="the training data was registered at most 'days' days before the check",
    parameters=("days",),
)
def check_data_age(rule: LineageRule, ctx: CheckContext) -> Measured:
    assert rule.days is not None
    if not ctx.training_lineage:
        return Measured(
            None,
            False,
            "the model version has no registered training data, so its age is unknown",
            _evidence([Finding(item="training data", ok=False, detail="not registered")]),
        )
    training = ctx.training_lineage[0]
    now = ctx.now or datetime.now(UTC)
    created = training.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    age = (now - created).total_seconds() / 86400
    ok = age <= rule.days
    detail = f"registered {created:%Y-%m-%d %H:%M} UTC, {age:.1f} days before the check"
    message = (
        f"training data {training.name}@{training.version} is {age:.1f} days old; "
        f"allowed {rule.days}"
    )
    finding = Finding(item=f"{training.name}@{training.version}", ok=ok, detail=detail)
    return Measured(age, ok, message, _evidence([finding]))
