"""The Store's methods for decisions, API keys, outcomes, the lifecycle and the dashboard.

:class:`~govkit.store.Store` inherits them from :class:`StoreServices`; each is a thin
entry point into its own module (``_decisions``, ``_apikeys``, ``_outcomes``,
``_lifecycle``, ``_dashboard_queries``) through the Store's transaction helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import Session

from govkit.decisions import ApiKeyInfo, ApiPrincipal, Decision, Scope, SubjectRecords
from govkit.exceptions import GovkitError, StoreError, WouldWait
from govkit.records import ModelRef
from govkit.store import (
    _apikeys,
    _dashboard_queries,
    _decisions,
    _lifecycle,
    _lifecycle_approvals,
    _lifecycle_bindings,
    _lifecycle_state,
    _outcomes,
)
from govkit.store._chain import StoredEvent
from govkit.store._engine import Target
from govkit.store._log import EncodedEvent, NewEvent
from govkit.store._runs import StoredRun
from govkit.store._schema import AuditHeadRow

__all__ = ["StoreServices"]

T = TypeVar("T")


class StoreServices:
    """Mixin of :class:`~govkit.store.Store` (it provides the transaction helpers)."""

    if TYPE_CHECKING:  # provided by Store
        _target: Target

        def _write(self, action: str, work: Callable[[Session, AuditHeadRow], T]) -> T: ...

        def _reading(
            self, action: str, *, snapshot: bool = False
        ) -> AbstractContextManager[Session]: ...

        def _append(
            self,
            action: str,
            events: list[NewEvent],
            actor: str | None,
            *,
            extra: Callable[[Any, int], Sequence[EncodedEvent]] | None = None,
            wait: bool = True,
        ) -> tuple[list[StoredEvent], datetime]: ...

    # -- decisions ----------------------------------------------------------------------

    def record_decision(
        self,
        decision: Decision,
        *,
        subject_pseudonym: str | None,
        actor: str | None,
        wait: bool = True,
    ) -> Decision:
        """Store ``decision`` encrypted under its subject's key, with one audit event.

        One transaction: find or create the subject of ``subject_pseudonym`` in
        the decision's tenant (None: a subject of this decision alone), encrypt
        the features and explanation (AES-256-GCM), insert the row and append a
        ``decision.recorded`` event holding no personal data in the clear (see
        :mod:`govkit.store._decisions`). Returns the decision with
        ``audit_sequence`` and ``has_subject`` set. InputError for a decision id
        already recorded or an invalid tenant, id or model reference.

        ``wait=False``: record only if that needs no waiting (see ``Store._append``);
        otherwise :class:`~govkit.exceptions.WouldWait`, whose ``finish`` records it.
        """
        prepared = _decisions.prepare(decision, subject_pseudonym)
        # The lean path: one transaction on a reused driver connection, like record_event.
        recorder = _decisions.Recorder(prepared, postgres=self._target.dialect == "postgresql")
        action = f"record decision {decision.decision_id!r}"
        try:
            self._append(action, [], actor, extra=recorder, wait=wait)
        except WouldWait as pending:
            raise pending.then(lambda _: recorder.result()) from None
        return recorder.result()

    def get_decision(self, decision_id: str, *, tenant: str | None) -> Decision:
        """The decision ``decision_id``, decrypted; with ``tenant``, only that tenant's.

        NotFoundError (one message: existence is not revealed) when there is no
        such decision in the tenant; ErasedError when its subject was erased;
        StoreError when the stored ciphertext fails authentication (tampering).
        """
        if tenant is not None:
            _decisions.check_tenant(tenant)
        with self._reading("read a decision") as session:
            return _decisions.read(session, decision_id, tenant=tenant)

    def subject_records(self, pseudonym: str, *, tenant: str, actor: str | None) -> SubjectRecords:
        """All decisions of a tenant's subject, newest first, and their observed outcomes,
        decrypted; records ``subject.accessed`` (the subject's ``key_id`` and the count, no
        personal data).

        NotFoundError when the tenant has no such subject (never recorded, or erased);
        StoreError when a stored decision or outcome fails authentication.
        """
        _decisions.check_tenant(tenant)
        _decisions.check_pseudonym(pseudonym)
        work = partial(_outcomes.read_subject, pseudonym=pseudonym, tenant=tenant, actor=actor)
        return self._write("read a data subject's records", work)

    def erase_subject_by_pseudonym(self, pseudonym: str, *, tenant: str, actor: str | None) -> int:
        """Crypto-shred a tenant's subject: destroy their key, record ``subject.erased``.

        Returns how many decisions became unreadable; NotFoundError when the
        tenant has no such subject (never recorded, or already erased).
        """
        _decisions.check_tenant(tenant)
        _decisions.check_pseudonym(pseudonym)
        work = partial(
            _decisions.erase_by_pseudonym, pseudonym=pseudonym, tenant=tenant, actor=actor
        )
        return self._write("erase a data subject", work)

    # -- API keys -----------------------------------------------------------------------

    def create_api_key(
        self, *, tenant: str, scopes: Sequence[Scope], name: str | None, actor: str | None
    ) -> tuple[ApiKeyInfo, str]:
        """A new API key of ``tenant`` with ``scopes``; returns its info and the token.

        The token (``gk_<key_id>_<secret>``) is shown only here: the store keeps
        the SHA-256 of its secret (see :mod:`govkit.store._apikeys`).
        """
        tenant, checked, name = _apikeys.validate_new_key(tenant, scopes, name)
        work = partial(_apikeys.create, tenant=tenant, scopes=checked, name=name, actor=actor)
        return self._write(f"create an API key for tenant {tenant!r}", work)

    def api_principal(self, token: str) -> ApiPrincipal | None:
        """Who ``token`` belongs to; None when it is malformed, unknown or revoked."""
        parsed = _apikeys.parse_token(token)
        if parsed is None:
            return None
        with self._reading("authenticate an API key") as session:
            return _apikeys.principal(session, *parsed)

    def list_api_keys(self, *, tenant: str | None = None) -> list[ApiKeyInfo]:
        """Every API key (of ``tenant`` when given), revoked ones too, oldest first."""
        if tenant is not None:
            _decisions.check_tenant(tenant)
        with self._reading("list API keys") as session:
            return _apikeys.list_keys(session, tenant=tenant)

    def revoke_api_key(self, key_id: str, *, actor: str | None) -> ApiKeyInfo:
        """Revoke an API key for good (event ``api_key.revoked``); NotFoundError if unknown.

        Revoking a revoked key returns it unchanged and records nothing.
        """
        work = partial(_apikeys.revoke, key_id=key_id, actor=actor)
        return self._write(f"revoke API key {str(key_id)[:40]!r}", work)

    # -- dashboard queries (read-only summaries, see govkit.store._dashboard_queries) ----

    def latest_runs_by_version(
        self,
    ) -> dict[tuple[str, int | None], tuple[_dashboard_queries.RunInfo, list[Any]]]:
        """The latest run of every (model, version) and the waivers it applied (as dicts)."""
        with self._reading("summarise the latest policy runs") as session:
            return _dashboard_queries.latest_runs(session)

    def run_summaries(self, ref: ModelRef) -> list[_dashboard_queries.RunInfo]:
        """Every run of model version ``ref`` (a version is required), newest first."""
        if ref.version is None:
            raise StoreError(f"run_summaries needs a model version; got {ref}")
        with self._reading(f"list the runs of {ref}") as session:
            return _dashboard_queries.runs_of(session, ref.name, ref.version)

    def check_history(self, ref: ModelRef) -> list[_dashboard_queries.CheckPoint]:
        """Every rule result of every run of model version ``ref``, oldest run first."""
        if ref.version is None:
            raise StoreError(f"check_history needs a model version; got {ref}")
        with self._reading(f"read the rule history of {ref}") as session:
            return _dashboard_queries.check_points(session, ref.name, ref.version)

    def get_run(self, run_id: int) -> tuple[StoredRun, _dashboard_queries.RunInfo, str | None]:
        """The recorded run ``run_id``, its summary and its recorder; NotFoundError if none."""
        with self._reading(f"read policy run {run_id}") as session:
            return _dashboard_queries.get_run(session, run_id)

    def decision_summaries(
        self,
        *,
        tenant: str | None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[_dashboard_queries.DecisionInfo]:
        """Decisions' clear columns and reliability flags, newest first; nothing decrypted."""
        if tenant is not None:
            _decisions.check_tenant(tenant)
        with self._reading("summarise decisions") as session:
            return _dashboard_queries.decision_infos(
                session, tenant=tenant, since=since, limit=limit
            )

    def events_about(
        self, subjects: Sequence[str], *, limit: int = 50
    ) -> list[_dashboard_queries.EventInfo]:
        """The newest events whose subject is one of ``subjects``, newest first."""
        if not subjects:
            return []
        with self._reading("read audit events by subject") as session:
            return _dashboard_queries.events_about(session, list(subjects), limit=limit)

    def recent_events(
        self, *, limit: int = 50
    ) -> tuple[list[_dashboard_queries.EventInfo], dict[str, int]]:
        """The newest ``limit`` events (newest first) and the number of events of each type."""
        with self._reading("read recent audit events") as session:
            return _dashboard_queries.recent_events(session, limit=limit)

    def has_api_keys(self) -> bool:
        """True when any API key exists (revoked ones too): the HTTP service requires keys."""
        with self._reading("look for API keys") as session:
            return _dashboard_queries.has_api_keys(session)

    # -- model lifecycle (govkit.store._lifecycle) -----------------------------------------

    def bind_policy(self, name: str, **kw: Any) -> _lifecycle_bindings.Binding:
        """Bind model ``name`` to a policy (``policy_name``, ``policy_digest``, ``approval_*``)."""
        return self._write(
            f"bind model {name!r}", partial(_lifecycle_bindings.bind, name=name, **kw)
        )

    def approve_model(self, ref: ModelRef, *, approver: str, note: str, actor: str | None) -> Any:
        """Record a sign-off of ``ref`` (event ``model.approved``); a candidate becomes approved."""
        work = partial(
            _lifecycle_approvals.approve, ref=ref, approver=approver, note=note, actor=actor
        )
        return self._write(f"approve {ref}", work)

    def promote_model(
        self, ref: ModelRef, *, to: str, reason: str | None, actor: str | None
    ) -> Any:
        """Move ``ref`` to ``production`` through the gate, or ``retired``; a refusal is logged."""
        work = partial(_lifecycle.promote, ref=ref, to_stage=to, reason=reason, actor=actor)
        return self._write(f"promote {ref}", work)

    def rollback_model(self, name: str, *, reason: str | None, actor: str | None) -> Any:
        """Serve the previous production version of ``name`` again (event ``model.rolled_back``)."""
        work = partial(_lifecycle.rollback, name=name, reason=reason, actor=actor)
        return self._write(f"roll back {name!r}", work)

    def set_model_alias(self, ref: ModelRef, alias: str, *, actor: str | None) -> int:
        """Point ``alias`` of ``ref.name`` at ``ref`` (not ``production``); the event sequence."""
        work = partial(_lifecycle_state.set_alias, ref=ref, alias=alias, actor=actor)
        return self._write(f"set alias {alias!r}", work)

    def resolve_alias(self, name: str, alias: str) -> int:
        """The version ``alias`` of model ``name`` names; NotFoundError when none."""
        with self._reading(f"resolve alias {alias!r} of {name!r}") as session:
            return _lifecycle_state.resolve_alias(session, name, alias)

    def model_lifecycle(self, name: str) -> dict[str, Any]:
        """Stages, aliases, binding, approvals and stage history of model ``name``."""
        with self._reading(f"read the lifecycle of {name!r}") as session:
            return _lifecycle.summary(session, name)

    # -- outcomes and monitoring (govkit.store._outcomes) ----------------------------------

    def record_outcome(
        self, decision_id: str, outcome: Any, *, tenant: str | None, actor: str | None
    ) -> bool:
        """Attach the observed ``outcome`` to a decision (encrypted); True when it replaced one."""
        value = _outcomes.check_outcome(outcome)
        work = partial(
            _outcomes.record, decision_id=decision_id, tenant=tenant, outcome=value, actor=actor
        )
        return self._write("record an outcome", work)

    def record_outcomes(
        self, outcomes: Sequence[tuple[str, Any]], *, tenant: str | None, actor: str | None
    ) -> int:
        """Attach many ``(decision_id, outcome)`` pairs in ONE transaction: all or none.

        Returns how many replaced an earlier outcome. The error of the first bad pair
        names its position (1-based) and decision id; nothing is written then.
        """
        values = []
        for i, (decision_id, outcome) in enumerate(outcomes, 1):
            try:
                values.append((decision_id, _outcomes.check_outcome(outcome)))
            except GovkitError as exc:
                raise type(exc)(f"outcome {i} (decision {decision_id}): {exc}") from None

        def work(session: Session, head: AuditHeadRow) -> int:
            replaced = 0
            for i, (decision_id, value) in enumerate(values, 1):
                try:
                    replaced += _outcomes.record(
                        session, head, decision_id=decision_id, tenant=tenant, outcome=value,
                        actor=actor,
                    )  # fmt: skip
                except GovkitError as exc:
                    raise type(exc)(f"outcome {i} (decision {decision_id}): {exc}") from None
            return replaced

        return self._write("record outcomes", work)

    def decision_window(self, model: str, **kw: Any) -> _outcomes.Window:
        """Decisions of ``model`` (``versions``) in ``[since, until)``, decrypted, with outcomes."""
        with self._reading(f"read the decisions of {model!r}") as session:
            return _outcomes.read_window(session, model=model, **kw)
