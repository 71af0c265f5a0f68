"""``markdown``: a compact GitHub-flavoured table for a pull-request comment or step summary.

Problems come first (FAIL, ERROR, WARN, WAIVED, N/A, then PASS; policy order within
each), every status is shown as an emoji *and* its name, and every piece of text from
the policy or a check goes through :func:`md_text`, which keeps it inert: one line, ``|``
and other Markdown syntax backslash-escaped, ``& < >`` as entities (so ``<script>``
shows as text), and ``@`` broken so a message cannot mention a person or team.
"""

from __future__ import annotations

import re

from govkit.output._context import (
    PROBLEM_ORDER,
    RenderContext,
    counts_text,
    fmt_bound,
    fmt_number,
    fmt_value,
    one_line,
    outcome_text,
    shorten,
)
from govkit.results import CheckResult, EvaluationResult, Status

__all__ = ["write_markdown", "md_text", "STATUS_EMOJI"]

#: Longest message cell (characters, before escaping); a cut ends in an ellipsis.
CELL_LIMIT = 300

STATUS_EMOJI = {
    Status.PASS: "\u2705",  # white heavy check mark
    Status.WARN: "\u26a0\ufe0f",  # warning sign
    Status.FAIL: "\u274c",  # cross mark
    Status.ERROR: "\U0001f4a5",  # collision
    Status.NOT_APPLICABLE: "\u2796",  # heavy minus sign
    Status.WAIVED: "\U0001f3f3\ufe0f",  # white flag
}

_SYNTAX = re.compile(r"([\\`*_\[\]|~])")
_MENTION = re.compile(r"(?<!\w)@(?=\w)")  # "@team" mentions; "a@b" does not


def md_text(text: str, limit: int | None = None) -> str:
    """``text`` as inert inline Markdown on one line, at most ``limit`` characters of it."""
    text = one_line(text)
    if limit is not None:
        text = shorten(text, limit)
    text = _SYNTAX.sub(r"\\\1", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u200b", text)


def _status(status: Status) -> str:
    return f"{STATUS_EMOJI.get(status, '')} {status.value}".strip()


def _value(check: CheckResult) -> str:
    text = fmt_value(check.value, check.bound)
    if check.interval is not None:
        iv = check.interval
        text += f" ({iv.level:.0%} CI {fmt_number(iv.low)}\u2013{fmt_number(iv.high)})"
    return md_text(text)


def _row(check: CheckResult) -> str:
    message = "" if check.status == Status.PASS and not check.message else outcome_text(check)
    cells = [
        _status(check.status),
        md_text(check.rule_id),
        _value(check),
        md_text(fmt_bound(check.bound)),
        md_text(message, CELL_LIMIT),
    ]
    return "| " + " | ".join(cells) + " |"


def write_markdown(result: EvaluationResult, ctx: RenderContext) -> str:
    status = result.status
    failed = result.exit_code(fail_on_warn=ctx.fail_on_warn) == 1
    gate = "gate failed" if failed else "gate passed"
    if status == Status.WARN and failed:
        gate += " (warnings fail it: --fail-on-warn)"
    checks = sorted(result.checks, key=lambda c: PROBLEM_ORDER.get(c.status, 9))
    lines = [
        f"### {_status(status)} govkit: {md_text(result.policy_name)}",
        "",
        f"**Verdict: {status.value}**, {gate}: {counts_text(result)}.",
        "",
        f"Model {md_text(str(result.model))} on {result.n_rows:,} rows.",
        "",
        "| Status | Rule | Value | Bound | Message |",
        "| --- | --- | ---: | --- | --- |",
        *(_row(c) for c in checks),
        "",
    ]
    if ctx.policy_file is not None:
        lines += [
            f"<sub>Policy {md_text(ctx.policy_file.path)} "
            f"({md_text(result.policy_digest[:19])}\u2026), govkit "
            f"{md_text(result.govkit_version)}</sub>",
            "",
        ]
    return "\n".join(lines)
