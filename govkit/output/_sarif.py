"""``sarif``: a SARIF 2.1.0 log, for GitHub code scanning and other SARIF viewers.

One run; ``tool.driver`` is govkit with one ``reportingDescriptor`` per policy rule
(``id`` = rule id, ``shortDescription`` = check id, ``fullDescription`` = the rule's
description, ``defaultConfiguration.level`` from its severity). Each rule that is not
PASS gives one ``result`` located at the rule in the policy file (a relative URI under
``%SRCROOT%`` when the file is in the working directory, with the rule's line when the
loaded policy was given):

- FAIL: level ``error``; WARN: level ``warning``;
- ERROR: level ``error`` for an error-severity rule, ``warning`` for a warning-severity
  one (the same weight the gate gives it);
- N/A: ``kind: notApplicable`` (level ``none``, as SARIF requires for that kind);
- WAIVED: the level it would have had, plus an accepted external ``suppression``
  carrying the justification, approver and expiry -- viewers show it as dismissed.

Results carry a ``partialFingerprints`` entry built from the policy name and rule id,
so an alert keeps its identity when lines move. Non-finite numbers become ``null``.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from typing import Any

from govkit._text import json_text
from govkit.output._context import Location, RenderContext, fmt_bound, one_line, outcome_text
from govkit.results import Bound, CheckResult, EvaluationResult, Status

__all__ = ["write_sarif", "SARIF_SCHEMA_URI", "SARIF_VERSION"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "govkitRule/v1"

_LEVEL = {"error": "error", "warning": "warning"}


def _num(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def _bound(bound: Bound | None) -> dict[str, Any] | None:
    if bound is None:
        return None
    return {"min": _num(bound.min), "max": _num(bound.max), "text": fmt_bound(bound)}


def _artifact_location(where: Location) -> dict[str, Any]:
    loc: dict[str, Any] = {"uri": where.uri}
    if where.relative:
        loc["uriBaseId"] = SRCROOT
    return loc


def _descriptor(check: CheckResult) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": check.rule_id,
        "shortDescription": {"text": check.check_id},
    }
    if check.description.strip():
        rule["fullDescription"] = {"text": one_line(check.description)}
    rule["defaultConfiguration"] = {"level": _LEVEL[check.severity]}
    rule["properties"] = {
        "checkId": check.check_id,
        "kind": check.kind,
        "severity": check.severity,
        "bound": _bound(check.bound),
        "tags": ["govkit", check.kind],
    }
    return rule


def _level(check: CheckResult) -> str:
    status = check.unmet_status if check.status == Status.WAIVED else check.status
    if status == Status.WARN or check.severity == "warning":
        return "warning"
    return "error"


def _result(
    index: int, check: CheckResult, result: EvaluationResult, ctx: RenderContext
) -> dict[str, Any]:
    out: dict[str, Any] = {"ruleId": check.rule_id, "ruleIndex": index}
    if check.status == Status.NOT_APPLICABLE:
        out["kind"] = "notApplicable"
        out["level"] = "none"
    else:
        out["kind"] = "fail"
        out["level"] = _level(check)
    out["message"] = {"text": f"{check.status.value}: {one_line(outcome_text(check))}"}
    where = ctx.location_of(check.rule_id)
    if where is not None:
        physical: dict[str, Any] = {"artifactLocation": _artifact_location(where)}
        if where.line is not None:
            physical["region"] = {"startLine": where.line}
        out["locations"] = [{"physicalLocation": physical}]
    identity = f"{result.policy_name}\x00{check.rule_id}".encode()
    out["partialFingerprints"] = {FINGERPRINT_KEY: hashlib.sha256(identity).hexdigest()}
    if check.status == Status.WAIVED and check.waiver is not None:
        w = check.waiver
        out["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": one_line(w.justification),
                "properties": {"approver": w.approver, "expires": w.expires.isoformat()},
            }
        ]
    props: dict[str, Any] = {
        "status": check.status.value,
        "checkId": check.check_id,
        "severity": check.severity,
        "value": _num(check.value),
        "bound": _bound(check.bound),
    }
    if check.interval is not None:
        iv = check.interval
        props["interval"] = {
            "low": _num(iv.low),
            "high": _num(iv.high),
            "level": _num(iv.level),
            "judgedOn": iv.judged_on,
        }
    out["properties"] = props
    return out


def write_sarif(result: EvaluationResult, ctx: RenderContext) -> str:
    descriptors: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for check in result.checks:
        if check.rule_id not in index:
            index[check.rule_id] = len(descriptors)
            descriptors.append(_descriptor(check))
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "govkit",
                "version": result.govkit_version,
                "rules": descriptors,
            }
        },
        "invocations": [
            {
                "executionSuccessful": True,
                "startTimeUtc": _utc(result.started_at),
                "endTimeUtc": _utc(result.finished_at),
                "exitCode": result.exit_code(fail_on_warn=ctx.fail_on_warn),
            }
        ],
    }
    if ctx.policy_file is not None:
        run["artifacts"] = [
            {
                "location": _artifact_location(ctx.policy_file),
                "roles": ["policy"],
            }
        ]
    run["results"] = [
        _result(index[c.rule_id], c, result, ctx) for c in result.checks if c.status != Status.PASS
    ]
    run["properties"] = {
        "policy": result.policy_name,
        "policyDigest": result.policy_digest,
        "model": str(result.model),
        "dataFingerprint": result.data_fingerprint,
        "rows": result.n_rows,
        "verdict": result.status.value,
    }
    log = {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}
    return json_text(log) + "\n"


def _utc(moment: datetime) -> str:
    """SARIF date-time: UTC with a Z (naive times are taken as UTC, as govkit records them)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"
