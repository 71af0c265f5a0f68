"""Cross-checking the lifecycle and API-key tables against the audit log.

Part of :meth:`Store.verify_registry` (see :mod:`govkit.store._registry_verify`).
Every lifecycle change logs what it did, so the log is replayed and compared with:

- ``govkit_model_aliases``: the version each alias names (``model.alias_set``, and the
  ``production`` alias moved by ``model.stage_changed`` / ``model.rolled_back``);
- ``govkit_model_stages``: each version's stage (``model.approved``,
  ``model.stage_changed``, ``model.rolled_back``; no row is ``candidate``);
- ``govkit_approvals`` and ``govkit_policy_bindings``: each row against the event its
  ``audit_sequence`` names (approver, note, policy digest, approval requirements);
- ``govkit_api_keys``: tenant, scopes and label against ``api_key.created``, and a key
  revoked in the log must be revoked in the table. The secret's hash is not logged,
  so swapping it is not detected.

Not covered: ``govkit_stage_history`` (a display of the same events), timestamps.
Tables a database's schema version does not have yet are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import col, select

from govkit.store._registry_verify import Checker
from govkit.store._schema import (
    ApiKeyRow,
    ApprovalRow,
    ModelAliasRow,
    ModelStageRow,
    PolicyBindingRow,
)

__all__ = ["lifecycle", "api_keys"]

_LIFECYCLE_EVENTS = (
    "model.policy_bound",
    "model.approved",
    "model.stage_changed",
    "model.rolled_back",
    "model.alias_set",
)
_Replay = dict[tuple[str, int], str]


def _split(ref: Any) -> tuple[str, int]:
    """``("credit", 3)`` from ``"credit@3"``; ValueError for anything else."""
    name, _, version = str(ref).rpartition("@")
    if not name:
        raise ValueError(ref)
    return name, int(version)


def _replay(
    check: Checker, events: list[tuple[int, str, str | None, dict[str, Any]]]
) -> tuple[dict[tuple[str, str], int], _Replay]:
    """The aliases ``(model, alias) -> version`` and stages ``(model, version) -> stage``."""
    aliases: dict[tuple[str, str], int] = {}
    stages: _Replay = {}

    def move_production(name: str, moved: Any) -> None:
        if isinstance(moved, dict) and "production" in moved:
            aliases[(name, "production")] = int(moved["production"]["to"])

    for sequence, event_type, _actor, payload in events:
        try:
            if event_type == "model.alias_set":
                aliases[(str(payload["model"]), str(payload["alias"]))] = int(payload["to"])
            elif event_type == "model.approved":
                stages[_split(payload["model"])] = str(payload["stage"]["to"])
            elif event_type == "model.stage_changed":
                name, version = _split(payload["model"])
                alias = payload.get("alias")
                move_production(name, alias)
                previous = (alias or {}).get("production", {}).get("from")
                if payload["to"] == "production" and previous not in (None, version):
                    stages[(name, int(previous))] = "approved"
                stages[(name, version)] = str(payload["to"])
            elif event_type == "model.rolled_back":
                name = str(payload["model"])
                move_production(name, payload.get("alias"))
                stages[(name, int(payload["from_version"]))] = "approved"
                stages[(name, int(payload["to_version"]))] = "production"
        except (KeyError, TypeError, ValueError, AttributeError):
            check.add("log", "event", f"event {sequence} ({event_type}) has an unexpected payload")
    return aliases, stages


def _by_sequence(
    check: Checker,
    rows: list[Any],
    events: dict[int, dict[str, Any]],
    what: str,
    compare: Callable[[str, Any, dict[str, Any]], None],
    subject: Callable[[Any], str],
) -> None:
    """Each row against the event its ``audit_sequence`` names; events left over: rows gone."""
    for row in rows:
        payload = events.pop(int(row.audit_sequence), None)
        if payload is None:
            check.add(subject(row), what, f"no {what} event at sequence {row.audit_sequence}")
        else:
            compare(subject(row), row, payload)
    for sequence, payload in sorted(events.items()):
        gone = f"event {sequence} is in the audit log but its row is gone"
        check.add(f"model:{payload.get('model')}", what, gone)


def lifecycle(check: Checker) -> int:
    """Cross-check aliases, stages, approvals and bindings; the number of rows checked."""
    bindings = check.columns("govkit_policy_bindings")
    if not bindings:
        return 0  # before schema version 4
    session = check.session
    events = check.events(*_LIFECYCLE_EVENTS)
    aliases, stages = _replay(check, events)
    alias_rows = session.exec(select(ModelAliasRow)).all()
    for row in alias_rows:
        logged = aliases.pop((row.model_name, row.alias), None)
        check.compare(f"model:{row.model_name}", f"alias.{row.alias}", logged, row.model_version)
    for (name, alias), version in sorted(aliases.items()):
        check.compare(f"model:{name}", f"alias.{alias}", version, None)
    stage_rows = session.exec(select(ModelStageRow)).all()
    for stage_row in stage_rows:
        key = (stage_row.model_name, stage_row.model_version)
        logged_stage = stages.pop(key, "candidate")
        check.compare(f"model:{key[0]}@{key[1]}", "stage", logged_stage, stage_row.stage)
    for (name, version), stage in sorted(stages.items()):
        check.compare(f"model:{name}@{version}", "stage", stage, "candidate")

    def approval(subject: str, row: Any, payload: dict[str, Any]) -> None:
        check.compare(subject, "model", payload.get("model"), subject.partition(":")[2])
        check.compare(subject, "approver", payload.get("approver"), row.approver)
        check.compare(subject, "note", payload.get("note"), row.note)

    def binding(subject: str, row: Any, payload: dict[str, Any]) -> None:
        policy, needs = payload.get("policy") or {}, payload.get("approval") or {}
        check.compare(subject, "model_name", payload.get("model"), row.model_name)
        check.compare(subject, "policy_name", policy.get("name"), row.policy_name)
        check.compare(subject, "policy_digest", policy.get("digest"), row.policy_digest)
        check.compare(subject, "approval_required", needs.get("required"), row.approval_required)
        check.compare(
            subject, "approval_independent", needs.get("independent"), row.approval_independent
        )
        if "stage_names" in bindings:
            check.compare(subject, "stage_names", payload.get("stage_names"), row.stage_names)

    approvals = session.exec(select(ApprovalRow).order_by(col(ApprovalRow.id))).all()
    approved = {seq: p for seq, t, _a, p in events if t == "model.approved"}
    _by_sequence(
        check,
        list(approvals),
        approved,
        "model.approved",
        approval,
        lambda row: f"model:{row.model_name}@{row.model_version}",
    )
    columns = [c for c in PolicyBindingRow.__table__.columns if c.name in bindings]  # type: ignore[attr-defined]
    binding_rows = session.connection().execute(sa_select(*columns)).all()
    bound = {seq: p for seq, t, _a, p in events if t == "model.policy_bound"}
    _by_sequence(
        check,
        list(binding_rows),
        bound,
        "model.policy_bound",
        binding,
        lambda row: f"model:{row.model_name}",
    )
    return len(alias_rows) + len(stage_rows) + len(approvals) + len(binding_rows)


def api_keys(check: Checker) -> int:
    """Cross-check API keys against their events; the number of keys checked."""
    if not check.columns("govkit_api_keys"):
        return 0  # before schema version 3
    created: dict[str, dict[str, Any]] = {}
    revoked: set[str] = set()
    for _seq, event_type, _actor, payload in check.events("api_key.created", "api_key.revoked"):
        key_id = str(payload.get("key_id"))
        if event_type == "api_key.created":
            created[key_id] = payload
        else:
            revoked.add(key_id)
    rows = check.session.exec(select(ApiKeyRow).order_by(col(ApiKeyRow.key_id))).all()
    for row in rows:
        subject = f"api-key:{row.key_id}"
        payload = created.pop(row.key_id, {})
        if not payload:
            check.add(subject, "registration", "no api_key.created event in the audit log")
            continue
        scopes = payload.get("scopes")
        check.compare(subject, "tenant", payload.get("tenant"), row.tenant)
        check.compare(subject, "scopes", " ".join(scopes or []), row.scopes)
        check.compare(subject, "name", payload.get("name"), row.name, hide=True)
        check.compare(subject, "revoked", row.key_id in revoked, row.revoked_at is not None)
    for key_id in sorted(created):
        check.add(f"api-key:{key_id}", "registration", "api_key.created is in the log; row gone")
    return len(rows)
