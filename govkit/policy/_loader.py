"""Load policy files safely and explain every mistake with file, line, key path and a fix.

Safety: the file size is capped before reading; YAML is composed with PyYAML's
safe loader and converted by our own walker, which accepts only the standard
scalar tags (so ``!!python/object`` is refused), rejects duplicate keys and merge
keys, and stops after a bounded number of nodes (so an alias bomb cannot expand).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from pydantic import ValidationError

from govkit._resources import resource_dir
from govkit._yaml import MAX_YAML_NODES, Marks, YamlWalker, compose
from govkit._yaml import type_name as _type_name
from govkit.exceptions import PolicyError, closest
from govkit.policy._errors import Path_, fmt_path, translate
from govkit.policy._schema import LineageRule, Policy
from govkit.records import ModelMetadata

__all__ = [
    "LoadedPolicy",
    "load_policy",
    "parse_policy",
    "builtin_packs",
    "MAX_POLICY_BYTES",
    "MAX_YAML_NODES",
]


MAX_POLICY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with where it came from, its digest and the line of every node.

    With ``extends``, ``policy`` holds the merged rules and waivers; ``rule_origins`` says
    which file (and line) each rule came from, and the digest covers every file involved.
    """

    policy: Policy
    source: str
    digest: str  # "sha256:<hex>" of the file bytes (and of the files it extends)
    marks: dict[Path_, tuple[int, int]] = field(repr=False, default_factory=dict)
    rule_origins: dict[str, tuple[str, int | None]] = field(repr=False, default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        mark = self.marks.get(path)
        return mark[0] if mark else None

    def origin_of(self, rule_id: str) -> tuple[str, int | None]:
        """(file, line) where the rule with this id is defined."""
        return self.rule_origins.get(rule_id, (self.source, None))


def load_policy(path: str | Path) -> LoadedPolicy:
    """Read, parse and validate a policy file; any problem raises :class:`PolicyError`."""
    p = Path(path)
    return _parse(_read_file(p, str(path)), source=str(path), base_dir=p.parent, stack=())


def _read_file(p: Path, source: str) -> bytes:
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise PolicyError("policy file not found", file=source) from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror}", file=source) from None
    if not p.is_file():
        raise PolicyError("expected a policy file, found a directory", file=source)
    if size > MAX_POLICY_BYTES:
        raise PolicyError(
            f"policy file is {size:,} bytes; the limit is {MAX_POLICY_BYTES:,}",
            file=source,
            hint="policies are small YAML files; split large ones or remove embedded data",
        )
    with p.open("rb") as fh:
        return fh.read(MAX_POLICY_BYTES + 1)


def parse_policy(
    data: bytes | str, *, source: str = "<string>", base_dir: str | Path | None = None
) -> LoadedPolicy:
    """Parse and validate policy YAML text (``extends`` paths resolve from ``base_dir``)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return _parse(raw, source=source, base_dir=Path(base_dir or "."), stack=())


def builtin_packs() -> list[str]:
    """Names of the policy packs shipped with govkit (usable in ``extends``)."""
    return sorted(
        f.name.removesuffix(".yaml")
        for f in resource_dir("policies").iterdir()
        if f.name.endswith(".yaml")
    )


def _parse(
    raw: bytes,
    *,
    source: str,
    base_dir: Path,
    stack: tuple[str, ...],
    outer_vars: dict[str, Any] | None = None,
) -> LoadedPolicy:
    """Parse one file; ``outer_vars`` (from the policies extending this one) take precedence."""
    obj, marks, key_marks = _compose(raw, source)
    own_vars = obj.get("vars", {}) if isinstance(obj.get("vars", {}), dict) else {}
    # the outermost policy's vars win, so a pack's defaults can be overridden
    inherited = {**own_vars, **(outer_vars or {})}
    parents = _load_parents(
        obj, source=source, base_dir=base_dir, stack=stack, marks=marks, outer_vars=inherited
    )
    variables: dict[str, Any] = {}
    for parent in parents:
        variables.update(parent.policy.vars)
    variables.update(inherited)
    obj = {
        k: (v if k == "vars" else _substitute(v, variables, (k,), source, marks))
        for k, v in obj.items()
    }
    try:
        own = Policy.model_validate(obj)
    except ValidationError as exc:
        raise translate(exc, obj, source, marks, key_marks) from None
    _semantic_checks(own, source, marks)

    rules: dict[str, Any] = {}
    origins: dict[str, tuple[str, int | None]] = {}
    waivers = []
    for parent in parents:
        for rule in parent.policy.rules:
            rules[rule.id] = rule
            origins[rule.id] = parent.origin_of(rule.id)
        waivers.extend(parent.policy.waivers)
    for i, rule in enumerate(own.rules):
        rules[rule.id] = rule  # override by rule id, or add
        origins[rule.id] = (source, marks.get(("rules", i), (None, None))[0])
    line: int | None
    col: int | None
    if not rules:
        line, col = marks.get(("rules",), (1, 1))
        raise PolicyError(
            "the policy has no rules (none of its own and none inherited)",
            file=source,
            line=line,
            column=col,
            path="rules",
            hint=_SKELETON_HINT,
        )
    for i, waiver in enumerate(own.waivers):
        if waiver.rule not in rules:
            line, col = marks.get(("waivers", i, "rule"), (None, None))
            guess = closest(waiver.rule, rules)
            raise PolicyError(
                f"waiver for unknown rule '{waiver.rule}'; rules: {', '.join(rules)}",
                file=source,
                line=line,
                column=col,
                path=f"waivers[{i}].rule",
                hint=f"did you mean '{guess}'?" if guess else None,
            )
    waivers.extend(own.waivers)
    merged = own.model_copy(
        update={"rules": list(rules.values()), "waivers": waivers, "vars": variables}
    )
    digest = hashlib.sha256(raw)
    for parent in parents:
        digest.update(parent.digest.encode())
    return LoadedPolicy(
        policy=merged,
        source=source,
        digest="sha256:" + digest.hexdigest(),
        marks=marks,
        rule_origins=origins,
    )


def _compose(raw: bytes, source: str) -> tuple[dict[str, Any], Marks, Marks]:
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(
            f"policy is {len(raw):,} bytes; the limit is {MAX_POLICY_BYTES:,}", file=source
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(
            f"policy file is not valid UTF-8 (byte {exc.start})", file=source
        ) from None
    marks: Marks = {}
    key_marks: Marks = {}
    node = compose(text, source)
    if node is None:
        raise PolicyError("policy file is empty", file=source, hint=_SKELETON_HINT)
    obj = YamlWalker(source, marks, key_marks).build(node, ())
    if not isinstance(obj, dict):
        raise PolicyError(
            f"expected a mapping at the top level, found {_type_name(obj)}",
            file=source,
            line=1,
            hint=_SKELETON_HINT,
        )
    return obj, marks, key_marks


class _Where(TypedDict):
    """Where a bad ``extends`` entry sits: keyword arguments of :class:`PolicyError`."""

    file: str
    line: int | None
    column: int | None
    path: str


def _load_parents(
    obj: dict[str, Any],
    *,
    source: str,
    base_dir: Path,
    stack: tuple[str, ...],
    marks: Marks,
    outer_vars: dict[str, Any],
) -> list[LoadedPolicy]:
    names = obj.get("extends", [])
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        line, col = marks.get(("extends",), (None, None))
        raise PolicyError(
            "expected a policy path or pack name, or a list of them",
            file=source,
            line=line,
            column=col,
            path="extends",
        )
    me = source if source.startswith("<") else str(Path(source).resolve())
    chain = (*stack, me)
    parents = []
    for i, name in enumerate(names):
        line, col = marks.get(("extends", i), marks.get(("extends",), (None, None)))
        where: _Where = {"file": source, "line": line, "column": col, "path": "extends"}
        if "/" not in name and not name.endswith((".yaml", ".yml")):
            packs = builtin_packs()
            if name not in packs:
                guess = closest(name, packs)
                raise PolicyError(
                    f"unknown policy pack '{name}'; built-in packs: {', '.join(packs)}",
                    hint=f"did you mean '{guess}'?" if guess else "or give a path to a .yaml",
                    **where,
                )
            key, parent_source, parent_dir = f"pack:{name}", f"{name} (built-in pack)", Path()
        else:
            path = base_dir / name
            key, parent_source, parent_dir = str(path.resolve()), str(path), path.parent
        if key in chain:
            cycle = [Path(c).name for c in (*chain[chain.index(key) :], key)]
            raise PolicyError(
                f"extends cycle: {' -> '.join(cycle)}",
                hint="a policy cannot extend itself, directly or through others",
                **where,
            )
        if key.startswith("pack:"):
            data = (resource_dir("policies") / f"{name}.yaml").read_bytes()
        else:
            data = _read_file(path, parent_source)
        parents.append(
            _parse(
                data,
                source=parent_source,
                base_dir=parent_dir,
                stack=chain,
                outer_vars=outer_vars,
            )
        )
    return parents


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _substitute(
    value: Any, variables: dict[str, Any], path: Path_, source: str, marks: Marks
) -> Any:
    """Replace ``${name}``; a value that is only a reference keeps the variable's type."""
    if isinstance(value, dict):
        return {k: _substitute(v, variables, (*path, k), source, marks) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, variables, (*path, i), source, marks) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def lookup(name: str) -> Any:
        if name not in variables:
            line, col = marks.get(path, (None, None))
            guess = closest(name, variables)
            raise PolicyError(
                f"unknown variable '${{{name}}}'; defined: {', '.join(variables) or 'none'}",
                file=source,
                line=line,
                column=col,
                path=fmt_path(path),
                hint=f"did you mean '{guess}'?" if guess else "define it under 'vars:'",
            )
        return variables[name]

    whole = _VAR.fullmatch(value)
    if whole:
        return lookup(whole.group(1))
    return _VAR.sub(lambda m: str(lookup(m.group(1))), value)


_SKELETON_HINT = "a policy has 'schema_version: 1', 'name', and a list of 'rules'"


def _semantic_checks(policy: Policy, source: str, marks: Marks) -> None:
    """Rules pydantic cannot express: unique ids, known metadata fields."""
    seen: dict[str, int] = {}
    meta_fields = sorted(ModelMetadata.model_fields)
    for i, rule in enumerate(policy.rules):
        if rule.id in seen:
            line, col = marks.get(("rules", i, "id"), (None, None))
            first = marks.get(("rules", seen[rule.id], "id"), (None, None))[0]
            raise PolicyError(
                f"duplicate rule id '{rule.id}' (first used at line {first})",
                file=source,
                line=line,
                column=col,
                path=f"rules[{i}].id",
                hint="rule ids must be unique within a policy",
            )
        seen[rule.id] = i
        if isinstance(rule, LineageRule):
            if rule.requirement == "metadata_present" and not rule.fields:
                line, col = marks.get(("rules", i), (None, None))
                raise PolicyError(
                    "requirement 'metadata_present' needs a non-empty 'fields' list",
                    file=source,
                    line=line,
                    column=col,
                    path=f"rules[{i}].fields",
                    hint=f"e.g. fields: [owner, intended_use]; valid: {', '.join(meta_fields)}",
                )
            for j, name in enumerate(rule.fields):
                if name not in meta_fields:
                    line, col = marks.get(("rules", i, "fields", j), (None, None))
                    suggestion = closest(name, meta_fields)
                    raise PolicyError(
                        f"unknown model metadata field '{name}'; expected one of: "
                        f"{', '.join(meta_fields)}",
                        file=source,
                        line=line,
                        column=col,
                        path=f"rules[{i}].fields[{j}]",
                        hint=f"did you mean '{suggestion}'?" if suggestion else None,
                    )
