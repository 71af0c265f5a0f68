"""SVG from matplotlib, rewritten to draw the same with fewer, simpler nodes.

WeasyPrint draws an SVG node by node in Python: every element costs a style
lookup, a graphics state and often a clip, a ``style`` attribute costs a CSS
parse, and a ``<use>`` costs a copy of what it references. matplotlib writes
``style="..."`` on every element, one ``<g>`` around every artist, one
``<use>`` per marker and tick, six-decimal coordinates and indentation.
:func:`compact_svg` writes the same drawing with presentation attributes,
without the wrappers, with markers and ticks as paths, with runs of sibling
paths drawn alike merged into one path and runs of siblings clipped alike put
in one clipped group, and with coordinates to 0.01 pt (3.5 micrometres).
A card's plots lay out about a fifth faster, and their SVG is a third smaller.

The output is deterministic and is still checked by
:func:`govkit.report._figures.checked_svg` before it is embedded.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

__all__ = ["compact_svg"]

_TAG = re.compile(r"<[A-Za-z][^<>]*>")
_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')
_DECL = re.compile(r"^\s*([a-z-]+)\s*:\s*(.*?)\s*$")
_GLOBAL_STYLE = re.compile(
    r'\s*<defs>\s*<style type="text/css">\*\{([^{}<]*)\}</style>\s*</defs>', re.S
)


def _attributes(declarations: str) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for part in declarations.split(";"):
        if not part.strip():
            continue
        m = _DECL.match(part)
        if m is None or '"' in m[2] or "<" in m[2]:
            return None
        out[m[1]] = m[2]
    return out


def _presentation_attributes(svg: str) -> str:
    """``style="fill: x; stroke: y"`` -> ``fill="x" stroke="y"``, and no global stylesheet.

    Same drawing, but WeasyPrint no longer runs a CSS parser and a selector match on
    every element: it lays a card's plots out about twice as fast.
    """
    root_attrs = ""
    found = _GLOBAL_STYLE.search(svg)
    if found is not None:
        decls = _attributes(found[1])
        if decls is not None:
            svg = svg[: found.start()] + svg[found.end() :]
            root_attrs = "".join(f' {k}="{v}"' for k, v in decls.items())

    def tag(m: re.Match[str]) -> str:
        text = m[0]
        style = _STYLE_ATTR.search(text)
        if style is None:
            return text
        decls = _attributes(style[1])
        rest = text[: style.start()] + text[style.end() :]
        if decls is None or any(re.search(rf"\s{re.escape(k)}=", rest) for k in decls):
            return text
        extra = "".join(f' {k}="{v}"' for k, v in decls.items())
        end = len(rest) - (2 if rest.endswith("/>") else 1)
        return rest[:end] + extra + rest[end:]

    svg = _TAG.sub(tag, svg)
    if root_attrs:
        svg = svg.replace("<svg ", "<svg" + root_attrs + " ", 1)
    return svg


_G_TAG = re.compile(r'<g id="[^"<>]*">|<g>|</g>')


def _unwrap_groups(svg: str) -> str:
    """Drop the ``<g>`` wrappers matplotlib puts around every artist when they carry only an id.

    They change nothing in the drawing, and each is one more node for WeasyPrint to cascade.
    """
    out: list[str] = []
    stack: list[bool] = []  # per open <g>: was it dropped?
    pos = 0
    for m in re.finditer(r"<g\b[^<>]*>|</g>", svg):
        out.append(svg[pos : m.start()])
        pos = m.end()
        token = m[0]
        if token == "</g>":
            if not (stack and stack.pop()):
                out.append(token)
        elif token.endswith("/>"):
            out.append(token)
        elif _G_TAG.fullmatch(token):
            stack.append(True)
        else:
            stack.append(False)
            out.append(token)
    out.append(svg[pos:])
    return "".join(out)


_SVG = "{http://www.w3.org/2000/svg}"
_XLINK = "{http://www.w3.org/1999/xlink}"
_XML = "{http://www.w3.org/XML/1998/namespace}"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_ROUNDED = frozenset({"d", "x", "y", "width", "height"})
_NO_ROTATION = re.compile(r"^rotate\(-?0 [^()]*\)$")
_PATH_COMMANDS = frozenset({"M", "L", "Q", "C"})
_TEXT_TAGS = frozenset({"text", "tspan", "style", "title", "desc"})


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _rounded(text: str) -> str:
    return _NUMBER.sub(lambda m: _num(float(m[0])), " ".join(text.split()))


def _translated(d: str, dx: float, dy: float) -> str | None:
    """A path of absolute M/L/Q/C/z commands moved by (dx, dy); None for anything else."""
    out: list[str] = []
    axis = 0
    for token in d.split():
        if token in _PATH_COMMANDS:
            out.append(token)
            axis = 0
        elif token in ("z", "Z"):
            out.append("z")
        else:
            try:
                value = float(token)
            except ValueError:
                return None
            out.append(_num(value + (dx if axis == 0 else dy)))
            axis ^= 1
    return " ".join(out)


def _same_paint(a: ET.Element, b: ET.Element, same_shape: bool) -> bool:
    """Can two sibling paths be drawn as one? Only when nothing but their geometry differs.

    Strokes are drawn per subpath, so stroked outlines always merge. Fills merge only
    for copies of one marker (same winding, so overlaps stay filled) without alpha.
    """
    if a.tag != _SVG + "path" or b.tag != _SVG + "path" or "id" in a.attrib or "id" in b.attrib:
        return False
    rest_a = {k: v for k, v in a.attrib.items() if k != "d"}
    if rest_a != {k: v for k, v in b.attrib.items() if k != "d"}:
        return False
    if any("opacity" in k for k in rest_a) or rest_a.get("fill-rule") == "evenodd":
        return False
    return same_shape or rest_a.get("fill") == "none"


def compact_svg(svg: str) -> str:
    """The same drawing as ``svg`` (matplotlib's, prolog removed) with fewer nodes."""
    root = ET.fromstring(_unwrap_groups(_presentation_attributes(svg)))
    markers = {
        el.attrib["id"]: el
        for defs in root.iter(_SVG + "defs")
        for el in defs
        if el.tag == _SVG + "path" and "id" in el.attrib
    }
    kept: set[str] = set()  # markers some <use> still needs
    origin: dict[ET.Element, str] = {}  # path -> the marker it was copied from

    def marker_copy(use: ET.Element) -> ET.Element | None:
        ref = use.attrib.get(_XLINK + "href", "")
        marker = markers.get(ref[1:]) if ref.startswith("#") else None
        d = None
        if marker is not None:
            try:
                dx, dy = float(use.attrib.get("x", 0)), float(use.attrib.get("y", 0))
            except ValueError:
                dx = dy = math.nan
            if math.isfinite(dx) and math.isfinite(dy):
                d = _translated(marker.attrib.get("d", ""), dx, dy)
        if marker is None or d is None:
            kept.add(ref[1:])
            return None
        attrs = {k: v for k, v in use.attrib.items() if k not in (_XLINK + "href", "x", "y")}
        attrs.update((k, v) for k, v in marker.attrib.items() if k not in ("id", "d"))
        path = ET.Element(_SVG + "path", {"d": d, **attrs})
        origin[path] = ref
        return path

    def walk(el: ET.Element) -> None:
        children: list[ET.Element] = []
        for child in el:
            walk(child)
            if child.tag == _SVG + "use":
                copy = marker_copy(child)
                child = child if copy is None else copy
            if child.tag == _SVG + "g" and not len(child) and set(child.attrib) <= {"id"}:
                continue  # an empty group: matplotlib's wrapper of a tick without a line
            prev = children[-1] if children else None
            copies = prev is not None and child in origin and origin.get(prev) == origin[child]
            if prev is not None and _same_paint(prev, child, copies):
                prev.attrib["d"] += " " + child.attrib["d"]
                continue
            children.append(child)
        el[:] = _group_clips(children)

    walk(root)
    for defs in root.iter(_SVG + "defs"):
        defs[:] = [
            el
            for el in defs
            if markers.get(el.attrib.get("id", "")) is not el or (el.attrib["id"] in kept)
        ]
    for parent in root.iter():
        parent[:] = [el for el in parent if el.tag != _SVG + "defs" or len(el)]
    for el in root.iter():
        if el is not root:
            for name in _ROUNDED & el.attrib.keys():
                el.attrib[name] = _rounded(el.attrib[name])
        if _NO_ROTATION.match(el.attrib.get("transform", "")):
            del el.attrib["transform"]
    return _serialize(root) + "\n"


def _group_clips(children: list[ET.Element]) -> list[ET.Element]:
    """Runs of siblings clipped alike become one clipped group: one clip, not one per element.

    Only untransformed siblings: a clip path is in the user space of what it clips.
    """
    out: list[ET.Element] = []
    run: list[ET.Element] = []

    def flush() -> None:
        if len(run) > 1:
            group = ET.Element(_SVG + "g", {"clip-path": run[0].attrib["clip-path"]})
            for child in run:
                del child.attrib["clip-path"]
            group.extend(run)
            out.append(group)
        else:
            out.extend(run)
        run.clear()

    for child in children:
        clip = child.attrib.get("clip-path")
        if clip is None or "transform" in child.attrib:
            flush()
            out.append(child)
        elif run and run[0].attrib["clip-path"] != clip:
            flush()
            run.append(child)
        else:
            run.append(child)
    flush()
    return out


def _escape(text: str, quote: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if quote else text


def _serialize(el: ET.Element, *, root: bool = True) -> str:
    """XML of an SVG tree without ElementTree's global namespace registry; no whitespace."""
    tag = el.tag.removeprefix(_SVG)
    attrs = []
    if root:
        attrs = ['xmlns="http://www.w3.org/2000/svg"', 'xmlns:xlink="http://www.w3.org/1999/xlink"']
    for name, value in el.attrib.items():
        name = name.replace(_XLINK, "xlink:").replace(_XML, "xml:")
        attrs.append(f'{name}="{_escape(value, quote=True)}"')
    head = " ".join([tag, *attrs])
    text = _escape(el.text) if el.text and tag in _TEXT_TAGS else ""
    inner = "".join(_serialize(child, root=False) for child in el)
    tail = _escape(el.tail) if el.tail and el.tail.strip() else ""
    if not text and not inner:
        return f"<{head}/>{tail}"
    return f"<{head}>{text}{inner}</{tag}>{tail}"
