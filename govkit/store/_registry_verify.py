"""Cross-checking the registry tables against the audit log (:meth:`Store.verify_registry`).

The hash chain proves the log was not edited (:mod:`govkit.store._verify`); the
registry rows beside it are plain tables. Each registration wrote its row and a
chained event in one transaction, so the event says what the row held: this module
compares every ``govkit_datasets`` / ``govkit_model_versions`` row (its columns and
its ``record`` JSON, which is what the loaders read) with its ``dataset.registered``
/ ``model.registered`` event, and reports rows that differ, rows with no event and
events whose row is gone. The lifecycle and API-key tables are checked the same way
(:mod:`govkit.store._lifecycle_verify`), and so are the policy runs, against their
``policy.run`` events (:mod:`govkit.store._runs_verify`).

What it proves depends on the chain: run it after ``verify_chain`` (the CLI does).
Someone who rewrites the log and the tables together is caught only by a signed
checkpoint kept elsewhere. A model's ``metadata`` and a dataset's column names and types
are covered by their digests in the event (registrations logged before govkit added the
digests are not); timestamps are not covered.

Problem texts never show values that could be personal data (URIs, free text,
actors): only that they differ. Digests, versions and other codes are shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import inspect
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from govkit.store._chain import payload_digest, record_digest
from govkit.store._schema import AuditEventRow, DatasetParentRow, DatasetRow, ModelVersionRow

__all__ = ["RegistryProblem", "RegistryReport", "Checker", "verify"]

#: Fields whose values may be personal data: reported as differing, never shown.
HIDDEN = frozenset(
    {"artifact_uri", "source_uri", "transformation", "created_by", "approver", "note"}
)
_DATASET_FIELDS = ("fingerprint", "order_independent", "row_count", "source_uri", "transformation")
_MODEL_FIELDS = ("artifact_uri", "artifact_sha256", "artifact_format", "flavour", "estimator")
_MODEL_REFS = ("training_data", "evaluation_data")


class RegistryProblem(NamedTuple):
    """One disagreement: ``subject`` (``model:credit@1``), the table ``field``, what differs."""

    subject: str
    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.subject} {self.field}: {self.detail}"


@dataclass(frozen=True)
class RegistryReport:
    """What :meth:`Store.verify_registry` found; ``ok`` when no problem."""

    models_checked: int
    datasets_checked: int
    problems: tuple[RegistryProblem, ...]
    lifecycle_checked: int = 0  # aliases, stages, approvals and policy bindings
    api_keys_checked: int = 0
    runs_checked: int = 0  # policy runs (govkit.store._runs_verify)

    @property
    def ok(self) -> bool:
        return not self.problems


class Checker:
    """Collects problems; reads the registration-type events of one snapshot."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.problems: list[RegistryProblem] = []
        self._inspector = inspect(session.connection())
        self._tables = set(self._inspector.get_table_names())

    def columns(self, table: str) -> set[str]:
        """The columns of ``table`` (empty when the schema is too old to have it)."""
        if table not in self._tables:
            return set()
        return {column["name"] for column in self._inspector.get_columns(table)}

    def add(self, subject: str, field: str, detail: str) -> None:
        self.problems.append(RegistryProblem(subject, field, detail))

    def events(self, *types: str) -> list[tuple[int, str, str | None, dict[str, Any]]]:
        """``(sequence, event_type, actor, payload)`` of the events of ``types``, oldest first.

        An event whose payload does not match its digest or does not parse is reported
        (the chain check says more) and skipped.
        """
        table = AuditEventRow.__table__.c  # type: ignore[attr-defined]
        rows = self.session.connection().execute(
            sa_select(
                table.sequence,
                table.event_type,
                table.actor,
                table.subject,
                table.payload,
                table.payload_digest,
            )
            .where(table.event_type.in_(types))
            .order_by(table.sequence)
        )
        out = []
        for sequence, event_type, actor, subject, text, digest in rows:
            try:
                payload = json.loads(text) if payload_digest(text) == digest else None
            except ValueError:
                payload = None
            if not isinstance(payload, dict):
                self.add(subject or "log", "event", f"event {sequence} is corrupt; run verify")
                continue
            out.append((int(sequence), str(event_type), actor, payload))
        return out

    def compare(
        self, subject: str, field: str, logged: Any, stored: Any, *, hide: bool = False
    ) -> None:
        """Report ``field`` when the table's value is not the logged one (``hide``: no values)."""
        if logged == stored and type(logged) is type(stored):
            return
        if hide or field.rpartition(".")[2] in HIDDEN:
            self.add(subject, field, "differs from the audit log (values not shown)")
        else:
            self.add(subject, field, f"the audit log says {logged!r}, the table says {stored!r}")


def _ref_text(ref: Any) -> Any:
    """``name@version`` of a DatasetRef as dumped in a record (None stays None)."""
    if isinstance(ref, Mapping):
        return f"{ref.get('name')}@{ref.get('version')}"
    return ref


def _registrations(
    check: Checker, event_type: str, kind: str
) -> dict[str, tuple[int, str | None, dict[str, Any]]]:
    """Registration events by subject (``model:NAME@V``); duplicates are problems."""
    found: dict[str, tuple[int, str | None, dict[str, Any]]] = {}
    for sequence, _type, actor, payload in check.events(event_type):
        subject = f"{kind}:{payload.get('name')}@{payload.get('version')}"
        if subject in found:
            check.add(
                subject,
                "registration",
                f"registered twice in the audit log (events {found[subject][0]} and {sequence})",
            )
            continue
        found[subject] = (sequence, actor, payload)
    return found


def _unmatched(check: Checker, logged: Iterable[str], seen: set[str], event_type: str) -> None:
    for subject in sorted(set(logged) - seen):
        check.add(subject, "registration", f"{event_type} is in the audit log but the row is gone")


def _record(check: Checker, subject: str, row: Any, actor: str | None) -> Mapping[str, Any]:
    """``row``'s record JSON; its name, version and registrant checked against row and log."""
    record: Mapping[str, Any] = row.record
    if not isinstance(record, Mapping):
        check.add(subject, "record", "the record column is not a JSON object")
        record = {}
    for field in ("name", "version"):
        check.compare(subject, f"record.{field}", getattr(row, field), record.get(field))
    check.compare(subject, "created_by", actor, row.created_by)
    check.compare(subject, "record.created_by", actor, record.get("created_by"))
    return record


def _compare_digest(
    check: Checker, subject: str, field: str, payload: Mapping[str, Any], key: str, value: Any
) -> None:
    """The digest of ``value`` against the event's ``key`` (events before it was logged: skip)."""
    if key in payload:
        check.compare(subject, field, payload[key], record_digest(value), hide=True)


def _datasets(check: Checker) -> tuple[int, dict[int, str]]:
    logged = _registrations(check, "dataset.registered", "dataset")
    rows = check.session.exec(select(DatasetRow).order_by(col(DatasetRow.id))).all()
    names = {int(row.id or 0): f"{row.name}@{row.version}" for row in rows}
    parents: dict[int, list[str]] = {}
    for edge in check.session.exec(
        select(DatasetParentRow).order_by(
            col(DatasetParentRow.dataset_id), col(DatasetParentRow.position)
        )
    ).all():
        parents.setdefault(edge.dataset_id, []).append(names.get(edge.parent_id, "(missing)"))
    seen: set[str] = set()
    for row in rows:
        subject = f"dataset:{row.name}@{row.version}"
        seen.add(subject)
        if subject not in logged:
            check.add(subject, "registration", "no dataset.registered event in the audit log")
            continue
        _sequence, actor, payload = logged[subject]
        record = _record(check, subject, row, actor)
        for field in _DATASET_FIELDS:
            check.compare(subject, field, payload.get(field), getattr(row, field))
            check.compare(subject, f"record.{field}", payload.get(field), record.get(field))
        columns = record.get("columns")
        count = len(columns) if isinstance(columns, list) else None
        check.compare(subject, "record.columns", payload.get("columns"), count)
        _compare_digest(check, subject, "record.columns", payload, "columns_sha256", columns)
        stored = [_ref_text(p) for p in record.get("parents") or []]
        check.compare(subject, "parents", payload.get("parents"), parents.get(int(row.id or 0), []))
        check.compare(subject, "record.parents", payload.get("parents"), stored)
    _unmatched(check, logged, seen, "dataset.registered")
    return len(rows), names


def _models(check: Checker, datasets: dict[int, str]) -> int:
    logged = _registrations(check, "model.registered", "model")
    rows = check.session.exec(select(ModelVersionRow).order_by(col(ModelVersionRow.id))).all()
    seen: set[str] = set()
    for row in rows:
        subject = f"model:{row.name}@{row.version}"
        seen.add(subject)
        if subject not in logged:
            check.add(subject, "registration", "no model.registered event in the audit log")
            continue
        _sequence, actor, payload = logged[subject]
        record = _record(check, subject, row, actor)
        for field in _MODEL_FIELDS:
            check.compare(subject, field, payload.get(field), getattr(row, field))
            check.compare(subject, f"record.{field}", payload.get(field), record.get(field))
        _compare_digest(
            check, subject, "record.metadata", payload, "metadata_sha256", record.get("metadata")
        )
        ids = {
            "training_data": row.training_dataset_id,
            "evaluation_data": row.evaluation_dataset_id,
        }
        for field, dataset_id in ids.items():
            linked = None if dataset_id is None else datasets.get(dataset_id, "(missing)")
            check.compare(subject, field, payload.get(field), linked)
            check.compare(
                subject, f"record.{field}", payload.get(field), _ref_text(record.get(field))
            )
    _unmatched(check, logged, seen, "model.registered")
    return len(rows)


def verify(session: Session) -> RegistryReport:
    """Cross-check the registry, run, lifecycle and API-key tables (run it in a snapshot)."""
    from govkit.store import _lifecycle_verify, _runs_verify  # they build on Checker

    check = Checker(session)
    datasets_checked, datasets = _datasets(check)
    models_checked = _models(check, datasets)
    lifecycle_checked = _lifecycle_verify.lifecycle(check)
    api_keys_checked = _lifecycle_verify.api_keys(check)
    runs_checked = _runs_verify.runs(check)
    return RegistryReport(
        models_checked=models_checked,
        datasets_checked=datasets_checked,
        problems=tuple(check.problems),
        lifecycle_checked=lifecycle_checked,
        api_keys_checked=api_keys_checked,
        runs_checked=runs_checked,
    )
