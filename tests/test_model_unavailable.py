"""A registered model the server cannot load is the server's problem: 503, never 422 or 500.

Its file missing, changed since registration, or of types this server does not trust:
the client gets 503 ``model_unavailable`` (no path, no digest: those are the server's),
the operator an ERROR log line naming the model and the cause, and no decision is
recorded. The failure is not cached: once the file is back, the next request is served.
The CLI (`govkit explain`), where the caller is the operator, says the cause and exits 2.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil

import pytest
from api_helpers import MODEL, assert_error, build_world
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from govkit.api import create_app
from govkit.cli._app import app
from govkit.service import DecisionService

DECIDE = f"/v1/models/{MODEL}/versions/1/decisions"
LOGGER = "govkit.api._routes"


@pytest.fixture
def world(tmp_path):  # type: ignore[no-untyped-def]
    w = build_world(tmp_path / "world")
    yield w
    w.store.close()


def _decisions(world) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for e in world.store.audit_events() if e.event_type == "decision.recorded")


def _served_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]


def _assert_unavailable(resp, world, caplog, cause: str) -> None:  # type: ignore[no-untyped-def]
    error = assert_error(resp, 503, "model_unavailable")
    assert resp.headers["retry-after"] == "60"
    assert str(world.folder) not in resp.text and "sha256" not in resp.text.lower()
    assert "credit.skops" not in error["message"]
    (record,) = _served_logs(caplog)
    message = record.getMessage()
    assert message.startswith(f"model {MODEL}@1 cannot be served: ") and cause in message
    assert _decisions(world) == 0


def test_a_missing_file_is_503_and_served_again_once_it_is_back(world, caplog):
    artifact = world.folder / "credit.skops"
    moved = artifact.with_suffix(".moved")
    artifact.rename(moved)
    service = DecisionService(
        world.store, subject_key=secrets.token_bytes(32), trusted_types=world.trusted_types
    )
    with TestClient(create_app(service)) as client:
        resp = client.post(DECIDE, json={"features": world.row(0)}, headers=world.auth("decide"))
        _assert_unavailable(resp, world, caplog, "model artifact not found")
        moved.rename(artifact)  # the operator restores it: no restart needed
        resp = client.post(DECIDE, json={"features": world.row(0)}, headers=world.auth("decide"))
        assert resp.status_code == 201, resp.text
    assert _decisions(world) == 1


def test_a_changed_file_is_503_naming_the_change_to_the_operator(world, caplog):
    artifact = world.folder / "credit.skops"
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    service = DecisionService(
        world.store, subject_key=secrets.token_bytes(32), trusted_types=world.trusted_types
    )
    with TestClient(create_app(service)) as client:
        resp = client.post(DECIDE, json={"features": world.row(0)}, headers=world.auth("decide"))
    _assert_unavailable(resp, world, caplog, "the file was changed after registration")


def test_types_this_server_does_not_trust_are_503(world, caplog):
    service = DecisionService(world.store, subject_key=secrets.token_bytes(32), trusted_types=[])
    with TestClient(create_app(service)) as client:
        resp = client.post(DECIDE, json={"features": world.row(0)}, headers=world.auth("decide"))
    _assert_unavailable(resp, world, caplog, "lightgbm")


def test_an_unknown_version_is_still_404(world):
    service = DecisionService(
        world.store, subject_key=secrets.token_bytes(32), trusted_types=world.trusted_types
    )
    with TestClient(create_app(service)) as client:
        resp = client.post(
            f"/v1/models/{MODEL}/versions/9/decisions",
            json={"features": world.row(0)},
            headers=world.auth("decide"),
        )
    assert_error(resp, 404, "not_found")


def test_the_cli_names_the_cause_and_exits_2(world, tmp_path):
    artifact = world.folder / "credit.skops"
    shutil.move(artifact, tmp_path / "elsewhere.skops")
    person = tmp_path / "person.json"
    person.write_text(json.dumps(world.row(0)))
    args = ["explain", f"{MODEL}@1", "--input", str(person), "--db", world.db_url]
    for trusted in world.trusted_types:
        args += ["--trust-type", trusted]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    assert f"model {MODEL}@1 cannot be served: {artifact}: model artifact not found" in r.stderr
    assert "Traceback" not in r.output
    assert _decisions(world) == 0


def test_an_explainer_the_server_cannot_build_is_503(world, caplog, monkeypatch):
    """E.g. a linear model served without --background: the server's setup, not the request."""
    from govkit.explainers import DecisionExplainer
    from govkit.explainers._errors import ExplanationError

    def no_background(*args, **kwargs):
        raise ExplanationError("LinearModel cannot be explained without background data")

    monkeypatch.setattr(DecisionExplainer, "build", no_background)
    service = DecisionService(
        world.store, subject_key=secrets.token_bytes(32), trusted_types=world.trusted_types
    )
    with TestClient(create_app(service)) as client:
        resp = client.post(DECIDE, json={"features": world.row(0)}, headers=world.auth("decide"))
    _assert_unavailable(resp, world, caplog, "without background data")
