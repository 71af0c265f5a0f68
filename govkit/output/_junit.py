"""``junit``: JUnit XML (the Ant / Jenkins ``junit-10.xsd`` shape), one test case per rule.

How statuses map, so CI test views agree with the gate's exit code:

- PASS: a passing test case.
- FAIL: ``<failure type="FAIL">``.
- ERROR (the check could not be computed): ``<error type="ERROR">``, whatever the
  rule's severity -- a broken check needs a person even when it does not block.
- WARN (a warning-severity rule not met): a *passing* test case whose
  ``<system-out>`` starts with ``WARN``, because a warning does not fail the gate; with
  ``fail_on_warn`` it is a ``<failure type="WARN">``, as the gate then fails.
- N/A (cannot be judged on this input): ``<skipped type="N/A">``.
- WAIVED (not met, but covered by a valid waiver): ``<skipped type="WAIVED">`` whose
  message names the approver and expiry, so a waived rule stays visible.

Every test case carries a ``<system-out>`` with the check id, severity, value, bound,
message and the rule's place in the policy file. The suite is named after the policy;
each case has ``classname`` = policy name and ``name`` = rule id. Times and the
timestamp come from the result, so equal results give equal files.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from govkit.output._context import (
    RenderContext,
    fmt_bound,
    fmt_number,
    fmt_value,
    one_line,
    outcome_text,
    shorten,
)
from govkit.results import CheckResult, EvaluationResult, Status

__all__ = ["write_junit"]

#: Longest ``message`` attribute; the full text is in the element body.
MESSAGE_LIMIT = 1000

# characters XML 1.0 cannot carry at all (even as references)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


def _attr(text: str) -> str:
    return shorten(one_line(_clean(text)), MESSAGE_LIMIT)


def _details(check: CheckResult, ctx: RenderContext) -> str:
    lines = [
        f"status: {check.status.value}",
        f"check: {check.check_id}",
        f"severity: {check.severity}",
        f"value: {fmt_value(check.value, check.bound)}",
        f"bound: {fmt_bound(check.bound)}",
    ]
    if check.interval is not None:
        iv = check.interval
        lines.append(
            f"interval: [{fmt_number(iv.low)}, {fmt_number(iv.high)}] at {iv.level:g}, "
            f"judged on the {iv.judged_on}"
        )
    if check.message or check.status != Status.PASS:
        lines.append(f"message: {outcome_text(check)}")
    if check.description:
        lines.append(f"description: {one_line(check.description)}")
    where = ctx.location_of(check.rule_id)
    if where is not None:
        lines.append(f"defined at: {where.path}" + (f":{where.line}" if where.line else ""))
    return _clean("\n".join(lines) + "\n")


def _duration(result: EvaluationResult) -> str:
    seconds = max((result.finished_at - result.started_at).total_seconds(), 0.0)
    return f"{seconds:.3f}"


def _testcase(check: CheckResult, result: EvaluationResult, ctx: RenderContext) -> ET.Element:
    case = ET.Element("testcase", classname=_attr(result.policy_name), name=_attr(check.rule_id))
    details = _details(check, ctx)
    message = _attr(outcome_text(check))
    status = check.status
    if status == Status.FAIL or (status == Status.WARN and ctx.fail_on_warn):
        ET.SubElement(case, "failure", type=status.value, message=message).text = details
    elif status == Status.ERROR:
        ET.SubElement(case, "error", type=status.value, message=message).text = details
    elif status in (Status.NOT_APPLICABLE, Status.WAIVED):
        ET.SubElement(case, "skipped", type=status.value, message=message).text = details
    ET.SubElement(case, "system-out").text = details
    return case


def write_junit(result: EvaluationResult, ctx: RenderContext) -> str:
    cases = [_testcase(c, result, ctx) for c in result.checks]
    failures = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors)}
    time = _duration(result)

    root = ET.Element("testsuites", {"name": "govkit", **counts, "time": time})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": _attr(result.policy_name),
            **counts,
            "skipped": str(skipped),
            "time": time,
            "timestamp": result.started_at.isoformat(),
        },
    )
    if ctx.policy_file is not None:
        suite.set("file", _attr(ctx.policy_file.path))
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("govkit.version", result.govkit_version),
        ("policy.name", result.policy_name),
        ("policy.digest", result.policy_digest),
        ("model", str(result.model)),
        ("data.fingerprint", result.data_fingerprint or ""),
        ("data.rows", str(result.n_rows)),
        ("verdict", result.status.value),
        ("exit_code", str(result.exit_code(fail_on_warn=ctx.fail_on_warn))),
    ):
        ET.SubElement(props, "property", name=name, value=_attr(value))
    suite.extend(cases)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
