"""Time the HTTP decision endpoint against what it is made of, and print the ratio.

Issue 6, benchmark 2: ``POST /v1/models/{name}/versions/{version}/decisions`` with a
LightGBM model of 200 trees, the audit write included, served by uvicorn on loopback
(its own process) and called from this process. Target: its p50 <= in-process
explanation p50 + a no-op HTTP round trip on the same server + one audit append.

Set-up (not timed): 800 generated credit applications (seeded, tests/api_helpers.py),
an LGBMClassifier of 200 trees saved with skops and registered in a SQLite store, an
API key, and a server process running ``create_app(DecisionService(...))`` plus one
no-op route (``POST /bench/noop``: reads the same JSON body, answers a small JSON; no
auth, no model, no database).

1. The ratio, at one client: N rounds, each running in turn (fair under a drifting load
   on a shared machine): one HTTP decision; one no-op HTTP round trip; one in-process
   explanation of the same row with the service's cached explainer (validation, frame,
   predict, attributions, reasons -- what ``DecisionService.decide`` does before it
   records); one audit append (``Store.record_event``) to the same database file.
   The same again in steady state: runs of 10 calls of each part in a row (the
   interleaved rounds measure the in-process parts warm and the server cold).
2. p50, p99 and requests/s of the decision endpoint at 1, 4 and 16 concurrent clients
   (threads of this process, one keep-alive connection each), and of the no-op route.

    .venv/bin/python benchmarks/bench_api.py [--rounds N] [--requests N] [--threads-only]

``--threads-only`` serves with ``ApiSettings(decide_inline=False)`` (every decision in a
worker thread, as before the event loop made them), for comparison.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _sysinfo import contention  # noqa: E402
from api_helpers import MODEL, build_world  # noqa: E402
from fastapi import APIRouter, Request  # noqa: E402

TREES = 200
TARGET_RATIO = 1.0
RUN = 10  # calls in a row per part, in the steady-state measurement
DECIDE = f"/v1/models/{MODEL}/versions/1/decisions"


# -- the server process ---------------------------------------------------------------------


def _serve(
    db_url: str, subject_key: bytes, trusted: list[str], ports: object, inline: bool
) -> None:
    """Child process: the API over the benchmark's store, plus a no-op route."""
    import logging

    import uvicorn

    from govkit.api import ApiSettings, create_app
    from govkit.service import DecisionService
    from govkit.store import Store

    logging.basicConfig(level=logging.WARNING)
    router = APIRouter()

    @router.post("/bench/noop", include_in_schema=False)
    async def noop(request: Request) -> dict[str, bool]:
        json.loads(await request.body())
        return {"ok": True}

    store = Store.open(db_url)
    service = DecisionService(store, subject_key=subject_key, trusted_types=trusted)
    app = create_app(service, settings=ApiSettings(decide_inline=inline), routers=[router])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    config.load()
    factory = config.get_loop_factory()
    stack = (
        f"uvicorn {uvicorn.__version__}, HTTP {config.http_protocol_class.__name__}, "
        f"loop {getattr(factory, '__module__', 'asyncio')}"
    )
    ports.put((sock.getsockname()[1], stack))  # type: ignore[attr-defined]
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    store.close()


# -- the client ---------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection (http.client: the leanest client in Python)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: bytes) -> int:
        self.conn.request("POST", path, body=body, headers=self.headers)
        resp = self.conn.getresponse()
        resp.read()
        return resp.status

    def close(self) -> None:
        self.conn.close()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def load(port: int, token: str, path: str, bodies: list[bytes], clients: int, total: int) -> dict:
    """``total`` requests from ``clients`` threads; latencies, wall time, statuses."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker(k: int) -> None:
        client = Client(port, token)
        mine, seen = [], {}
        barrier.wait()
        for i in range(k, total, clients):
            start = time.perf_counter()
            status = client.post(path, bodies[i % len(bodies)])
            mine.append(time.perf_counter() - start)
            seen[status] = seen.get(status, 0) + 1
        client.close()
        with lock:
            latencies.extend(mine)
            for status, n in seen.items():
                statuses[status] = statuses.get(status, 0) + n

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"latencies": latencies, "wall": wall, "statuses": statuses}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="rounds of the ratio (part 1)")
    parser.add_argument("--requests", type=int, default=400, help="requests per load level")
    parser.add_argument(
        "--threads-only",
        action="store_true",
        help="serve with ApiSettings(decide_inline=False): every decision in a worker thread",
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="govkit-bench-api-"))
    print(f"setting up in {folder}: LightGBM {TREES} trees, SQLite store, API key ...")
    world = build_world(folder, n_estimators=TREES)
    token = world.keys["decide"]
    subject_key = secrets.token_bytes(32)
    rows = [world.row(i) for i in range(200)]
    bodies = [json.dumps({"features": row}).encode() for row in rows]

    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    server = ctx.Process(
        target=_serve,
        args=(world.db_url, subject_key, world.trusted_types, ports, not args.threads_only),
        daemon=True,
    )
    server.start()
    port, stack = ports.get(timeout=120)
    mode = "every decision in a worker thread" if args.threads_only else "decide_inline"
    print(f"server: {stack}; {mode}")
    for _ in range(600):  # wait until it answers
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
            break
        except OSError:
            time.sleep(0.05)
    try:
        client = Client(port, token)
        for body in bodies[:20]:  # warm up: explainer built and cached, key cached
            assert client.post(DECIDE, body) == 201
            client.post("/bench/noop", body)

        # the in-process explanation: the server's own steps before it records
        from govkit.service import validate_features

        service = world.service
        loaded = service.model(MODEL, 1)
        principal = service.authenticate(token)
        assert principal is not None

        def explain(row: dict) -> object:
            clean = validate_features(loaded.fields, row)
            return loaded.explainer.explain(service._frame(loaded, clean))

        for row in rows[:20]:
            explain(row)
        store = world.store

        samples: dict[str, list[float]] = {
            "http": [],
            "noop": [],
            "explain": [],
            "append": [],
            "decide": [],
        }
        for i in range(args.rounds):
            body, row = bodies[i % len(bodies)], rows[i % len(rows)]
            start = time.perf_counter()
            status = client.post(DECIDE, body)
            samples["http"].append(time.perf_counter() - start)
            assert status == 201, status
            samples["noop"].append(timed(lambda body=body: client.post("/bench/noop", body)))
            samples["explain"].append(timed(lambda row=row: explain(row)))
            samples["append"].append(
                timed(
                    lambda i=i: store.record_event(
                        "bench.append", {"round": i}, actor="bench", subject=None
                    )
                )
            )
            samples["decide"].append(
                timed(lambda row=row: service.decide(principal, MODEL, 1, row))
            )
        client.close()
        p50 = {k: statistics.median(v) for k, v in samples.items()}
        print(f"\n1. one client, p50 of {args.rounds} interleaved rounds ({contention()})")
        print(f"   in-process explanation      {ms(p50['explain'])}")
        print(f"   no-op HTTP round trip       {ms(p50['noop'])}")
        print(f"   one audit append (SQLite)   {ms(p50['append'])}")
        budget = p50["explain"] + p50["noop"] + p50["append"]
        print(f"   = budget                    {ms(budget)}")
        print(f"   HTTP decision (p50)         {ms(p50['http'])}")
        print(
            f"   (for reference: DecisionService.decide in-process, the record included: "
            f"{ms(p50['decide']).strip()})"
        )
        ratio = p50["http"] / budget
        verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
        print(f"   ratio {ratio:.2f}x (target <= {TARGET_RATIO:.1f}x) {verdict}")
        # What the endpoint cannot go below: the decision as the service makes it (its
        # record pseudonymises and encrypts, beyond one plain append) plus a round trip.
        floor = p50["decide"] + p50["noop"]
        print(
            f"   (for reference: in-process decide + no-op round trip = {ms(floor).strip()}, "
            f"{floor / budget:.2f}x the budget: the floor of any server of this service; "
            f"HTTP decision / that floor {p50['http'] / floor:.2f}x)"
        )

        # The rounds above measure the in-process parts right after the same explainer ran
        # in this process (warm caches), the server's decision after ~4 ms of this
        # process's work (its model data evicted). Runs of the same call in a row put
        # every part in the same, steady state: a server under steady traffic.
        steady: dict[str, list[float]] = {k: [] for k in ("http", "noop", "explain", "append")}
        calls: dict[str, Callable[[int], object]] = {
            "http": lambda i: client.post(DECIDE, bodies[i % len(bodies)]),
            "noop": lambda i: client.post("/bench/noop", bodies[i % len(bodies)]),
            "explain": lambda i: explain(rows[i % len(rows)]),
            "append": lambda i: store.record_event(
                "bench.append", {"round": i}, actor="bench", subject=None
            ),
        }
        for block in range(max(1, args.rounds // 10)):
            for name, call in calls.items():
                for i in range(RUN):
                    start = time.perf_counter()
                    call(block * RUN + i)
                    if i:  # the first of a run is the change of state
                        steady[name].append(time.perf_counter() - start)
        s50 = {k: statistics.median(v) for k, v in steady.items()}
        steady_budget = s50["explain"] + s50["noop"] + s50["append"]
        steady_ratio = s50["http"] / steady_budget
        print(
            f"\n   steady state, runs of {RUN} of each in a row (p50 of {len(steady['http'])}): "
            f"explanation {ms(s50['explain']).strip()} + no-op {ms(s50['noop']).strip()} + "
            f"append {ms(s50['append']).strip()} = {ms(steady_budget).strip()}; "
            f"HTTP decision {ms(s50['http']).strip()}"
        )
        print(
            f"   ratio {steady_ratio:.2f}x (target <= {TARGET_RATIO:.1f}x) "
            f"{'ok' if steady_ratio <= TARGET_RATIO else 'MISSED'}"
        )

        print(f"\n2. load: {args.requests} requests per level ({contention()})")
        print("   route             clients      p50        p99     req/s  statuses")
        for path, label in ((DECIDE, "decision"), ("/bench/noop", "no-op")):
            for clients in (1, 4, 16):
                result = load(port, token, path, bodies, clients, args.requests)
                lat = result["latencies"]
                print(
                    f"   {label:<16}  {clients:>7}  {ms(statistics.median(lat))} "
                    f"{ms(percentile(lat, 0.99))}  {len(lat) / result['wall']:8.1f}  "
                    f"{dict(sorted(result['statuses'].items()))}"
                )
        report = store.verify_chain()
        print(f"\n   audit chain after the run: {'verifies' if report.ok else report.problem}")
    finally:
        server.terminate()
        server.join(timeout=30)
        world.store.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
