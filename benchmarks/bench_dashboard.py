"""Dashboard inventory page with 500 model versions and 10,000 audit events, server-side.

Seeded data written with direct store calls (datasets, 500 model versions, a policy
run for each, events up to 10,000), then the inventory page is requested in process
(FastAPI TestClient, no network). Target: under 1 s. Baseline in the same run: the bare
``Store.list_model_versions()`` the page cannot avoid, to show what the page adds.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _sysinfo import contention

N_MODELS = 500
N_EVENTS = 10_000
TIERS = ["high", "limited"]


def populate(store) -> None:  # noqa: ANN001
    from govkit.records import ColumnSchema, ModelMetadata, ModelRef
    from govkit.results import Bound, CheckResult, EvaluationResult, Status, Waiver

    rng = random.Random(8)
    store.add_dataset(
        name="base", version=None, fingerprint="sha256:" + "0" * 64, order_independent=False,
        row_count=1000, columns=[ColumnSchema(name="x", dtype="float")], source_uri=None,
        parents=[], transformation=None, actor="bench",
    )  # fmt: skip
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(N_MODELS):
        name = f"model-{i:03d}"
        store.add_model_version(
            name=name, version=None, artifact_uri=f"file:///m/{i}", artifact_sha256="a" * 64,
            artifact_format="skops", flavour="sklearn", estimator="LogisticRegression",
            metadata=ModelMetadata(owner=f"team-{i % 17}", risk_tier=rng.choice(TIERS)),
            training_data=None, evaluation_data=None, actor="bench",
        )  # fmt: skip
        checks = []
        for rule in ("dp-sex", "accuracy", "auc"):
            value = rng.uniform(0.6, 1.0)
            ok = value >= 0.8
            waiver = None
            status = Status.PASS if ok else Status.FAIL
            if not ok and rule == "dp-sex" and i % 3 == 0:
                status = Status.WAIVED
                waiver = Waiver(
                    rule_id=rule,
                    model=name,
                    justification="interim approval",
                    approver="cro",
                    expires=(t0 + timedelta(days=400)).date(),
                )
            checks.append(
                CheckResult(
                    rule_id=rule,
                    check_id=f"x.{rule}",
                    kind="performance",
                    severity="error",
                    status=status,
                    value=value,
                    bound=Bound(min=0.8),
                    waiver=waiver,
                )  # fmt: skip
            )
        start = t0 + timedelta(hours=i)
        store.record_run(
            EvaluationResult(
                policy_name="gate", policy_digest="sha256:" + "1" * 64,
                model=ModelRef(name=name, version=1), n_rows=1000, started_at=start,
                finished_at=start + timedelta(seconds=5), govkit_version="bench",
                checks=tuple(checks),
            ),
            actor="bench",
        )  # fmt: skip
    have = len(store.audit_events())
    batch = [("bench.note", {"n": k}, None) for k in range(N_EVENTS - have)]
    for k in range(0, len(batch), 1000):
        store.record_events(batch[k : k + 1000], actor="bench")


def main() -> None:
    from fastapi.testclient import TestClient

    from govkit.api import create_app
    from govkit.dashboard import DashboardData
    from govkit.service import DecisionService
    from govkit.store import Store

    print(contention())
    with (
        tempfile.TemporaryDirectory() as tmp,
        Store.open(f"sqlite:///{Path(tmp) / 'b.db'}") as store,
    ):
        started = time.perf_counter()
        populate(store)
        print(f"populated {N_MODELS} models, {len(store.audit_events())} events in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        app = create_app(DecisionService(store), dashboard=DashboardData(store))
        with TestClient(app) as client:
            client.get("/dashboard/")  # warm-up: templates compiled, connections opened
            pages, bases = [], []
            for _ in range(7):
                t = time.perf_counter()
                resp = client.get("/dashboard/", headers={"Accept": "text/html"})
                pages.append(time.perf_counter() - t)
                assert resp.status_code == 200 and resp.text.count("<tr>") == N_MODELS + 1
                t = time.perf_counter()
                store.list_model_versions()
                bases.append(time.perf_counter() - t)
            audit = []
            for _ in range(3):
                t = time.perf_counter()
                client.get("/dashboard/audit?limit=50", headers={"Accept": "text/html"})
                audit.append(time.perf_counter() - t)
        page, base = statistics.median(pages), statistics.median(bases)
        print(f"inventory page ({N_MODELS} models, {N_EVENTS} events): median {page * 1000:.0f} ms "
              f"(target < 1000 ms: {'met' if page < 1 else 'MISSED'})")  # fmt: skip
        print(f"baseline Store.list_model_versions(): median {base * 1000:.0f} ms; "
              f"page / baseline = {page / base:.2f}x")  # fmt: skip
        print(f"audit page (first call verifies {N_EVENTS} events, then cached 60 s): "
              f"{', '.join(f'{a * 1000:.0f}' for a in audit)} ms")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
