"""Policy file schema (format version 1): pydantic models, unknown fields forbidden.

Changing the format: add a new ``schema_version`` value, keep loading version 1
under test, and document the migration in the README's policy section. The rule
kinds live in ``_rules.py`` (the model as it stands) and ``_rules_compare.py``
(drift and champion/challenger); their building blocks in ``_base.py``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from govkit.policy._base import (
    HIGHER_IS_BETTER,
    ID_PATTERN,
    LOWER_IS_BETTER,
    Threshold,
    rule_problem,
)
from govkit.policy._base import Strict as _Strict
from govkit.policy._rules import (
    CLASSIFICATION_METRICS,
    DOCUMENTATION_DEFAULT_FIELDS,
    EXPLANATION_METRICS,
    FAIRNESS_METRICS,
    LINEAGE_REQUIREMENTS,
    PERFORMANCE_METRICS,
    REGRESSION_METRICS,
    ConfidenceInterval,
    DocumentationRule,
    ExplanationRule,
    FairnessRule,
    LineageRule,
    PerformanceRule,
)
from govkit.policy._rules_compare import (
    DRIFT_STATISTICS,
    GAP_METRICS,
    ChampionChallengerRule,
    DriftRule,
    FairnessGap,
    MetricMargin,
)

__all__ = [
    "SCHEMA_VERSION",
    "Threshold",
    "FairnessRule",
    "PerformanceRule",
    "ExplanationRule",
    "LineageRule",
    "DocumentationRule",
    "DriftRule",
    "ChampionChallengerRule",
    "MetricMargin",
    "FairnessGap",
    "ConfidenceInterval",
    "WaiverSpec",
    "ApprovalSpec",
    "StageNames",
    "LifecycleSpec",
    "LIFECYCLE_STAGES",
    "STAGE_NAME_PATTERN",
    "AlertSpec",
    "MonitoringSpec",
    "Rule",
    "Policy",
    "FAIRNESS_METRICS",
    "PERFORMANCE_METRICS",
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "EXPLANATION_METRICS",
    "LINEAGE_REQUIREMENTS",
    "DRIFT_STATISTICS",
    "GAP_METRICS",
    "DOCUMENTATION_DEFAULT_FIELDS",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "RULE_KINDS",
]

SCHEMA_VERSION = 1

_ID_PATTERN = ID_PATTERN

Rule = Annotated[
    FairnessRule
    | PerformanceRule
    | ExplanationRule
    | LineageRule
    | DocumentationRule
    | DriftRule
    | ChampionChallengerRule,
    Field(discriminator="kind"),
]
RULE_KINDS: tuple[str, ...] = (
    "fairness",
    "performance",
    "explanation",
    "lineage",
    "documentation",
    "drift",
    "champion_challenger",
)


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


class ApprovalSpec(_Strict):
    """Sign-off a model version needs before ``govkit model promote --to production``."""

    required: bool = Field(
        default=False, description="An approval (govkit model approve) is needed to promote"
    )
    independent: bool = Field(
        default=True,
        description="With required: the approver must not be the version's owner (four-eyes)",
    )


#: The lifecycle stages, in order. These ids are what the audit log and the store record,
#: whatever a policy calls them, so logs stay comparable across teams.
LIFECYCLE_STAGES: tuple[str, ...] = ("candidate", "approved", "production", "retired")
STAGE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"


def _stage_name(stage: str) -> str | None:
    return Field(
        default=None,
        pattern=STAGE_NAME_PATTERN,
        description=f"What this team calls the '{stage}' stage (1-32 of a-z 0-9 _ -)",
    )


class StageNames(_Strict):
    """Display names of the lifecycle stages; a stage not named here keeps its id."""

    candidate: str | None = _stage_name("candidate")
    approved: str | None = _stage_name("approved")
    production: str | None = _stage_name("production")
    retired: str | None = _stage_name("retired")

    @model_validator(mode="after")
    def _unambiguous(self) -> StageNames:
        # Stage ids are always accepted (``--to production``), so a name may not be another
        # stage's id, and no two stages may share a name: either would make a name ambiguous.
        seen: dict[str, str] = {}
        for stage in LIFECYCLE_STAGES:
            name = getattr(self, stage)
            if name is None:
                continue
            if name in LIFECYCLE_STAGES and name != stage:
                raise rule_problem(
                    f"stage '{stage}' may not be named '{name}': that is the id of another stage",
                    field=stage,
                    hint="stage ids are always accepted too; choose a name that is not "
                    + ", ".join(s for s in LIFECYCLE_STAGES if s != stage),
                )
            if name in seen:
                raise rule_problem(
                    f"stages '{seen[name]}' and '{stage}' are both named '{name}'",
                    field=stage,
                    hint="give each stage its own name",
                )
            seen[name] = stage
        return self

    def declared(self) -> dict[str, str]:
        """The names that differ from the stage ids (id -> name), in stage order."""
        return {
            stage: name
            for stage in LIFECYCLE_STAGES
            if (name := getattr(self, stage)) is not None and name != stage
        }


class LifecycleSpec(_Strict):
    """How the model lifecycle reads for a model bound to this policy."""

    stage_names: StageNames = Field(
        default_factory=StageNames,
        description="Display names of the stages candidate, approved, production, retired",
    )


class AlertSpec(_Strict):
    """Where ``govkit monitor`` sends an alert when an error-severity rule fails."""

    webhook: str = Field(
        pattern=r"^https?://[^\s/?#]+[^\s]*$",
        max_length=2000,
        description="URL that receives a JSON POST (failing rules, dashboard link)",
    )
    dashboard_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        max_length=2000,
        description="Base URL of the dashboard; the alert links to the run's page there",
    )
    timeout: float = Field(
        default=5.0, gt=0, le=30, description="Seconds to wait for the webhook to answer"
    )


class MonitoringSpec(_Strict):
    """How ``govkit monitor`` judges a window of recorded decisions."""

    min_decisions: int = Field(
        default=50, ge=1, description="Fewer decisions in the window: rules are N/A"
    )
    min_outcomes: int = Field(
        default=50,
        ge=1,
        description="Fewer decisions with an observed outcome: rules needing labels are N/A",
    )
    alert: AlertSpec | None = None


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
    approval: ApprovalSpec = Field(
        default_factory=ApprovalSpec,
        description="Sign-off needed to promote a model bound to this policy to production",
    )
    lifecycle: LifecycleSpec = Field(
        default_factory=LifecycleSpec,
        description="Stage names shown and accepted by govkit model (recorded when bound)",
    )
    monitoring: MonitoringSpec | None = Field(
        default=None, description="Options of govkit monitor (minimum data, alert webhook)"
    )

    @model_validator(mode="before")
    @classmethod
    def _extends_as_list(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("extends"), str):
            return {**data, "extends": [data["extends"]]}
        return data
