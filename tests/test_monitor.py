"""Monitoring recorded decisions: outcomes, drift that starts half-way, one alert, tiny windows.

A real LightGBM credit model and real recorded (encrypted) decisions in a SQLite file;
the webhook is a real HTTP listener on loopback.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from api_helpers import FEATURES, build_world
from typer.testing import CliRunner

from govkit.cli._app import app

POLICY = """\
schema_version: 1
name: credit-monitoring
monitoring:
  min_decisions: 30
  min_outcomes: 20
  alert: {{webhook: "{hook}", dashboard_url: "https://govkit.example.com", timeout: 2}}
rules:
  - {{id: income-drift, kind: drift, statistic: psi, features: {{income: null}},
     min_rows: 30, threshold: {{max: 0.25}}}}
  - {{id: accuracy, kind: performance, metric: accuracy, threshold: {{min: 0.5}},
     severity: warning}}
"""


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"GOVKIT_ACTOR": "ops"})


@pytest.fixture(scope="module")
def hook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from govkit.decisions import Decision

    folder = tmp_path_factory.mktemp("monitor")
    w = build_world(folder, n_estimators=20)
    w.data.to_csv(folder / "train.csv", index=False)
    svc = w.service
    loaded = svc.model("credit", 1)
    now = datetime.now(UTC)
    ids = []
    for i in range(120):
        row = w.data.iloc[i]
        features = {f: float(row[f]) for f in FEATURES}
        shifted = i >= 60  # the second half: incomes three times higher
        if shifted:
            features["income"] *= 3
        when = now - (timedelta(days=2) if shifted else timedelta(days=10)) + timedelta(minutes=i)
        explanation = loaded.explainer.explain(svc._frame(loaded, features))
        decision = Decision(
            decision_id=f"dec_m{i:04d}",
            tenant="acme",
            model=loaded.record.ref,
            created_at=when,
            features=features,
            explanation=explanation,
        )
        w.store.record_decision(decision, subject_pseudonym=f"{i:064x}", actor="test")
        ids.append((decision.decision_id, int(row["repaid"])))
    lines = ["decision_id,outcome"] + [f"{d},{y}" for d, y in ids[:100]]
    (folder / "outcomes.csv").write_text("\n".join(lines) + "\n")
    yield w, folder, now
    w.store.close()


def test_outcomes_import(world):
    w, folder, _now = world
    r = cli("decision", "outcomes", "import", folder / "outcomes.csv", "--db", w.db_url)
    assert r.exit_code == 0, r.output
    assert "100 outcomes recorded (0 replaced" in r.stdout
    events = [e for e in w.store.audit_events() if e.event_type == "decision.outcome_recorded"]
    assert len(events) == 100
    text = json.dumps([e.payload for e in events])
    assert '"outcome": 1' not in text and '"outcome": 0' not in text  # commitments only
    assert w.store.verify_chain().ok


def test_monitor_passes_before_the_shift_fails_after_it_and_alerts_once(world, hook, tmp_path):
    w, folder, now = world
    url, received = hook
    received.clear()
    policy = tmp_path / "monitoring.yaml"
    policy.write_text(POLICY.format(hook=url))
    base = ["monitor", "credit", "--policy", policy, "--reference-data", folder / "train.csv"]
    earlier = (now - timedelta(days=5)).isoformat()
    r = cli(*base, "--window", "7d", "--end", earlier, "--db", w.db_url)
    assert r.exit_code == 0, r.output
    assert "over 60 decisions (60 with outcomes, 0 erased excluded)" in r.stdout
    assert "computed on 60 decisions" in r.stdout and "computed on 60 outcomes" in r.stdout
    assert received == []

    r = cli(*base, "--window", "3d", "--db", w.db_url)
    assert r.exit_code == 1, r.output
    assert "FAIL   income-drift" in r.stdout and "alert sent" in r.stdout
    assert "computed on 40 outcomes" in r.stdout  # 100 outcomes: 60 old + 40 shifted
    assert len(received) == 1
    alert = received[0]
    assert alert["model"] == "credit@1" and alert["verdict"] == "FAIL"
    assert [f["rule_id"] for f in alert["failing_rules"]] == ["income-drift"]
    assert alert["dashboard"].startswith("https://govkit.example.com/dashboard/runs/")
    assert "dec_m" not in json.dumps(alert)  # no decision ids, no values
    runs = [e for e in w.store.audit_events() if e.event_type == "policy.run"]
    assert [e.payload["verdict"] for e in runs[-2:]] == ["PASS", "FAIL"]
    assert w.store.verify_chain().ok


def test_tiny_window_is_not_enough_data(world, tmp_path):
    w, folder, _now = world
    policy = tmp_path / "monitoring.yaml"
    policy.write_text(POLICY.format(hook="http://127.0.0.1:9/never"))
    r = cli("monitor", "credit", "--policy", policy, "--window", "1m", "--db", w.db_url)
    assert r.exit_code == 0, r.output
    assert "not enough data: 0 decisions in the window (minimum 30)" in r.stdout
    assert "not enough data: 0 outcomes in the window (minimum 20)" in r.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--window", "30x"], "--window: expected a number and a unit"),
        (
            ["--window", "0d"],
            "--window: expected a whole number from 1 to 999,999 before the unit; got 0d",
        ),
        (
            ["--window", "99999999d"],
            "--window: expected a whole number from 1 to 999,999 before the unit; got 99999999d",
        ),
        (["--window", "١d"], "--window: expected a number and a unit"),
        (["--window", "1d", "--end", "yesterday"], "--end: expected an ISO 8601 time"),
        (["--window", "1d", "--end", "2025-01-01T00:00:00"], "--end: give a time zone"),
        # these three were OverflowError tracebacks
        (
            ["--window", "30d", "--end", "0001-01-01T00:00:00+00:00"],
            "--end 0001-01-01T00:00:00+00:00 with --window 30d: the window must lie within "
            "the years 1 to 9999 (UTC)",
        ),
        (
            ["--window", "1d", "--end", "9999-12-31T23:00:00-05:00"],
            "the window must lie within the years 1 to 9999 (UTC)",
        ),
        (["--window", "999999d"], "--end (now) with --window 999999d: the window must lie"),
    ],
)
def test_monitor_bad_input_exits_2(world, tmp_path, args, message):
    w, _folder, _now = world
    policy = tmp_path / "monitoring.yaml"
    policy.write_text(POLICY.format(hook="http://127.0.0.1:9/x"))
    r = cli("monitor", "credit", "--policy", policy, *args, "--db", w.db_url)
    assert r.exit_code == 2 and message in r.stderr, r.output


def test_outcomes_import_bad_input(world, tmp_path):
    w, _folder, _now = world
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\nx,1\n")
    r = cli("decision", "outcomes", "import", bad, "--db", w.db_url)
    assert r.exit_code == 2 and "expected a CSV header with columns decision_id,outcome" in r.stderr
    bad.write_text("decision_id,outcome\ndec_nope,1\n")
    r = cli("decision", "outcomes", "import", bad, "--db", w.db_url)
    assert r.exit_code == 2 and "no decision 'dec_nope'" in r.stderr


@pytest.mark.parametrize(
    "content,message",
    [
        (  # was a UnicodeDecodeError traceback
            b"decision_id,outcome\ndec_m0110,1\ndec_m0111,caf\xe9\n",
            "bad.csv:3: not UTF-8 text (byte 0xe9); save the file as UTF-8",
        ),
        (  # was last-one-wins: the second row silently replaced the first
            b"decision_id,outcome\ndec_m0110,1\ndec_m0111,0\ndec_m0110,0\n",
            "bad.csv:4: decision_id 'dec_m0110' is given twice (first at {folder}/bad.csv:2); "
            "one outcome per decision",
        ),
        (  # was recorded: a label the model cannot predict counted as an error of every metric
            b"decision_id,outcome\ndec_m0110,1\ndec_m0111,repaid\n",
            "bad.csv:3: outcome 2 (decision dec_m0111): not a label of credit@1; "
            "expected one of: 0, 1; nothing was recorded",
        ),
        (
            b"decision_id,outcome\ndec_m0110,2\n",
            "bad.csv:2: outcome 1 (decision dec_m0110): not a label of credit@1; "
            "expected one of: 0, 1; nothing was recorded",
        ),
    ],
    ids=["not-utf8", "duplicate-id", "unknown-label", "unknown-number"],
)
def test_outcomes_import_refuses_a_bad_file_naming_the_line(world, tmp_path, content, message):
    w, _folder, _now = world
    before = len(w.store.audit_events())
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    r = cli("decision", "outcomes", "import", bad, "--db", w.db_url)
    assert r.exit_code == 2, r.output
    assert r.stderr == f"govkit: error: {tmp_path}/" + message.format(folder=tmp_path) + "\n"
    assert len(w.store.audit_events()) == before


def test_outcome_over_the_api(world):
    pytest.importorskip("fastapi")
    from api_helpers import assert_error
    from fastapi.testclient import TestClient

    from govkit.api import create_app

    w, _folder, _now = world
    url = "/v1/decisions/dec_m0110/outcome"
    with TestClient(create_app(w.service)) as client:
        first = client.post(url, json={"outcome": 1}, headers=w.auth("decide"))
        assert first.status_code == 200, first.text
        assert first.json() == {"decision_id": "dec_m0110", "recorded": True, "replaced": False}
        # 1.0 is the JSON integer 1 (JSON Schema; what JavaScript sends): recorded as 1
        whole = client.post(url, json={"outcome": 1.0}, headers=w.auth("decide"))
        assert whole.status_code == 200 and whole.json()["replaced"] is True
        assert (
            w.store.decision_window(
                "credit", versions=[1], since=_now - timedelta(days=30), until=_now
            ).outcomes["dec_m0110"]
            == 1
        )
        for refused in (1.5, 2.0**64, {"label": 1}):
            resp = client.post(url, json={"outcome": refused}, headers=w.auth("decide"))
            assert_error(resp, 422, "invalid_request")
        text = client.post(url, json={"outcome": "1"}, headers=w.auth("decide"))
        assert text.status_code == 200
        assert (
            w.store.decision_window(
                "credit", versions=[1], since=_now - timedelta(days=30), until=_now
            ).outcomes["dec_m0110"]
            == "1"
        )  # a string stays a string
        again = client.post(url, json={"outcome": 0}, headers=w.auth("decide"))
        assert again.json()["replaced"] is True
        assert_error(
            client.post(url, json={"outcome": 1}, headers=w.auth("other")), 404, "not_found"
        )
        assert_error(
            client.post(url, json={"outcome": 1}, headers=w.auth("read")), 403, "forbidden"
        )
        assert_error(
            client.post(url, json={"outcome": [1]}, headers=w.auth("decide")),
            422,
            "invalid_request",
        )
    window = w.store.decision_window(
        "credit", versions=[1], since=_now - timedelta(days=30), until=_now
    )
    assert window.outcomes["dec_m0110"] == 0  # the replacement, decrypted


def test_a_bad_row_in_the_middle_records_nothing(world, tmp_path):
    w, _folder, _now = world
    before = len(w.store.audit_events())
    bad = tmp_path / "partly.csv"
    bad.write_text("decision_id,outcome\ndec_m0110,1\ndec_nope,0\ndec_m0111,1\n")
    r = cli("decision", "outcomes", "import", bad, "--db", w.db_url)
    assert r.exit_code == 2, r.output
    assert "outcome 2 (decision dec_nope)" in r.stderr and "nothing was recorded" in r.stderr
    assert len(w.store.audit_events()) == before  # dec_m0110 was not recorded either
