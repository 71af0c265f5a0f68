"""Model lifecycle: policy bindings, stages, aliases, approvals and the promotion gate.

A model version moves ``candidate -> approved -> production -> retired``. These ids
are what the tables and the audit log record; a bound policy may give the stages other
names (:mod:`govkit.store._stages`), accepted as input and used in messages. A version
with no stage row is a ``candidate`` (it was registered). ``production`` is also an
alias: it names the one version the decision API serves as ``production``; other
aliases (``champion``, ``shadow`` ...) may name any version that is not retired.

Every change runs in the caller's write transaction (``Store._write``, holding the
audit head lock) together with its audit event, so the record and the event are
committed together or not at all, and the gate's reading of runs, approvals and
bindings cannot race with another promotion. A refused promotion commits only its
``model.promotion_refused`` event (who, when, why).

The gate for ``production`` (:func:`promote`):

1. the model is bound to a policy (``govkit model bind``: its name, digest and the
   policy's ``approval`` requirement, recorded when bound);
2. the version has an evaluation dataset registered, and the latest recorded run of
   the bound policy (same digest) on data with that dataset's fingerprint has the
   verdict PASS (waived failures count as met; WARN, FAIL and no run are refusals);
3. when the policy requires approval: an approval recorded for the version, by an
   approver other than the version's owner (``metadata.owner``) and its registrant
   when the policy asks for independence (four-eyes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, overload

from sqlmodel import Session, col, select

from govkit.exceptions import InputError, NotFoundError
from govkit.records import ModelRef
from govkit.store import _log
from govkit.store._records import find_model
from govkit.store._schema import (
    ApprovalRow,
    AuditHeadRow,
    ModelAliasRow,
    ModelStageRow,
    ModelVersionRow,
    PolicyBindingRow,
    RunRow,
    StageHistoryRow,
)
from govkit.store._stages import STAGES, StageNameMap, check_stage_names

__all__ = [
    "STAGES",
    "PRODUCTION",
    "Binding",
    "Approval",
    "StageChange",
    "Promotion",
    "check_stage",
    "check_alias",
    "check_text",
    "bind",
    "approve",
    "promote",
    "rollback",
    "set_alias",
    "resolve_alias",
    "stage_of",
    "stage_names",
    "history",
    "approvals",
    "binding",
    "aliases",
    "summary",
]

Stage = Literal["candidate", "approved", "production", "retired"]
PRODUCTION = "production"
_ALIAS_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_MAX_TEXT = 4000


@dataclass(frozen=True)
class Binding:
    model: str
    policy_name: str
    policy_digest: str
    approval_required: bool
    approval_independent: bool
    bound_at: datetime
    bound_by: str | None
    stage_names: dict[str, str] | None = None  # the policy's names (id -> name), if any


@dataclass(frozen=True)
class Approval:
    model: ModelRef
    approver: str
    note: str
    approved_at: datetime
    recorded_by: str | None
    audit_sequence: int


@dataclass(frozen=True)
class StageChange:
    model: ModelRef
    from_stage: str
    to_stage: str
    changed_at: datetime
    changed_by: str | None
    reason: str | None
    audit_sequence: int


@dataclass(frozen=True)
class Promotion:
    """What ``promote`` did: the change made, or the reasons it was refused (and logged)."""

    model: ModelRef
    to_stage: str
    promoted: bool
    reasons: tuple[str, ...]
    audit_sequence: int
    previous: int | None = None  # the version that was in production before
    to_name: str | None = None  # what the bound policy calls ``to_stage`` (None: the id)


# -- validation ------------------------------------------------------------------------


def check_stage(stage: Any) -> str:
    """``stage`` when it is a stage id; InputError (with a close match) otherwise."""
    return StageNameMap().resolve(stage)


def check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise InputError(
            "an alias is 1-32 characters: a lower-case letter, then lower-case letters, "
            f"digits, '_' or '-'; got {str(alias)[:40]!r}"
        )
    return alias


@overload
def check_text(value: Any, what: str, *, required: Literal[True] = True) -> str: ...
@overload
def check_text(value: Any, what: str, *, required: bool) -> str | None: ...
def check_text(value: Any, what: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{what} must be non-empty text")
    if len(value) > _MAX_TEXT:
        raise InputError(f"{what} is longer than {_MAX_TEXT} characters ({len(value)})")
    return value.strip()


def _version_of(ref: ModelRef) -> int:
    if ref.version is None:
        raise InputError(f"name the version: {ref.name}@VERSION (got {ref.name})")
    return ref.version


# -- reads -----------------------------------------------------------------------------


def stage_of(session: Session, name: str, version: int) -> str:
    row = session.get(ModelStageRow, (name, version))
    return "candidate" if row is None else row.stage


def binding(session: Session, name: str) -> Binding | None:
    row = session.exec(
        select(PolicyBindingRow)
        .where(col(PolicyBindingRow.model_name) == name)
        .order_by(col(PolicyBindingRow.audit_sequence).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return Binding(
        model=row.model_name,
        policy_name=row.policy_name,
        policy_digest=row.policy_digest,
        approval_required=row.approval_required,
        approval_independent=row.approval_independent,
        bound_at=_log_time(row.bound_at),
        bound_by=row.bound_by,
        stage_names=dict(row.stage_names) if row.stage_names else None,
    )


def stage_names(session: Session, name: str) -> StageNameMap:
    """The stage names in force for model ``name``: its binding's, else the ids."""
    bound = binding(session, name)
    if bound is None or not bound.stage_names:
        return StageNameMap()
    return StageNameMap(bound.stage_names, policy=bound.policy_name)


def approvals(session: Session, ref: ModelRef) -> list[Approval]:
    stmt = select(ApprovalRow).where(col(ApprovalRow.model_name) == ref.name)
    if ref.version is not None:
        stmt = stmt.where(col(ApprovalRow.model_version) == ref.version)
    rows = session.exec(stmt.order_by(col(ApprovalRow.audit_sequence))).all()
    return [
        Approval(
            model=ModelRef(name=r.model_name, version=r.model_version),
            approver=r.approver,
            note=r.note,
            approved_at=_log_time(r.approved_at),
            recorded_by=r.recorded_by,
            audit_sequence=r.audit_sequence,
        )
        for r in rows
    ]


def history(session: Session, name: str) -> list[StageChange]:
    """Every stage change of the model's versions, oldest first."""
    rows = session.exec(
        select(StageHistoryRow)
        .where(col(StageHistoryRow.model_name) == name)
        .order_by(col(StageHistoryRow.audit_sequence), col(StageHistoryRow.id))
    ).all()
    return [
        StageChange(
            model=ModelRef(name=r.model_name, version=r.model_version),
            from_stage=r.from_stage,
            to_stage=r.to_stage,
            changed_at=_log_time(r.changed_at),
            changed_by=r.changed_by,
            reason=r.reason,
            audit_sequence=r.audit_sequence,
        )
        for r in rows
    ]


def aliases(session: Session, name: str) -> dict[str, int]:
    rows = session.exec(select(ModelAliasRow).where(col(ModelAliasRow.model_name) == name)).all()
    return {r.alias: r.model_version for r in sorted(rows, key=lambda r: r.alias)}


def resolve_alias(session: Session, name: str, alias: str) -> int:
    """The version ``alias`` of model ``name`` names; NotFoundError when it names none."""
    row = session.get(ModelAliasRow, (name, alias))
    if row is None:
        find_model(session, ModelRef(name=name))  # an unknown model: the registry's message
        raise NotFoundError(f"model {name!r} has no alias {alias!r}")
    return row.model_version


def _log_time(moment: datetime) -> datetime:
    from datetime import UTC

    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# -- writes ----------------------------------------------------------------------------


def _subject(name: str, version: int | None = None) -> str:
    return f"model:{name}" if version is None else f"model:{name}@{version}"


def _move(
    session: Session,
    head: AuditHeadRow,
    name: str,
    version: int,
    to_stage: str,
    *,
    actor: str | None,
    reason: str | None,
    sequence: int,
) -> None:
    """Record a stage change of ``name@version`` under the event ``sequence`` (no event)."""
    moment = _log.now()
    before = stage_of(session, name, version)
    row = session.get(ModelStageRow, (name, version))
    if row is None:
        session.add(
            ModelStageRow(
                model_name=name,
                model_version=version,
                stage=to_stage,
                updated_at=moment,
                audit_sequence=sequence,
            )
        )
    else:
        row.stage, row.updated_at, row.audit_sequence = to_stage, moment, sequence
        session.add(row)
    session.add(
        StageHistoryRow(
            model_name=name,
            model_version=version,
            from_stage=before,
            to_stage=to_stage,
            changed_at=moment,
            changed_by=actor,
            reason=reason,
            audit_sequence=sequence,
        )
    )


def _set_alias_row(session: Session, name: str, alias: str, version: int, sequence: int) -> None:
    row = session.get(ModelAliasRow, (name, alias))
    if row is None:
        row = ModelAliasRow(
            model_name=name,
            alias=alias,
            model_version=version,
            updated_at=_log.now(),
            audit_sequence=sequence,
        )
    else:
        row.model_version, row.updated_at, row.audit_sequence = version, _log.now(), sequence
    session.add(row)


def bind(
    session: Session,
    head: AuditHeadRow,
    *,
    name: str,
    policy_name: str,
    policy_digest: str,
    approval_required: bool,
    approval_independent: bool,
    actor: str | None,
    stage_names: dict[str, str] | None = None,
) -> Binding:
    names = check_stage_names(stage_names)
    find_model(session, ModelRef(name=name))  # NotFoundError for an unregistered model
    payload: dict[str, Any] = {
        "model": name,
        "policy": {"name": policy_name, "digest": policy_digest},
        "approval": {"required": approval_required, "independent": approval_independent},
    }
    if names:
        payload["stage_names"] = names
    event = _log.append_event(
        session, head, "model.policy_bound", payload, actor=actor, subject=_subject(name)
    )
    moment = _log.now()
    session.add(
        PolicyBindingRow(
            model_name=name,
            policy_name=policy_name,
            policy_digest=policy_digest,
            approval_required=approval_required,
            approval_independent=approval_independent,
            bound_at=moment,
            bound_by=actor,
            audit_sequence=event.sequence,
            stage_names=names,
        )
    )
    return Binding(
        name,
        policy_name,
        policy_digest,
        approval_required,
        approval_independent,
        moment,
        actor,
        names,
    )


def approve(
    session: Session,
    head: AuditHeadRow,
    *,
    ref: ModelRef,
    approver: str,
    note: str,
    actor: str | None,
) -> Approval:
    """Record a sign-off; a ``candidate`` becomes ``approved``. A retired version: InputError."""
    version = _version_of(ref)
    model = find_model(session, ref)
    stage = stage_of(session, ref.name, version)
    if stage == "retired":
        retired = stage_names(session, ref.name).label("retired")
        raise InputError(f"{ref} is {retired}; a retired version cannot be approved")
    owner = _owners(model)
    event = _log.append_event(
        session,
        head,
        "model.approved",
        {
            "model": str(ref),
            "approver": approver,
            "note": note,
            "owner": sorted(owner),
            "independent": approver.casefold() not in owner,
            "stage": {"from": stage, "to": "approved" if stage == "candidate" else stage},
        },
        actor=actor,
        subject=_subject(ref.name, version),
    )
    moment = _log.now()
    session.add(
        ApprovalRow(
            model_name=ref.name,
            model_version=version,
            approver=approver,
            note=note,
            approved_at=moment,
            recorded_by=actor,
            audit_sequence=event.sequence,
        )
    )
    if stage == "candidate":
        _move(
            session,
            head,
            ref.name,
            version,
            "approved",
            actor=actor,
            reason=f"approved by {approver}: {note}",
            sequence=event.sequence,
        )
    return Approval(ref, approver, note, moment, actor, event.sequence)


def _owners(model: ModelVersionRow) -> set[str]:
    owners = {(model.record.get("metadata") or {}).get("owner"), model.created_by}
    return {str(o).strip().casefold() for o in owners if o}


def _gate(session: Session, model: ModelVersionRow) -> list[str]:
    """Why ``model`` may not go to production (empty: it may)."""
    ref = f"{model.name}@{model.version}"
    bound = binding(session, model.name)
    if bound is None:
        return [
            f"model {model.name!r} is bound to no policy; bind one with "
            f"`govkit model bind {model.name} --policy FILE`"
        ]
    reasons = []
    if model.evaluation_dataset_id is None:
        reasons.append(
            f"{ref} has no registered evaluation data (register it with --evaluation-data); "
            "the gate needs a run on it"
        )
    else:
        from govkit.store._schema import DatasetRow

        dataset = session.get(DatasetRow, model.evaluation_dataset_id)
        assert dataset is not None
        run = session.exec(
            select(RunRow)
            .where(
                col(RunRow.model_name) == model.name,
                col(RunRow.model_version) == model.version,
                col(RunRow.policy_digest) == bound.policy_digest,
                col(RunRow.data_fingerprint) == dataset.fingerprint,
            )
            .order_by(col(RunRow.audit_sequence).desc())
            .limit(1)
        ).first()
        where = (
            f"policy {bound.policy_name!r} ({bound.policy_digest[:19]}...) on its evaluation "
            f"data {dataset.name}@{dataset.version}"
        )
        if run is None:
            reasons.append(f"no recorded run of {where}; run `govkit check` on it")
        elif run.status != "PASS":
            failing = [
                c["rule_id"]
                for c in run.result.get("checks", [])
                if c.get("status") not in ("PASS", "WAIVED")
            ]
            reasons.append(
                f"the latest run of {where} (run {run.id}) has verdict {run.status}, not PASS"
                + (f"; rules not met: {', '.join(failing)}" if failing else "")
            )
    if bound.approval_required:
        signed = approvals(session, ModelRef(name=model.name, version=model.version))
        owners = _owners(model)
        if not signed:
            reasons.append(f"policy {bound.policy_name!r} requires an approval; {ref} has none")
        elif bound.approval_independent and all(a.approver.casefold() in owners for a in signed):
            names = ", ".join(sorted({a.approver for a in signed}))
            reasons.append(
                f"policy {bound.policy_name!r} requires an independent approval (four-eyes); "
                f"{ref} is approved only by its owner ({names})"
            )
    return reasons


def promote(
    session: Session,
    head: AuditHeadRow,
    *,
    ref: ModelRef,
    to_stage: str,
    reason: str | None,
    actor: str | None,
) -> Promotion:
    """Move ``ref`` to ``production`` (through the gate) or to ``retired``.

    ``to_stage`` is a stage id or the name the bound policy gives it; events record ids.
    """
    version = _version_of(ref)
    names = stage_names(session, ref.name)
    to_stage = names.resolve(to_stage)
    model = find_model(session, ref)
    stage = stage_of(session, ref.name, version)
    said, now = names.name(to_stage), names.name(stage)
    if stage == "retired":
        raise InputError(f"{ref} is {names.label(stage)}; a retired version cannot move to {said}")
    if to_stage == stage:
        raise InputError(f"{ref} is already {now}")
    if to_stage == "candidate":
        raise InputError(f"{ref} cannot move back to {said}; stages only move forward")
    if to_stage == "approved":
        raise InputError(
            f"a version becomes {said} by a sign-off: `govkit model approve {ref} "
            "--approver ID --note TEXT`"
        )
    current = aliases(session, ref.name)
    if to_stage == "retired":
        pointing = sorted(a for a, v in current.items() if v == version)
        if pointing:
            raise InputError(
                f"{ref} is served under the alias(es) {', '.join(pointing)}; move them to "
                "another version (promote or roll back) before retiring it"
            )
        event = _log.append_event(
            session,
            head,
            "model.stage_changed",
            {"model": str(ref), "from": stage, "to": "retired", "reason": reason},
            actor=actor,
            subject=_subject(ref.name, version),
        )
        _move(
            session,
            head,
            ref.name,
            version,
            "retired",
            actor=actor,
            reason=reason,
            sequence=event.sequence,
        )
        return Promotion(ref, "retired", True, (), event.sequence, to_name=said)
    refusals = _gate(session, model)
    if refusals:
        event = _log.append_event(
            session,
            head,
            "model.promotion_refused",
            {
                "model": str(ref),
                "from": stage,
                "to": to_stage,
                "reasons": refusals,
                "reason": reason,
            },
            actor=actor,
            subject=_subject(ref.name, version),
        )
        return Promotion(ref, to_stage, False, tuple(refusals), event.sequence, to_name=said)
    previous = current.get(PRODUCTION)
    event = _log.append_event(
        session,
        head,
        "model.stage_changed",
        {
            "model": str(ref),
            "from": stage,
            "to": PRODUCTION,
            "reason": reason,
            "alias": {PRODUCTION: {"from": previous, "to": version}},
        },
        actor=actor,
        subject=_subject(ref.name, version),
    )
    if previous is not None and previous != version:
        _move(
            session,
            head,
            ref.name,
            previous,
            "approved",
            actor=actor,
            reason=f"replaced in production by {ref}",
            sequence=event.sequence,
        )
    _move(
        session,
        head,
        ref.name,
        version,
        PRODUCTION,
        actor=actor,
        reason=reason,
        sequence=event.sequence,
    )
    _set_alias_row(session, ref.name, PRODUCTION, version, event.sequence)
    return Promotion(ref, PRODUCTION, True, (), event.sequence, previous=previous, to_name=said)


def rollback(
    session: Session, head: AuditHeadRow, *, name: str, reason: str | None, actor: str | None
) -> Promotion:
    """Serve the previous production version again (one step); the current one -> approved."""
    find_model(session, ModelRef(name=name))
    current = aliases(session, name).get(PRODUCTION)
    if current is None:
        raise InputError(f"model {name!r} has no version in production; nothing to roll back")
    target = None
    for change in reversed(history(session, name)):
        version = change.model.version
        assert version is not None
        if (
            change.to_stage == PRODUCTION
            and version != current
            and stage_of(session, name, version) == "approved"
        ):
            target = version
            break
    if target is None:
        raise InputError(
            f"model {name!r} has no earlier production version that is still approved; "
            "nothing to roll back to"
        )
    event = _log.append_event(
        session,
        head,
        "model.rolled_back",
        {
            "model": name,
            "from_version": current,
            "to_version": target,
            "reason": reason,
            "alias": {PRODUCTION: {"from": current, "to": target}},
        },
        actor=actor,
        subject=_subject(name),
    )
    why = f"rolled back: {reason}" if reason else "rolled back"
    _move(
        session, head, name, current, "approved", actor=actor, reason=why, sequence=event.sequence
    )
    _move(session, head, name, target, PRODUCTION, actor=actor, reason=why, sequence=event.sequence)
    _set_alias_row(session, name, PRODUCTION, target, event.sequence)
    return Promotion(
        ModelRef(name=name, version=target), PRODUCTION, True, (), event.sequence, previous=current
    )


def set_alias(
    session: Session, head: AuditHeadRow, *, ref: ModelRef, alias: str, actor: str | None
) -> int:
    """Point ``alias`` (not ``production``: that is promotion) at ``ref``; the event sequence."""
    version = _version_of(ref)
    if alias == PRODUCTION:
        raise InputError(
            f"the {PRODUCTION!r} alias moves only through the gate: `govkit model promote "
            f"{ref} --to production` (or `govkit model rollback {ref.name}`)"
        )
    find_model(session, ref)
    names = stage_names(session, ref.name)
    if alias in names.names.values():
        raise InputError(
            f"{alias!r} is what policy {names.policy!r} calls a stage "
            f"({names.label(names.resolve(alias))}); an alias of that name would read as the "
            "stage: choose another alias"
        )
    if stage_of(session, ref.name, version) == "retired":
        raise InputError(f"{ref} is retired; an alias cannot name it")
    before = aliases(session, ref.name).get(alias)
    event = _log.append_event(
        session,
        head,
        "model.alias_set",
        {"model": ref.name, "alias": alias, "from": before, "to": version},
        actor=actor,
        subject=_subject(ref.name, version),
    )
    _set_alias_row(session, ref.name, alias, version, event.sequence)
    return event.sequence


def summary(session: Session, name: str) -> dict[str, Any]:
    """Everything about the lifecycle of model ``name`` (NotFoundError when unregistered)."""
    find_model(session, ModelRef(name=name))
    versions = session.exec(
        select(col(ModelVersionRow.version))
        .where(col(ModelVersionRow.name) == name)
        .order_by(col(ModelVersionRow.version))
    ).all()
    return {
        "stages": {int(v): stage_of(session, name, int(v)) for v in versions},
        "aliases": aliases(session, name),
        "binding": binding(session, name),
        "names": stage_names(session, name),
        "approvals": approvals(session, ModelRef(name=name)),
        "history": history(session, name),
    }
