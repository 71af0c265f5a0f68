"""Model lifecycle: the rules, and the promotion gate, promotion and rollback.

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
   when the policy asks for independence (four-eyes);
4. what the gate read from the tables (the run, the binding, the approvals, the
   registrations) agrees with the audit log: the run's verdict is taken from its
   ``policy.run`` event, and a row that differs from its event, or an event that does
   not match its hash, is a refusal naming the row and the field
   (:mod:`govkit.store._lifecycle_evidence`).

Where the parts are: input checks, audit subjects and timestamps in
:mod:`govkit.store._lifecycle_base`; policy bindings and the stage names they give in
:mod:`govkit.store._lifecycle_bindings`; stages, aliases and stage history in
:mod:`govkit.store._lifecycle_state`; approvals and owners in
:mod:`govkit.store._lifecycle_approvals`; the gate, promotion, rollback and the
summary of a model's lifecycle here; what the gate reads, checked against the audit log,
in :mod:`govkit.store._lifecycle_evidence`. The audit log is cross-checked against these
tables as a whole by :mod:`govkit.store._lifecycle_verify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from govkit.exceptions import InputError
from govkit.records import ModelRef
from govkit.store import _log
from govkit.store._lifecycle_approvals import approvals, owners_of
from govkit.store._lifecycle_base import model_subject, version_of
from govkit.store._lifecycle_bindings import binding, stage_names
from govkit.store._lifecycle_evidence import TAMPERED, Evidence
from govkit.store._lifecycle_state import (
    PRODUCTION,
    aliases,
    history,
    move_stage,
    set_alias_row,
    stage_of,
)
from govkit.store._records import find_model
from govkit.store._schema import AuditHeadRow, DatasetRow, ModelVersionRow

__all__ = ["Promotion", "promote", "rollback", "summary"]


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


def _gate(session: Session, head: AuditHeadRow, model: ModelVersionRow) -> list[str]:
    """Why ``model`` may not go to production (empty: it may).

    What it reads from the tables is checked against the audit log first
    (:mod:`govkit.store._lifecycle_evidence`): a disagreement is a reason too.
    """
    ref = f"{model.name}@{model.version}"
    evidence = Evidence(session, head)
    bound = binding(session, model.name)
    evidence.binding(model.name)
    if bound is None:
        return [
            f"model {model.name!r} is bound to no policy; bind one with "
            f"`govkit model bind {model.name} --policy FILE`",
            *evidence.problems,
            *([TAMPERED] if evidence.problems else []),
        ]
    reasons = []
    dataset = None
    if model.evaluation_dataset_id is None:
        reasons.append(
            f"{ref} has no registered evaluation data (register it with --evaluation-data); "
            "the gate needs a run on it"
        )
    else:
        dataset = session.get(DatasetRow, model.evaluation_dataset_id)
        assert dataset is not None
        known = len(evidence.problems)
        run = evidence.run(model, dataset, bound.policy_digest)
        where = (
            f"policy {bound.policy_name!r} ({bound.policy_digest[:19]}...) on its evaluation "
            f"data {dataset.name}@{dataset.version}"
        )
        if run is None and len(evidence.problems) == known:
            reasons.append(f"no recorded run of {where}; run `govkit check` on it")
        elif run is not None and run.get("verdict") != "PASS":
            rules = run.get("rules")
            failing = [
                str(rule.get("rule_id"))
                for rule in (rules if isinstance(rules, list) else [])
                if isinstance(rule, dict) and rule.get("status") not in ("PASS", "WAIVED")
            ]
            reasons.append(
                f"the latest run of {where} (run {run.get('run_id')}) has verdict "
                f"{run.get('verdict')}, not PASS"
                + (f"; rules not met: {', '.join(failing)}" if failing else "")
            )
    evidence.registration(model, dataset)
    if bound.approval_required:
        signed = approvals(session, ModelRef(name=model.name, version=model.version))
        evidence.approvals(ref, signed)
        owners = owners_of(model)
        if not signed:
            reasons.append(f"policy {bound.policy_name!r} requires an approval; {ref} has none")
        elif bound.approval_independent and all(a.approver.casefold() in owners for a in signed):
            names = ", ".join(sorted({a.approver for a in signed}))
            reasons.append(
                f"policy {bound.policy_name!r} requires an independent approval (four-eyes); "
                f"{ref} is approved only by its owner ({names})"
            )
    if evidence.problems:
        reasons += [*evidence.problems, TAMPERED]
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
    version = version_of(ref)
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
            subject=model_subject(ref.name, version),
        )
        move_stage(
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
    refusals = _gate(session, head, model)
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
            subject=model_subject(ref.name, version),
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
        subject=model_subject(ref.name, version),
    )
    if previous is not None and previous != version:
        move_stage(
            session,
            head,
            ref.name,
            previous,
            "approved",
            actor=actor,
            reason=f"replaced in production by {ref}",
            sequence=event.sequence,
        )
    move_stage(
        session,
        head,
        ref.name,
        version,
        PRODUCTION,
        actor=actor,
        reason=reason,
        sequence=event.sequence,
    )
    set_alias_row(session, ref.name, PRODUCTION, version, event.sequence)
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
        subject=model_subject(name),
    )
    why = f"rolled back: {reason}" if reason else "rolled back"
    move_stage(
        session, head, name, current, "approved", actor=actor, reason=why, sequence=event.sequence
    )
    move_stage(
        session, head, name, target, PRODUCTION, actor=actor, reason=why, sequence=event.sequence
    )
    set_alias_row(session, name, PRODUCTION, target, event.sequence)
    return Promotion(
        ModelRef(name=name, version=target), PRODUCTION, True, (), event.sequence, previous=current
    )


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
