"""Issue 6's reliability battery: 16 concurrent clients x 100 decisions over real HTTP.

Exactly 1,600 decisions recorded (one ``decision.recorded`` event each, no more, no
fewer), every one retrievable by its id with the features that were sent, the audit
chain verifying afterwards, and not a single 5xx (nor any other non-201) on the way.
The server is uvicorn on loopback in front of the real DecisionService over SQLite.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from api_helpers import MODEL, build_world, decision_events, serve  # noqa: E402

from govkit.api import create_app  # noqa: E402

CLIENTS = 16
PER_CLIENT = 100
DECIDE = f"/v1/models/{MODEL}/versions/1/decisions"


@pytest.mark.reliability
def test_16_clients_x_100_decisions(tmp_path):
    world = build_world(tmp_path / "world")
    try:
        _run(world)
    finally:
        world.store.close()


def _run(world) -> None:
    before = len(decision_events(world.store))
    statuses: Counter[int] = Counter()
    sent: dict[str, dict] = {}
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    with serve(create_app(world.service)) as url:

        def client(k: int) -> None:
            mine: dict[str, dict] = {}
            seen: Counter[int] = Counter()
            with httpx.Client(base_url=url, timeout=120, headers=world.auth("decide")) as http:
                start.wait()
                for i in range(PER_CLIENT):
                    features = world.row((k * PER_CLIENT + i) % len(world.data))
                    subject = f"client-{k}" if i % 10 == 0 else None
                    payload = {"features": features}
                    if subject:
                        payload["subject_id"] = subject
                    resp = http.post(DECIDE, json=payload)
                    seen[resp.status_code] += 1
                    if resp.status_code == 201:
                        mine[resp.json()["decision_id"]] = features
            with lock:
                statuses.update(seen)
                sent.update(mine)

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(client, range(CLIENTS)))

        assert statuses == Counter({201: CLIENTS * PER_CLIENT}), statuses
        assert len(sent) == CLIENTS * PER_CLIENT  # distinct ids

        # every decision retrievable, with what was sent; reads in parallel too
        ids = sorted(sent)

        def read(chunk: list[str]) -> list[tuple[str, int, dict | None]]:
            out = []
            with httpx.Client(base_url=url, timeout=120, headers=world.auth("read")) as http:
                for decision_id in chunk:
                    resp = http.get(f"/v1/decisions/{decision_id}")
                    body = resp.json() if resp.status_code == 200 else None
                    out.append((decision_id, resp.status_code, body))
            return out

        chunks = [ids[k::CLIENTS] for k in range(CLIENTS)]
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = [r for chunk in pool.map(read, chunks) for r in chunk]
    assert Counter(status for _, status, _ in results) == Counter({200: len(ids)})
    for decision_id, _, body in results:
        assert body["decision_id"] == decision_id
        assert body["features"] == sent[decision_id]

    events = decision_events(world.store)
    assert len(events) - before == CLIENTS * PER_CLIENT
    assert {e.payload["decision_id"] for e in events} >= set(ids)
    sequences = [e.sequence for e in world.store.audit_events()]
    assert sequences == list(range(1, len(sequences) + 1))  # no gaps, no duplicates
    report = world.store.verify_chain()
    assert report.ok, report.problem
