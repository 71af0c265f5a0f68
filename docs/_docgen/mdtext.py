"""Markdown building blocks shared by the generated reference pages.

Everything here is pure: text in, text out, deterministic (sorted where the source is
a mapping without a meaningful order), so two builds of the same code give the same pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["anchor", "cell", "code", "json_type", "constraints", "table", "field_rows"]

_SPACE = re.compile(r"\s+")


def cell(text: Any) -> str:
    """Text made safe for one Markdown table cell: one line, no raw HTML, no stray pipes."""
    s = "" if text is None else str(text)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return _SPACE.sub(" ", s).strip()


def code(text: Any) -> str:
    """An inline code span that survives backticks (pipes inside it do not split a cell)."""
    s = str(text)
    fence = "``" if "`" in s else "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def anchor(*parts: str) -> str:
    """A stable HTML id from names (lowercase letters, digits and hyphens)."""
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table; cells must already be escaped (see :func:`cell`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def json_type(schema: Mapping[str, Any], *, link: Any = None) -> str:
    """A JSON Schema fragment as a short type (Markdown): ``list of string``, a link, ...

    ``link(name)`` turns a ``$ref`` target name into Markdown (default: the name in code).
    """
    link = link or (lambda name: code(name))
    if "$ref" in schema:
        return link(schema["$ref"].rsplit("/", 1)[-1])
    if "const" in schema:
        return code(_literal(schema["const"]))
    if "enum" in schema:
        return "one of " + ", ".join(code(_literal(v)) for v in schema["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            parts = [json_type(s, link=link) for s in schema[key]]
            return " or ".join(dict.fromkeys(parts))  # keep order, drop repeats
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(json_type({**schema, "type": k}, link=link) for k in kind)
    if kind == "array":
        items = schema.get("items")
        return "list of " + (json_type(items, link=link) if items else "any")
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, Mapping):
            return "mapping of string to " + json_type(values, link=link)
        return "object"
    if kind is None:
        return "any"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return str(kind)


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if value == "":
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_BOUNDS = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} item(s)"),
    ("maxItems", "at most {} item(s)"),
    ("minProperties", "at least {} entries"),
    ("maxProperties", "at most {} entries"),
)


def constraints(schema: Mapping[str, Any]) -> list[str]:
    """The validation constraints of a fragment (and of its non-null alternatives), as text."""
    found: list[str] = []
    fragments = [schema, *schema.get("anyOf", ()), *schema.get("oneOf", ())]
    for frag in fragments:
        for key, template in _BOUNDS:
            if key in frag:
                found.append(template.format(frag[key]))
        if "pattern" in frag:
            found.append("matches " + code(frag["pattern"]))
    return list(dict.fromkeys(found))


def field_rows(schema: Mapping[str, Any], *, link: Any = None) -> list[list[str]]:
    """Table rows (field, type, required or default, description) of an object schema."""
    required = set(schema.get("required", ()))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        if name in required:
            presence = "required"
        elif "default" in prop:
            presence = "default " + code(_default(prop["default"]))
        else:
            presence = "optional"
        notes = [cell(prop.get("description", ""))]
        limits = constraints(prop)
        if limits:
            notes.append("(" + "; ".join(limits) + ")")
        rows.append(
            [
                f'<span id="{anchor(schema.get("title", ""), name)}"></span>{code(name)}',
                json_type(prop, link=link),
                presence,
                " ".join(n for n in notes if n),
            ]
        )
    return rows


def _default(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    return _literal(value)
