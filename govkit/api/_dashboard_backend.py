"""What the compliance dashboard needs from the rest of govkit: a read-only protocol.

The API package (layer 4) never imports the store; ``govkit serve`` builds a
:class:`govkit.dashboard.DashboardData` (layer 5) over the store and hands it to
:func:`govkit.api.create_app` as ``dashboard=``. Every method only reads, and returns
the plain types below (or the shared records and results): no personal data -- a
decision is its id, model, time and the reliability of its explanation, never its
features, subject or outcome.

Errors: ``NotFoundError`` for an unknown model version or run (404), ``StoreError``
when the database is unreachable (503), ``MissingDependencyError`` for a PDF card
without WeasyPrint (501), ``RenderError`` when a card cannot be rendered (503).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.results import AuditAnchor, Bound, EvaluationResult, Waiver

__all__ = [
    "DashboardBackend",
    "InventoryRow",
    "RunSummary",
    "RulePoint",
    "RuleTrend",
    "EventRow",
    "ModelPage",
    "RunPage",
    "DayCount",
    "DecisionSummary",
    "DecisionsPage",
    "ChainStatus",
    "AuditPage",
]

Verdict = Literal["PASS", "WARN", "FAIL"]


@dataclass(frozen=True)
class InventoryRow:
    """One model version and its governance status."""

    name: str
    version: int
    owner: str | None
    risk_tier: str | None
    estimator: str
    created_at: datetime
    verdict: str | None  # PASS / WARN / FAIL of the latest run; None: never evaluated
    run_id: int | None
    policy_name: str | None
    last_evaluated: datetime | None
    waivers: tuple[Waiver, ...] = ()  # applied in the latest run

    @property
    def shown_verdict(self) -> str:
        """PASS/WARN/FAIL, WAIVED when a passing verdict rests on a waiver, or NONE."""
        if self.verdict is None:
            return "NONE"
        if self.verdict == "PASS" and self.waivers:
            return "WAIVED"
        return self.verdict


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    audit_sequence: int
    policy_name: str
    verdict: str
    finished_at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class RulePoint:
    run_id: int
    finished_at: datetime
    value: float | None
    status: str


@dataclass(frozen=True)
class RuleTrend:
    """One rule's value over a model version's runs, oldest first."""

    rule_id: str
    check_id: str
    bound: Bound | None  # as in the latest run
    points: tuple[RulePoint, ...]


@dataclass(frozen=True)
class EventRow:
    """An audit event as the dashboard shows it (no payload)."""

    sequence: int
    timestamp: str
    event_type: str
    actor: str | None
    subject: str | None
    #: another tenant's record: only its sequence is shown (not its type, time, actor or
    #: subject: when another tenant's keys decide, erase or answer access requests)
    foreign: bool = False


@dataclass(frozen=True)
class ModelPage:
    record: ModelVersionRecord
    runs: tuple[RunSummary, ...]  # newest first
    latest: EvaluationResult | None
    latest_run_id: int | None
    trends: tuple[RuleTrend, ...]
    training_lineage: tuple[DatasetRecord, ...]  # training data, then its ancestors
    evaluation_data: DatasetRecord | None
    events: tuple[EventRow, ...]  # newest first


@dataclass(frozen=True)
class RunPage:
    run_id: int
    result: EvaluationResult
    anchor: AuditAnchor
    recorded_at: datetime
    recorded_by: str | None


@dataclass(frozen=True)
class DayCount:
    day: date
    decisions: int
    reliable: int  # with an explanation whose attributions add up (explanation.reliable)


@dataclass(frozen=True)
class DecisionSummary:
    """A decision without personal data: id (random), model, time, explanation quality."""

    decision_id: str
    model: str  # NAME@VERSION
    created_at: datetime
    method: str | None
    reliable: bool | None
    has_subject: bool
    erased: bool


@dataclass(frozen=True)
class DecisionsPage:
    tenant: str | None  # None: every tenant (no API keys configured)
    days: tuple[DayCount, ...]  # oldest first, every day of the window
    total: int
    reliable: int
    recent: tuple[DecisionSummary, ...]


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    events: int
    head_sequence: int
    head_hash: str
    verified_at: datetime
    first_bad_sequence: int | None = None
    problem: str | None = None
    checkpoint_sequence: int | None = None  # the newest checkpoint checked, if any
    checkpoints_ok: bool | None = None


@dataclass(frozen=True)
class AuditPage:
    chain: ChainStatus
    recent: tuple[EventRow, ...]
    counts: dict[str, int] = field(default_factory=dict)


class DashboardBackend(Protocol):
    def auth_required(self) -> bool:
        """True when API keys are configured: then every page needs a key with ``read``."""
        ...

    def inventory(self) -> list[InventoryRow]:
        """Every registered model version, by name then version."""
        ...

    def model_version(self, name: str, version: int, *, tenant: str | None) -> ModelPage:
        """One model version's page; NotFoundError when it is not registered."""
        ...

    def policy_run(self, run_id: int) -> RunPage:
        """One recorded policy run; NotFoundError when there is none."""
        ...

    def decisions(self, tenant: str | None, *, days: int, limit: int) -> DecisionsPage:
        """Decision volume per day over ``days`` days and the ``limit`` newest decisions."""
        ...

    def audit(self, tenant: str | None, *, limit: int) -> AuditPage:
        """The chain's status (verified at most once a minute) and the newest events."""
        ...

    def card(self, name: str, version: int, fmt: Literal["html", "pdf"]) -> bytes:
        """The model card (latest run included) as UTF-8 HTML or PDF bytes."""
        ...
