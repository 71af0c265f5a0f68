"""Model lifecycle as jobs: bind a policy, approve, promote through the gate, roll back.

The rules (stages, the promotion gate, four-eyes) are in :mod:`govkit.store._lifecycle`,
where they run in the same transaction as the change and its audit event. This module
parses what a person typed (``NAME@VER``, stage and alias names, the policy file) and
names the actor. Nothing here prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from govkit.exceptions import InputError
from govkit.policy import LIFECYCLE_STAGES, load_policy
from govkit.records import ModelRef, parse_ref
from govkit.store import Store

__all__ = [
    "STAGES",
    "bind_policy",
    "approve",
    "promote",
    "rollback",
    "set_alias",
    "parse_version_ref",
]

STAGES = LIFECYCLE_STAGES  # the ids; a policy may give them names (lifecycle.stage_names)


def _actor(actor: str | None) -> str:
    """``actor``, else $GOVKIT_ACTOR, else the OS user (as govkit.workflows.current_actor)."""
    import getpass
    import os

    return actor or os.environ.get("GOVKIT_ACTOR") or getpass.getuser()


def parse_version_ref(text: str, *, option: str = "NAME@VER") -> ModelRef:
    """``NAME@VER`` as a ModelRef; InputError when the version is missing or malformed."""
    ref = parse_ref(text, what="model", option=option)
    if ref.version is None:
        raise InputError(f"{option}: name the version, e.g. {ref.name}@1 (got {text!r})")
    return ref


def bind_policy(name: str, policy: str | Path, *, store: Store, actor: str | None = None) -> Any:
    """Bind model ``name`` to the policy file ``policy`` (name, digest, approval, stage names)."""
    parse_ref(name, what="model", option="NAME")
    if "@" in name:
        raise InputError(f"a policy is bound to a model, not a version: give NAME (got {name!r})")
    loaded = load_policy(policy)
    approval = loaded.policy.approval
    return store.bind_policy(
        name,
        policy_name=loaded.policy.name,
        policy_digest=loaded.digest,
        approval_required=approval.required,
        approval_independent=approval.independent,
        stage_names=loaded.policy.lifecycle.stage_names.declared() or None,
        actor=_actor(actor),
    )


def approve(
    ref: ModelRef | str, *, approver: str, note: str, store: Store, actor: str | None = None
) -> Any:
    """Record ``approver``'s sign-off of ``ref`` with ``note`` (why)."""
    from govkit.store._lifecycle_base import check_text

    ref = parse_version_ref(ref) if isinstance(ref, str) else ref
    approver = check_text(approver, "--approver")
    note = check_text(note, "--note")
    return store.approve_model(ref, approver=approver, note=note, actor=_actor(actor))


def promote(
    ref: ModelRef | str,
    *,
    to: str,
    store: Store,
    reason: str | None = None,
    actor: str | None = None,
) -> Any:
    """Move ``ref`` to ``to`` (``production`` through the gate, or ``retired``).

    ``to`` is a stage id or the name the bound policy gives the stage (an unknown one:
    InputError listing the stages, with a close match). Returns the store's Promotion:
    ``promoted`` False with ``reasons`` for a refusal (recorded as
    ``model.promotion_refused``), among them any row the gate read that disagrees with
    the audit log (:mod:`govkit.store._lifecycle_evidence`); InputError for an
    impossible move.
    """
    from govkit.store._lifecycle_base import check_text

    ref = parse_version_ref(ref) if isinstance(ref, str) else ref
    reason = check_text(reason, "--reason", required=False)
    return store.promote_model(ref, to=to, reason=reason, actor=_actor(actor))


def rollback(
    name: str, *, store: Store, reason: str | None = None, actor: str | None = None
) -> Any:
    """Serve the previous production version of ``name`` again, in one step."""
    from govkit.store._lifecycle_base import check_text

    ref = parse_ref(name, what="model", option="NAME")
    if ref.version is not None:
        raise InputError(f"rollback takes a model NAME, not a version (got {name!r})")
    reason = check_text(reason, "--reason", required=False)
    return store.rollback_model(ref.name, reason=reason, actor=_actor(actor))


def set_alias(ref: ModelRef | str, alias: str, *, store: Store, actor: str | None = None) -> int:
    """Point ``alias`` at ``ref`` (any alias but ``production``)."""
    from govkit.store._lifecycle_base import check_alias

    ref = parse_version_ref(ref) if isinstance(ref, str) else ref
    return store.set_model_alias(ref, check_alias(alias), actor=_actor(actor))
