"""The error the fairness engine raises for unusable input."""

from __future__ import annotations

from govkit.exceptions import InputError

__all__ = ["FairnessInputError"]


class FairnessInputError(InputError):
    """Labels, predictions, sensitive features, weights or a metric name are unusable."""
