"""Registering datasets and model versions, inside a write transaction holding the head lock.

Each function adds the record's rows and its audit event to ``session``; the
caller commits them together (see ``Store._write``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Literal

from sqlmodel import Session, col, select

from govkit.exceptions import StoreError
from govkit.records import (
    ColumnSchema,
    DatasetRecord,
    DatasetRef,
    ModelMetadata,
    ModelVersionRecord,
)
from govkit.store import _log
from govkit.store._chain import record_digest
from govkit.store._records import build, find_dataset, next_version
from govkit.store._schema import (
    AuditHeadRow,
    DatasetParentRow,
    DatasetRow,
    ModelVersionRow,
)

__all__ = ["register_dataset", "register_model", "lineage"]


def _ref(row: DatasetRow | None) -> DatasetRef | None:
    return None if row is None else DatasetRef(name=row.name, version=row.version)


def _text(ref: DatasetRef | None) -> str | None:
    return None if ref is None else str(ref)


def free_version(
    session: Session,
    table: type[DatasetRow] | type[ModelVersionRow],
    kind: Literal["dataset", "model"],
    name: str,
    version: int | None,
) -> int:
    """``version``, or the next number when None; StoreError when ``version`` is taken."""
    following = next_version(session, table, name)
    if version is None:
        return following
    taken = session.exec(
        select(table).where(col(table.name) == name, col(table.version) == version)
    ).first()
    if taken is not None:
        if isinstance(taken, DatasetRow):
            what = f"fingerprint {taken.fingerprint}"
        else:
            assert isinstance(taken, ModelVersionRow)
            what = f"artifact sha256 {taken.artifact_sha256}"
        raise StoreError(
            f"{kind} {name}@{version} is already registered with other content ({what}); "
            f"registered versions never change: omit the version to register it as "
            f"{name}@{following}"
        )
    return version


def register_dataset(
    session: Session,
    head: AuditHeadRow,
    *,
    name: str,
    version: int | None,
    fingerprint: str,
    order_independent: bool,
    row_count: int,
    columns: Sequence[ColumnSchema],
    source_uri: str | None,
    parents: Sequence[DatasetRef],
    transformation: str | None,
    actor: str | None,
) -> tuple[DatasetRecord, bool]:
    same = session.exec(
        select(DatasetRow).where(
            col(DatasetRow.name) == name, col(DatasetRow.fingerprint) == fingerprint
        )
    ).first()
    if same is not None:
        if version is not None and version != same.version:
            raise StoreError(
                f"cannot register dataset {name}@{version}: the same content (fingerprint "
                f"{fingerprint}) is already registered as {name}@{same.version}"
            )
        return DatasetRecord.model_validate(same.record), False
    number = free_version(session, DatasetRow, "dataset", name, version)
    parent_rows: list[DatasetRow] = []
    for parent in parents:
        row = find_dataset(session, parent)
        if all(row.id != seen.id for seen in parent_rows):
            parent_rows.append(row)
    record = build(
        DatasetRecord,
        "dataset",
        name=name,
        version=number,
        fingerprint=fingerprint,
        order_independent=order_independent,
        row_count=row_count,
        columns=tuple(columns),
        source_uri=source_uri,
        parents=tuple(DatasetRef(name=p.name, version=p.version) for p in parent_rows),
        transformation=transformation,
        created_at=_log.now(),
        created_by=actor,
    )
    dumped = record.model_dump(mode="json")
    row = DatasetRow(
        name=record.name,
        version=record.version,
        fingerprint=record.fingerprint,
        order_independent=record.order_independent,
        row_count=record.row_count,
        source_uri=record.source_uri,
        transformation=record.transformation,
        created_at=record.created_at,
        created_by=record.created_by,
        record=dumped,
    )
    session.add(row)
    session.flush()
    assert row.id is not None  # assigned by the flush
    for position, parent_row in enumerate(parent_rows):
        assert parent_row.id is not None  # a stored row
        session.add(DatasetParentRow(dataset_id=row.id, position=position, parent_id=parent_row.id))
    payload = {
        "name": record.name,
        "version": record.version,
        "fingerprint": record.fingerprint,
        "order_independent": record.order_independent,
        "row_count": record.row_count,
        "columns": len(record.columns),
        "parents": [str(p) for p in record.parents],
        "source_uri": record.source_uri,
        "transformation": record.transformation,
        # the column names and types, so `audit verify` sees a changed schema in the table
        "columns_sha256": record_digest(dumped["columns"]),
    }
    _log.append_event(
        session, head, "dataset.registered", payload, actor=actor, subject=f"dataset:{record.ref}"
    )
    return record, True


def lineage(session: Session, ref: DatasetRef) -> list[DatasetRecord]:
    """The dataset ``ref``, then all its ancestors breadth-first, each once."""
    root = find_dataset(session, ref)
    out = [DatasetRecord.model_validate(root.record)]
    seen = {root.id}
    queue = deque([root.id])
    while queue:
        current = queue.popleft()
        parents = session.exec(
            select(DatasetRow)
            .join(DatasetParentRow, col(DatasetParentRow.parent_id) == col(DatasetRow.id))
            .where(col(DatasetParentRow.dataset_id) == current)
            .order_by(col(DatasetParentRow.position))
        ).all()
        for parent in parents:
            if parent.id not in seen:
                seen.add(parent.id)
                out.append(DatasetRecord.model_validate(parent.record))
                queue.append(parent.id)
    return out


def register_model(
    session: Session,
    head: AuditHeadRow,
    *,
    name: str,
    version: int | None,
    artifact_uri: str,
    artifact_sha256: str,
    artifact_format: str,
    flavour: str,
    estimator: str,
    metadata: ModelMetadata,
    training_data: DatasetRef | None,
    evaluation_data: DatasetRef | None,
    actor: str | None,
) -> ModelVersionRecord:
    number = free_version(session, ModelVersionRow, "model", name, version)
    training = None if training_data is None else find_dataset(session, training_data)
    evaluation = None if evaluation_data is None else find_dataset(session, evaluation_data)
    record = build(
        ModelVersionRecord,
        "model version",
        name=name,
        version=number,
        artifact_uri=artifact_uri,
        artifact_sha256=artifact_sha256,
        artifact_format=artifact_format,
        flavour=flavour,
        estimator=estimator,
        metadata=metadata,
        training_data=_ref(training),
        evaluation_data=_ref(evaluation),
        created_at=_log.now(),
        created_by=actor,
    )
    dumped = record.model_dump(mode="json")
    session.add(
        ModelVersionRow(
            name=record.name,
            version=record.version,
            artifact_uri=record.artifact_uri,
            artifact_sha256=record.artifact_sha256,
            artifact_format=record.artifact_format,
            flavour=record.flavour,
            estimator=record.estimator,
            training_dataset_id=None if training is None else training.id,
            evaluation_dataset_id=None if evaluation is None else evaluation.id,
            created_at=record.created_at,
            created_by=record.created_by,
            record=dumped,
        )
    )
    session.flush()
    payload = {
        "name": record.name,
        "version": record.version,
        "artifact_uri": record.artifact_uri,
        "artifact_sha256": record.artifact_sha256,
        "artifact_format": record.artifact_format,
        "flavour": record.flavour,
        "estimator": record.estimator,
        "training_data": _text(record.training_data),
        "evaluation_data": _text(record.evaluation_data),
        # owner, intended use, features...: the four-eyes check reads the owner from here
        "metadata_sha256": record_digest(dumped["metadata"]),
    }
    _log.append_event(
        session, head, "model.registered", payload, actor=actor, subject=f"model:{record.ref}"
    )
    return record
