"""The lineage graph of a card: source data -> datasets -> model version, drawn left to right.

The graph itself (:class:`~govkit.report._viewmodel.LineageGraph`) is built by the
view from registry records; this module only lays it out and draws it. Layout:
a node's column is its distance from the model (breadth-first, so cycles in bad
records cannot loop), columns run from the oldest data on the left to the model
on the right, and nodes in a column are ordered by the position of what they
feed, which keeps most arrows straight.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from govkit.report._figures import ACCENT, BAD, INK, MUTED, label
from govkit.report._plot_spec import WIDTH, FigureSpec
from govkit.report._viewmodel import GraphNode, LineageGraph

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["lineage_figure", "layout"]

_MAX_ROWS = 10  # nodes per column; more are summarised in one box

_FILL = {
    "model": ACCENT,
    "dataset": "#ddeaf7",
    "evaluation": "#dff3e4",
    "source": "#ffffff",
    "missing": "#ffffff",
    "more": "#f6f8fa",
}
_EDGE = {
    "model": ACCENT,
    "dataset": "#6b8fb8",
    "evaluation": "#4a9a5e",
    "source": MUTED,
    "missing": BAD,
    "more": MUTED,
}
_KIND_TEXT = {
    "model": "model version",
    "dataset": "dataset",
    "evaluation": "evaluation dataset",
    "source": "source",
    "missing": "record not provided",
    "more": "more",
}


def layout(graph: LineageGraph) -> tuple[list[list[GraphNode]], dict[str, tuple[int, int]]]:
    """Columns of nodes (index 0 = the model's column) and each node's (column, row)."""
    nodes = {n.key: n for n in graph.nodes}
    feeds: dict[str, list[str]] = {}
    for e in graph.edges:
        feeds.setdefault(e.dst, []).append(e.src)
    root = next((n.key for n in graph.nodes if n.kind == "model"), None)
    if root is None:
        return [], {}
    depth = {root: 0}
    queue = deque([root])
    while queue:
        key = queue.popleft()
        for src in feeds.get(key, ()):
            if src not in depth and src in nodes:
                depth[src] = depth[key] + 1
                queue.append(src)
    columns: list[list[GraphNode]] = [[] for _ in range(max(depth.values()) + 1)]
    for n in graph.nodes:  # graph order: deterministic
        if n.key in depth:
            columns[depth[n.key]].append(n)
    position: dict[str, tuple[int, int]] = {}
    consumers: dict[str, list[str]] = {}
    for e in graph.edges:
        consumers.setdefault(e.src, []).append(e.dst)
    for c, col in enumerate(columns):
        if c > 0:

            def centre(n: GraphNode) -> float:
                rows = [position[k][1] for k in consumers.get(n.key, ()) if k in position]
                return sum(rows) / len(rows) if rows else 1e9

            col.sort(key=centre)
        if len(col) > _MAX_ROWS:
            hidden = len(col) - (_MAX_ROWS - 1)
            col[_MAX_ROWS - 1 :] = [
                GraphNode(f"more-{c}", f"\u2026 {hidden} more", "see the list below", "more")
            ]
        for r, n in enumerate(col):
            position[n.key] = (c, r)
    return columns, position


def lineage_figure(graph: LineageGraph) -> FigureSpec | None:
    """The lineage graph as a figure; None when there is nothing but the model."""
    if len(graph.nodes) < 2:
        return None
    columns, position = layout(graph)
    if len(columns) < 2:
        return None
    described = "; ".join(
        f"{n.title} ({_KIND_TEXT.get(n.kind, n.kind)})" for col in reversed(columns) for n in col
    )
    arrows = "; ".join(
        f"{e.src_title} {'evaluates' if e.dashed else 'feeds'} {e.dst_title}"
        for e in graph.edges
        if e.src in position and e.dst in position
    )
    alt = f"Lineage graph from source data to the model. Nodes: {described}. Arrows: {arrows}."
    caption = (
        "Where the model's data came from: sources on the left, then each registered dataset "
        "derived from them, to the model version on the right. Solid arrows: derived from / "
        "trained on; dashed: evaluated on. Dashed red boxes are datasets named as parents "
        "whose records were not supplied."
    )

    ncols = len(columns)
    nrows = max(len(c) for c in columns)
    row_h = 0.56
    height = 0.12 + nrows * row_h

    def build() -> Figure:
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

        gap = 0.34
        box_w = min(1.7, (WIDTH - 0.1 - gap * (ncols - 1)) / ncols)
        box_h = 0.42
        fig = Figure(figsize=(WIDTH, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, WIDTH)
        ax.set_ylim(height, 0)
        ax.set_axis_off()
        used = ncols * box_w + (ncols - 1) * gap
        x0 = (WIDTH - used) / 2

        def xy(key: str) -> tuple[float, float]:
            c, r = position[key]
            col_n = len(columns[c])
            x = x0 + (ncols - 1 - c) * (box_w + gap)
            y = 0.06 + (nrows - col_n) * row_h / 2 + r * row_h + (row_h - box_h) / 2
            return x, y

        chars = max(8, int(box_w * 72 / (6.2 * 0.62)))
        for col in columns:
            for n in col:
                x, y = xy(n.key)
                dashed = n.kind in ("source", "missing", "more")
                ax.add_patch(
                    FancyBboxPatch(
                        (x, y),
                        box_w,
                        box_h,
                        boxstyle="round,pad=0,rounding_size=0.05",
                        facecolor=_FILL.get(n.kind, "#ffffff"),
                        edgecolor=_EDGE.get(n.kind, MUTED),
                        linewidth=0.8,
                        linestyle=(0, (3, 2)) if dashed else "-",
                    )
                )
                ink = "white" if n.kind == "model" else INK
                ax.text(
                    x + 0.06,
                    y + 0.15,
                    label(n.title, chars),
                    fontsize=6.2,
                    fontweight="bold",
                    color=ink,
                    va="center",
                )
                ax.text(
                    x + 0.06,
                    y + 0.31,
                    label(n.detail, int(chars * 1.1)),
                    fontsize=5.4,
                    color="#dbe6f5" if n.kind == "model" else MUTED,
                    va="center",
                )
        for e in graph.edges:
            if e.src not in position or e.dst not in position:
                continue
            sx, sy = xy(e.src)
            dx, dy = xy(e.dst)
            start = (sx + box_w, sy + box_h / 2)
            end = (dx, dy + box_h / 2)
            backwards = position[e.src][0] <= position[e.dst][0]
            if backwards:  # a cycle in the records: arc under the boxes
                start = (sx + box_w / 2, sy + box_h)
                end = (dx + box_w / 2, dy + box_h)
            ax.add_patch(
                FancyArrowPatch(
                    start,
                    end,
                    arrowstyle="-|>",
                    mutation_scale=6,
                    color="#57606a",
                    linewidth=0.7,
                    linestyle=(0, (3, 2)) if e.dashed else "-",
                    connectionstyle="arc3,rad=-0.35" if backwards else "arc3,rad=0",
                    shrinkA=1,
                    shrinkB=1,
                )
            )
        return fig

    return FigureSpec(
        title="Data lineage graph", alt=alt, caption=caption, build=build, size=(WIDTH, height)
    )
