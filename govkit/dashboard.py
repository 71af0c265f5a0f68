"""The compliance dashboard's data: read-only views of the audit store.

:class:`DashboardData` satisfies :class:`govkit.api._dashboard_backend.DashboardBackend`;
``govkit serve`` hands one to :func:`govkit.api.create_app` (``dashboard=``). It only
reads: cards are rendered on the fly without the ``card.rendered`` event that
``govkit card`` records (a page view is not a filed copy).

>>> app = create_app(service, dashboard=DashboardData(store))   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from govkit.api._dashboard_backend import (
    AuditPage,
    ChainStatus,
    DayCount,
    DecisionsPage,
    DecisionSummary,
    EventRow,
    InventoryRow,
    ModelPage,
    RulePoint,
    RuleTrend,
    RunPage,
    RunSummary,
)
from govkit.exceptions import InputError
from govkit.records import ModelRef
from govkit.results import Waiver

if TYPE_CHECKING:  # pragma: no cover
    from govkit.store import Store
    from govkit.store._checkpoint import Checkpoint
    from govkit.store._dashboard_queries import EventInfo
    from govkit.store._keys import VerifyKey

__all__ = ["DashboardData"]

log = logging.getLogger(__name__)

#: events whose payload names a tenant: their subject is hidden from other tenants
_TENANT_EVENTS = ("decision.", "subject.", "api_key.")


class DashboardData:
    """Read-only dashboard views of ``store``.

    ``checkpoints`` (signed, see ``govkit audit checkpoint``) are checked with every
    verification of the chain, against ``public_key`` when given. The chain is
    verified again when the audit page is shown and the last verification is older
    than ``verify_every`` seconds.
    """

    def __init__(
        self,
        store: Store,
        *,
        checkpoints: Sequence[Checkpoint] = (),
        public_key: VerifyKey | None = None,
        verify_every: float = 60.0,
    ) -> None:
        if verify_every < 0:
            raise InputError(f"verify_every must be >= 0 seconds; got {verify_every!r}")
        self._store = store
        self._checkpoints = tuple(checkpoints)
        self._public_key = public_key
        self._verify_every = verify_every
        self._chain: tuple[float, ChainStatus] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DashboardData({self._store!r})"

    # -- pages ------------------------------------------------------------------------

    def auth_required(self) -> bool:
        return self._store.has_api_keys()

    def inventory(self) -> list[InventoryRow]:
        latest = self._store.latest_runs_by_version()
        rows = []
        for record in self._store.list_model_versions():
            found = latest.get((record.name, record.version))
            info, waivers = found if found is not None else (None, [])
            rows.append(
                InventoryRow(
                    name=record.name,
                    version=record.version,
                    owner=record.metadata.owner,
                    risk_tier=record.metadata.risk_tier,
                    estimator=record.estimator,
                    created_at=record.created_at,
                    verdict=info.status if info else None,
                    run_id=info.run_id if info else None,
                    policy_name=info.policy_name if info else None,
                    last_evaluated=info.finished_at if info else None,
                    waivers=tuple(Waiver.model_validate(w) for w in waivers),
                )
            )
        return rows

    def model_version(self, name: str, version: int, *, tenant: str | None) -> ModelPage:
        ref = ModelRef(name=name, version=version)
        record = self._store.get_model_version(ref)
        runs = self._store.run_summaries(ref)
        latest = self._store.get_run(runs[0].run_id)[0] if runs else None
        lineage = self._store.lineage(record.training_data) if record.training_data else []
        evaluation = (
            self._store.get_dataset(record.evaluation_data) if record.evaluation_data else None
        )
        # str(ref): the subject of cards rendered before they were logged as "model:NAME@VER"
        events = self._store.events_about([f"model:{ref}", str(ref)], limit=50)
        return ModelPage(
            record=record,
            runs=tuple(
                RunSummary(
                    run_id=r.run_id,
                    audit_sequence=r.audit_sequence,
                    policy_name=r.policy_name,
                    verdict=r.status,
                    finished_at=r.finished_at,
                    recorded_at=r.recorded_at,
                )
                for r in runs
            ),
            latest=latest.result if latest else None,
            latest_run_id=latest.run_id if latest else None,
            trends=tuple(self._trends(ref, latest.result if latest else None)),
            training_lineage=tuple(lineage),
            evaluation_data=evaluation,
            events=tuple(_event_row(e, tenant) for e in events),
        )

    def _trends(self, ref: ModelRef, latest: Any) -> list[RuleTrend]:
        by_rule: dict[str, list[Any]] = {}
        for point in self._store.check_history(ref):
            by_rule.setdefault(point.rule_id, []).append(point)
        bounds = {c.rule_id: c.bound for c in latest.checks} if latest is not None else {}
        return [
            RuleTrend(
                rule_id=rule_id,
                check_id=points[-1].check_id,
                bound=bounds.get(rule_id),
                points=tuple(
                    RulePoint(
                        run_id=p.run_id, finished_at=p.finished_at, value=p.value, status=p.status
                    )
                    for p in points
                ),
            )
            for rule_id, points in by_rule.items()
        ]

    def policy_run(self, run_id: int) -> RunPage:
        stored, info, recorded_by = self._store.get_run(run_id)
        return RunPage(
            run_id=stored.run_id,
            result=stored.result,
            anchor=stored.anchor,
            recorded_at=info.recorded_at,
            recorded_by=recorded_by,
        )

    def decisions(self, tenant: str | None, *, days: int, limit: int) -> DecisionsPage:
        if days < 1 or limit < 0:
            raise InputError(f"days must be >= 1 and limit >= 0; got {days} and {limit}")
        today = datetime.now(UTC).date()
        first = today - timedelta(days=days - 1)
        since = datetime(first.year, first.month, first.day, tzinfo=UTC)
        window = self._store.decision_summaries(tenant=tenant, since=since)
        counts: dict[date, list[int]] = {first + timedelta(days=i): [0, 0] for i in range(days)}
        for info in window:
            slot = counts.get(info.created_at.date())
            if slot is not None:
                slot[0] += 1
                slot[1] += 1 if info.reliable else 0
        recent = self._store.decision_summaries(tenant=tenant, limit=limit) if limit else []
        return DecisionsPage(
            tenant=tenant,
            days=tuple(DayCount(day=d, decisions=n, reliable=r) for d, (n, r) in counts.items()),
            total=sum(n for n, _ in counts.values()),
            reliable=sum(r for _, r in counts.values()),
            recent=tuple(
                DecisionSummary(
                    decision_id=d.decision_id,
                    model=f"{d.model_name}@{d.model_version}",
                    created_at=d.created_at,
                    method=d.method,
                    reliable=d.reliable,
                    has_subject=d.has_subject,
                    erased=d.erased,
                )
                for d in recent
            ),
        )

    def audit(self, tenant: str | None, *, limit: int) -> AuditPage:
        events, counts = self._store.recent_events(limit=limit)
        return AuditPage(
            chain=self._chain_status(),
            recent=tuple(_event_row(e, tenant) for e in events),
            counts=_counts_for(counts, tenant),
        )

    def _chain_status(self) -> ChainStatus:
        with self._lock:  # one verification at a time; others wait for its result
            now = time.monotonic()
            if self._chain is not None and now - self._chain[0] < self._verify_every:
                return self._chain[1]
            report = self._store.verify_chain(
                checkpoints=self._checkpoints, public_key=self._public_key
            )
            checks = report.checkpoints
            status = ChainStatus(
                ok=report.ok,
                events=report.events,
                head_sequence=report.head_sequence,
                head_hash=report.head_hash,
                verified_at=datetime.now(UTC),
                first_bad_sequence=report.first_bad_sequence,
                problem=report.problem,
                checkpoint_sequence=max((c.sequence for c in checks), default=None),
                checkpoints_ok=all(c.ok for c in checks) if checks else None,
            )
            if not report.ok:
                log.warning(
                    "the audit chain does not verify (first bad event %s)",
                    report.first_bad_sequence,
                )
            self._chain = (now, status)
            return status

    def card(self, name: str, version: int, fmt: Literal["html", "pdf"]) -> bytes:
        from govkit.report import render_card_html, render_card_pdf

        record = self._store.get_model_version(ModelRef(name=name, version=version))
        latest = self._store.latest_run(record.ref)
        kw: dict[str, Any] = dict(
            training_lineage=self._store.lineage(record.training_data)
            if record.training_data
            else [],
            evaluation_data=self._store.get_dataset(record.evaluation_data)
            if record.evaluation_data
            else None,
            run=latest.result if latest else None,
            anchor=latest.anchor if latest else None,
        )
        if fmt == "pdf":  # tagged: the dashboard is read with assistive technology too
            return render_card_pdf(record, **kw, tagged=True)
        if fmt == "html":
            return render_card_html(record, **kw).encode("utf-8")
        raise InputError(f"card format must be 'html' or 'pdf'; got {fmt!r}")


def _foreign(event_type: str, payload: dict[str, Any] | None, tenant: str | None) -> bool:
    """Whether a viewer of ``tenant`` (None: every tenant) may not see this event."""
    if tenant is None or not event_type.startswith(_TENANT_EVENTS):
        return False
    return payload is None or payload.get("tenant") != tenant  # (unattributed: not theirs)


def _event_row(event: EventInfo, tenant: str | None) -> EventRow:
    if _foreign(event.event_type, event.payload, tenant):
        return EventRow(event.sequence, "", "", None, None, foreign=True)
    return EventRow(
        sequence=event.sequence,
        timestamp=event.ts,
        event_type=event.event_type,
        actor=event.actor,
        subject=event.subject,
    )


def _counts_for(counts: dict[str, int], tenant: str | None) -> dict[str, int]:
    """Events per type; for a viewer of one tenant, the tenants' event types as one total
    (a count per type would tell how often other tenants erase or answer access requests)."""
    if tenant is None:
        return counts
    shown: dict[str, int] = {}
    for kind, count in counts.items():
        key = ALL_TENANTS_EVENTS if _foreign(kind, None, tenant) else kind
        shown[key] = shown.get(key, 0) + count
    return shown


#: the row of the audit page's counts that totals the tenants' event types, for a viewer
#: of one tenant
ALL_TENANTS_EVENTS = "decision.*, subject.*, api_key.* (all tenants)"
