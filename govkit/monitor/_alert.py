"""The webhook a failing monitoring run POSTs once: aggregates and rule ids only."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from govkit.policy import LoadedPolicy, MonitoringSpec
from govkit.results import EvaluationResult

__all__ = ["build_alert", "send_alert"]

log = logging.getLogger(__name__)


def build_alert(
    result: EvaluationResult,
    run_id: int,
    since: datetime,
    until: datetime,
    erased: int,
    spec: MonitoringSpec,
    loaded: LoadedPolicy,
) -> dict[str, Any]:
    """The webhook body: aggregates and rule ids only, never a value or id of a person."""
    link = None
    if spec.alert is not None and spec.alert.dashboard_url:
        link = f"{spec.alert.dashboard_url.rstrip('/')}/dashboard/runs/{run_id}"
    return {
        "event": "govkit.monitor.failed",
        "model": str(result.model),
        "policy": {"name": result.policy_name, "digest": result.policy_digest},
        "verdict": result.status.value,
        "run_id": run_id,
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "decisions": result.n_rows,
        "erased_excluded": erased,
        "failing_rules": [
            {
                "rule_id": c.rule_id,
                "check_id": c.check_id,
                "status": c.status.value,
                "severity": c.severity,
                "value": c.value,
            }
            for c in result.checks
            if c.blocking
        ],
        "dashboard": link,
    }


def send_alert(alert: Any, body: dict[str, Any]) -> bool:
    """POST ``body`` to the webhook once; False (logged) when it fails or times out."""
    request = urllib.request.Request(
        alert.webhook,
        data=json.dumps(body, sort_keys=True).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "govkit-monitor"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=alert.timeout) as response:  # noqa: S310
            ok: bool = 200 <= response.status < 300
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        log.warning("the monitoring alert could not be delivered: %s", type(exc).__name__)
        return False
    if not ok:
        log.warning("the monitoring webhook answered %s", response.status)
    return ok
