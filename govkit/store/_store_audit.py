"""The Store's audit-log methods: append, read, verify, checkpoint, export; data subjects.

:class:`~govkit.store.Store` inherits them from :class:`StoreAuditLog`. Events are
appended on the lean path (:mod:`govkit.store._store_transactions`); verification,
checkpoints and the export read one snapshot. Data subjects' salts (commitments in
events instead of personal data, erasure by destroying the salt) are here too: see
:mod:`govkit.store._privacy`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import delete
from sqlmodel import Session

from govkit.exceptions import NotFoundError, StoreError
from govkit.store import _log, _privacy
from govkit.store._chain import AuditEvent, ChainReport, to_audit_event
from govkit.store._checkpoint import Checkpoint, sign_checkpoint
from govkit.store._keys import SigningKey, VerifyKey
from govkit.store._log import EventRef, NewEvent
from govkit.store._registry_verify import RegistryReport
from govkit.store._schema import AuditHeadRow, SubjectKeyRow
from govkit.store._store_transactions import StoreTransactions

__all__ = ["StoreAuditLog"]


class StoreAuditLog(StoreTransactions):
    """Mixin of :class:`~govkit.store.Store`: the audit log and data subjects."""

    # -- audit log ----------------------------------------------------------------

    def record_event(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        actor: str | None,
        subject: str | None,
    ) -> AuditEvent:
        """Append one event to the audit log and return it as stored.

        No personal data in the clear (payload, actor or subject): see
        :mod:`govkit.store._privacy`.
        """
        _log.check_public_event_type(event_type)
        (event,), moment = self._append(
            f"record a {event_type!r} audit event",
            [NewEvent(event_type, payload, subject)],
            actor,
        )
        return to_audit_event(event, timestamp=moment)

    def record_events(
        self, events: Iterable[NewEvent | tuple[Any, ...]], *, actor: str | None
    ) -> list[EventRef]:
        """Append several events, in order, in one transaction: all of them or none.

        Each item is a :class:`NewEvent` ``(event_type, payload, subject=None)``
        or a plain tuple of the same; all share one timestamp. Returns where each
        event sits in the log (:class:`EventRef`: sequence and hash). Much faster than one
        ``record_event`` per event: one lock, one INSERT batch, one commit (one
        disk sync on SQLite).
        """
        batch = [NewEvent(*item) for item in events]
        for event in batch:
            _log.check_public_event_type(event.event_type)
        stored, _ = self._append(f"record {len(batch)} audit events", batch, actor)
        return [EventRef(event.sequence, event.hash) for event in stored]

    def audit_events(self, *, after: int = 0, limit: int | None = None) -> list[AuditEvent]:
        """Events with a sequence number above ``after``, oldest first, at most ``limit``."""
        with self._reading("read the audit log") as session:
            return _log.read_events(session, after=after, limit=limit)

    def find_audit_events(
        self,
        *,
        subjects: Sequence[str] = (),
        event_types: Sequence[str] = (),
        since: datetime | None = None,
        limit: int | None = 50,
    ) -> list[AuditEvent]:
        """The newest events, newest first, at most ``limit``: those about one of
        ``subjects`` (e.g. ``model:credit@2``), of one of ``event_types``, at or after
        ``since`` (to the second); each filter only when given. Reading does not verify:
        see :meth:`verify_chain`."""
        with self._reading("search the audit log") as session:
            return _log.find_events(
                session, subjects=subjects, event_types=event_types, since=since, limit=limit
            )

    def audit_event_types(self) -> dict[str, int]:
        """Every event type in the audit log, sorted, with its number of events."""
        with self._reading("count the audit log's event types") as session:
            return _log.event_types(session)

    def verify_chain(
        self,
        *,
        checkpoints: Sequence[Checkpoint] = (),
        public_key: VerifyKey | None = None,
    ) -> ChainReport:
        """Recompute the whole hash chain, check ``checkpoints``, report the first bad event.

        Checks every payload digest, every hash and link, the sequence numbers
        and the head marker (see :mod:`govkit.store._chain`), then each
        checkpoint's signature (against ``public_key`` when given), database id
        and pinned hash (see :mod:`govkit.store._checkpoint`). Without a
        checkpoint, removing events from the end together with the head marker,
        or rewriting the whole log, is undetectable.
        """
        with self._reading("verify the audit chain", snapshot=True) as session:
            return _log.verify(session, checkpoints=checkpoints, public_key=public_key)

    def verify_registry(self) -> RegistryReport:
        """Cross-check the registry, run, lifecycle and API-key tables against the audit log.

        In one snapshot, compares each dataset and model version row (its columns
        and its ``record`` JSON, which the loaders read) with its registration
        event, and reports rows that differ, rows with no event and events whose
        row is gone; each policy run (its row, check rows and result JSON) with its
        ``policy.run`` event, and aliases, stages, approvals, policy bindings and API
        keys likewise (see :mod:`govkit.store._registry_verify`). It trusts the log:
        run :meth:`verify_chain` first.
        """
        from govkit.store import _registry_verify

        with self._reading("cross-check the registry", snapshot=True) as session:
            return _registry_verify.verify(session)

    @property
    def database_id(self) -> str | None:
        """This database's random id (named by checkpoints); None before schema version 2."""
        with self._reading("read the database id") as session:
            return _log.database_id(session)

    def checkpoint(self, key: SigningKey) -> Checkpoint:
        """Verify the chain, then sign a checkpoint of its head with ``key``.

        Refuses (StoreError) to sign a log that does not verify, and a database
        without an id (schema version 1: run ``govkit db upgrade``).
        """
        with self._reading("make a checkpoint", snapshot=True) as session:
            database_id = _log.database_id(session)
            if database_id is None:
                raise StoreError(
                    f"the audit store at {self.url} has no database id (schema version 1); "
                    "run `govkit db upgrade` before making checkpoints"
                )
            report = _log.verify(session)
        if not report.ok:
            raise StoreError(
                f"refusing to sign a checkpoint: the audit chain is broken at sequence "
                f"{report.first_bad_sequence}: {report.problem}"
            )
        return sign_checkpoint(
            sequence=report.head_sequence,
            head_hash=report.head_hash,
            database_id=database_id,
            key=key,
        )

    def export_jsonl(self, out: IO[str]) -> int:
        """Write the audit log to ``out`` as JSON Lines (one snapshot); returns the event count.

        The format is described in :mod:`govkit.store._export`; the file verifies
        offline with :func:`govkit.store.verify_jsonl`.
        """
        with self._reading("export the audit log", snapshot=True) as session:
            return _log.export(session, out)

    # -- data subjects --------------------------------------------------------------

    def new_subject_key(self) -> str:
        """Create a data subject's random salt; returns its ``key_id`` (not personal data)."""
        key_id = _privacy.new_key_id()

        def work(session: Session, _head: AuditHeadRow) -> str:
            session.add(
                SubjectKeyRow(key_id=key_id, salt=_privacy.new_salt(), created_at=datetime.now(UTC))
            )
            return key_id

        return self._write("create a subject key", work)

    def commit_for(self, key_id: str, value: str | bytes) -> str:
        """The commitment to ``value`` under subject ``key_id``'s salt (see ``commit``).

        NotFoundError once the subject was erased: nothing can be linked to them.
        """
        with self._reading("read a subject key") as session:
            row = session.get(SubjectKeyRow, key_id)
            if row is None:
                raise NotFoundError(
                    f"no subject key {key_id!r}: it never existed or the subject was erased"
                )
            salt = bytes(row.salt)
        return _privacy.commit(value, salt)

    def erase_subject(self, key_id: str, *, actor: str | None) -> AuditEvent:
        """Destroy subject ``key_id``'s salt and record a ``subject.erased`` event, atomically.

        Their commitments stay in the log, and the chain stays verifiable, but no
        value can be linked to them any more. NotFoundError when there is no such key.
        """

        def work(session: Session, head: AuditHeadRow) -> AuditEvent:
            deleted = session.execute(
                delete(SubjectKeyRow).where(SubjectKeyRow.key_id == key_id)  # type: ignore[arg-type]
            )
            if deleted.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFoundError(
                    f"no subject key {key_id!r}: it never existed or was already erased"
                )
            return _log.append_event(
                session,
                head,
                "subject.erased",
                {"key_id": key_id},
                actor=actor,
                subject=f"subject-key:{key_id}",
            )

        return self._write("erase a data subject", work)
