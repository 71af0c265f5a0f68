"""The Python API reference page: mkdocstrings directives for ``govkit.__all__``.

The names come from ``govkit.__all__`` and the module each one lives in from
``govkit._EXPORTS``, so a name added to the package's public API appears here on the
next build; mkdocstrings then renders signatures and docstrings from the source.
"""

from __future__ import annotations

__all__ = ["RECORDS", "render"]

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
