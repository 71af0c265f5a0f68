"""Machine and human output of an evaluation: one interface, one writer per format.

Every writer is a pure function of the result and a :class:`RenderContext` (the gate
options and where each rule sits in the policy file): it returns a string, reads and
writes no file, prints nothing, and gives equal output for equal input. The formats:

``text``      a compact report for a terminal or CI log
``json``      the whole result plus verdict and exit code
``junit``     JUnit XML, one test case per rule (see :mod:`govkit.output._junit`)
``sarif``     SARIF 2.1.0, one result per rule not met, at the rule's line
``github``    GitHub Actions annotations (and :func:`write_step_summary`)
``markdown``  a table for a pull-request comment

Give ``policy`` (the :class:`~govkit.policy.LoadedPolicy` the result was evaluated
from) for file-and-line locations; without it, findings point at the policy file only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from govkit.exceptions import RenderError
from govkit.output._context import RenderContext, build_context
from govkit.output._github import append_step_summary, write_github
from govkit.output._json import write_json
from govkit.output._junit import write_junit
from govkit.output._markdown import write_markdown
from govkit.output._sarif import write_sarif
from govkit.output._text import write_text
from govkit.results import EvaluationResult

if TYPE_CHECKING:
    from govkit.policy import LoadedPolicy

__all__ = [
    "FORMATS",
    "RenderContext",
    "Writer",
    "render",
    "to_json",
    "to_text",
    "write_step_summary",
]

Writer = Callable[[EvaluationResult, RenderContext], str]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

#: Output formats by name, in the order the CLI lists them.
FORMATS: dict[str, Writer] = {
    "text": write_text,
    "json": write_json,
    "junit": write_junit,
    "sarif": write_sarif,
    "github": write_github,
    "markdown": write_markdown,
}


def render(
    result: EvaluationResult,
    fmt: str,
    *,
    policy: LoadedPolicy | None = None,
    fail_on_warn: bool = False,
) -> str:
    """``result`` in format ``fmt`` (a key of :data:`FORMATS`).

    ``policy``: the loaded policy the result came from, for each rule's file and line
    (ignored if its digest differs from the result's). ``fail_on_warn``: render the
    gate as ``--fail-on-warn`` judges it (exit code, JUnit failures, annotation level).
    """
    writer = FORMATS.get(fmt)
    if writer is None:
        raise RenderError(f"unknown output format '{fmt}'; expected one of: {', '.join(FORMATS)}")
    text = writer(result, build_context(result, policy=policy, fail_on_warn=fail_on_warn))
    return _LONE_SURROGATE.sub("\ufffd", text)  # text that cannot be encoded as UTF-8


def write_step_summary(
    result: EvaluationResult,
    *,
    policy: LoadedPolicy | None = None,
    fail_on_warn: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Path | None:
    """Append the Markdown report to the file named by ``$GITHUB_STEP_SUMMARY``.

    Returns that file, or None when the variable is unset (outside GitHub Actions) or
    the file cannot be written (logged as a warning; the gate's verdict stands).
    """
    markdown = render(result, "markdown", policy=policy, fail_on_warn=fail_on_warn)
    return append_step_summary(markdown, environ=os.environ if environ is None else environ)


def to_json(result: EvaluationResult) -> str:
    """The whole result as JSON, plus the derived verdict and exit code."""
    return render(result, "json")


def to_text(result: EvaluationResult) -> str:
    """A compact report for a terminal or a CI log."""
    return render(result, "text")
