"""Policy file schema (format version 1): pydantic models, unknown fields forbidden.

Changing the format: add a new ``schema_version`` value, keep loading version 1
under test, and document the migration in the README's policy section.
"""

from __future__ import annotations

from datetime import date
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
    "DocumentationRule",
    "ConfidenceInterval",
    "WaiverSpec",
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
    "precision",
    "accuracy",
    "impact_ratio",
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


class ConfidenceInterval(_Strict):
    """Bootstrap confidence interval of the rule's value (rows resampled, seeded)."""

    resamples: int = Field(default=1000, ge=50, le=100_000)
    level: float = Field(default=0.95, gt=0.5, lt=1.0)
    judge_on: Literal["estimate", "lower", "upper"] = Field(
        default="estimate",
        description="Judge the point estimate, or the interval's lower or upper bound",
    )
    seed: int = 0


class FairnessRule(_RuleBase):
    """A group fairness metric (fairlearn's definitions) over one or more sensitive features.

    Per-group metrics (selection_rate, true_positive_rate, ..., impact_ratio) must hold for
    every judged group; difference/ratio metrics summarise between groups, or against
    ``reference_group`` when given.
    """

    kind: Literal["fairness"]
    metric: FairnessMetric
    sensitive_features: list[str] = Field(
        min_length=1,
        description="Columns defining the groups; several are crossed (intersectional)",
    )
    threshold: Threshold
    reference_group: list[str] | None = Field(
        default=None,
        description="Group (one value per sensitive feature) that ratios and differences "
        "compare against; default: between groups (impact_ratio: the highest selection rate)",
    )
    min_group_size: int = Field(
        default=1, ge=1, description="Smaller groups are reported but not judged"
    )
    confidence_interval: ConfidenceInterval | None = None

    @model_validator(mode="before")
    @classmethod
    def _reference_as_list(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("reference_group"), str | int):
            return {**data, "reference_group": [str(data["reference_group"])]}
        return data

    @model_validator(mode="after")
    def _reference_matches(self) -> FairnessRule:
        if self.reference_group is not None and len(self.reference_group) != len(
            self.sensitive_features
        ):
            raise ValueError(
                f"reference_group has {len(self.reference_group)} value(s) but there are "
                f"{len(self.sensitive_features)} sensitive feature(s); give one value per feature"
            )
        return self

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


DOCUMENTATION_DEFAULT_FIELDS = (
    "intended_use",
    "out_of_scope_uses",
    "ethical_considerations",
    "owner",
    "contact",
)


class DocumentationRule(_RuleBase):
    """Model-card fields that must be filled (default: what an auditor needs first)."""

    kind: Literal["documentation"]
    requirement: Literal["required_fields"] = "required_fields"
    fields: list[str] = Field(default_factory=lambda: list(DOCUMENTATION_DEFAULT_FIELDS))

    @property
    def check_id(self) -> str:
        return f"documentation.{self.requirement}"


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
    FairnessRule | PerformanceRule | ExplanationRule | LineageRule | DocumentationRule,
    Field(discriminator="kind"),
]
RULE_KINDS: tuple[str, ...] = ("fairness", "performance", "explanation", "lineage", "documentation")


class WaiverSpec(_Strict):
    """An approved exception: a failing rule is reported as WAIVED until ``expires``."""

    rule: str = Field(description="Id of the waived rule")
    model: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(@[1-9][0-9]*)?$",
        description="NAME (every version) or NAME@VERSION the waiver covers",
    )
    justification: str = Field(min_length=10, max_length=4000)
    approver: str = Field(min_length=1, max_length=200)
    expires: date = Field(description="Last day the waiver applies (YYYY-MM-DD)")

    def covers(self, model_name: str, model_version: int | None) -> bool:
        name, _, version = self.model.partition("@")
        return name == model_name and (not version or int(version) == model_version)


Scalar = str | int | float | bool


class Policy(_Strict):
    """A policy file: what a model must meet before deployment."""

    schema_version: Literal[1]
    name: str = Field(pattern=_ID_PATTERN)
    description: str = Field(default="", max_length=10_000)
    extends: list[str] = Field(
        default_factory=list,
        description="Policies this one builds on: a path relative to this file, or the name "
        "of a built-in pack; a rule with the same id here overrides the inherited one",
    )
    vars: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict, description="Values referenced as ${name} anywhere below"
    )
    rules: list[Rule] = Field(default_factory=list)
    waivers: list[WaiverSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _extends_as_list(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("extends"), str):
            return {**data, "extends": [data["extends"]]}
        return data
