"""The data lineage of a card view: training record, lineage tree and lineage graph.

:func:`training_record` finds the dataset a model declares as its training data;
:func:`lineage_tree` follows its parents (cut off at a depth, each dataset shown
once); :func:`lineage_graph` gives the nodes and edges the lineage plot draws
(see :mod:`govkit.report._lineage_plot`).
"""

from __future__ import annotations

from collections.abc import Sequence

from govkit.records import DatasetRecord, DatasetRef, ModelVersionRecord
from govkit.report._view_format import fmt_number, text_or_none
from govkit.report._viewmodel import GraphEdge, GraphNode, LineageGraph, LineageNode

__all__ = ["training_record", "lineage_tree", "lineage_graph"]

# Lineage deeper than this is cut off with a note (guards against absurd inputs).
_MAX_LINEAGE_DEPTH = 32
# Nodes of the lineage graph (the tree below it lists everything).
_MAX_GRAPH_NODES = 60


def _find(records: Sequence[DatasetRecord], ref: DatasetRef) -> DatasetRecord | None:
    matches = [r for r in records if r.name == ref.name]
    if ref.version is not None:
        matches = [r for r in matches if r.version == ref.version]
    return max(matches, key=lambda r: r.version, default=None)


def training_record(
    model: ModelVersionRecord, lineage: Sequence[DatasetRecord]
) -> DatasetRecord | None:
    """The record the model declares as its training data; else the first of the lineage."""
    if model.training_data is not None:
        return _find(lineage, model.training_data)
    return lineage[0] if lineage else None


def _lineage_node(
    ref: DatasetRef,
    records: Sequence[DatasetRecord],
    shown: set[tuple[str, int]],
    depth: int,
) -> LineageNode:
    record = _find(records, ref)
    if record is None:
        return LineageNode(str(ref), None, None, (), None, "record not provided", ())
    key = (record.name, record.version)
    label = f"{record.name}@{record.version}"
    parents = tuple(str(p) for p in record.parents)
    if key in shown:
        return LineageNode(label, None, None, parents, None, "shown above", ())
    shown.add(key)
    if depth >= _MAX_LINEAGE_DEPTH:
        return LineageNode(label, None, None, parents, None, "lineage truncated", ())
    children = tuple(_lineage_node(p, records, shown, depth + 1) for p in record.parents)
    return LineageNode(
        ref=label,
        source=text_or_none(record.source_uri),
        transformation=text_or_none(record.transformation),
        parents=parents,
        fingerprint=text_or_none(record.fingerprint),
        note=None,
        children=children,
    )


def lineage_tree(
    training: DatasetRecord | None,
    records: Sequence[DatasetRecord],
    evaluation: DatasetRecord | None = None,
) -> tuple[LineageNode, ...]:
    """The training dataset's tree, then the evaluation dataset's (each dataset once)."""
    shown: set[tuple[str, int]] = set()
    pool = [*records, *([evaluation] if evaluation is not None else [])]
    return tuple(
        _lineage_node(root.ref, pool, shown, 0)
        for root in (training, evaluation)
        if root is not None
    )


def lineage_graph(
    model: ModelVersionRecord,
    training: DatasetRecord | None,
    evaluation: DatasetRecord | None,
    records: Sequence[DatasetRecord],
) -> LineageGraph:
    """Source data -> datasets -> model version: the nodes and edges the lineage plot draws."""
    pool = [*records, *([evaluation] if evaluation is not None else [])]
    nodes: dict[str, GraphNode] = {}
    edges: list[GraphEdge] = []
    model_ref = f"{model.name}@{model.version}"
    nodes["model"] = GraphNode(
        "model", model_ref, text_or_none(model.estimator) or "model version", "model"
    )
    todo: list[DatasetRecord] = []

    def dataset_node(record: DatasetRecord, kind: str) -> str | None:
        key = f"ds:{record.name}@{record.version}"
        if key not in nodes:
            if len(nodes) >= _MAX_GRAPH_NODES:
                return None
            nodes[key] = GraphNode(
                key, f"{record.name}@{record.version}", f"{fmt_number(record.row_count)} rows", kind
            )
            todo.append(record)
        return key

    def edge(src: str | None, dst: str, dashed: bool = False) -> None:
        if src is None:
            return
        if not any(e.src == src and e.dst == dst for e in edges):
            edges.append(GraphEdge(src, dst, dashed, nodes[src].title, nodes[dst].title))

    if training is not None:
        edge(dataset_node(training, "dataset"), "model")
    elif model.training_data is not None:
        key = f"missing:{model.training_data}"
        nodes[key] = GraphNode(key, str(model.training_data), "record not provided", "missing")
        edge(key, "model")
    if evaluation is not None:
        edge(dataset_node(evaluation, "evaluation"), "model", dashed=True)
    seen: set[tuple[str, int]] = set()
    while todo:
        record = todo.pop(0)
        if (record.name, record.version) in seen:
            continue
        seen.add((record.name, record.version))
        child = f"ds:{record.name}@{record.version}"
        for ref in record.parents:
            parent = _find(pool, ref)
            if parent is not None:
                edge(dataset_node(parent, "dataset"), child)
            elif len(nodes) < _MAX_GRAPH_NODES:
                key = f"missing:{ref}"
                nodes.setdefault(key, GraphNode(key, str(ref), "record not provided", "missing"))
                edge(key, child)
        source = text_or_none(record.source_uri)
        if not record.parents and source is not None and len(nodes) < _MAX_GRAPH_NODES:
            key = f"source:{source}"
            nodes.setdefault(key, GraphNode(key, source, "source", "source"))
            edge(key, child)
    return LineageGraph(nodes=tuple(nodes.values()), edges=tuple(edges))
