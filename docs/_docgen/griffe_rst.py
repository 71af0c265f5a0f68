"""A griffe extension: reStructuredText roles in govkit's docstrings, as Markdown code.

govkit's docstrings cross-reference with Sphinx roles (``:func:`govkit.check```,
``:class:`~govkit.store.Store```) and introduce literal blocks with ``::``. MkDocs
renders Markdown, so each role becomes an inline code span (``~`` keeps the last
component, as in Sphinx) and a trailing ``::`` becomes ``:``. The source is unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(
    r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const|term|ref):`(~?)([^`]+)`"
)
_LITERAL = re.compile(r"(?<=\S)::$", flags=re.M)


def _role(match: re.Match[str]) -> str:
    target = match.group(2).strip()
    if match.group(1):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def rst_to_markdown(text: str) -> str:
    """Sphinx roles to code spans; ``word::`` (literal block follows) to ``word:``."""
    return _LITERAL.sub(":", _ROLE.sub(_role, text))


class RstRoles(griffe.Extension):
    """Rewrites every loaded object's docstring with :func:`rst_to_markdown`."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
