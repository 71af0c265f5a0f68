"""The check catalogue: one module per rule family, each check under a stable id."""

from govkit.checks._registry import (
    CheckContext,
    CheckSpec,
    ComparedModel,
    Measured,
    NotApplicable,
    all_checks,
    get_check,
    register,
)

__all__ = [
    "CheckContext",
    "CheckSpec",
    "ComparedModel",
    "Measured",
    "NotApplicable",
    "all_checks",
    "get_check",
    "register",
]
