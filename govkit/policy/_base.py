"""Building blocks of the policy schema: strict models, thresholds, the rule base class.

A rule's cross-field mistakes (a parameter given to the wrong metric, a threshold
missing where the metric needs one) are raised with :func:`rule_problem`, which
carries the offending field and a fix hint; the loader turns that into
``file:line: key.path: message (hint)``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from govkit.results import Bound

__all__ = [
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "ID_PATTERN",
    "RULE_PROBLEM",
    "Strict",
    "Threshold",
    "RuleBase",
    "rule_problem",
    "only_for",
    "directed",
]

#: Metrics where a bare number as threshold means a lower bound (higher is better) ...
HIGHER_IS_BETTER = frozenset(
    {
        "impact_ratio",
        "demographic_parity_ratio",
        "equalized_odds_ratio",
        "true_positive_rate",
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "average_precision",
        "r2",
        "coverage",
    }
)
#: ... and here an upper bound (lower is better). Others need an explicit {min:} / {max:}.
LOWER_IS_BETTER = frozenset(
    {
        "demographic_parity_difference",
        "equalized_odds_difference",
        "false_positive_rate",
        "false_negative_rate",
        "log_loss",
        "brier_score",
        "mae",
        "rmse",
        "mape",
        "fidelity",
        "stability",
    }
)

_DIRECTIONLESS = frozenset({"selection_rate"})

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"

#: pydantic error type of :func:`rule_problem` (the loader reads its ``field`` and ``hint``)
RULE_PROBLEM = "govkit_rule"


def rule_problem(message: str, *, field: str = "", hint: str = "") -> PydanticCustomError:
    """A validation error about one rule, pointing at ``field`` (when given) with a fix."""
    return PydanticCustomError(
        RULE_PROBLEM, "{message}", {"message": message, "field": field, "hint": hint}
    )


class Strict(BaseModel):
    # allow_inf_nan=False: a NaN bound compares false both ways, so every rule would pass
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Threshold(Strict):
    """Inclusive bounds on the measured value; give ``min``, ``max`` or both."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_end(self) -> Threshold:
        if self.min is None and self.max is None:
            raise ValueError("threshold needs 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"threshold min ({self.min:g}) is greater than max ({self.max:g})")
        return self

    def to_bound(self) -> Bound:
        return Bound(min=self.min, max=self.max)


def directed(value: object, direction: str) -> object:
    """``0.2`` → ``{direction: 0.2}`` (numbers only; anything else is left for validation)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return {direction: value}


class RuleBase(Strict):
    id: str = Field(pattern=ID_PATTERN, description="Stable id of the rule within the policy")
    severity: Literal["error", "warning"] = Field(
        default="error", description="error: a failure fails the gate; warning: reported only"
    )
    description: str = Field(
        default="", max_length=4000, description="What the rule means, for people"
    )

    @model_validator(mode="before")
    @classmethod
    def _scalar_threshold(cls, data: object) -> object:
        """``threshold: 0.8`` is shorthand for min or max when the metric has a direction."""
        if not isinstance(data, dict) or "threshold" not in data:
            return data
        value = data["threshold"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return data
        metric = data.get("metric", "")
        if metric in HIGHER_IS_BETTER:
            return {**data, "threshold": {"min": value}}
        if metric in LOWER_IS_BETTER:
            return {**data, "threshold": {"max": value}}
        if metric not in _DIRECTIONLESS:
            # an unknown metric is reported by its own field; don't add a second error
            return {**data, "threshold": {"min": value}}
        raise ValueError(
            f"a bare number as threshold is ambiguous for metric {metric!r}; "
            f"write 'threshold: {{min: {value}}}' or 'threshold: {{max: {value}}}'"
        )

    @property
    def bound(self) -> Bound | None:
        """The rule's overall bound, when it has one."""
        threshold = getattr(self, "threshold", None)
        return threshold.to_bound() if isinstance(threshold, Threshold) else None


def only_for(
    rule: BaseModel, selector: str, value: str, owners: dict[str, tuple[str, ...]]
) -> None:
    """Refuse parameters set on a rule whose ``selector`` (metric, requirement) does not use them.

    ``owners`` maps a parameter to the selector values it applies to.
    """
    for name, valid in owners.items():
        if name in rule.model_fields_set and value not in valid:
            where = ", ".join(valid)
            raise rule_problem(
                f"'{name}' does not apply to {selector} '{value}' (only to: {where})",
                field=name,
                hint=f"remove '{name}', or use {selector}: {valid[0]}",
            )
