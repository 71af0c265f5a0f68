"""Cross-checking the recorded policy runs against the audit log.

Part of :meth:`Store.verify_registry` (see :mod:`govkit.store._registry_verify`). A
run's row, its check rows and its ``policy.run`` event were written in one transaction
(:func:`govkit.store._runs.insert_run`), so the event says what the rows held. Each
``govkit_runs`` row is compared with the event its ``audit_sequence`` names:

- its columns: run id, model (``NAME@VER``), policy name and digest, verdict
  (``status``), data fingerprint, and who recorded it (the event's actor, not shown);
- its ``result`` JSON, which cards and ``Store.latest_run`` read: model, policy name
  and digest, data fingerprint, and each rule's id, check id and status (the verdict
  follows from them);
- its ``govkit_check_results`` rows: each rule's id, check id and status.

Rows with no event and ``policy.run`` events whose row is gone are reported too. A
problem's subject is ``run:ID``. Not covered: the rules' values, bounds and evidence, the
row count and the timestamps (the event does not record them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select as sa_select

from govkit.store._registry_verify import Checker
from govkit.store._runs import run_mismatches
from govkit.store._schema import CheckResultRow, RunRow

__all__ = ["runs"]

_Rules = list[tuple[Any, Any, Any]]


def _rules(items: Any) -> _Rules | None:
    """``(rule_id, check_id, status)`` of each rule (None: not a list of objects)."""
    if not isinstance(items, list) or not all(isinstance(r, Mapping) for r in items):
        return None
    return [(r.get("rule_id"), r.get("check_id"), r.get("status")) for r in items]


def _compare_rules(check: Checker, subject: str, field: str, logged: Any, stored: Any) -> None:
    """The first rule that differs (rule ids, check ids and statuses are codes: shown)."""
    if logged == stored:
        return
    if logged is None or stored is None:
        check.add(subject, field, "the rules are not a list of objects")
    elif len(logged) != len(stored):
        check.add(
            subject,
            field,
            f"the audit log has {len(logged)} rule(s), the table has {len(stored)}",
        )
    else:
        position = next(
            i for i, pair in enumerate(zip(logged, stored, strict=True)) if pair[0] != pair[1]
        )
        check.add(
            subject,
            field,
            f"rule {position + 1}: the audit log says {list(logged[position])!r}, "
            f"the table says {list(stored[position])!r} (rule id, check id, status)",
        )


def _model_text(model: Any) -> Any:
    """``NAME@VER`` (or ``NAME``) of a ModelRef as dumped in a result."""
    if not isinstance(model, Mapping):
        return model
    name, version = model.get("name"), model.get("version")
    return name if version is None else f"{name}@{version}"


def runs(check: Checker) -> int:
    """Cross-check every run against its ``policy.run`` event; the number of runs checked."""
    if not check.columns("govkit_runs"):
        return 0
    events = {seq: (actor, payload) for seq, _t, actor, payload in check.events("policy.run")}
    conn = check.session.connection()
    table: Any = CheckResultRow.__table__  # type: ignore[attr-defined]
    rows: dict[int, _Rules] = {}
    for run_id, rule_id, check_id, status in conn.execute(
        sa_select(table.c.run_id, table.c.rule_id, table.c.check_id, table.c.status).order_by(
            table.c.run_id, table.c.position
        )
    ):
        rows.setdefault(int(run_id), []).append((rule_id, check_id, status))
    runs_table: Any = RunRow.__table__  # type: ignore[attr-defined]
    stream = conn.execute(
        sa_select(runs_table).order_by(runs_table.c.id).execution_options(yield_per=64)
    )
    checked = 0
    for run in stream:  # one batch of result JSON (kilobytes to megabytes each) at a time
        checked += 1
        subject = f"run:{run.id}"
        actor, payload = events.pop(int(run.audit_sequence), (None, None))
        if payload is None:
            check.add(
                subject, "policy.run", f"no policy.run event at sequence {run.audit_sequence}"
            )
            continue
        for field, logged, stored in run_mismatches(payload, run):
            check.compare(subject, field, logged, stored)
        check.compare(subject, "recorded_by", actor, run.recorded_by, hide=True)
        logged_rules = _rules(payload.get("rules"))
        _compare_rules(check, subject, "checks", logged_rules, rows.get(int(run.id), []))
        result = run.result if isinstance(run.result, Mapping) else {}
        policy = payload.get("policy") if isinstance(payload.get("policy"), Mapping) else {}
        assert isinstance(policy, Mapping)
        for field, logged in (
            ("model", payload.get("model")),
            ("policy_name", policy.get("name")),
            ("policy_digest", policy.get("digest")),
            ("data_fingerprint", payload.get("data_fingerprint")),
        ):
            stored = result.get(field)
            check.compare(
                subject,
                f"result.{field}",
                logged,
                _model_text(stored) if field == "model" else stored,
            )
        _compare_rules(check, subject, "result.checks", logged_rules, _rules(result.get("checks")))
    for sequence, (_actor, payload) in sorted(events.items()):
        check.add(
            f"run:{payload.get('run_id')}",
            "policy.run",
            f"event {sequence} is in the audit log but the run's row is gone",
        )
    return checked
