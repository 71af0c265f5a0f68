"""The results of an evaluation: the one contract that store, report, api and cli read.

A :class:`CheckResult` is what one policy rule found; an :class:`EvaluationResult`
is a whole policy run. Both are immutable pydantic models that round-trip
through JSON (``model_dump(mode="json")`` / ``model_validate``), so a run read
back from the audit store renders exactly like a fresh one.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from govkit.records import ModelRef

__all__ = [
    "exact_number",
    "Status",
    "Severity",
    "Bound",
    "GroupRow",
    "GroupEvidence",
    "FeatureImportance",
    "AttributionDistribution",
    "ExplanationEvidence",
    "RocCurve",
    "CalibrationCurve",
    "CurveSet",
    "GroupCurves",
    "ClassifierCurves",
    "MetricsEvidence",
    "FeatureDrift",
    "DriftEvidence",
    "MetricComparison",
    "ComparisonEvidence",
    "Finding",
    "FindingsEvidence",
    "Evidence",
    "CheckResult",
    "EvaluationResult",
    "Waiver",
    "Interval",
    "AuditAnchor",
    "RESULT_FORMAT_VERSION",
]

#: Version of the serialised result format; bump with a migration note when fields change.
RESULT_FORMAT_VERSION = 1

Severity = Literal["error", "warning"]


class Status(StrEnum):
    """Outcome of one rule. Never a boolean: a crashed check is ERROR, not FAIL or PASS."""

    PASS = "PASS"
    WARN = "WARN"  # a warning-severity rule that is not met
    FAIL = "FAIL"  # an error-severity rule that is not met
    ERROR = "ERROR"  # the check could not be computed; the reason is in the message
    NOT_APPLICABLE = "N/A"  # the rule cannot be judged on this input (e.g. no model artifact)
    WAIVED = "WAIVED"  # not met, but covered by a valid waiver (see CheckResult.waiver)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bound(_Frozen):
    """An inclusive interval a measured value must lie in; either end may be open."""

    min: float | None = None
    max: float | None = None

    def holds(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        # "not >=" rather than "<": a NaN bound (refused by the policy loader) fails closed
        if self.min is not None and not value >= self.min:
            return False
        return self.max is None or value <= self.max

    def shown(self, value: float, spec: str = ".4g") -> str:
        """``value`` formatted with ``spec``, or with as many more significant digits as
        it takes for the printed number to meet this bound exactly when ``value`` does.

        A message never reads ``0.8732; required >= 0.87317`` next to a failure:
        0.873165 is printed instead. NaN and infinities are formatted as they are.
        """
        text = format(value, spec)
        if not math.isfinite(value) or (self.min is None and self.max is None):
            return text
        meets = self.holds(value)
        digits = 4
        while self.holds(float(text.replace(",", ""))) != meets and digits < 17:
            digits += 1
            text = format(float(value), f".{digits}g")
        return text

    def __str__(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {exact_number(self.min)}")
        if self.max is not None:
            parts.append(f"<= {exact_number(self.max)}")
        return " and ".join(parts) or "any value"


def exact_number(value: float) -> str:
    """A number as a policy would write it: the shortest text that reads back as the same
    float (``0.87317``, ``1``, ``1e-06``), never rounded (``:g`` made 0.8731705 ``0.873171``)."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


class GroupRow(_Frozen):
    """One group of a fairness table: its label per sensitive feature, size and metrics."""

    group: tuple[str, ...]
    count: int
    metrics: dict[str, float | None]
    judged: bool = True  # False when smaller than min_group_size


class GroupEvidence(_Frozen):
    kind: Literal["groups"] = "groups"
    sensitive_features: tuple[str, ...]
    metric: str
    overall: dict[str, float | None]
    groups: tuple[GroupRow, ...]


class FeatureImportance(_Frozen):
    feature: str
    mean_abs_attribution: float


class AttributionDistribution(_Frozen):
    """How one feature's attributions are spread over the explained rows: a histogram.

    An aggregate, never rows: ``counts[i]`` rows have an attribution in
    ``[bin_edges[i], bin_edges[i + 1])`` (the last bin is closed), and
    ``mean_feature_rank[i]`` is the mean percentile rank (0 = lowest, 1 = highest)
    of the feature's value over those rows -- None for a non-numeric feature or a
    bin with too few rows to be shown without singling a person out. Model cards
    draw it as a binned beeswarm.
    """

    feature: str
    bin_edges: tuple[float, ...]
    counts: tuple[int, ...]
    mean_feature_rank: tuple[float | None, ...]


class ExplanationEvidence(_Frozen):
    kind: Literal["explanation"] = "explanation"
    method: str
    rows_evaluated: int
    rows_valid: int
    tolerance: float
    max_abs_error: float | None
    top_features: tuple[FeatureImportance, ...]
    # Added in format 1 (optional): attribution histograms of the top features.
    distributions: tuple[AttributionDistribution, ...] = ()


class RocCurve(_Frozen):
    """Points of a ROC curve (false and true positive rates, thinned), and its area."""

    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    auc: float | None = None


class CalibrationCurve(_Frozen):
    """A reliability diagram: per score bin, the mean score and the observed positive rate."""

    bin_edges: tuple[float, ...]
    mean_predicted: tuple[float | None, ...]  # None for an empty bin
    fraction_positive: tuple[float | None, ...]
    counts: tuple[int, ...]


class CurveSet(_Frozen):
    """ROC and calibration of one slice of the evaluation data (``group`` () is all rows)."""

    group: tuple[str, ...] = ()
    count: int
    positives: int
    roc: RocCurve | None = None  # None when the slice holds one class only
    calibration: CalibrationCurve | None = None
    judged: bool = True  # False when smaller than the minimum group size


class GroupCurves(_Frozen):
    """The curves of every group of one sensitive feature."""

    sensitive_feature: str
    groups: tuple[CurveSet, ...]


class ClassifierCurves(_Frozen):
    """Score curves of a binary classifier, overall and per group (aggregates only)."""

    overall: CurveSet
    by_feature: tuple[GroupCurves, ...] = ()


class MetricsEvidence(_Frozen):
    kind: Literal["metrics"] = "metrics"
    values: dict[str, float | None]
    confusion: dict[str, float] | None = None  # tp, fp, tn, fn when classification
    # Added in format 1 (optional): ROC and calibration curves, when the model gives scores.
    curves: ClassifierCurves | None = None


class FeatureDrift(_Frozen):
    """The drift statistic of one feature between reference and evaluated data."""

    feature: str
    value: float | None
    judged: bool = True  # False when too few rows to judge
    # Added in format 1 (optional): the test's p-value (ks, chi2), the feature's bound (on the
    # statistic, or on the p-value when the rule judges p-values) and whether it holds.
    p_value: float | None = None
    bound: Bound | None = None
    passed: bool | None = None


class DriftEvidence(_Frozen):
    kind: Literal["drift"] = "drift"
    statistic: str  # e.g. "population_stability_index"
    reference: str | None = None  # NAME@VER of the reference data, when registered
    features: tuple[FeatureDrift, ...]
    # Added in format 1 (optional): what the bounds apply to.
    judged_on: Literal["statistic", "p_value"] = "statistic"


class MetricComparison(_Frozen):
    """One metric (or fairness gap) of the champion and the candidate on the same rows."""

    metric: str
    sensitive_features: tuple[str, ...] = ()  # set for a fairness gap
    champion: float | None
    challenger: float | None
    worsening: float | None  # > 0: the candidate is worse by this much
    allowed: float  # max_drop / max_widening
    ok: bool


class ComparisonEvidence(_Frozen):
    """Champion/challenger: both models' values on the named metrics and fairness gaps."""

    kind: Literal["comparison"] = "comparison"
    champion: str  # NAME@VERSION
    challenger: str
    comparisons: tuple[MetricComparison, ...]


class Finding(_Frozen):
    item: str
    ok: bool
    detail: str


class FindingsEvidence(_Frozen):
    kind: Literal["findings"] = "findings"
    findings: tuple[Finding, ...]


Evidence = Annotated[
    GroupEvidence
    | ExplanationEvidence
    | MetricsEvidence
    | FindingsEvidence
    | DriftEvidence
    | ComparisonEvidence,
    Field(discriminator="kind"),
]


class Interval(_Frozen):
    """A bootstrap confidence interval of a rule's value, and which end was judged."""

    low: float
    high: float
    level: float
    resamples: int
    judged_on: Literal["estimate", "lower", "upper"]


class Waiver(_Frozen):
    """An approved exception to one rule for one model, until an expiry date."""

    rule_id: str
    model: str  # NAME or NAME@VERSION the waiver covers
    justification: str
    approver: str
    expires: date


class CheckResult(_Frozen):
    """What one rule of a policy found."""

    rule_id: str
    check_id: str  # stable registry id, e.g. "fairness.demographic_parity_ratio"
    kind: str
    severity: Severity
    status: Status
    description: str = ""
    value: float | None = None
    bound: Bound | None = None
    message: str = ""
    evidence: Evidence | None = None
    interval: Interval | None = None
    waiver: Waiver | None = None  # the waiver that turned a failure into WAIVED
    unmet_status: Status | None = None  # for WAIVED: what the status would have been

    @property
    def blocking(self) -> bool:
        """True when this result makes the gate fail (an unmet or broken error rule)."""
        return self.severity == "error" and self.status in (Status.FAIL, Status.ERROR)

    def __repr__(self) -> str:
        bound = f", bound={self.bound}" if self.bound is not None else ""
        return (
            f"CheckResult(rule_id={self.rule_id!r}, status={self.status.value}, "
            f"value={self.value!r}{bound})"
        )

    def _repr_html_(self) -> str:
        from govkit._html_repr import status_cell, table

        return table(
            f"{self.rule_id} ({self.check_id})",
            [],
            summary=[
                ("status", status_cell(self.status)),
                ("value", self.value),
                ("bound", str(self.bound) if self.bound is not None else None),
                ("severity", self.severity),
                ("message", self.message),
            ],
        )


class EvaluationResult(_Frozen):
    """A whole policy run: which policy, which model, which data, and every rule's result."""

    format_version: int = RESULT_FORMAT_VERSION
    policy_name: str
    policy_path: str | None = None
    policy_digest: str  # "sha256:<hex>" of the policy file bytes
    model: ModelRef
    data_fingerprint: str | None = None
    n_rows: int
    started_at: datetime
    finished_at: datetime
    govkit_version: str
    checks: tuple[CheckResult, ...]
    # Added in format 1 (optional): the threshold the model's labels were decided at -- its
    # metadata's decision.threshold (positive-class probability >= it, as the decision
    # service decides) -- or None when they are model.predict()'s or recorded ones.
    decision_threshold: float | None = None

    @property
    def status(self) -> Status:
        """Overall verdict: FAIL if any error rule fails or errors; else WARN if any rule warns,
        errors, or could not be judged (N/A: never a silent pass); else PASS (waivers count as
        met)."""
        if any(c.blocking for c in self.checks):
            return Status.FAIL
        if any(c.status in (Status.WARN, Status.ERROR, Status.NOT_APPLICABLE) for c in self.checks):
            return Status.WARN
        return Status.PASS

    @property
    def counts(self) -> dict[Status, int]:
        out = {s: 0 for s in Status}
        for c in self.checks:
            out[c.status] += 1
        return out

    def exit_code(self, *, fail_on_warn: bool = False) -> int:
        """0 when the gate passes, 1 when it fails (CLI exit code contract)."""
        status = self.status
        if status == Status.FAIL or (fail_on_warn and status == Status.WARN):
            return 1
        return 0

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s.value}" for s, n in self.counts.items() if n)
        return (
            f"EvaluationResult(policy={self.policy_name!r}, model={self.model}, "
            f"status={self.status.value}, checks=[{counts}], n_rows={self.n_rows})"
        )

    def _repr_html_(self) -> str:
        from govkit._html_repr import status_cell, table

        return table(
            f"Policy {self.policy_name} on {self.model}",
            [
                (c.rule_id, status_cell(c.status), c.value, str(c.bound or ""), c.message)
                for c in self.checks
            ],
            header=("rule", "status", "value", "bound", "message"),
            summary=[
                ("verdict", status_cell(self.status)),
                ("rows", self.n_rows),
                ("data", self.data_fingerprint),
                ("policy digest", self.policy_digest),
            ],
        )


class AuditAnchor(_Frozen):
    """Where a policy run sits in the audit log: ties a printed card to the log."""

    sequence: int
    hash: str  # hex SHA-256 of the audit event that recorded the run
