"""Rule kinds about the model as it stands: fairness, performance, explanation, documentation,
lineage. (Rules comparing against something else -- drift, champion -- are in
``_rules_compare.py``.)"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from govkit.policy._base import RuleBase, Strict, Threshold, only_for, rule_problem

__all__ = [
    "FairnessRule",
    "ConfidenceInterval",
    "PerformanceRule",
    "ExplanationRule",
    "DocumentationRule",
    "LineageRule",
    "FairnessMetric",
    "PerformanceMetric",
    "FAIRNESS_METRICS",
    "PERFORMANCE_METRICS",
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "EXPLANATION_METRICS",
    "LINEAGE_REQUIREMENTS",
    "DOCUMENTATION_DEFAULT_FIELDS",
]

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
    "r2",
    "mae",
    "rmse",
    "mape",
]
ExplanationMetric = Literal[
    "coverage",
    "fidelity",
    "stability",
    "sensitive_not_in_top_k",
    "proxy_not_in_top_k",
    "method",
]
ExplainerMethod = Literal["tree", "linear", "permutation"]
LineageRequirement = Literal[
    "training_data_registered",
    "data_fingerprint",
    "metadata_present",
    "sources_allowed",
    "pii_absent",
    "max_data_age_days",
]

FAIRNESS_METRICS: tuple[str, ...] = get_args(FairnessMetric)
PERFORMANCE_METRICS: tuple[str, ...] = get_args(PerformanceMetric)
REGRESSION_METRICS: tuple[str, ...] = ("r2", "mae", "rmse", "mape")
CLASSIFICATION_METRICS = tuple(m for m in PERFORMANCE_METRICS if m not in REGRESSION_METRICS)
EXPLANATION_METRICS: tuple[str, ...] = get_args(ExplanationMetric)
LINEAGE_REQUIREMENTS: tuple[str, ...] = get_args(LineageRequirement)


class ConfidenceInterval(Strict):
    """Bootstrap confidence interval of the rule's value (rows resampled, seeded)."""

    resamples: int = Field(default=1000, ge=50, le=100_000)
    level: float = Field(default=0.95, gt=0.5, lt=1.0)
    judge_on: Literal["estimate", "lower", "upper"] = Field(
        default="estimate",
        description="Judge the point estimate, or the interval's lower or upper bound",
    )
    seed: int = 0


class FairnessRule(RuleBase):
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


class PerformanceRule(RuleBase):
    """A bound on a classification or regression metric, overall or in every group of ``by``."""

    kind: Literal["performance"]
    metric: PerformanceMetric
    threshold: Threshold
    by: list[str] = Field(
        default_factory=list,
        description="Columns defining groups; the bound must then hold in every judged group",
    )
    min_group_size: int = Field(
        default=1, ge=1, description="With 'by': smaller groups are reported but not judged"
    )

    @model_validator(mode="before")
    @classmethod
    def _by_as_list(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("by"), str):
            return {**data, "by": [data["by"]]}
        return data

    @model_validator(mode="after")
    def _group_options(self) -> PerformanceRule:
        if "min_group_size" in self.model_fields_set and not self.by:
            raise rule_problem(
                "'min_group_size' applies only to per-group bounds",
                field="min_group_size",
                hint="add e.g. 'by: [sex]', or remove 'min_group_size'",
            )
        return self

    @property
    def check_id(self) -> str:
        return f"performance.{self.metric}"


_EXPLANATION_THRESHOLD_EXAMPLE = {
    "coverage": "threshold: {min: 0.99}",
    "fidelity": "threshold: {max: 1.0e-6}",
    "stability": "threshold: {max: 0.0}",
}
_TOP_K = ("sensitive_not_in_top_k", "proxy_not_in_top_k")


class ExplanationRule(RuleBase):
    """SHAP explanations: coverage, additivity fidelity, stability, what dominates them, method.

    All explanation rules of a run share one explainer and one set of attributions per
    (``method``, ``sample``).
    """

    kind: Literal["explanation"]
    metric: ExplanationMetric = "coverage"
    threshold: Threshold | None = Field(
        default=None, description="Needed by coverage, fidelity and stability"
    )
    tolerance: float | None = Field(
        default=None,
        gt=0,
        description="coverage: allowed |base + sum(attributions) - f(x)|; default 1e-6, or "
        "1e-5 for XGBoost, which computes in float32",
    )
    sample: int = Field(
        default=1000, ge=1, le=1_000_000, description="Rows explained (seeded sample of the data)"
    )
    method: Literal["auto", "tree", "linear", "permutation"] = "auto"
    aggregate: Literal["mean", "max"] = Field(
        default="max", description="fidelity: judge the mean or the largest additivity error"
    )
    k: int = Field(
        default=5, ge=1, le=1000, description="top-k rules: how many global attributions"
    )
    sensitive_features: list[str] = Field(
        default_factory=list,
        description="top-k rules: sensitive columns (default: the model metadata's)",
    )
    max_association: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="proxy_not_in_top_k: Cramér's V (categorical) or correlation ratio "
        "(numeric) with a sensitive feature above which a feature is a proxy",
    )
    required_method: list[ExplainerMethod] = Field(
        default_factory=list, description="method: the explainer method(s) accepted"
    )

    @model_validator(mode="before")
    @classmethod
    def _method_as_list(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("required_method"), str):
            return {**data, "required_method": [data["required_method"]]}
        return data

    @model_validator(mode="after")
    def _metric_parameters(self) -> ExplanationRule:
        metric = self.metric
        only_for(
            self,
            "metric",
            metric,
            {
                "tolerance": ("coverage",),
                "aggregate": ("fidelity",),
                "k": _TOP_K,
                "sensitive_features": _TOP_K,
                "max_association": ("proxy_not_in_top_k",),
                "required_method": ("method",),
            },
        )
        example = _EXPLANATION_THRESHOLD_EXAMPLE.get(metric)
        if example and self.threshold is None:
            raise rule_problem(
                f"required field 'threshold' is missing (metric '{metric}' is judged "
                "against a bound)",
                hint=f"add e.g. '{example}'",
            )
        if not example and self.threshold is not None:
            raise rule_problem(
                f"'threshold' does not apply to metric '{metric}' (it passes or fails)",
                field="threshold",
                hint="remove 'threshold'",
            )
        if metric == "method" and not self.required_method:
            raise rule_problem(
                "metric 'method' needs 'required_method'",
                hint="add e.g. 'required_method: tree' (tree, linear or permutation)",
            )
        return self

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


class DocumentationRule(RuleBase):
    """Model-card fields that must be filled (default: what an auditor needs first)."""

    kind: Literal["documentation"]
    requirement: Literal["required_fields"] = "required_fields"
    fields: list[str] = Field(default_factory=lambda: list(DOCUMENTATION_DEFAULT_FIELDS))

    @property
    def check_id(self) -> str:
        return f"documentation.{self.requirement}"


_LINEAGE_NEEDS = {
    "sources_allowed": ("allowed", "allowed: ['s3://corp-data/*', 'https://data.example.org/']"),
    "pii_absent": ("columns", "columns: [name, ssn, email]"),
    "max_data_age_days": ("days", "days: 365"),
}


class LineageRule(RuleBase):
    """Provenance of the model: registered training data, matching data, filled metadata,
    allowed sources, no PII among the features, fresh training data."""

    kind: Literal["lineage"]
    requirement: LineageRequirement
    fields: list[str] = Field(
        default_factory=list,
        description="metadata_present: model metadata fields that must be filled",
    )
    allowed: list[str] = Field(
        default_factory=list,
        description="sources_allowed: source URI prefixes or glob patterns (*, ?, [..])",
    )
    columns: list[str] = Field(
        default_factory=list,
        description="pii_absent: declared PII columns that must not be model features",
    )
    days: int | None = Field(
        default=None, ge=0, description="max_data_age_days: maximum age of the training data"
    )

    @model_validator(mode="after")
    def _requirement_parameters(self) -> LineageRule:
        only_for(
            self,
            "requirement",
            self.requirement,
            {
                "fields": ("metadata_present",),
                "allowed": ("sources_allowed",),
                "columns": ("pii_absent",),
                "days": ("max_data_age_days",),
            },
        )
        needed = _LINEAGE_NEEDS.get(self.requirement)
        if needed and getattr(self, needed[0]) in (None, []):
            raise rule_problem(
                f"requirement '{self.requirement}' needs a non-empty '{needed[0]}'",
                field=needed[0] if needed[0] in self.model_fields_set else "",
                hint=f"add e.g. '{needed[1]}'",
            )
        return self

    @property
    def check_id(self) -> str:
        return f"lineage.{self.requirement}"
