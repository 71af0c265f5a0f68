"""Figures of a model card: matplotlib (Agg, no pyplot) to embedded SVG, deterministic and checked.

Every plot of a card is drawn by a builder in a ``govkit.report._plot_*`` module
(see :mod:`govkit.report._plot_spec`) inside :func:`draw`, which fixes the style
and what makes SVG output reproducible:

* ``svg.hashsalt`` and ``svg.id`` are derived from the figure's id, so the ids
  matplotlib writes (clip paths, markers) are the same on every run and never
  collide between the figures of one page;
* no metadata (no date, no creator) is written, and the XML prolog and DOCTYPE
  are dropped;
* text stays text (``svg.fonttype = none``), set in DejaVu Sans like the card,
  so the PDF embeds one subset font and the numbers stay searchable;
* ``text.parse_math`` is off: a ``$`` in a group or feature name is printed, not
  parsed as mathtext;
* the SVG is rewritten by :func:`govkit.report._svg.compact_svg` to draw the same
  with fewer nodes (WeasyPrint draws SVG node by node, in Python).

Each figure's size is known before it is drawn (:class:`FigurePlan`), so a PDF
can be laid out around placeholders while matplotlib draws.

The card embeds each SVG as an ``<img src="data:image/svg+xml;base64,...">``,
not as inline ``<svg>`` markup: an image is a sealed document (browsers run no
script in it and fetch nothing for it), its ids cannot collide with the page's,
its ``alt`` is the accessible description, and WeasyPrint parses it with its SVG
reader instead of cascading the page's CSS over thousands of drawing elements
(inline, a card took several times longer to lay out and logged a warning per
element). It is still checked by :func:`checked_svg` first: it must parse as
XML, hold only drawing elements, no event handlers, and reference nothing but
its own ids (``#...``). Labels that come from data (group values, feature
names, dataset names) are cleaned of control characters and shortened by
:func:`label` before matplotlib sees them; matplotlib escapes them as XML text.
"""

from __future__ import annotations

import base64
import gc
import io
import logging
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govkit.exceptions import MissingDependencyError, RenderError
from govkit.report._svg import compact_svg

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from govkit.report._plot_spec import FigureSpec

__all__ = [
    "Drawn",
    "draw",
    "checked_svg",
    "compact_svg",
    "data_url",
    "placeholder",
    "draw_figure",
    "FigurePlan",
    "FigureRenderer",
    "label",
    "PALETTE",
    "INK",
    "MUTED",
    "ACCENT",
    "BAD",
]

logger = logging.getLogger(__name__)

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
INK = "#1f2328"
MUTED = "#6e7781"
ACCENT = "#0b3d91"
BAD = "#a40e26"
GRID = "#d8dee4"

_STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.image_inline": True,
    "text.parse_math": False,
    "text.usetex": False,
    "font.family": ["DejaVu Sans"],
    "font.size": 7.0,
    "axes.titlesize": 7.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 7.0,
    "axes.edgecolor": "#8c959f",
    "axes.linewidth": 0.6,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "xtick.color": "#424a53",
    "ytick.color": "#424a53",
    "xtick.major.width": 0.5,
    "ytick.major.width": 0.5,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "legend.fontsize": 6.0,
    "legend.frameon": False,
    "lines.linewidth": 1.1,
    "hatch.linewidth": 0.5,
    "path.simplify": True,
    "figure.dpi": 72.0,
}

_SVG_NS = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_ALLOWED_TAGS = frozenset(
    _SVG_NS + t
    for t in (
        "svg",
        "g",
        "defs",
        "style",
        "clipPath",
        "path",
        "use",
        "text",
        "tspan",
        "rect",
        "line",
        "polyline",
        "polygon",
        "circle",
        "ellipse",
        "title",
        "desc",
        "pattern",
    )
)
_PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_URL = re.compile(r"url\(\s*([^)]*)\)", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def label(text: object, limit: int = 36) -> str:
    """Data text as a one-line plot label: no control characters, at most ``limit`` characters."""
    s = _CONTROL.sub("", str(text))
    s = " ".join(s.split())
    # lone surrogates cannot be written as UTF-8 XML
    s = s.encode("utf-8", "replace").decode("utf-8")
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "\u2026"


@dataclass(frozen=True)
class Drawn:
    """One figure: its SVG as a data: URL and its size (or why it could not be drawn)."""

    src: str | None  # data:image/svg+xml;base64,...
    width_pt: float
    height_pt: float
    error: str | None


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingDependencyError(
            "model card plots need the package 'matplotlib', which is not installed; "
            "install it with: pip install 'matplotlib>=3.8'"
        ) from exc
    return matplotlib


_frozen_lock = threading.Lock()
_frozen_depth = 0  # figures being drawn while this module holds the process's objects frozen
_froze = False  # whether this module froze them (not somebody else before it)


@contextmanager
def _caller_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector off the objects the process already holds while a
    figure is drawn.

    matplotlib allocates enough while drawing to set off full collections, and each
    walks every object of the process: in one holding a model and its data (260,000
    objects in ``benchmarks/bench_card.py``) they cost 0.06-0.14 s of a card's nine
    figures. ``gc.freeze()`` moves the objects there are out of the collector's
    sight -- garbage made while drawing is still collected -- and ``gc.unfreeze()``
    puts them back when the last figure drawn at the time is done (until then, cycles
    other threads dropped before it began wait to be collected). A process that
    froze objects itself (a pre-forking server) is left as it is.
    """
    global _frozen_depth, _froze
    with _frozen_lock:
        if _frozen_depth == 0:
            _froze = gc.get_freeze_count() == 0
            if _froze:
                gc.freeze()
        _frozen_depth += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_depth -= 1
            if _frozen_depth == 0 and _froze:
                gc.unfreeze()
                _froze = False


@contextmanager
def _style(fig_id: str) -> Iterator[None]:
    matplotlib = _matplotlib()
    with matplotlib.rc_context({**_STYLE, "svg.hashsalt": f"govkit-{fig_id}", "svg.id": fig_id}):
        yield


def _svg_of(fig: Figure) -> str:
    return compact_svg(matplotlib_svg(fig))


def matplotlib_svg(fig: Figure) -> str:
    """The SVG matplotlib writes for ``fig``, without prolog, date or creator."""
    buf = io.StringIO()
    fig.savefig(
        buf,
        format="svg",
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        facecolor="none",
    )
    text = _PROLOG.sub("", buf.getvalue(), count=1)
    return _METADATA.sub("", text, count=1).strip() + "\n"


def checked_svg(svg: str) -> tuple[float, float]:
    """Check that ``svg`` is a self-contained drawing; return its width and height in points.

    Raises:
        RenderError: the SVG holds anything but drawing elements with internal references.
    """
    if "<!" in svg or "<?" in svg:
        raise RenderError("figure SVG holds a DOCTYPE, entity, comment or processing instruction")
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        raise RenderError(f"figure SVG is not well-formed XML: {exc}") from exc
    if root.tag != _SVG_NS + "svg":
        raise RenderError(f"figure SVG root is {root.tag!r}, not svg")
    for el in root.iter():
        if el.tag not in _ALLOWED_TAGS:
            raise RenderError(f"figure SVG holds a {el.tag!r} element")
        for name, value in el.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on"):
                raise RenderError(f"figure SVG holds an event handler {local!r}")
            if (name == _XLINK_HREF or local == "href") and not value.startswith("#"):
                raise RenderError("figure SVG references something outside itself")
            for target in _URL.findall(value):
                if not target.strip("'\" ").startswith("#"):
                    raise RenderError("figure SVG references something outside itself")
        if el.tag == _SVG_NS + "style":
            css = el.text or ""
            if "@" in css or any(not t.strip("'\" ").startswith("#") for t in _URL.findall(css)):
                raise RenderError("figure SVG style loads something")
    try:
        width = float(root.attrib["width"].removesuffix("pt"))
        height = float(root.attrib["height"].removesuffix("pt"))
    except (KeyError, ValueError) as exc:
        raise RenderError("figure SVG has no width and height in points") from exc
    return width, height


def data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _pt(inches: float) -> str:
    """A length in points as matplotlib's SVG backend writes it."""
    return f"{inches * 72:f}".rstrip("0").rstrip(".")


def placeholder(fig_id: str, size: tuple[float, float]) -> Drawn:
    """An empty SVG of the size a figure will have: a page can be laid out around it.

    Its id makes its data: URL unique, so it can later be told apart from the
    placeholders of other figures of the same size.
    """
    width, height = _pt(size[0]), _pt(size[1])
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}pt" height="{height}pt" '
        f'viewBox="0 0 {width} {height}" id="{fig_id}-placeholder"/>\n'
    )
    return Drawn(data_url(svg), float(width), float(height), None)


def draw(
    fig_id: str, build: Callable[[], Figure], *, size: tuple[float, float] | None = None
) -> Drawn:
    """Run ``build`` in the card's plot style and return its checked SVG.

    A figure that cannot be drawn does not stop the card: the error is logged
    and shown in place of the figure (the numbers stay in the tables). With
    ``size`` (inches), a figure of another size is such an error.
    """
    try:
        with _caller_objects_frozen(), _style(fig_id):
            fig = build()
            if size is not None and (_pt(fig.get_figwidth()), _pt(fig.get_figheight())) != (
                _pt(size[0]),
                _pt(size[1]),
            ):
                raise RenderError(
                    f"internal error: the figure is {fig.get_figwidth():g} x "
                    f"{fig.get_figheight():g} in, its plan said {size[0]:g} x {size[1]:g} in"
                )
            svg = _svg_of(fig)
        width, height = checked_svg(svg)
        return Drawn(data_url(svg), width, height, None)
    except MissingDependencyError:
        raise
    except RenderError as exc:
        logger.warning("figure %s was not drawn: %s", fig_id, exc)
        return Drawn(None, 0.0, 0.0, str(exc))
    except (ValueError, TypeError, ArithmeticError, IndexError, KeyError, RuntimeError) as exc:
        logger.warning("figure %s was not drawn: %s: %s", fig_id, type(exc).__name__, exc)
        return Drawn(None, 0.0, 0.0, f"{type(exc).__name__}: {exc}")


#: Turns a figure (its id and spec) into its drawing; see :class:`FigurePlan`.
FigureRenderer = Callable[[str, "FigureSpec"], Drawn]


def draw_figure(fig_id: str, spec: FigureSpec) -> Drawn:
    """Draw one figure of a card with matplotlib (the default :data:`FigureRenderer`)."""
    return draw(f"{fig_id}-svg", spec.build, size=spec.size)


class FigurePlan:
    """A card's figures in two steps: placeholders of their final size, then the drawings.

    Pass :meth:`plan` as the renderer of a first view (its HTML can be laid out:
    every figure already has its size), then call :meth:`draw_all`, then pass
    :meth:`replay` as the renderer of a second view of the same inputs: that one
    has the drawn figures, and differs from the first in nothing else unless a
    figure could not be drawn. A figure without a planned size is drawn at once.
    """

    def __init__(self, draw: FigureRenderer = draw_figure) -> None:
        self._draw = draw
        self._planned: dict[str, FigureSpec] = {}
        self._drawn: dict[str, Drawn] = {}

    def plan(self, fig_id: str, spec: FigureSpec) -> Drawn:
        if spec.size is None:
            drawn = self._drawn[fig_id] = self._draw(fig_id, spec)
            return drawn
        self._planned[fig_id] = spec
        return placeholder(f"{fig_id}-svg", spec.size)

    def draw_all(self) -> None:
        for fig_id, spec in self._planned.items():
            self._drawn[fig_id] = self._draw(fig_id, spec)
        self._planned.clear()

    def replay(self, fig_id: str, spec: FigureSpec) -> Drawn:
        return self._drawn[fig_id]
