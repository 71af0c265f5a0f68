"""The one exception tree of govkit.

Every error a user can cause is a :class:`GovkitError`; the CLI turns it into a
message on stderr and exit code 2, the API into a 4xx with one JSON shape.
Messages name the file, the line, the key path, what was expected and what was
found, and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "GovkitError",
    "PolicyError",
    "EvaluationError",
    "StoreError",
    "NotFoundError",
    "ErasedError",
    "IntegrityError",
    "UntrustedArtifactError",
    "ModelUnavailableError",
    "InputError",
    "InvalidFieldsError",
    "RenderError",
    "MissingDependencyError",
    "WouldWait",
    "closest",
]


class GovkitError(Exception):
    """Base class of every error govkit raises on purpose."""


class InputError(GovkitError):
    """A file, argument or data set given by the user is unusable."""


class InvalidFieldsError(InputError):
    """Fields of a request (a decision's features) are missing, unknown or of the wrong type.

    ``problems`` pairs each field path with what is wrong, never with the value found:
    the values are a person's data, and error messages end up in logs and responses.
    """

    def __init__(self, message: str, *, problems: tuple[tuple[str, str], ...]) -> None:
        self.problems = problems
        detail = "; ".join(f"{field}: {problem}" for field, problem in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"{message}: {detail}{more}" if problems else message)


class PolicyError(InputError):
    """A policy file is malformed, with its location when known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
        hint: str | None = None,
        more: tuple[str, ...] = (),
    ) -> None:
        self.more = more  # further problems in the same file, already formatted
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.hint = hint
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.file or "<policy>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: "
        if self.path:
            text += f"{self.path}: "
        text += self.reason
        if self.hint:
            text += f" ({self.hint})"
        for line in self.more:
            text += "\n" + line
        return text


class EvaluationError(GovkitError):
    """Evaluation could not start (for example a column the policy needs is missing)."""


class StoreError(GovkitError):
    """The audit store cannot be opened, read or written."""


class NotFoundError(StoreError):
    """A model, dataset or run named by the user is not registered."""


class ErasedError(NotFoundError):
    """The record existed, but the personal data in it was erased (its subject's key destroyed)."""


class IntegrityError(GovkitError):
    """Content does not match its registered digest (artifact or data tampered with)."""


class UntrustedArtifactError(GovkitError):
    """Loading an artifact would execute code the caller has not agreed to trust."""


class ModelUnavailableError(GovkitError):
    """A registered model version cannot be loaded where it is served: its file is missing,
    unreadable or changed since registration, its types are not trusted on this server, or
    its explainer cannot be built. A problem of the server, not of the request."""


class RenderError(GovkitError):
    """A report could not be rendered."""


class MissingDependencyError(GovkitError):
    """An optional extra is needed for this feature and is not installed."""


class WouldWait(Exception):  # noqa: N818 - a signal, not an error
    """A call made with ``wait=False`` could not finish without waiting.

    Not an error, and never shown to anyone: the caller (the HTTP API, on its event
    loop's thread) runs :meth:`finish` in a worker thread instead, which does the rest
    of the work, waiting where it must (loading a model, a lock held by another
    writer, a database across the network), and returns what the call would have.
    """

    def __init__(self, finish: Callable[[], Any]) -> None:
        super().__init__("this call needs to wait; run .finish() in a worker thread")
        self.finish = finish

    def then(self, after: Callable[[Any], Any]) -> WouldWait:
        """The same wait, with ``after`` applied to what :meth:`finish` returns."""
        finish = self.finish
        return WouldWait(lambda: after(finish()))


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The closest valid spelling of ``word`` among ``choices``, if any is close.

    An abbreviation (``prod``: the start of exactly one choice, three characters or more)
    names that choice; difflib alone ranks 'approved' above 'production' for it.
    """
    options = list(choices)
    text = str(word)
    if len(text) >= 3:
        starts = [c for c in options if c.lower().startswith(text.lower()) and c != text]
        if len(starts) == 1:
            return starts[0]
    matches = difflib.get_close_matches(text, options, n=1, cutoff=0.6)
    return matches[0] if matches else None
