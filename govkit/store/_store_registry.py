"""The Store's registry methods: datasets and their lineage, model versions, policy runs.

:class:`~govkit.store.Store` inherits them from :class:`StoreRegistry`; each runs one
transaction (:mod:`govkit.store._store_transactions`) around the work of
:mod:`govkit.store._registry` (registration, lineage) or :mod:`govkit.store._runs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from sqlmodel import col, select

from govkit.records import (
    ColumnSchema,
    DatasetRecord,
    DatasetRef,
    ModelMetadata,
    ModelRef,
    ModelVersionRecord,
)
from govkit.results import EvaluationResult
from govkit.store import _records, _registry, _runs
from govkit.store._runs import RunHeadline, StoredRun
from govkit.store._schema import DatasetRow, ModelVersionRow
from govkit.store._store_transactions import StoreTransactions

__all__ = ["StoreRegistry"]


class StoreRegistry(StoreTransactions):
    """Mixin of :class:`~govkit.store.Store`: the registry and the policy runs."""

    # -- datasets -----------------------------------------------------------------

    def add_dataset(
        self,
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
        """Register a dataset version; returns ``(record, created)``.

        Registering content (same name and fingerprint) that is already
        registered returns the existing record and ``False`` and records no
        event. ``version=None`` takes the next version number; an explicit
        version that already holds other content is a StoreError. Parents must
        be registered (``version=None`` means their latest) and are stored
        resolved to a version.
        """
        _records.check_name(name, "dataset")
        _records.check_version(version, "dataset")
        work = partial(
            _registry.register_dataset,
            name=name,
            version=version,
            fingerprint=fingerprint,
            order_independent=order_independent,
            row_count=row_count,
            columns=columns,
            source_uri=source_uri,
            parents=parents,
            transformation=transformation,
            actor=actor,
        )
        return self._write(f"register dataset {name!r}", work)

    def get_dataset(self, ref: DatasetRef) -> DatasetRecord:
        """The registered dataset ``ref`` (latest version when ``ref.version`` is None)."""
        with self._reading(f"read dataset {ref}") as session:
            return DatasetRecord.model_validate(_records.find_dataset(session, ref).record)

    def list_datasets(self) -> list[DatasetRecord]:
        """Every registered dataset version, by name then version."""
        with self._reading("list datasets") as session:
            rows = session.exec(
                select(DatasetRow).order_by(col(DatasetRow.name), col(DatasetRow.version))
            ).all()
            return [DatasetRecord.model_validate(row.record) for row in rows]

    def lineage(self, ref: DatasetRef) -> list[DatasetRecord]:
        """The dataset ``ref``, then all its ancestors breadth-first, each once."""
        with self._reading(f"read the lineage of dataset {ref}") as session:
            return _registry.lineage(session, ref)

    # -- models -------------------------------------------------------------------

    def add_model_version(
        self,
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
        """Register a model version (``version=None``: the next number).

        The datasets it names must be registered and are stored resolved to a
        version; an explicit version that is already registered is a StoreError.
        """
        _records.check_name(name, "model")
        _records.check_version(version, "model")
        work = partial(
            _registry.register_model,
            name=name,
            version=version,
            artifact_uri=artifact_uri,
            artifact_sha256=artifact_sha256,
            artifact_format=artifact_format,
            flavour=flavour,
            estimator=estimator,
            metadata=metadata,
            training_data=training_data,
            evaluation_data=evaluation_data,
            actor=actor,
        )
        return self._write(f"register model {name!r}", work)

    def get_model_version(self, ref: ModelRef) -> ModelVersionRecord:
        """The registered model version ``ref`` (latest when ``ref.version`` is None)."""
        with self._reading(f"read model {ref}") as session:
            return ModelVersionRecord.model_validate(_records.find_model(session, ref).record)

    def list_model_versions(self) -> list[ModelVersionRecord]:
        """Every registered model version, by name then version."""
        with self._reading("list model versions") as session:
            rows = session.exec(
                select(ModelVersionRow).order_by(
                    col(ModelVersionRow.name), col(ModelVersionRow.version)
                )
            ).all()
            return [ModelVersionRecord.model_validate(row.record) for row in rows]

    # -- policy runs --------------------------------------------------------------

    def record_run(self, result: EvaluationResult, *, actor: str | None) -> StoredRun:
        """Store a policy run, its per-check rows and its audit event, all or nothing."""
        _records.check_name(result.model.name, "model")
        work = partial(_runs.insert_run, result=result, actor=actor)
        return self._write(f"record a policy run of {result.model}", work)

    def latest_run(self, ref: ModelRef, *, policy: str | None = None) -> StoredRun | None:
        """The most recently recorded run of model ``ref``, or None.

        With ``ref.version`` None, the most recent run of any version of the model; with
        ``policy``, the most recent run of the policy of that name.
        """
        with self._reading(f"read the latest run of {ref}") as session:
            return _runs.latest_run(session, ref, policy=policy)

    def latest_run_headlines(self) -> dict[ModelRef, RunHeadline]:
        """The latest run of every model version (``NAME@VER``), without its checks and
        evidence: id, verdict, counts by status, policy, finish time and audit anchor."""
        with self._reading("read the latest run of every model version") as session:
            return _runs.latest_headlines(session)
