"""Policy file schema (format version 1): pydantic models, unknown fields forbidden.

Changing the format: add a new ``schema_version`` value, keep loading version 1
under test, and document the migration in the README's policy section.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from govkit.results import Bound

__all__ = [
    "SCHEMA_VERSION",
    "Threshold",
    "FairnessRule",
    "PerformanceRule",
    "ExplanationRule",
    "LineageRule",
    "Rule",
    "Policy",
    "FAIRNESS_METRICS",
    "PERFORMANCE_METRICS",
    "LINEAGE_REQUIREMENTS",
    "RULE_KINDS",
]

SCHEMA_VERSION = 1

FairnessMetric = Literal[
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
]
PerformanceMetric = Literal[
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier_score",
]
LineageRequirement = Literal["training_data_registered", "data_fingerprint", "metadata_present"]

FAIRNESS_METRICS: tuple[str, ...] = FairnessMetric.__args__  # type: ignore[attr-defined]
PERFORMANCE_METRICS: tuple[str, ...] = PerformanceMetric.__args__  # type: ignore[attr-defined]
LINEAGE_REQUIREMENTS: tuple[str, ...] = LineageRequirement.__args__  # type: ignore[attr-defined]

#: Metrics where a bare number as threshold means a lower bound (higher is better) ...
HIGHER_IS_BETTER = frozenset(
    {
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
    }
)

_DIRECTIONLESS = frozenset({"selection_rate"})

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Strict):
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


class _RuleBase(_Strict):
    id: str = Field(pattern=_ID_PATTERN, description="Stable id of the rule within the policy")
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


class FairnessRule(_RuleBase):
    """A group fairness metric (fairlearn's definitions) over one or more sensitive features."""

    kind: Literal["fairness"]
    metric: FairnessMetric
    sensitive_features: list[str] = Field(
        min_length=1,
        description="Columns defining the groups; several are crossed (intersectional)",
    )
    threshold: Threshold

    @property
    def check_id(self) -> str:
        return f"fairness.{self.metric}"


class PerformanceRule(_RuleBase):
    """A bound on a standard classification metric over the evaluation data."""

    kind: Literal["performance"]
    metric: PerformanceMetric
    threshold: Threshold

    @property
    def check_id(self) -> str:
        return f"performance.{self.metric}"


class ExplanationRule(_RuleBase):
    """Share of rows whose SHAP explanation was computed and passes the additivity check."""

    kind: Literal["explanation"]
    metric: Literal["coverage"] = "coverage"
    threshold: Threshold
    tolerance: float = Field(
        default=1e-6, gt=0, description="Allowed |base + sum(attributions) - f(x)|"
    )
    sample: int = Field(
        default=1000, ge=1, le=1_000_000, description="Rows explained (seeded sample of the data)"
    )
    method: Literal["auto", "tree", "linear", "permutation"] = "auto"

    @property
    def check_id(self) -> str:
        return f"explanation.{self.metric}"


class LineageRule(_RuleBase):
    """Provenance of the model: registered training data, matching data, filled metadata."""

    kind: Literal["lineage"]
    requirement: LineageRequirement
    fields: list[str] = Field(
        default_factory=list,
        description="Model metadata fields that must be filled (for metadata_present)",
    )

    @property
    def check_id(self) -> str:
        return f"lineage.{self.requirement}"


Rule = Annotated[
    FairnessRule | PerformanceRule | ExplanationRule | LineageRule, Field(discriminator="kind")
]
RULE_KINDS: tuple[str, ...] = ("fairness", "performance", "explanation", "lineage")


class Policy(_Strict):
    """A policy file: what a model must meet before deployment."""

    schema_version: Literal[1]
    name: str = Field(pattern=_ID_PATTERN)
    description: str = Field(default="", max_length=10_000)
    rules: list[Rule] = Field(min_length=1)
