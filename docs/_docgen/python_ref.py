"""The Python API reference page: mkdocstrings directives for ``govkit.__all__``.

The names come from ``govkit.__all__`` and the module each one lives in from
``govkit._EXPORTS``, so a name added to the package's public API appears here on the
next build; mkdocstrings then renders signatures and docstrings from the source.
"""

from __future__ import annotations

__all__ = ["PYTHON_TWINS", "RECORDS", "render"]

#: the records and results a user reads, documented after the public names
RECORDS = (
    "govkit.workflows.CheckOutcome",
    "govkit.results.AuditAnchor",
    "govkit.records.ModelVersionRecord",
    "govkit.records.DatasetRecord",
    "govkit.records.ModelMetadata",
    "govkit.records.FeatureSpec",
    "govkit.records.DecisionSpec",
    "govkit.decisions.DecisionExplanation",
    "govkit.decisions.Reason",
    "govkit.decisions.Counterfactual",
    "govkit.policy.LoadedPolicy",
)

_GROUPS = (
    ("The jobs", ("register_dataset", "register_model", "check", "card", "evaluate")),
    ("Policies", ("load_policy",)),
    ("The store", ("Store",)),
    ("Decisions", ("explain", "letter", "get_decision", "DecisionService", "Decision")),
    ("Results", ("EvaluationResult", "CheckResult", "Status")),
    ("Errors", ("GovkitError", "PolicyError", "InputError")),
)


#: every command of the CLI and the Python call that does the same job (tests check that
#: each command is here and each call resolves; the page shows the table)
PYTHON_TWINS: dict[str, tuple[str, ...]] = {
    "dataset register": ("govkit.register_dataset",),
    "dataset list": ("govkit.store.Store.list_datasets",),
    "dataset show": ("govkit.store.Store.lineage",),
    "model register": ("govkit.register_model",),
    "model list": (
        "govkit.store.Store.list_model_versions",
        "govkit.store.Store.latest_run_headlines",
    ),
    "model show": ("govkit.store.Store.get_model_version", "govkit.store.Store.lineage"),
    "check": ("govkit.check",),
    "card": ("govkit.card",),
    "explain": ("govkit.explain", "govkit.letter"),
    "decision show": ("govkit.get_decision", "govkit.letter"),
    "decision outcomes import": ("govkit.store.Store.record_outcomes",),
    "serve": ("govkit.api.create_app", "govkit.service.DecisionService"),
    "apikey create": ("govkit.store.Store.create_api_key",),
    "apikey list": ("govkit.store.Store.list_api_keys",),
    "apikey revoke": ("govkit.store.Store.revoke_api_key",),
    "subject keygen": ("govkit.service.generate_subject_key",),
    "subject access": ("govkit.service.DecisionService.subject_records",),
    "subject erase": ("govkit.service.DecisionService.erase_subject",),
    "audit verify": ("govkit.store.Store.verify_chain", "govkit.store.Store.verify_registry"),
    "audit checkpoint": ("govkit.store.Store.checkpoint",),
    "audit export": ("govkit.store.Store.export_jsonl",),
    "audit log": ("govkit.store.Store.find_audit_events", "govkit.store.Store.audit_event_types"),
    "audit find": ("govkit.store.Store.find_audit_events", "govkit.store.Store.verify_chain"),
    "audit keygen": ("govkit.store.generate_signing_key",),
    "db upgrade": ("govkit.store.upgrade_database",),
    "model bind": ("govkit.lifecycle.bind_policy",),
    "model approve": ("govkit.lifecycle.approve",),
    "model promote": ("govkit.lifecycle.promote",),
    "model rollback": ("govkit.lifecycle.rollback",),
    "model alias": ("govkit.lifecycle.set_alias",),
    "model stages": ("govkit.store.Store.model_lifecycle",),
    "monitor": ("govkit.monitor.monitor",),
    "policy lint": ("govkit.load_policy",),
    "policy schema": ("govkit.policy.Policy.model_json_schema",),
    "policy test": ("govkit.policy_tests.run_policy_tests",),
}


def resolve(path: str) -> object:
    """The object a dotted path names: the longest importable module, then attributes."""
    import importlib

    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def _twins() -> list[str]:
    rows = ["| command line | Python |", "|---|---|"]
    for command, calls in PYTHON_TWINS.items():
        rows.append(f"| `govkit {command}` | {', '.join(f'`{c}`' for c in calls)} |")
    return [*rows, ""]


#: classes whose public methods are partly inherited from private mixins
_WITH_INHERITED = {"Store"}


def _directive(path: str) -> list[str]:
    if path.rsplit(".", 1)[-1] in _WITH_INHERITED:
        return [f"::: {path}", "    options:", "      inherited_members: true", ""]
    return [f"::: {path}", ""]


def render() -> str:
    """The whole page as Markdown (mkdocstrings expands each ``:::`` line)."""
    import govkit

    exports: dict[str, str] = govkit._EXPORTS
    public = [n for n in govkit.__all__ if not n.startswith("__")]
    out = [
        "# Python API reference",
        "",
        '!!! note "Generated"',
        "    The names below are `govkit.__all__`; signatures and docstrings come from the "
        "source each time the site is built.",
        "",
        "`import govkit` is cheap: each name loads its module on first use. The library "
        "mirrors the command line; see [Getting started](../getting-started.md) for a "
        "walkthrough.",
        "",
        "## Command line and Python",
        "",
        "Every command has a Python twin doing the same job on a `govkit.Store`:",
        "",
        *_twins(),
    ]
    listed: set[str] = set()
    for title, names in _GROUPS:
        present = [n for n in names if n in public]
        if not present:
            continue
        out += [f"## {title}", ""]
        for name in present:
            out += _directive(f"{exports[name]}.{name}")
            listed.add(name)
    rest = [n for n in public if n not in listed]
    if rest:  # a new export not yet placed in a group still gets documented
        out += ["## More", ""]
        for name in rest:
            out += _directive(f"{exports[name]}.{name}")
    out += ["## Records and results", ""]
    for path in RECORDS:
        out += _directive(path)
    return "\n".join(out)
