"""Attributions: per-row, per-feature contributions on the model's original input columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from govkit.explainers._errors import ExplanationError

__all__ = ["Attributions", "OutputSpace", "Method"]

OutputSpace = Literal["log_odds", "probability", "raw"]
Method = Literal["tree", "linear", "permutation"]


@dataclass(frozen=True, eq=False)
class Attributions:
    """SHAP attributions of ``n_rows`` rows on the original input columns.

    ``values[i].sum() + base_values[i]`` explains ``model_output[i]``, which is the
    model's own output for row ``i`` in ``output_space``, computed by calling the
    model (not taken from shap). The arrays are read-only.
    """

    values: np.ndarray  # (n_rows, n_features)
    base_values: np.ndarray  # (n_rows,)
    model_output: np.ndarray  # (n_rows,)
    feature_names: tuple[str, ...]
    method: Method
    output_space: OutputSpace

    def __post_init__(self) -> None:
        values = _frozen_float(self.values, "values")
        base = _frozen_float(self.base_values, "base_values")
        output = _frozen_float(self.model_output, "model_output")
        names = tuple(str(n) for n in self.feature_names)
        if values.ndim != 2 or values.shape[1] != len(names):
            raise ExplanationError(
                f"Attributions.values must have shape (n_rows, {len(names)}) to match "
                f"feature_names; got {values.shape}"
            )
        n_rows = values.shape[0]
        for label, arr in (("base_values", base), ("model_output", output)):
            if arr.shape != (n_rows,):
                raise ExplanationError(
                    f"Attributions.{label} must have shape ({n_rows},); got {arr.shape}"
                )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "base_values", base)
        object.__setattr__(self, "model_output", output)
        object.__setattr__(self, "feature_names", names)

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    def additivity_error(self) -> np.ndarray:
        """``|base + sum(attributions) - f(x)|`` per row (NaN/inf where inputs are not finite)."""
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN, by design
            error: np.ndarray = np.abs(
                self.base_values + self.values.sum(axis=1) - self.model_output
            )
        return error

    def valid(self, tol: float) -> np.ndarray:
        """Rows whose numbers are all finite and whose additivity error is at most ``tol``."""
        if not (isinstance(tol, int | float) and tol >= 0):
            raise ExplanationError(f"tol must be a number >= 0; got {tol!r}")
        finite = (
            np.isfinite(self.values).all(axis=1)
            & np.isfinite(self.base_values)
            & np.isfinite(self.model_output)
        )
        error = np.where(finite, self.additivity_error(), np.inf)
        valid: np.ndarray = finite & (error <= tol)
        return valid

    def mean_abs(self) -> dict[str, float]:
        """Global importance: mean |attribution| per feature, largest first (ties: column order)."""
        if self.n_rows == 0:
            means = np.full(len(self.feature_names), np.nan)
        else:
            means = np.abs(self.values).mean(axis=0)
        order = sorted(
            range(len(self.feature_names)),
            key=lambda j: (-means[j] if np.isfinite(means[j]) else np.inf, j),
        )
        return {self.feature_names[j]: float(means[j]) for j in order}


def _frozen_float(arr: object, label: str) -> np.ndarray:
    try:
        out = np.array(arr, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise ExplanationError(f"Attributions.{label} must be numeric; {exc}") from None
    out.flags.writeable = False
    return out
