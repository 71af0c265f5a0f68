"""Safe YAML for govkit's declarative files: marks kept, tags limited, expansion bounded."""

from __future__ import annotations

from typing import Any

import yaml

from govkit.exceptions import PolicyError

__all__ = ["YamlWalker", "MAX_YAML_NODES", "Marks", "compose", "fmt_path", "type_name"]

MAX_YAML_NODES = 20_000

_ALLOWED_TAGS = {
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "timestamp")
}
_COLLECTION_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: "tag:yaml.org,2002:map",
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
}
Path_ = tuple[str | int, ...]
#: (line, column), both 1-based, of the node at each path
Marks = dict[Path_, tuple[int, int]]
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


def compose(text: str, source: str) -> yaml.Node | None:
    """The YAML node graph of ``text``; PolicyError at FILE:LINE:COL for a syntax error."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = exc.context_mark if exc.problem and exc.context else None
        raise PolicyError(
            f"invalid YAML: {exc.problem or exc.context}"
            + (  # "while parsing a flow sequence" says where the unclosed '[' opened
                f" ({exc.context} at line {context.line + 1}, column {context.column + 1})"
                if context is not None
                else ""
            ),
            file=source,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}", file=source) from None


class YamlWalker:
    """Builds plain Python data from a YAML node graph, recording marks and enforcing limits."""

    def __init__(self, source: str, marks: Marks, key_marks: Marks) -> None:
        self.source = source
        self.marks = marks
        self.key_marks = key_marks
        self.count = 0
        self._scalars = yaml.SafeLoader("")

    def _err(
        self, node: yaml.Node, message: str, hint: str | None = None, path: Path_ = ()
    ) -> PolicyError:
        return PolicyError(
            message,
            file=self.source,
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1,
            path=fmt_path(path) or None,
            hint=hint,
        )

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_YAML_NODES:
            raise self._err(
                node,
                f"policy expands to more than {MAX_YAML_NODES:,} YAML nodes",
                hint="YAML aliases that multiply content (an 'alias bomb') are refused",
            )
        self.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        expected_tag = _COLLECTION_TAGS.get(type(node))
        if expected_tag is not None and node.tag != expected_tag:
            raise self._err(
                node,
                f"YAML tag '{node.tag}' is not allowed",
                hint="policies may use plain mappings, lists, strings, numbers, booleans, "
                "dates and null only",
            )
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self._err(key_node, "YAML merge keys ('<<') are not supported")
                key = self.build(key_node, path + ("<key>",))
                if not isinstance(key, str):
                    raise self._err(
                        key_node, f"expected a text key, found {type_name(key)} {key!r}"
                    )
                if key in out:
                    raise self._err(
                        key_node,
                        f"duplicate key '{key}'",
                        hint="each key may appear once in a mapping",
                    )
                self.key_marks[path + (key,)] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if node.tag not in _ALLOWED_TAGS:
            raise self._err(
                node,
                f"YAML tag '{node.tag}' is not allowed",
                hint="policies may use plain strings, numbers, booleans, dates and null only",
            )
        try:
            return self._scalars.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:
            if node.tag != _TIMESTAMP:
                raise
            # 2027-02-30 has the shape of a date, so YAML reads it as one, and it does not exist
            raise self._err(
                node,
                f"expected a date (YYYY-MM-DD), found {node.value!r}: {exc}",
                path=path,
            ) from None


def fmt_path(path: Path_) -> str:
    """``waivers[0].expires`` for the path ``("waivers", 0, "expires")``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def type_name(value: object) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        int: "a whole number",
        float: "a number",
        bool: "true/false",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)
