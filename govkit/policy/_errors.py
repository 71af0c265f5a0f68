"""Pydantic validation errors → :class:`PolicyError` with file, line, key path and a fix hint."""

from __future__ import annotations

import re
from typing import Any, TypedDict, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from govkit._yaml import Marks, fmt_path
from govkit._yaml import type_name as _type_name
from govkit.exceptions import PolicyError, closest
from govkit.policy._base import RULE_PROBLEM
from govkit.policy._schema import (
    LIFECYCLE_STAGES,
    RULE_KINDS,
    ChampionChallengerRule,
    DocumentationRule,
    DriftRule,
    ExplanationRule,
    FairnessRule,
    LineageRule,
    PerformanceRule,
    Policy,
)

__all__ = ["translate", "fmt_path", "Path_"]

Path_ = tuple[str | int, ...]

_RULE_CLASSES: dict[str, type[BaseModel]] = {
    "documentation": DocumentationRule,
    "fairness": FairnessRule,
    "performance": PerformanceRule,
    "explanation": ExplanationRule,
    "lineage": LineageRule,
    "drift": DriftRule,
    "champion_challenger": ChampionChallengerRule,
}


def _data_path(loc: tuple[int | str, ...], obj: Any) -> tuple[Path_, Any, type[BaseModel] | None]:
    """Map a pydantic error location onto the data (dropping union tags); also the model there."""
    path: list[str | int] = []
    node: Any = obj
    model: type[BaseModel] | None = Policy
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
            if path[:1] == ["rules"] and len(path) == 2:
                model = _rule_model(node)
            else:
                model = _field_model(model, part) if path[:1] != ["rules"] else None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
            if path[:1] == ["rules"] and len(path) == 2:
                model = _rule_model(node)
        elif isinstance(part, str) and part in RULE_KINDS:
            continue  # the discriminator's tag in the location
        else:
            # the last element names a missing or unknown key
            return tuple(path), part, model
    return tuple(path), None, model


# "1e-6" is text in YAML 1.1 (PyYAML); "1.0e-6" is a number
_YAML11_FLOAT = re.compile(r"[-+]?[0-9]+e[-+]?[0-9]+", re.IGNORECASE)


_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}
_REF_FIELDS = {
    "champion": "NAME, NAME@ALIAS or NAME@VERSION, e.g. credit, credit@production or credit@3"
}


def _constraint_hint(kind: str, field: object, ctx: dict[str, Any]) -> str | None:
    """A fix for a number out of range or a reference in the wrong form."""
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        return f"use a number {op} {ctx.get(key)}"
    if kind == "string_pattern_mismatch" and field in _REF_FIELDS:
        return f"write {_REF_FIELDS[str(field)]}"
    if kind == "string_pattern_mismatch" and field in LIFECYCLE_STAGES:
        return (
            "a stage name is 1-32 characters: lower-case letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return None


def _as_yaml_float(text: str) -> str:
    mantissa, _, exponent = text.lower().partition("e")
    return f"{mantissa}.0e{exponent}"


def _node_at(obj: Any, path: Path_) -> Any:
    node = obj
    for part in path:
        node = node[part]
    return node


def _field_model(model: type[BaseModel] | None, name: object) -> type[BaseModel] | None:
    """The model of field ``name`` of ``model`` (``X`` or ``X | None``), for key suggestions."""
    field = model.model_fields.get(str(name)) if model is not None else None
    if field is None:
        return None
    for candidate in (field.annotation, *get_args(field.annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _rule_model(node: Any) -> type[BaseModel] | None:
    kind = node.get("kind") if isinstance(node, dict) else None
    # (a kind that is not text, e.g. a list, names no rule class: it is reported, not looked up)
    return _RULE_CLASSES.get(kind) if isinstance(kind, str) else None


class _Problem(TypedDict):
    """One validation error, located: the keyword arguments of :class:`PolicyError`."""

    message: str
    line: int | None
    column: int | None
    path: str | None
    hint: str | None


def translate(
    exc: ValidationError, obj: dict[str, Any], source: str, marks: Marks, key_marks: Marks
) -> PolicyError:
    errors = exc.errors(include_url=False)
    described = [(err, _describe(err, obj, marks, key_marks)) for err in errors]
    # "unknown field 'rulez' (did you mean 'rules'?)" explains "required field 'rules' is missing"
    explained = {
        ((p["path"] or "").rpartition(".")[0], p["hint"])
        for e, p in described
        if e["type"] == "extra_forbidden" and p["hint"]
    }
    problems = [
        p
        for e, p in described
        if not (
            e["type"] == "missing"
            and ((p["path"] or ""), f"did you mean '{e['loc'][-1]}'?") in explained
        )
    ]
    problems.sort(key=lambda p: (p["line"] is None, p["line"] or 0, p["column"] or 0))
    first, rest = problems[0], problems[1:]
    more = tuple(str(PolicyError(**p, file=source)) for p in rest)
    return PolicyError(file=source, more=more, **first)


def _describe(err: ErrorDetails, obj: dict[str, Any], marks: Marks, key_marks: Marks) -> _Problem:
    kind = err["type"]
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        path, _, model = _data_path(loc[:-1], obj)
        leaf = loc[-1]
    else:
        path, leaf, model = _data_path(loc, obj)
    mark = None
    hint = None
    found = err.get("input")
    if kind == "extra_forbidden":
        key_path = path + (leaf,) if leaf is not None else path
        mark = key_marks.get(key_path) or marks.get(path)
        name = str(leaf if leaf is not None else path[-1])
        valid = sorted(model.model_fields) if model else []
        reason = f"unknown field '{name}'"
        if valid:
            reason += f"; expected one of: {', '.join(valid)}"
        suggestion = closest(name, valid)
        hint = f"did you mean '{suggestion}'?" if suggestion else None
        display = key_path
    elif kind == "missing":
        mark = marks.get(path)
        reason = f"required field '{leaf}' is missing"
        display = path
        if leaf == "threshold":
            hint = "add e.g. 'threshold: {min: 0.8}'"
        elif leaf == "kind":
            hint = f"one of: {', '.join(RULE_KINDS)}"
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        display = path + ("kind",)
        mark = marks.get(display) or marks.get(path)
        tag = err.get("ctx", {}).get("tag")
        if kind == "union_tag_not_found":
            reason = "rule has no 'kind'"
            display = path
        else:
            reason = f"unknown rule kind '{tag}'"
            suggestion = closest(str(tag), RULE_KINDS)
            hint = f"did you mean '{suggestion}'?" if suggestion else None
        reason += f"; expected one of: {', '.join(RULE_KINDS)}"
    elif kind == RULE_PROBLEM:
        ctx = err.get("ctx", {})
        node = _node_at(obj, path)
        field = ctx.get("field") or None
        display = path + (field,) if field and isinstance(node, dict) and field in node else path
        mark = key_marks.get(display) or marks.get(display) or marks.get(path)
        reason = ctx.get("message") or err["msg"]
        hint = ctx.get("hint") or None
    elif kind == "literal_error":
        display = path
        mark = marks.get(path)
        expected = re.findall(r"'([^']*)'|(\d+)", err.get("ctx", {}).get("expected", ""))
        choices = [a or b for a, b in expected]
        reason = f"expected one of: {', '.join(choices)}; found {found!r}"
        suggestion = closest(str(found), choices)
        hint = f"did you mean '{suggestion}'?" if suggestion else None
    elif kind == "model_type":  # a scalar or list where a mapping (a nested model) goes
        display = path
        mark = marks.get(path)
        found_text = f"{_type_name(found)}" + (
            f" {found!r}" if not isinstance(found, dict | list) else ""
        )
        if (path[-1] if path else None) == "threshold":
            reason = f"expected a number or a {{min: ..., max: ...}} mapping, found {found_text}"
            if isinstance(found, str) and _YAML11_FLOAT.fullmatch(found.strip()):
                hint = (
                    f"YAML reads {found} as text: write the mantissa with a point, e.g. "
                    f"{_as_yaml_float(found.strip())}"
                )
            elif isinstance(found, str):
                hint = f"write the number without quotes, e.g. threshold: {found.strip()}"
                try:
                    float(found)
                except ValueError:
                    hint = "e.g. 'threshold: 0.8' or 'threshold: {min: 0.8}'"
        else:
            reason = f"expected a mapping, found {found_text}"
    elif kind.startswith("date_"):
        display = path
        mark = marks.get(path)
        reason = f"expected a date (YYYY-MM-DD), found {_type_name(found)} {found!r}"
    else:
        display = path
        mark = marks.get(path)
        msg = err["msg"]
        if msg.startswith("Value error, "):
            reason = msg[len("Value error, ") :]
        else:
            reason = msg[0].lower() + msg[1:]
            if not isinstance(found, dict | list):
                reason += f"; found {_type_name(found)} {found!r}"
            else:
                reason += f"; found {_type_name(found)}"
        hint = _constraint_hint(
            kind, leaf if leaf is not None else (path[-1] if path else ""), err.get("ctx", {})
        )
        if isinstance(found, str) and _YAML11_FLOAT.fullmatch(found.strip()):
            hint = (
                f"YAML reads {found} as text: write the mantissa with a point, e.g. "
                f"{_as_yaml_float(found.strip())}"
            )
    return {
        "message": reason,
        "line": mark[0] if mark else None,
        "column": mark[1] if mark else None,
        "path": fmt_path(display) or None,
        "hint": hint,
    }
