"""Draw an SVG path, and set a shape's graphics state, without WeasyPrint's per-number parsing.

WeasyPrint 70 draws an SVG ``<path>`` by splitting its ``d`` string with regular
expressions letter by letter, turning every coordinate into a length through its
unit parser, and recording each vertex for markers; and it sets a shape's fill,
stroke, dash, cap, join and miter limit by parsing the colours and lengths again
for every node. The Adult card's plots have about 5,000 coordinates and 640
shapes and labels; this took two fifths of the time their drawing takes, and
writing the card's PDF goes from 0.67 to 0.55 s.

:func:`install` puts two shortcuts in front of WeasyPrint's functions:

* a path whose ``d`` is only absolute ``M``/``L``/``C``/``Q`` commands and ``z``
  with plain decimal numbers (what matplotlib writes and
  :func:`govkit.report._svg.compact_svg` keeps), on a node without markers, is
  drawn by one pass over its numbers, emitting the operators WeasyPrint's
  ``path`` emits, number for number;
* a shape's graphics state whose paints are plain colours is computed by
  WeasyPrint once per combination of the attributes it reads, the font size and
  the stream's current colours and alphas; the next node with the same
  combination gets the same operators replayed, and the same transparency
  states added to its stream's resources when they are missing there.

Anything else (relative commands, arcs, markers, gradients, patterns,
``currentColor``) goes to WeasyPrint's own functions. The PDF comes out byte for
byte the same (``tests/test_svg_paths.py`` compares them). Installed once, in the
process that lays out PDFs, and only on the WeasyPrint versions it was checked
against. The code follows ``weasyprint/svg/path.py`` and ``weasyprint/svg/__init__.py``
(BSD-3-Clause, Kozea).
"""

from __future__ import annotations

import contextlib
import importlib
import re
from typing import Any

from govkit.report._patching import install_once, original_inside

__all__ = ["install", "installed", "parsed_each_time"]

#: WeasyPrint major versions whose SVG path drawing this module was checked against.
CHECKED_MAJORS = (70,)

_NUMBER = r"-?\d+(?:\.\d+)?"
#: the ``d`` strings drawn here: absolute commands, one space between tokens
_SIMPLE_PATH = re.compile(
    rf"M {_NUMBER} {_NUMBER}"
    rf"(?: (?:[ML] {_NUMBER} {_NUMBER}|C(?: {_NUMBER}){{6}}|Q(?: {_NUMBER}){{4}}|z))*"
)
_ARITY = {"M": 2, "L": 2, "C": 6, "Q": 4}
_MARKERS = ("marker", "marker-start", "marker-mid", "marker-end")
#: the attributes WeasyPrint's ``set_graphical_state`` reads
_STATE_ATTRIBUTES = (
    "fill",
    "fill-opacity",
    "stroke",
    "stroke-width",
    "stroke-opacity",
    "stroke-dasharray",
    "stroke-dashoffset",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
)
_STREAM_STATE = (
    "_current_color",
    "_current_color_stroke",
    "_current_alpha",
    "_current_alpha_stroke",
)
#: paints whose meaning depends on more than the attribute (definitions, the context)
_INDIRECT_PAINT = re.compile(r"url|context|current", re.I)
_CACHE_LIMIT = 4096

_state: dict[str, Any] = {}


def installed() -> bool:
    """Whether the shortcuts are active in this process."""
    return bool(_state.get("installed"))


def _make(path_module: Any, svg_class: Any, to_bytes: Any) -> tuple[Any, Any]:
    original_path = path_module.path
    original_state = svg_class.set_graphical_state
    numbers: dict[str, bytes] = {}

    def number(token: str) -> bytes:
        out = numbers.get(token)
        if out is None:
            out = to_bytes(float(token))
            if len(numbers) < _CACHE_LIMIT * 16:  # bounded in a long-lived process
                numbers[token] = out
        return out

    def path(svg: Any, node: Any, font_size: float) -> None:
        d = node.get("d", "")
        if not _SIMPLE_PATH.fullmatch(d) or any(node.get(name) for name in _MARKERS):
            original_path(svg, node, font_size)
            return
        ops = [b"0 0 m"]  # WeasyPrint starts every path at the origin
        tokens = d.split(" ")
        last = None
        first_point: tuple[float, float] | None = None
        current = (0.0, 0.0)
        i, end = 0, len(tokens)
        while i < end:
            letter = tokens[i]
            if letter == "z":
                i += 1
                if last in (None, "M", "z"):
                    first_point = None
                if first_point is not None:
                    ops.append(b"h")
                    current = first_point
                last = letter
                continue
            args = tokens[i + 1 : i + 1 + _ARITY[letter]]
            i += 1 + _ARITY[letter]
            if last in (None, "M", "z"):
                first_point = None
            if letter != "M" and first_point is None:
                first_point = current
            if letter == "Q":
                x1, y1 = current
                x2, y2, x3, y3 = map(float, args)
                quad = (
                    x2 * 2 / 3 + x1 / 3,
                    y2 * 2 / 3 + y1 / 3,
                    x2 * 2 / 3 + x3 / 3,
                    y2 * 2 / 3 + y3 / 3,
                )
                ops.append(
                    b" ".join((*map(to_bytes, quad), number(args[2]), number(args[3]), b"c"))
                )
                current = (x3, y3)
            else:
                operator = b"m" if letter == "M" else b"l" if letter == "L" else b"c"
                ops.append(b" ".join((*map(number, args), operator)))
                current = (float(args[-2]), float(args[-1]))
            last = letter
        svg.stream.stream.extend(ops)

    path.__wrapped__ = original_path  # type: ignore[attr-defined]

    replays: dict[tuple[Any, ...], tuple[list[bytes], tuple[Any, ...], Any, tuple[Any, ...]]] = {}

    def set_graphical_state(self: Any, node: Any, font_size: float, context: Any = None) -> Any:
        stream = self.stream
        values = tuple(node.get(name) for name in _STATE_ATTRIBUTES)
        if context is not None or any(
            paint and _INDIRECT_PAINT.search(paint) for paint in (values[0], values[2])
        ):
            return original_state(self, node, font_size, context)
        before = tuple(getattr(stream, name) for name in _STREAM_STATE)
        key = (values, font_size, self.inner_diagonal, before)
        states = stream._resources["ExtGState"]
        replay = replays.get(key)
        if replay is None:
            start = len(stream.stream)
            result = original_state(self, node, font_size, context)
            after = tuple(getattr(stream, name) for name in _STREAM_STATE)
            # set_alpha names a transparency state only when it changes the current one
            # (the fill's, then the stroke's) and adds it to the resources if missing there
            used = tuple((after[i], states[after[i]]) for i in (2, 3) if after[i] != before[i])
            if len(replays) < _CACHE_LIMIT:
                replays[key] = (stream.stream[start:], after, result, used)
            return result
        ops, after, result, used = replay
        for name, value in used:
            if name not in states:
                states[name] = value
        stream.stream.extend(ops)
        for name, value in zip(_STREAM_STATE, after, strict=True):
            setattr(stream, name, value)
        return result

    set_graphical_state.__wrapped__ = original_state  # type: ignore[attr-defined]
    return path, set_graphical_state


def install(weasyprint: Any) -> bool:
    """Draw simple paths and replay graphics states from now on; False when not applied.

    Not applied (WeasyPrint's functions stay) on a WeasyPrint major version other
    than :data:`CHECKED_MAJORS`, or when its SVG module does not look as expected.
    Idempotent.
    """
    return install_once(_state, weasyprint, CHECKED_MAJORS, _found, _use)


def _found() -> dict[str, Any] | None:
    """WeasyPrint's code the change replaces, and the change; None if it looks unexpected."""
    svg = importlib.import_module("weasyprint.svg")
    path_module = importlib.import_module("weasyprint.svg.path")
    stream_module = importlib.import_module("weasyprint.pdf.stream")
    pydyf = importlib.import_module("pydyf")
    tags = getattr(svg, "TAGS", None)
    svg_class = getattr(svg, "SVG", None)
    stream_class = getattr(stream_module, "Stream", None)
    to_bytes = getattr(pydyf, "_to_bytes", None)
    if (
        not isinstance(tags, dict)
        or tags.get("path") is not getattr(path_module, "path", None)
        or svg_class is None
        or not callable(getattr(svg_class, "set_graphical_state", None))
        or not _keeps_state(stream_class)
        or to_bytes is None
    ):
        return None
    return dict(
        tags=tags,
        svg_class=svg_class,
        original=(path_module.path, svg_class.set_graphical_state),
        patched=_make(path_module, svg_class, to_bytes),
    )


def _keeps_state(stream_class: Any) -> bool:
    """Whether WeasyPrint's PDF stream keeps the current colours and alphas where the
    replay reads and sets them."""
    try:
        stream = stream_class(None, None, {}, None, None, None, None)
    except Exception:  # another constructor than WeasyPrint 70's
        return False
    return all(hasattr(stream, name) for name in _STREAM_STATE)


def _use(functions: tuple[Any, Any]) -> None:
    path, set_graphical_state = functions
    _state["tags"]["path"] = path
    _state["svg_class"].set_graphical_state = set_graphical_state


def parsed_each_time() -> contextlib.AbstractContextManager[None]:
    """WeasyPrint's own path drawing and graphics states inside the block (tests and the
    benchmark compare)."""
    return original_inside(_state, _use)
