"""What the promotion gate reads, checked against the audit log before it is believed.

The gate (:mod:`govkit.store._lifecycle`) decides on rows of plain tables: the latest
policy run, the policy binding, the approvals, the version's registration and its
evaluation data. Anyone who can write to the database can edit those rows (a FAIL run
set to PASS, an approval requirement dropped, an approver renamed). Each row was
written in one transaction with a chained event saying what it held, so before the
gate believes a row it reads the event, checks that event against its payload digest,
its hash and its link to the next event (or the head marker), and compares the two:

- the run: the newest ``policy.run`` event of the version for the bound policy's digest
  and the evaluation data's fingerprint is the evidence (the verdict and the rules not
  met are taken from it); its row, and the row the runs table calls newest, must agree
  with their events (run id, model, policy name and digest, verdict, data
  fingerprint), so a run edited, deleted or pointed at other data is refused;
- the binding in force: its row against its ``model.policy_bound`` event, which must
  be the model's newest (a deleted newer binding is refused);
- each approval: its ``model.approved`` event (model, approver);
- the version's ``model.registered`` event (evaluation data, registrant, the digest of
  the metadata whose owner four-eyes reads) and the evaluation data's
  ``dataset.registered`` event (fingerprint).

A disagreement refuses the promotion like every unmet condition (the refusal is logged
as ``model.promotion_refused``; the CLI exits 1, as ``govkit audit verify`` does for a
table that disagrees with the log), naming the row, the field and both values, except
values that may be personal data (approvers, registrants: only that they differ).
Not caught here: a rewrite of the chain from an event on (every later hash and the head
marker recomputed); ``govkit audit verify`` with a signed checkpoint catches that.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from govkit.store._chain import (
    AUDIT_FORMAT_VERSION,
    canonical_event,
    chain_hash,
    payload_digest,
    record_digest,
)
from govkit.store._lifecycle_approvals import Approval
from govkit.store._runs import run_mismatches
from govkit.store._schema import (
    AuditEventRow,
    AuditHeadRow,
    DatasetRow,
    ModelVersionRow,
    PolicyBindingRow,
    RunRow,
)

__all__ = ["Evidence", "TAMPERED"]

#: The last reason of a refusal for tables that disagree with the log.
TAMPERED = (
    "the tables the gate reads disagree with the tamper-evident audit log (changed behind "
    "govkit's back?): run `govkit audit verify` and do not promote until it passes"
)


def _said(logged: Any, stored: Any, table: str, *, hide: bool) -> str:
    if hide:
        return "differs from the audit log (values not shown)"
    return f"the audit log says {logged!r}, {table} says {stored!r}"


class Evidence:
    """Reads events for the gate (in its transaction) and collects the disagreements."""

    def __init__(self, session: Session, head: AuditHeadRow) -> None:
        self.session = session
        self.head = head
        self.problems: list[str] = []

    # -- events -------------------------------------------------------------------------

    def _broken(self, row: AuditEventRow | None, sequence: int, following: str | None) -> str:
        """What is wrong with the event ``row`` at ``sequence`` ('' when it is intact)."""
        if row is None:
            return f"audit event {sequence} is missing"
        if payload_digest(row.payload) != row.payload_digest:
            return f"the payload of audit event {sequence} does not match its digest"
        try:
            canonical = canonical_event(
                sequence=row.sequence,
                ts=row.ts,
                actor=row.actor,
                event_type=row.event_type,
                subject=row.subject,
                payload_digest=row.payload_digest,
            )
            hashed = chain_hash(row.prev_hash, canonical) == row.hash
        except ValueError:  # a prev_hash that is not hex
            hashed = False
        if row.format != AUDIT_FORMAT_VERSION or not hashed:
            return f"audit event {sequence} does not match its hash"
        if following != row.hash:
            return f"audit event {sequence} is not linked to the event after it"
        return ""

    def _following(self, sequences: Sequence[int]) -> dict[int, str | None]:
        """For each sequence, the hash the next event (or the head marker) links to."""
        after = {
            int(seq) - 1: str(prev)
            for seq, prev in self.session.exec(
                select(col(AuditEventRow.sequence), col(AuditEventRow.prev_hash)).where(
                    col(AuditEventRow.sequence).in_([s + 1 for s in sequences])
                )
            ).all()
        }
        return {s: self.head.hash if s == self.head.sequence else after.get(s) for s in sequences}

    def _payloads(
        self, rows: Sequence[AuditEventRow], event_type: str, what: str
    ) -> list[dict[str, Any]] | None:
        """The payloads of intact ``event_type`` events; None (and a problem) otherwise."""
        following = self._following([int(row.sequence) for row in rows])
        out = []
        for row in rows:
            sequence = int(row.sequence)
            wrong = self._broken(row, sequence, following[sequence])
            if not wrong and row.event_type != event_type:
                wrong = f"audit event {sequence} is a {row.event_type} event, not {event_type}"
            payload = None
            if not wrong:
                try:
                    payload = json.loads(row.payload)
                except ValueError:
                    payload = None
                if not isinstance(payload, dict):
                    wrong = f"the payload of audit event {sequence} is not a JSON object"
            if wrong:
                self.problems.append(f"{what}: {wrong}")
                return None
            assert payload is not None
            out.append(payload)
        return out

    def event(self, sequence: int, event_type: str, what: str) -> dict[str, Any] | None:
        """The payload of the intact ``event_type`` event at ``sequence`` (None: a problem)."""
        row = self.session.get(AuditEventRow, sequence)
        if row is None:
            self.problems.append(f"{what}: audit event {sequence} is missing")
            return None
        payloads = self._payloads([row], event_type, what)
        return None if payloads is None else payloads[0]

    def _newest(self, event_type: str, subject: str) -> int | None:
        return self.session.exec(
            select(func.max(col(AuditEventRow.sequence))).where(
                col(AuditEventRow.event_type) == event_type, col(AuditEventRow.subject) == subject
            )
        ).first()

    def _compare(
        self, what: str, table: str, pairs: dict[str, tuple[Any, Any]], hidden: tuple[str, ...]
    ) -> None:
        diffs = [
            f"{field}: {_said(logged, stored, table, hide=field in hidden)}"
            for field, (logged, stored) in pairs.items()
            if logged != stored or type(logged) is not type(stored)
        ]
        if diffs:
            self.problems.append(f"{what} does not match its audit event: " + "; ".join(diffs))

    # -- what the gate reads ------------------------------------------------------------

    def run(
        self, model: ModelVersionRow, dataset: DatasetRow, digest: str
    ) -> dict[str, Any] | None:
        """The ``policy.run`` payload the gate decides on (None: no run, or a problem)."""
        ref = f"{model.name}@{model.version}"
        rows = self.session.exec(
            select(AuditEventRow)
            .where(
                col(AuditEventRow.subject) == f"model:{ref}",
                col(AuditEventRow.event_type) == "policy.run",
            )
            .order_by(col(AuditEventRow.sequence).desc())
        ).all()
        scanned: list[AuditEventRow] = []
        evidence: tuple[int, dict[str, Any]] | None = None
        for row in rows:  # newest first, up to the first of this policy on this data
            scanned.append(row)
            try:
                payload = json.loads(row.payload)
            except ValueError:
                break  # reported by the integrity check below
            try:
                policy = payload["policy"]["digest"]
                fingerprint = payload["data_fingerprint"]
            except (TypeError, KeyError):
                continue  # not a run of this policy on this data
            if policy == digest and fingerprint == dataset.fingerprint:
                evidence = (int(row.sequence), payload)
                break
        if scanned and self._payloads(scanned, "policy.run", f"the policy runs of {ref}") is None:
            return None
        newest = self.session.exec(
            select(RunRow)
            .where(
                col(RunRow.model_name) == model.name,
                col(RunRow.model_version) == model.version,
                col(RunRow.policy_digest) == digest,
                col(RunRow.data_fingerprint) == dataset.fingerprint,
            )
            .order_by(col(RunRow.audit_sequence).desc())
            .limit(1)
        ).first()
        checked: dict[int, RunRow] = {}
        if newest is not None:
            checked[int(newest.audit_sequence)] = newest
        if evidence is not None and evidence[0] not in checked:
            found = self.session.exec(
                select(RunRow).where(col(RunRow.audit_sequence) == evidence[0])
            ).first()
            if found is None:
                self.problems.append(
                    f"run {evidence[1].get('run_id')} of {ref} (audit event {evidence[0]}) is "
                    "missing from govkit_runs"
                )
            else:
                checked[evidence[0]] = found
        for sequence, run in sorted(checked.items()):
            what = f"run {run.id} (audit event {sequence})"
            logged = (
                evidence[1]
                if evidence is not None and evidence[0] == sequence
                else self.event(sequence, "policy.run", what)
            )
            if logged is None:
                continue
            diffs = run_mismatches(logged, run)
            if diffs:
                self.problems.append(
                    f"{what} does not match its policy.run event: "
                    + "; ".join(
                        f"{field}: {_said(a, b, 'govkit_runs', hide=False)}"
                        for field, a, b in diffs
                    )
                )
        return None if evidence is None else evidence[1]

    def binding(self, name: str) -> None:
        """The model's binding in force against its event, the newest of the model."""
        row = self.session.exec(
            select(PolicyBindingRow)
            .where(col(PolicyBindingRow.model_name) == name)
            .order_by(col(PolicyBindingRow.audit_sequence).desc())
            .limit(1)
        ).first()
        newest = self._newest("model.policy_bound", f"model:{name}")
        if row is None and newest is None:
            return
        if row is None or newest != row.audit_sequence:
            logged = "none" if newest is None else f"audit event {newest}"
            table = "has no row" if row is None else f"says event {row.audit_sequence}"
            self.problems.append(
                f"the policy binding of {name!r} in force is {logged} in the audit log; "
                f"govkit_policy_bindings {table}"
            )
            return
        what = f"the policy binding of {name!r} (audit event {row.audit_sequence})"
        payload = self.event(int(row.audit_sequence), "model.policy_bound", what)
        if payload is None:
            return
        policy, needs = payload.get("policy") or {}, payload.get("approval") or {}
        self._compare(
            what,
            "govkit_policy_bindings",
            {
                "model": (payload.get("model"), row.model_name),
                "policy_name": (policy.get("name"), row.policy_name),
                "policy_digest": (policy.get("digest"), row.policy_digest),
                "approval_required": (needs.get("required"), row.approval_required),
                "approval_independent": (needs.get("independent"), row.approval_independent),
            },
            (),
        )

    def approvals(self, ref: str, signed: Sequence[Approval]) -> None:
        """Each approval of ``ref`` (``NAME@VER``) against its ``model.approved`` event."""
        for approval in signed:
            sequence = approval.audit_sequence
            what = f"an approval of {ref} (audit event {sequence})"
            payload = self.event(sequence, "model.approved", what)
            if payload is not None:
                self._compare(
                    what,
                    "govkit_approvals",
                    {
                        "model": (payload.get("model"), str(approval.model)),
                        "approver": (payload.get("approver"), approval.approver),
                    },
                    ("approver",),
                )

    def registration(self, model: ModelVersionRow, dataset: DatasetRow | None) -> None:
        """The version's registration (and its evaluation data's) against their events."""
        ref = f"{model.name}@{model.version}"
        what = f"the registration of {ref}"
        sequence = self._newest("model.registered", f"model:{ref}")
        payload = None
        if sequence is None:
            self.problems.append(f"{what}: no model.registered event in the audit log")
        else:
            payload = self.event(sequence, "model.registered", f"{what} (audit event {sequence})")
        if payload is not None:
            event = self.session.get(AuditEventRow, sequence)  # read above: no query
            actor = None if event is None else event.actor
            record = model.record if isinstance(model.record, dict) else {}
            pairs = {
                "evaluation_data": (
                    payload.get("evaluation_data"),
                    None if dataset is None else f"{dataset.name}@{dataset.version}",
                ),
                "created_by": (actor, model.created_by),
            }
            if "metadata_sha256" in payload:
                logged = payload["metadata_sha256"]
                pairs["record.metadata"] = (logged, record_digest(record.get("metadata")))
            self._compare(
                f"{what} (audit event {sequence})",
                "govkit_model_versions",
                pairs,
                ("created_by",),
            )
        if dataset is None:
            return
        data = f"{dataset.name}@{dataset.version}"
        sequence = self._newest("dataset.registered", f"dataset:{data}")
        what = f"the registration of dataset {data}"
        if sequence is None:
            self.problems.append(f"{what}: no dataset.registered event in the audit log")
            return
        what += f" (audit event {sequence})"
        payload = self.event(sequence, "dataset.registered", what)
        if payload is not None:
            self._compare(
                what,
                "govkit_datasets",
                {"fingerprint": (payload.get("fingerprint"), dataset.fingerprint)},
                (),
            )
