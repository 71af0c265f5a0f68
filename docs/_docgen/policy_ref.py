"""The policy reference page, generated from the policy schema and the check registry.

Sources: ``govkit.policy.Policy.model_json_schema()`` (every model, field, type, default,
constraint and description) and ``govkit.checks.all_checks()`` (every check id with its
parameters and what it needs). Nothing here is written by hand, so it cannot drift.
"""

from __future__ import annotations

from typing import Any

from _docgen.mdtext import anchor, cell, code, field_rows, table

__all__ = ["render"]

_NEEDS = (
    ("needs_model", "the model"),
    ("needs_labels", "true labels"),
    ("needs_reference", "reference data"),
    ("needs_champion", "the champion"),
)


def _link(name: str) -> str:
    return f"[{code(name)}](#{anchor(name)})"


def _model_section(name: str, schema: dict[str, Any], *, heading: bool = True) -> str:
    """One model: its heading (anchor: the model name), docstring and field table."""
    out = [f"### {name} {{#{anchor(name)}}}", ""] if heading else []
    if schema.get("description"):
        out += [_plain(schema["description"]), ""]
    out.append(
        table(
            ["field", "type", "required / default", "description"], field_rows(schema, link=_link)
        )
    )
    out.append("")
    return "\n".join(out)


def _plain(text: str) -> str:
    """A docstring paragraph as Markdown text (HTML-escaped, paragraphs kept)."""
    return (
        text.strip().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") if text else ""
    )


def _check_rows(checks: dict[str, Any], param_owner: dict[str, dict[str, Any]]) -> list[list[str]]:
    rows = []
    for check_id, spec in checks.items():
        owner = param_owner.get(spec.kind)
        params = []
        for p in spec.parameters:
            if owner is not None and p in owner.get("properties", {}):
                params.append(f"[{code(p)}](#{anchor(owner['title'], p)})")
            else:
                params.append(code(p))
        needs = [label for attr, label in _NEEDS if getattr(spec, attr, False)]
        rows.append(
            [
                f'<span id="{anchor("check", check_id)}"></span>{code(check_id)}',
                ", ".join(params) or "—",
                ", ".join(needs) or "—",
                cell(spec.summary),
            ]
        )
    return rows


def render() -> str:
    """The whole page as Markdown."""
    from govkit.checks import all_checks
    from govkit.policy import RULE_KINDS, SCHEMA_VERSION, Policy

    schema = Policy.model_json_schema()
    defs: dict[str, dict[str, Any]] = schema.get("$defs", {})
    mapping = schema["properties"]["rules"]["items"]["discriminator"]["mapping"]
    kind_model = {kind: ref.rsplit("/", 1)[-1] for kind, ref in mapping.items()}
    checks = all_checks()
    by_kind: dict[str, list[str]] = {}
    for check_id, spec in checks.items():
        by_kind.setdefault(spec.kind, []).append(check_id)

    out = [
        "# Policy reference",
        "",
        '!!! note "Generated"',
        "    This page is generated from the policy schema (`govkit.policy.Policy`) and the "
        "check registry (`govkit.checks.all_checks()`) each time the site is built.",
        "",
        f"A policy file is YAML with `schema_version: {SCHEMA_VERSION}`. Unknown fields are "
        "refused, every mistake is reported as `file:line:column: key.path: what was expected, "
        "what was found`, and `govkit policy schema` prints the same schema as JSON Schema for "
        "editor completion. See [Policies](../concepts/policies.md) for how the pieces fit "
        "together.",
        "",
        "## Checks {#checks}",
        "",
        f"Every rule runs one check, chosen by its `kind` and its `metric`, `requirement` or "
        f"`statistic`. There are {len(checks)} checks:",
        "",
        table(
            ["check id", "parameters", "needs", "what it checks"],
            _check_rows(checks, {k: defs[m] for k, m in kind_model.items() if m in defs}),
        ),
        "",
        "## The policy file {#policy}",
        "",
        _model_section("Policy", {**schema, "title": "Policy"}, heading=False),
        "## Rule kinds {#rule-kinds}",
        "",
        "A rule's `kind` selects one of these shapes.",
        "",
    ]
    for kind in RULE_KINDS:
        model = kind_model[kind]
        out.append(_model_section(model, defs[model]))
        ids = by_kind.get(kind, [])
        if ids:
            links = ", ".join(f"[{code(i)}](#{anchor('check', i)})" for i in ids)
            out += [f"Checks of kind `{kind}`: {links}.", ""]
    out += ["## Building blocks {#building-blocks}", ""]
    for name in sorted(set(defs) - set(kind_model.values())):
        out.append(_model_section(name, defs[name]))
    return "\n".join(out)
