"""What every writer gets besides the result: rule locations, the gate options, text helpers.

Writers are pure functions ``(EvaluationResult, RenderContext) -> str``. The context is
built once per :func:`govkit.output.render` call from the result and, optionally, the
loaded policy (for the file and line of each rule). Nothing here reads or writes files.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

from govkit._text import one_line  # free text on one line, control characters shown
from govkit.results import Bound, CheckResult, EvaluationResult, Status, exact_number

if TYPE_CHECKING:
    from govkit.policy import LoadedPolicy

__all__ = [
    "Location",
    "RenderContext",
    "build_context",
    "fmt_number",
    "fmt_value",
    "fmt_bound",
    "one_line",
    "shorten",
    "outcome_text",
    "counts_text",
    "PROBLEM_ORDER",
]

#: Most urgent first: the order problem lists use (markdown table, step summary).
PROBLEM_ORDER = {
    Status.FAIL: 0,
    Status.ERROR: 1,
    Status.WARN: 2,
    Status.WAIVED: 3,
    Status.NOT_APPLICABLE: 4,
    Status.PASS: 5,
}


@dataclass(frozen=True)
class Location:
    """A file (and line) a finding points at, in the forms the CI formats want.

    ``path`` is a POSIX path relative to the working directory when the file lies under
    it (what GitHub annotations and SARIF ``%SRCROOT%`` expect), else absolute;
    ``uri`` is the same as a URI reference (relative, percent-encoded) or a ``file:`` URI.
    """

    path: str
    uri: str
    relative: bool
    line: int | None = None


@dataclass(frozen=True)
class RenderContext:
    """Options and locations shared by all writers of one render call."""

    fail_on_warn: bool = False
    policy_file: Location | None = None  # the policy file named on the command line
    rule_locations: dict[str, Location] = field(default_factory=dict)

    def location_of(self, rule_id: str) -> Location | None:
        """Where a rule is defined; the policy file without a line when unknown."""
        return self.rule_locations.get(rule_id, self.policy_file)


def _locate(source: str, base: Path) -> Location:
    path = Path(source)
    absolute = Path(os.path.normpath(path if path.is_absolute() else base / path))
    try:
        rel = PurePosixPath(absolute.relative_to(Path(os.path.normpath(base))).as_posix())
    except ValueError:
        return Location(path=absolute.as_posix(), uri=absolute.as_uri(), relative=False)
    return Location(path=str(rel), uri=quote(str(rel), safe="/"), relative=True)


def build_context(
    result: EvaluationResult,
    *,
    policy: LoadedPolicy | None = None,
    fail_on_warn: bool = False,
    base: Path | None = None,
) -> RenderContext:
    """Locations of the policy file and of each rule (from ``policy``), relative to ``base``.

    ``base`` defaults to the working directory, which in CI is the repository root.
    A ``policy`` whose digest differs from the result's describes another file
    version, so its lines are not used.
    """
    base = base or Path.cwd()
    source = result.policy_path
    in_memory = not source or (source.startswith("<") and source.endswith(">"))  # "<string>"
    policy_file = _locate(source, base) if source and not in_memory else None
    rules: dict[str, Location] = {}
    if policy is not None and policy.digest == result.policy_digest:
        for check in result.checks:
            file, line = policy.origin_of(check.rule_id)
            # an origin is a file (the policy, or one it extends by path) or a built-in
            # pack's display name such as "eeoc-four-fifths (built-in pack)"
            is_file = file == source or (base / file).is_file()
            where = _locate(file, base) if file and is_file and not in_memory else None
            # a rule's own file and line serve when that file lies in the checkout, or
            # when the policy file itself does not (nothing then is relative to it)
            outside = policy_file is None or not policy_file.relative
            if where is not None and (where.relative or outside):
                rules[check.rule_id] = Location(where.path, where.uri, where.relative, line)
            elif policy_file is not None:
                # a rule from a built-in pack (or a file outside the checkout pulled in by
                # a policy inside it): point at the 'extends' entry that pulled it in
                line = policy.line_of(("extends",))
                rules[check.rule_id] = Location(
                    policy_file.path, policy_file.uri, policy_file.relative, line
                )
    return RenderContext(fail_on_warn=fail_on_warn, policy_file=policy_file, rule_locations=rules)


# --------------------------------------------------------------------------- text helpers


def fmt_number(value: float | None) -> str:
    """A value as people read it: 4 significant digits, ``n/a`` when absent or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    return format(value, ".4g")


def fmt_value(value: float | None, bound: Bound | None) -> str:
    """A measured value next to its bound: :func:`fmt_number`, with more digits where 4
    would make it read as meeting a bound it misses (or missing one it meets)."""
    if bound is None or value is None or not math.isfinite(value):
        return fmt_number(value)
    return bound.shown(value)


def _end(value: float) -> str:
    return fmt_number(value) if math.isinf(value) else exact_number(value)


def fmt_bound(bound: Bound | None) -> str:
    """A bound as the policy wrote it (``\u2265 0.87317``, never rounded)."""
    if bound is None:
        return "\u2014"
    parts = []
    if bound.min is not None:
        parts.append(f"\u2265 {_end(bound.min)}")
    if bound.max is not None:
        parts.append(f"\u2264 {_end(bound.max)}")
    return " and ".join(parts) or "any value"


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def outcome_text(check: CheckResult) -> str:
    """What a person needs to know about a rule's outcome, in one paragraph."""
    if check.message:
        text = check.message
    elif check.status == Status.PASS:
        text = "met"
    else:
        text = f"value {fmt_value(check.value, check.bound)}; required {fmt_bound(check.bound)}"
    if check.status == Status.WAIVED and check.waiver is not None:
        w = check.waiver
        text += f" (waived: {w.justification}; approved by {w.approver}, expires {w.expires})"
    return text


def counts_text(result: EvaluationResult) -> str:
    return ", ".join(f"{n} {s.value}" for s, n in result.counts.items() if n) or "no rules"
