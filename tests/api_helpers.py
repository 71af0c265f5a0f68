"""The real world the HTTP API tests run against, and a loopback server for it.

A SQLite audit store in a temporary folder; a LightGBM credit model trained on seeded
data and registered with metadata (feature wording, decision meaning, contact); API
keys of two tenants with different scopes; a :class:`govkit.service.DecisionService`
over it all. Nothing is faked.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEATURES = ["income", "age", "debt", "years_employed"]
MODEL = "credit"
DECIDE = f"/v1/models/{MODEL}/versions/1/decisions"

#: strings that must never come back in an error body or reach a log
CANARY = "CANARY-d41d8cd9"
CANARY_SUBJECT = "canary.person@example.org"


def credit_data(n: int = 800, *, seed: int = 7) -> pd.DataFrame:
    """Seeded applications: repaid (1) is likelier with income, less likely with debt."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "income": rng.normal(52_000, 16_000, n).clip(8_000, None).round(0),
            "age": rng.integers(18, 80, n).astype(float),
            "debt": rng.gamma(2.0, 6_000, n).round(0),
            "years_employed": rng.integers(0, 40, n).astype(float),
        }
    )
    margin = (df.income - 50_000) / 12_000 - (df.debt - 12_000) / 7_000 + df.years_employed / 20
    df["repaid"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-margin))).astype(int)
    return df


def metadata():
    from govkit.records import DecisionSpec, FeatureSpec, ModelMetadata

    return ModelMetadata(
        description="Credit approval model (test)",
        owner="credit-risk team",
        contact="appeals@example.com",
        target="repaid",
        positive_label=1,
        features={
            "income": FeatureSpec(
                description="reported annual income",
                kind="money",
                unit="EUR",
                actionable=True,
                min=0,
                max=400_000,
                step=1_000,
                data_category="financial situation",
            ),
            "age": FeatureSpec(
                description="age", kind="years", immutable=True, data_category="identity"
            ),
            "debt": FeatureSpec(
                description="outstanding debt",
                kind="money",
                unit="EUR",
                actionable=True,
                min=0,
                max=200_000,
                step=500,
                data_category="financial situation",
            ),
            "years_employed": FeatureSpec(
                description="years in employment", kind="years", data_category="employment"
            ),
        },
        decision=DecisionSpec(
            subject="credit application",
            how_to_contest="Write to appeals@example.com within 30 days.",
            human_review="Ask for a review of the decision by a credit officer.",
            controller="Example Bank",
            reasons=3,
        ),
    )


@dataclass
class World:
    folder: Path
    db_url: str
    store: Any  # govkit.store.Store
    service: Any  # govkit.service.DecisionService
    model: Any  # the fitted LGBMClassifier
    data: pd.DataFrame
    trusted_types: list[str]
    keys: dict[str, str] = field(default_factory=dict)  # role -> token

    def row(self, i: int = 0) -> dict[str, float]:
        return {f: float(self.data[f].iloc[i]) for f in FEATURES}

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


KEY_SCOPES = {
    "decide": ("acme", ["decide", "read"]),
    "read": ("acme", ["read"]),
    "admin": ("acme", ["admin"]),
    "all": ("acme", ["decide", "read", "admin"]),
    "other": ("globex", ["decide", "read", "admin"]),
}


def build_world(folder: Path, *, n_estimators: int = 40) -> World:
    """Train, register and key everything in ``folder``; returns the open world."""
    import lightgbm as lgb
    import skops.io as sio

    from govkit.service import DecisionService
    from govkit.store import Store
    from govkit.workflows import register_dataset, register_model

    folder.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{folder / 'govkit.db'}"
    data = credit_data()
    # n_jobs=1: OpenMP threads on a busy 2-core machine spin for seconds per tree
    model = lgb.LGBMClassifier(
        n_estimators=n_estimators, num_leaves=15, n_jobs=1, verbose=-1, random_state=0
    ).fit(data[FEATURES], data["repaid"])
    artifact = folder / "credit.skops"
    sio.dump(model, artifact)
    trusted = sio.get_untrusted_types(file=artifact)  # reviewed: LightGBM's own classes
    store = Store.open(db_url)
    register_dataset(data, name="credit-train", store=store, actor="test")
    register_model(
        artifact,
        name=MODEL,
        store=store,
        training_data="credit-train@1",
        metadata=metadata(),
        trusted_types=trusted,
        actor="test",
    )
    world = World(
        folder=folder,
        db_url=db_url,
        store=store,
        service=DecisionService(store, subject_key=secrets.token_bytes(32), trusted_types=trusted),
        model=model,
        data=data,
        trusted_types=trusted,
    )
    for role, (tenant, scopes) in KEY_SCOPES.items():
        _info, token = store.create_api_key(tenant=tenant, scopes=scopes, name=role, actor="test")
        world.keys[role] = token
    return world


def assert_error(resp, status: int, code: str, *, fields: set[str] | None = None) -> dict:
    """The one error shape, the documented code for the status, no canary, no caching."""
    from govkit.api import ERROR_CODES

    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert ERROR_CODES[code].status == status
    assert isinstance(error["message"], str) and error["message"]
    for detail in error["details"]:
        assert set(detail) == {"field", "problem"}
    if fields is not None:
        assert {d["field"] for d in error["details"]} == fields
    text = resp.text
    for secret in (CANARY, CANARY_SUBJECT, "Traceback", '"input"'):
        assert secret not in text
    return error


def decision_events(store: Any) -> list[Any]:
    return [e for e in store.audit_events() if e.event_type == "decision.recorded"]


# -- a real server on a loopback port ------------------------------------------------------


@contextlib.contextmanager
def serve(app: Any, *, threads: int | None = None) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port (in a thread); yields the base URL."""
    import uvicorn

    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets; without it, Nagle
    # and the client's delayed ACK add ~40 ms to every response sent in two writes
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
