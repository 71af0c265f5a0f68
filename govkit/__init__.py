"""govkit: governance, explainability and audit for machine-learning models.

The names a user needs, importable from ``govkit`` directly::

    import govkit
    with govkit.Store.open("sqlite:///govkit.db") as store:
        govkit.register_dataset("train.csv", name="adult-train", store=store)
        outcome = govkit.check("policy.yaml", model="credit", data="test.csv", store=store)

``import govkit`` is cheap and silent: each name loads its module on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govkit._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    # the jobs (the CLI mirrors these)
    "register_dataset": "govkit.workflows",
    "register_model": "govkit.workflows",
    "check": "govkit.workflows",
    "card": "govkit.cards",
    "evaluate": "govkit.evaluate",
    "load_policy": "govkit.policy",
    "Store": "govkit.store",
    # per-decision explanations (govkit explain / decision show / serve)
    "explain": "govkit.decide",
    "letter": "govkit.decide",
    "get_decision": "govkit.decide",
    "DecisionService": "govkit.service",
    "Decision": "govkit.decisions",
    # results
    "EvaluationResult": "govkit.results",
    "CheckResult": "govkit.results",
    "Status": "govkit.results",
    # errors
    "GovkitError": "govkit.exceptions",
    "PolicyError": "govkit.exceptions",
    "InputError": "govkit.exceptions",
}
__all__ = [
    "__version__",
    "register_dataset",
    "register_model",
    "check",
    "card",
    "explain",
    "letter",
    "get_decision",
    "evaluate",
    "load_policy",
    "Store",
    "DecisionService",
    "Decision",
    "EvaluationResult",
    "CheckResult",
    "Status",
    "GovkitError",
    "PolicyError",
    "InputError",
]

if TYPE_CHECKING:  # pragma: no cover
    from govkit.cards import card
    from govkit.decide import explain, get_decision, letter
    from govkit.decisions import Decision
    from govkit.evaluate import evaluate
    from govkit.exceptions import GovkitError, InputError, PolicyError
    from govkit.policy import load_policy
    from govkit.results import CheckResult, EvaluationResult, Status
    from govkit.service import DecisionService
    from govkit.store import Store
    from govkit.workflows import check, register_dataset, register_model


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
