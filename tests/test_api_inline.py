"""Decisions on the event loop's thread when nothing in them waits (ApiSettings.decide_inline).

A decision whose key and model version are in memory, with no counterfactual search and
the SQLite write lock free, is made where the request arrived: no trip to a worker
thread. Anything that would wait goes on in a worker thread: the first decision of a
model version (it loads the model), a counterfactual search, a key or alias not looked
up lately, and a write lock another writer holds; meanwhile the event loop keeps
answering. The backend is the real DecisionService over a SQLite file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from api_helpers import MODEL, build_world, decision_events, serve  # noqa: E402
from fastapi import APIRouter  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from govkit.api import ApiSettings, create_app  # noqa: E402
from govkit.exceptions import WouldWait  # noqa: E402
from govkit.lifecycle import set_alias  # noqa: E402

DECIDE = f"/v1/models/{MODEL}/versions/1/decisions"
BY_ALIAS = f"/v1/models/{MODEL}/aliases/champion/decisions"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("api-inline"))
    set_alias(f"{MODEL}@1", "champion", store=w.store, actor="test")
    yield w
    w.store.close()


def _calls(log: list, fn: Any, *args: Any, wait: bool = True, **kwargs: Any) -> Any:
    """``fn(*args, wait=wait, **kwargs)``, logged as (thread id, wait, how it ended)."""
    try:
        result = fn(*args, wait=wait, **kwargs)
    except WouldWait:
        log.append((threading.get_ident(), wait, "would wait"))
        raise
    log.append((threading.get_ident(), wait, "done"))
    return result


class _StoreSpy:
    def __init__(self, store: Any, records: list) -> None:
        self._store, self._records = store, records

    def record_decision(self, *args: Any, **kwargs: Any) -> Any:
        return _calls(self._records, self._store.record_decision, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class Spy:
    """A DecisionService of its own over the world's store, as the API's backend; logs
    where (which thread) and how (``wait``) it decided, recorded and loaded models."""

    def __init__(self, world: Any) -> None:
        from govkit.service import DecisionService

        self.decides: list[tuple[int, bool, str]] = []  # what the API asked
        self.records: list[tuple[int, bool, str]] = []  # what the service asked the store
        self.builds: list[int] = []  # threads that loaded the model version
        service = DecisionService(
            _StoreSpy(world.store, self.records),  # type: ignore[arg-type]
            subject_key=b"k" * 32,
            trusted_types=world.trusted_types,
        )
        build = service._build

        def spied_build(*args: Any) -> Any:
            self.builds.append(threading.get_ident())
            return build(*args)

        service._build = spied_build  # type: ignore[method-assign]
        self.service = service

    def decide(self, *args: Any, **kwargs: Any) -> Any:
        return _calls(self.decides, self.service.decide, *args, **kwargs)

    def clear(self) -> None:
        self.decides.clear()
        self.records.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)


def _loop_thread_route() -> APIRouter:
    router = APIRouter()

    @router.get("/test/loop-thread")
    async def loop_thread() -> dict[str, int]:
        return {"ident": threading.get_ident()}

    return router


def _post(client, world, url=DECIDE, row=0, **extra):
    return client.post(
        url, json={"features": world.row(row), **extra}, headers=world.auth("decide")
    )


def test_first_decision_loads_in_a_worker_then_decisions_stay_on_the_loop(world):
    spy = Spy(world)
    app = create_app(spy, routers=[_loop_thread_route()])
    with TestClient(app) as client:
        loop = client.get("/test/loop-thread").json()["ident"]
        # the key is looked up (in a worker) and known from now on; no model loaded yet
        missing = client.get("/v1/decisions/dec_missing", headers=world.auth("decide"))
        assert missing.status_code == 404
        before = len(decision_events(world.store))
        first = _post(client, world, row=0)
        assert first.status_code == 201, first.text
        # the loop found the model version not loaded; a worker loaded it and recorded
        assert spy.decides == [(loop, False, "would wait")]
        assert len(spy.builds) == 1 and spy.builds[0] != loop
        assert len(spy.records) == 1 and spy.records[0][1:] == (True, "done")
        assert spy.records[0][0] != loop
        spy.clear()
        bodies = [_post(client, world, row=i) for i in range(1, 6)]
        assert [b.status_code for b in bodies] == [201] * 5
        assert spy.decides == spy.records == [(loop, False, "done")] * 5
        # the same decisions as the worker-thread path: recorded, readable, chained
        assert len(decision_events(world.store)) == before + 6
        for body in bodies:
            read = client.get(body.headers["location"], headers=world.auth("decide"))
            assert read.json()["decision_id"] == body.json()["decision_id"]
            assert read.json()["score"] == body.json()["score"]
        assert world.store.verify_chain().ok


def test_a_counterfactual_search_goes_to_a_worker_thread(world):
    spy = Spy(world)
    app = create_app(spy, routers=[_loop_thread_route()])
    with TestClient(app) as client:
        loop = client.get("/test/loop-thread").json()["ident"]
        assert _post(client, world).status_code == 201  # loaded, key known
        spy.clear()
        resp = _post(client, world, row=1, counterfactual=True)
        assert resp.status_code == 201, resp.text
        assert "counterfactual" in resp.json()
        assert spy.decides == [(loop, False, "would wait")]
        assert len(spy.records) == 1 and spy.records[0][1:] == (True, "done")
        assert spy.records[0][0] != loop


def test_decide_inline_false_sends_every_decision_to_a_worker_thread(world):
    spy = Spy(world)
    app = create_app(spy, settings=ApiSettings(decide_inline=False), routers=[_loop_thread_route()])
    with TestClient(app) as client:
        loop = client.get("/test/loop-thread").json()["ident"]
        assert [_post(client, world, row=i).status_code for i in range(3)] == [201] * 3
    for log in (spy.decides, spy.records):
        assert [(wait, how) for _, wait, how in log] == [(True, "done")] * 3
        assert all(ident != loop for ident, _, _ in log)


def test_alias_decisions_look_the_alias_up_in_a_worker_then_stay_on_the_loop(world):
    spy = Spy(world)
    app = create_app(spy, routers=[_loop_thread_route()])
    with TestClient(app) as client:
        loop = client.get("/test/loop-thread").json()["ident"]
        assert _post(client, world).status_code == 201  # the model version is loaded
        spy.clear()
        first = _post(client, world, url=BY_ALIAS, row=1)
        assert first.status_code == 201, first.text
        assert first.json()["model"] == {"name": MODEL, "version": 1}
        # the alias was looked up in a worker thread, which then decided there too
        assert len(spy.decides) == 1 and spy.decides[0][1:] == (True, "done")
        assert spy.decides[0][0] != loop
        spy.clear()
        assert _post(client, world, url=BY_ALIAS, row=2).status_code == 201
        assert spy.decides == [(loop, False, "done")]


def test_bad_input_on_the_loop_gets_the_same_errors(world):
    """A decision refused on the event loop's thread: the same 422s, nothing recorded."""
    app = create_app(world.service)
    with TestClient(app) as client:
        assert _post(client, world).status_code == 201
        before = len(decision_events(world.store))
        row = world.row(0)
        row["income"] = "lots"
        resp = client.post(DECIDE, json={"features": row}, headers=world.auth("decide"))
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_features"
        assert resp.json()["error"]["details"][0]["field"] == "features.income"
        del row["income"]
        resp = client.post(DECIDE, json={"features": row}, headers=world.auth("decide"))
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_features"
        assert len(decision_events(world.store)) == before


def test_a_write_lock_held_elsewhere_waits_in_a_worker_and_the_loop_stays_free(world):
    """Over real HTTP: another writer holds SQLite's lock; the decision waits for it in a
    worker thread while the server goes on answering; then it is recorded, once."""
    spy = Spy(world)
    with serve(create_app(spy)) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert _post(client, world).status_code == 201  # loaded, key known, connection idle
        before = len(decision_events(world.store))
        other = sqlite3.connect(world.db_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        released = False
        try:
            with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=url, timeout=60) as second:
                pending = pool.submit(_post, second, world, DECIDE, 1)
                deadline = time.monotonic() + 30
                while "would wait" not in [how for _, _, how in spy.records[1:]]:
                    assert time.monotonic() < deadline, "the decision never tried the lock"
                    time.sleep(0.01)
                # the decision is waiting for the lock; the event loop is not
                for _ in range(3):
                    assert client.get("/healthz").status_code == 200
                assert not pending.done()
                other.rollback()
                released = True
                resp = pending.result(timeout=60)
        finally:
            if not released:
                other.rollback()
            other.close()
        assert resp.status_code == 201, resp.text
    assert len(decision_events(world.store)) == before + 1
    assert world.store.verify_chain().ok
