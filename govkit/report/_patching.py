"""What govkit's changes to WeasyPrint's drawing share (:mod:`govkit.report._svg_text`,
:mod:`govkit.report._svg_paths`, :mod:`govkit.report._text_layouts`).

Each is installed once, in the process that lays out PDFs, only on the WeasyPrint
major versions it was checked against, and can be switched back to WeasyPrint's own
code for a block, so that tests and benchmarks compare the two.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


def checked_version(weasyprint: Any, majors: tuple[int, ...]) -> bool:
    """Whether ``weasyprint`` is one of the major versions a change was checked against."""
    major = str(weasyprint.__version__).split(".")[0]
    return major.isdigit() and int(major) in majors


def install_once(
    state: dict[str, Any],
    weasyprint: Any,
    majors: tuple[int, ...],
    found: Callable[[], dict[str, Any] | None],
    use: Callable[[Any], None],
) -> bool:
    """Install a change the first time only, and only on a checked WeasyPrint version.

    ``found()`` looks WeasyPrint's code up and returns what the change needs -- its
    ``"original"`` and ``"patched"`` functions among them -- or None when the code does
    not look as expected; then ``use(patched)`` puts the change in. Returns whether the
    change is installed (the first call's answer, on every later call).
    """
    if "installed" in state:
        return bool(state["installed"])
    state["installed"] = False
    if not checked_version(weasyprint, majors):
        return False
    parts = found()
    if parts is None:
        return False
    state.update(parts)
    use(state["patched"])
    state["installed"] = True
    return True


@contextlib.contextmanager
def original_inside(state: dict[str, Any], use: Callable[[Any], None]) -> Iterator[None]:
    """``use(state["original"])`` for the block, then ``use(state["patched"])`` again;
    nothing when the change is not installed."""
    if not state.get("installed"):
        yield
        return
    use(state["original"])
    try:
        yield
    finally:
        use(state["patched"])
