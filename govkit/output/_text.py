"""``text``: a compact report for a terminal or a CI log.

Free text is flattened to one line per item, and an item that would start a line with
``::`` is quoted, so a message cannot forge a CI workflow command in the log.
"""

from __future__ import annotations

from govkit.output._context import RenderContext, one_line
from govkit.results import CheckResult, DriftEvidence, EvaluationResult, GroupEvidence, Status

__all__ = ["write_text"]


def _fmt(check: CheckResult) -> str:
    """The value to 4 decimals, or with the digits it takes to compare with its bound."""
    if check.value is None:
        return "-"
    if check.bound is None:
        return f"{check.value:.4f}"
    return check.bound.shown(check.value, ".4f")


def _inert(text: str) -> str:
    text = one_line(text)
    return repr(text) if text.startswith("::") else text


def _left_out(c: CheckResult) -> bool:
    """A PASS that left groups or features unjudged: its message says which."""
    ev = c.evidence
    if isinstance(ev, GroupEvidence):
        return any(not g.judged for g in ev.groups)
    if isinstance(ev, DriftEvidence):
        return any(not f.judged for f in ev.features)
    return False


def write_text(result: EvaluationResult, ctx: RenderContext) -> str:
    lines = [
        f"policy  {_inert(result.policy_name)} ({_inert(result.policy_path or 'in memory')})",
        f"model   {_inert(str(result.model))}",
        f"data    {result.n_rows:,} rows, "
        f"{_inert(result.data_fingerprint or 'fingerprint not computed')}",
        "",
    ]
    rule_ids = [_inert(c.rule_id) for c in result.checks]
    width = max((len(r) for r in rule_ids), default=4)
    for rule_id, c in zip(rule_ids, result.checks, strict=True):
        sev = "" if c.severity == "error" else " (warning)"
        lines.append(
            f"{c.status.value:<5} {rule_id:<{width}}  {_fmt(c):>8}  "
            f"{str(c.bound) if c.bound else '':<16} {_inert(c.check_id)}{sev}"
        )
        if c.message and (c.status is not Status.PASS or _left_out(c)):
            lines.append(f"{'':<6}{_inert(c.message)}")
    counts = result.counts
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    lines += ["", f"verdict {result.status.value}: {summary}"]
    return "\n".join(lines) + "\n"
