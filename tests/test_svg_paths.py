"""SVG paths and graphics states drawn by govkit.report._svg_paths against WeasyPrint's own.

govkit draws a path of absolute commands in one pass over its numbers, and replays
the operators of a graphics state it has seen before. The promise is the same PDF,
so the tests compare operators path by path (random paths included) and whole PDFs
byte for byte, and check which nodes went to WeasyPrint's functions.
"""

from __future__ import annotations

import base64
import html as html_lib
import random
from collections import deque
from types import SimpleNamespace
from typing import Any

import pytest

from govkit.report import _svg_paths
from govkit.report._svg_paths import install, installed, parsed_each_time
from govkit.report._weasy import _weasyprint, lay_out, render_pdf_in_process

HEAD = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>paths</title>'
    '<meta name="dcterms.created" content="2026-01-01T00:00:00Z">'
    '<meta name="dcterms.modified" content="2026-01-01T00:00:00Z">'
    "<style>@page { size: A5; margin: 15mm } img { width: 100%% }</style></head>"
    "<body>%s</body></html>"
)

#: paths drawn by govkit: absolute M/L/C/Q/z, plain decimals
SIMPLE = [
    "M 0 67.68 L 496.8 67.68 L 496.8 0 L 0 0 L 0 67.68 z",
    "M 31.26 43.2 L 31.26 17.28",
    "M -3.5 -0 L 0.05 12 L 7 -2.25 z M 40 40 L 50 50 z",
    "M 10 10 C 20 0 30 0 40 10 C 50 20 60 20 70 10",
    "M 10 60 Q 30 20 50 60 Q 70 100 90 60 z",
    "M 5 5 z",  # closed right after the move: WeasyPrint draws no close
    "M 5 5 z L 9 9 z",  # a line from the closed subpath's start
    "M 1 1 L 2 2 z z",
    "M 100 100 M 120 120 L 130 100",
]
#: paths left to WeasyPrint: relative commands, arcs, H/V, other spacing, exponents
OTHER = [
    "m 10 10 l 20 0 l 0 20 z",
    "M 10 10 H 50 V 50 z",
    "M 10 40 A 20 20 0 0 1 50 40",
    "M10,10L20,20",
    "M 10 10 L 20 20 ",
    "M 1e1 10 L 20 20",
    "M 10 10 S 20 0 30 10",
]


def _stream() -> Any:
    import pydyf

    return pydyf.Stream()


def _fake_svg() -> Any:
    from weasyprint.svg.utils import size

    return SimpleNamespace(
        stream=_stream(), point=lambda x, y, font_size: (size(x, font_size), size(y, font_size))
    )


def _node(d: str, **attrs: str) -> Any:
    attrib = {"d": d, **attrs}
    return SimpleNamespace(attrib=attrib, get=attrib.get, vertices=deque())


def _ops(function: Any, d: str) -> list[bytes]:
    svg = _fake_svg()
    function(svg, _node(d), 12.0)
    return list(svg.stream.stream)


def _functions() -> tuple[Any, Any, list[str]]:
    """govkit's path function over a recording stand-in for WeasyPrint's, and WeasyPrint's."""
    import pydyf
    from weasyprint.svg.path import path as weasyprint_path

    handed_on: list[str] = []

    def recorded(svg: Any, node: Any, font_size: float) -> None:
        handed_on.append(node.get("d"))
        weasyprint_path(svg, node, font_size)

    svg_class = SimpleNamespace(set_graphical_state=lambda *a, **k: None)
    ours, _ = _svg_paths._make(SimpleNamespace(path=recorded), svg_class, pydyf._to_bytes)
    return ours, weasyprint_path, handed_on


@pytest.mark.parametrize("d", SIMPLE)
def test_a_simple_path_gives_weasyprints_operators(d: str) -> None:
    _weasyprint()
    ours, theirs, handed_on = _functions()
    assert _ops(ours, d) == _ops(theirs, d)
    assert handed_on == []


@pytest.mark.parametrize("d", OTHER)
def test_other_paths_go_to_weasyprint(d: str) -> None:
    _weasyprint()
    ours, theirs, handed_on = _functions()
    assert _ops(ours, d) == _ops(theirs, d)
    assert handed_on == [d]


def test_a_path_with_markers_goes_to_weasyprint() -> None:
    _weasyprint()
    ours, _, handed_on = _functions()
    node = _node("M 1 1 L 2 2", **{"marker-end": "url(#arrow)"})
    ours(_fake_svg(), node, 12.0)
    assert handed_on == ["M 1 1 L 2 2"]
    assert len(node.vertices) > 0  # recorded for the markers, as WeasyPrint does


def test_random_paths_give_weasyprints_operators() -> None:
    _weasyprint()
    ours, theirs, handed_on = _functions()
    rng = random.Random(7)

    def number() -> str:
        value = rng.choice([rng.uniform(-500, 500), rng.randint(-50, 50), 0.0, -0.0])
        text = f"{value:.{rng.choice([0, 1, 2])}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text

    for _ in range(300):
        parts = [f"M {number()} {number()}"]
        for _ in range(rng.randint(0, 12)):
            letter = rng.choice("MLLLCQz")
            arity = {"M": 2, "L": 2, "C": 6, "Q": 4, "z": 0}[letter]
            parts.append(" ".join([letter, *(number() for _ in range(arity))]))
        d = " ".join(parts)
        assert _ops(ours, d) == _ops(theirs, d), d
    assert handed_on == []


def _svg_img(svg: str) -> str:
    src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return f'<img src="{html_lib.escape(src)}" alt="plot">'


#: shapes and labels whose graphics states repeat, in a page stream and in the groups
#: WeasyPrint draws anchored labels in (each with resources of its own)
STATES = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200" viewBox="0 0 300 200" '
    'stroke-linejoin="round" stroke-linecap="butt">'
    '<defs><clipPath id="c"><rect x="10" y="10" width="200" height="150"/></clipPath>'
    '<linearGradient id="g"><stop offset="0" stop-color="red"/>'
    '<stop offset="1" stop-color="blue"/></linearGradient>'
    '<marker id="m" markerWidth="4" markerHeight="4" refX="2" refY="2">'
    '<path d="M 0 0 L 4 2 L 0 4 z" fill="#000"/></marker></defs>'
    + "".join(
        f'<path d="M {10 + i} 20 L {10 + i} 150" fill="none" stroke="#d8dee4" '
        f'stroke-width="0.4" stroke-linecap="square" clip-path="url(#c)"/>'
        f'<path d="M {10 + i} 150 L {10 + i} 153" fill="#424a53" stroke="#424a53" '
        f'stroke-width="0.5"/>'
        f'<text x="{10 + i}" y="165" font-size="6.5px" text-anchor="middle" '
        f'fill="#424a53" fill-opacity="0.8">{i}</text>'
        for i in range(0, 200, 40)
    )
    + '<path d="M 20 20 L 80 60 L 20 100 z" fill="#1f77b4" fill-opacity="0.5" stroke="#000" '
    'stroke-opacity="0.25" stroke-width="2%" stroke-dasharray="3 1.5" stroke-dashoffset="-1"/>'
    '<path d="M 30 20 L 90 60 L 30 100 z" fill="#1f77b4" fill-opacity="0.5" stroke="#000" '
    'stroke-opacity="0.25" stroke-width="2%" stroke-dasharray="3 1.5" stroke-dashoffset="-1"/>'
    '<path d="M 100 100 L 150 150" stroke="url(#g)" stroke-width="4"/>'
    '<path d="M 100 120 L 150 170" stroke="currentColor" color="green"/>'
    '<path d="M 160 100 L 200 140" stroke="#000" marker-end="url(#m)"/>'
    '<path d="m 160 150 l 20 0 l 0 20 z" fill="lab(50% 40 30)" fill-opacity="0.5"/>'
    '<text x="150" y="190" font-size="8px" text-anchor="end" fill="#000" '
    'fill-opacity="0.8">end-anchored</text>'
    '<text x="150" y="180" font-size="8px" fill="#000" fill-opacity="0.8">start</text>'
    "</svg>"
)


def test_the_pdf_is_the_same_byte_for_byte() -> None:
    _weasyprint()
    assert installed()
    html = HEAD % (_svg_img(STATES) + "<p>between</p>" + _svg_img(STATES))
    ours = render_pdf_in_process(html)
    with parsed_each_time():
        own = render_pdf_in_process(html)
    assert render_pdf_in_process(html) == ours  # switched back after the block
    assert ours == own
    # uncompressed: each anchored label's group names the alpha state in resources of its
    # own, which a replayed state adds as WeasyPrint's set_alpha would
    ours = lay_out(html).write_pdf(uncompressed_pdf=True)
    with parsed_each_time():
        own = lay_out(html).write_pdf(uncompressed_pdf=True)
    assert ours == own
    assert ours.count(b"/a0.8 <<") == 2 * 6 + 1  # six anchored labels an image, and the page


def test_installed_where_pdfs_are_made() -> None:
    weasyprint = _weasyprint()
    assert installed()
    assert install(weasyprint) is True  # idempotent
    import weasyprint.svg as svg

    ours = (svg.TAGS["path"], svg.SVG.set_graphical_state)
    with parsed_each_time():
        assert svg.TAGS["path"] is not ours[0]
        assert svg.SVG.set_graphical_state is not ours[1]
    assert (svg.TAGS["path"], svg.SVG.set_graphical_state) == ours
