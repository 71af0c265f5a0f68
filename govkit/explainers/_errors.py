"""The error every explanation failure raises."""

from __future__ import annotations

from govkit.exceptions import EvaluationError

__all__ = ["ExplanationError"]


class ExplanationError(EvaluationError):
    """A model or data set cannot be explained as asked; the message says why and what to do."""
