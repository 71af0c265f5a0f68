"""``github``: GitHub Actions workflow commands (annotations), and the job step summary.

Each rule that is not PASS becomes one annotation on the rule's line of the policy file:
``::error`` for FAIL (and for ERROR of an error-severity rule), ``::warning`` for WARN
(and ERROR of a warning-severity rule; ``::error`` with ``fail_on_warn``), ``::notice``
for N/A and WAIVED. A last plain line gives the verdict; it starts with ``govkit:`` so it
is never read as a command.

Values are escaped as the Actions toolkit does (``%``, CR and LF in the message;
also ``:`` and ``,`` in properties), so no text from a policy or a check can end an
annotation early or start a command of its own. File paths are given only when the
policy file lies under the working directory (the workspace), as GitHub requires.

The step summary is a side effect, so it lives apart from the pure writer:
:func:`govkit.output.write_step_summary` appends the Markdown report to the file
``$GITHUB_STEP_SUMMARY`` names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from govkit._text import visible
from govkit.output._context import RenderContext, counts_text, one_line, outcome_text, shorten
from govkit.results import CheckResult, EvaluationResult, Status

__all__ = ["write_github", "append_step_summary", "escape_data", "escape_property"]

log = logging.getLogger(__name__)

#: Longest annotation message (characters, before escaping); GitHub shows a few KB at most.
MESSAGE_LIMIT = 2000


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF percent-encoded, other control
    characters shown as U+FFFD (the log viewer would act on escape sequences)."""
    return visible(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as :func:`escape_data`, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(check: CheckResult, ctx: RenderContext) -> str:
    if check.status in (Status.FAIL, Status.WARN, Status.ERROR):
        return "error" if check.blocking or ctx.fail_on_warn else "warning"
    return "notice"  # N/A, WAIVED


def _annotation(check: CheckResult, ctx: RenderContext) -> str:
    props: list[tuple[str, str]] = []
    where = ctx.location_of(check.rule_id)
    if where is not None and where.relative:
        props.append(("file", where.path))
        if where.line is not None:
            props.append(("line", str(where.line)))
    props.append(("title", f"govkit {check.status.value}: {one_line(check.rule_id)}"))
    head = ",".join(f"{k}={escape_property(v)}" for k, v in props)
    message = shorten(outcome_text(check).strip(), MESSAGE_LIMIT)
    return f"::{_command(check, ctx)} {head}::{escape_data(message)}"


def write_github(result: EvaluationResult, ctx: RenderContext) -> str:
    lines = [_annotation(c, ctx) for c in result.checks if c.status != Status.PASS]
    failed = result.exit_code(fail_on_warn=ctx.fail_on_warn) == 1
    lines.append(
        f"govkit: verdict {result.status.value} ({'gate failed' if failed else 'gate passed'}) "
        f"for policy {one_line(result.policy_name)} on model {one_line(str(result.model))}: "
        f"{counts_text(result)}"
    )
    return "\n".join(lines) + "\n"


def append_step_summary(markdown: str, *, environ: Mapping[str, str]) -> Path | None:
    """Append ``markdown`` to the file ``$GITHUB_STEP_SUMMARY`` names; that file, or None.

    A summary that cannot be written is logged (to stderr) and skipped: it must not
    change the gate's verdict.
    """
    target = environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
    except OSError as exc:
        log.warning("cannot append the step summary to %s: %s", path, exc.strerror or exc)
        return None
    return path
