"""Rule kinds that compare the model with something else: the training data (drift) and the
current champion version (champion/challenger)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from govkit.policy._base import RuleBase, Strict, Threshold, directed, only_for, rule_problem
from govkit.policy._rules import PerformanceMetric

__all__ = [
    "DriftRule",
    "ChampionChallengerRule",
    "MetricMargin",
    "FairnessGap",
    "DRIFT_STATISTICS",
    "GAP_METRICS",
]

DriftStatistic = Literal["psi", "ks", "chi2"]
DRIFT_STATISTICS: tuple[str, ...] = get_args(DriftStatistic)
_DRIFT_EXAMPLE = {
    "psi": "threshold: {max: 0.2}",
    "ks": "threshold: {max: 0.1}",
    "chi2": "threshold: {min: 0.01}",
}


class DriftRule(RuleBase):
    """Distribution shift between the training data (the reference) and the evaluated data.

    * ``psi``: population stability index. Numeric features: ``bins`` quantile bins of the
      reference (edges at its i/bins quantiles, duplicates merged; a bin holds
      edge_i <= x < edge_i+1, the outer bins are open; an edge that at least 1/bins of the
      reference rows equal, a point mass, is a bin [e, e] of its own; missing values are
      one more bin); categorical features: one bin per category seen in either data set.
      Shares below ``epsilon`` are raised to it.
      PSI = sum over bins of (current - reference) * ln(current / reference).
    * ``ks``: two-sample Kolmogorov-Smirnov statistic (numeric features; scipy's ks_2samp).
    * ``chi2``: chi-squared test of homogeneity of the category counts (categorical
      features; scipy's chi2_contingency on the 2 x categories table).

    ``judge_on: p_value`` judges the test's p-value instead (ks, chi2; default for chi2,
    whose statistic grows with the number of rows). Missing values are a bin of their own
    for psi and a category of their own in categorical features; ks leaves them out and its
    message gives their share.
    """

    kind: Literal["drift"]
    statistic: DriftStatistic
    scope: Literal["features", "prediction"] = Field(
        default="features",
        description="Input features, or the model's output (score when it gives one)",
    )
    features: dict[str, Threshold | None] = Field(
        default_factory=dict,
        description="Features judged, each with its own bound or null for 'threshold' "
        "(a list is accepted); default: every model input feature the statistic applies to",
    )
    threshold: Threshold | None = Field(default=None, description="Bound for every feature")
    judge_on: Literal["statistic", "p_value"] | None = Field(
        default=None, description="default: p_value for chi2, statistic for psi and ks"
    )
    bins: int = Field(default=10, ge=2, le=100, description="psi: quantile bins of the reference")
    epsilon: float = Field(
        default=1e-4, gt=0, lt=0.1, description="psi: floor of a bin's share (empty bins)"
    )
    min_rows: int = Field(
        default=100,
        ge=1,
        description="Features with fewer rows compared (ks: non-missing) are not judged",
    )

    @model_validator(mode="before")
    @classmethod
    def _scalar_threshold(cls, data: object) -> object:
        """Bare numbers: an upper bound on a statistic, a lower bound on a p-value."""
        if not isinstance(data, dict):
            return data
        judge = data.get("judge_on") or ("p_value" if data.get("statistic") == "chi2" else "")
        direction: Literal["min", "max"] = "min" if judge == "p_value" else "max"
        out = dict(data)
        if "threshold" in out:
            out["threshold"] = directed(out["threshold"], direction)
        features = out.get("features")
        if isinstance(features, list) and all(isinstance(f, str) for f in features):
            out["features"] = dict.fromkeys(features)
        elif isinstance(features, dict):
            out["features"] = {k: directed(v, direction) for k, v in features.items()}
        return out

    @model_validator(mode="after")
    def _consistent(self) -> DriftRule:
        only_for(self, "statistic", self.statistic, {"bins": ("psi",), "epsilon": ("psi",)})
        if self.statistic == "psi" and self.judge_on == "p_value":
            raise rule_problem(
                "the population stability index has no p-value",
                field="judge_on",
                hint="use statistic: ks or chi2 for a test with a p-value, or remove 'judge_on'",
            )
        if self.scope == "prediction" and "features" in self.model_fields_set:
            raise rule_problem(
                "'features' does not apply to drift on the prediction",
                field="features",
                hint="remove 'features', or use 'scope: features'",
            )
        unbounded = [f for f, t in self.features.items() if t is None]
        if self.threshold is None and (not self.features or unbounded):
            which = f" (no bound for: {', '.join(unbounded)})" if unbounded else ""
            raise rule_problem(
                f"drift rule needs 'threshold' or a bound for every feature{which}",
                hint=f"add e.g. '{_DRIFT_EXAMPLE[self.statistic]}'",
            )
        return self

    @property
    def judged_on(self) -> Literal["statistic", "p_value"]:
        if self.judge_on is not None:
            return self.judge_on
        return "p_value" if self.statistic == "chi2" else "statistic"

    @property
    def check_id(self) -> str:
        prefix = "prediction_" if self.scope == "prediction" else ""
        return f"drift.{prefix}{self.statistic}"


GapMetric = Literal[
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "impact_ratio",
]
GAP_METRICS: tuple[str, ...] = get_args(GapMetric)


class MetricMargin(Strict):
    """How much worse than the champion the candidate may be on one metric."""

    max_drop: float = Field(
        ge=0,
        description="Largest allowed worsening (a fall for accuracy-like metrics, a rise for "
        "losses and errors), in the metric's units",
    )


class FairnessGap(Strict):
    """A fairness gap the candidate must not widen (beyond ``max_widening``)."""

    metric: GapMetric
    sensitive_features: list[str] = Field(min_length=1)
    max_widening: float = Field(
        default=0.0,
        ge=0,
        description="Largest allowed widening: a rise of a difference, a fall of a ratio",
    )
    min_group_size: int = Field(default=1, ge=1)


#: NAME, NAME@VERSION, or NAME@ALIAS (an alias is lower-case, as govkit model alias takes it)
_CHAMPION_REF = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(@([1-9][0-9]*|[a-z][a-z0-9_-]{0,31}))?$"


class ChampionChallengerRule(RuleBase):
    """The candidate must not be worse than the champion by more than a margin on the named
    metrics, and must not widen the named fairness gaps. Both models are run on the same
    data; the comparison is recorded."""

    kind: Literal["champion_challenger"]
    champion: str = Field(
        pattern=_CHAMPION_REF,
        description="The champion: NAME (the version of NAME in production; while no version "
        "has been promoted, the latest version other than the candidate), NAME@ALIAS (the "
        "version an alias names, e.g. NAME@production) or NAME@VERSION",
    )
    metrics: dict[PerformanceMetric, MetricMargin] = Field(default_factory=dict)
    fairness: list[FairnessGap] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _scalar_margins(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("metrics"), dict):
            metrics = {
                k: (v if isinstance(v, dict) else directed(v, "max_drop"))
                for k, v in data["metrics"].items()
            }
            return {**data, "metrics": metrics}
        return data

    @model_validator(mode="after")
    def _something_to_compare(self) -> ChampionChallengerRule:
        if not self.metrics and not self.fairness:
            raise rule_problem(
                "champion_challenger rule compares nothing: give 'metrics', 'fairness' or both",
                hint="add e.g. 'metrics: {accuracy: {max_drop: 0.01}}'",
            )
        return self

    @property
    def check_id(self) -> str:
        return "champion_challenger.no_regression"
