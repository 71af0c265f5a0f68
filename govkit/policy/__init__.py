"""Policy files: schema (pydantic, strict) and a safe loader with precise error locations."""

from govkit.policy._loader import (
    MAX_POLICY_BYTES,
    MAX_YAML_NODES,
    LoadedPolicy,
    load_policy,
    parse_policy,
)
from govkit.policy._schema import (
    FAIRNESS_METRICS,
    LINEAGE_REQUIREMENTS,
    PERFORMANCE_METRICS,
    RULE_KINDS,
    SCHEMA_VERSION,
    ExplanationRule,
    FairnessRule,
    LineageRule,
    PerformanceRule,
    Policy,
    Rule,
    Threshold,
)

__all__ = [
    "FAIRNESS_METRICS",
    "LINEAGE_REQUIREMENTS",
    "PERFORMANCE_METRICS",
    "RULE_KINDS",
    "SCHEMA_VERSION",
    "ExplanationRule",
    "FairnessRule",
    "LineageRule",
    "LoadedPolicy",
    "MAX_POLICY_BYTES",
    "MAX_YAML_NODES",
    "PerformanceRule",
    "Policy",
    "Rule",
    "Threshold",
    "load_policy",
    "parse_policy",
]
