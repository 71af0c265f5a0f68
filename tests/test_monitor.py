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
from api_helpers import FEATURES, build_world, metadata
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


# -- prediction drift: the recorded scores against the model's scores on the reference -------

SCORE_POLICY = """\
schema_version: 1
name: score-monitoring
monitoring: {min_decisions: 30}
rules:
  - {id: score-drift, kind: drift, statistic: psi, scope: prediction, min_rows: 30,
     threshold: {max: 0.25}}
"""


def _trust_args(w):
    return [a for t in w.trusted_types for a in ("--trust-type", t)]


def test_prediction_drift_compares_recorded_scores_with_the_model_on_the_reference(world, tmp_path):
    from govkit.checks._drift_stats import psi
    from govkit.monitor import monitor

    w, folder, now = world
    policy = tmp_path / "scores.yaml"
    policy.write_text(SCORE_POLICY)
    base = ["monitor", "credit@1", "--policy", policy, "--reference-data", folder / "train.csv"]
    earlier = (now - timedelta(days=5)).isoformat()
    # was always N/A: "needs the model itself; only recorded predictions were given"
    r = cli(*base, "--window", "7d", "--end", earlier, *_trust_args(w), "--db", w.db_url)
    assert r.exit_code == 0, r.output
    assert "PASS   score-drift: PSI of the model's output: worst score (1)" in r.stdout
    assert "computed on 60 decisions" in r.stdout and "reference: credit-train@1" in r.stdout
    r = cli(*base, "--window", "3d", *_trust_args(w), "--db", w.db_url)  # incomes tripled
    assert r.exit_code == 1 and "FAIL   score-drift" in r.stdout, r.output

    out = monitor(
        "credit@1",
        policy=policy,
        window="3d",
        store=w.store,
        reference_data=folder / "train.csv",
        trusted_types=w.trusted_types,
    )
    window = w.store.decision_window("credit", versions=[1], since=out.since, until=out.until)
    recorded = [d.explanation.score for d in window.decisions]
    on_reference = w.model.predict_proba(w.data[FEATURES])[:, 1]
    assert out.result.checks[0].value == pytest.approx(psi(on_reference, recorded).statistic)


def test_prediction_drift_without_the_trusted_types_says_why_the_model_is_not_loaded(
    world, tmp_path
):
    w, folder, now = world
    policy = tmp_path / "scores.yaml"
    policy.write_text(SCORE_POLICY)
    r = cli(
        "monitor", "credit@1", "--policy", policy, "--reference-data", folder / "train.csv",
        "--window", "3d", "--db", w.db_url,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (
        "N/A    score-drift: needs the model credit@1 to score the reference data, and its "
        "registered artifact could not be loaded: " in r.stdout
    )
    assert "--trust-type lightgbm" in r.stdout and "computed on" not in r.stdout


def test_prediction_drift_is_an_error_when_the_model_does_not_reproduce_the_record(world, tmp_path):
    from govkit.decisions import Decision

    w, folder, now = world
    loaded = w.service.model("credit", 1)
    when = now - timedelta(days=60)
    for i in range(40):
        features = {f: float(w.data.iloc[200 + i][f]) for f in FEATURES}
        explanation = loaded.explainer.explain(w.service._frame(loaded, features))
        if i % 4 == 0:  # a score this artifact did not give
            explanation = explanation.model_copy(update={"score": 0.5 * explanation.score})
        decision = Decision(
            decision_id=f"dec_x{i:04d}",
            tenant="acme",
            model=loaded.record.ref,
            created_at=when + timedelta(minutes=i),
            features=features,
            explanation=explanation,
        )
        w.store.record_decision(decision, subject_pseudonym=f"{i + 500:064x}", actor="test")
    policy = tmp_path / "scores.yaml"
    policy.write_text(SCORE_POLICY)
    r = cli(
        "monitor", "credit@1", "--policy", policy, "--reference-data", folder / "train.csv",
        "--window", "1d", "--end", (when + timedelta(hours=12)).isoformat(), *_trust_args(w),
        "--db", w.db_url,
    )  # fmt: skip
    assert r.exit_code == 1, r.output
    assert (
        "ERROR  score-drift: the registered model credit@1, scoring the recorded inputs again, "
        "does not reproduce the recorded output of 10 of 40 decisions" in r.stdout
    )


# -- drift without --reference-data ------------------------------------------------------------


def test_drift_without_reference_data_says_how_to_give_it(world, tmp_path):
    w, _folder, _now = world
    policy = tmp_path / "drift.yaml"
    policy.write_text(SCORE_POLICY.replace("scope: prediction, ", ""))
    r = cli("monitor", "credit@1", "--policy", policy, "--window", "3d", "--db", w.db_url)
    assert r.exit_code == 0, r.output
    assert (
        "N/A    score-drift: needs reference data: pass --reference-data FILE, the training "
        "data of credit@1 (credit-train@1, sha256:" in r.stdout
    )
    assert (
        "; its registration records no location to read it from (training data registered "
        "with --source file:///PATH is read from there)" in r.stdout
    )


def test_drift_reads_the_training_data_at_its_recorded_location(world, tmp_path):
    from govkit.workflows import register_dataset, register_model

    w, folder, now = world
    train = tmp_path / "train.csv"
    w.data.to_csv(train, index=False)
    register_dataset(
        train, name="credit-train-src", source_uri=train.as_uri(), store=w.store, actor="test"
    )
    register_model(
        folder / "credit.skops",
        name="credit-src",
        store=w.store,
        training_data="credit-train-src@1",
        metadata=metadata(),
        trusted_types=w.trusted_types,
        actor="test",
    )
    from govkit.decisions import Decision

    loaded = w.service.model("credit-src", 1)
    for i in range(40):
        features = {f: float(w.data.iloc[300 + i][f]) for f in FEATURES}
        w.store.record_decision(
            Decision(
                decision_id=f"dec_s{i:04d}",
                tenant="acme",
                model=loaded.record.ref,
                created_at=now - timedelta(hours=1, minutes=i),
                features=features,
                explanation=loaded.explainer.explain(w.service._frame(loaded, features)),
            ),
            subject_pseudonym=f"{i + 900:064x}",
            actor="test",
        )
    policy = tmp_path / "drift.yaml"
    policy.write_text(SCORE_POLICY.replace("scope: prediction, ", "features: {income: null}, "))
    args = ["monitor", "credit-src@1", "--policy", policy, "--window", "1d", "--db", w.db_url]
    r = cli(*args)
    assert r.exit_code == 0, r.output
    assert (
        f"reference data: credit-train-src@1, read from its recorded location {train} "
        "(fingerprint matches; no --reference-data given)" in r.stdout
    )
    assert "PASS   score-drift: PSI of 1 feature(s)" in r.stdout

    train.write_text(train.read_text().replace("\n1", "\n2", 1))  # one value changed
    r = cli(*args)
    assert r.exit_code == 0 and "N/A    score-drift: needs reference data" in r.stdout
    assert f"the file at its recorded location {train.as_uri()} has changed since " in r.stdout
    train.unlink()
    r = cli(*args)
    assert r.exit_code == 0, r.output
    assert (
        f"its recorded location {train.as_uri()} cannot be read ({train}: data file not found)"
        in r.stdout
    )


# -- fairness by an attribute decisions do not record --------------------------------------------

FAIR_POLICY = """\
schema_version: 1
name: fair-monitoring
monitoring: {min_decisions: 30}
rules:
  - {id: dpr-gender, kind: fairness, metric: demographic_parity_ratio,
     sensitive_features: [gender], threshold: {min: 0.5}}
"""


def _attributes(path, rows, header="decision_id,gender"):
    path.write_text(header + "\n" + "".join(f"{r}\n" for r in rows))
    return path


def test_fairness_by_an_unrecorded_attribute_needs_an_attributes_file(world, tmp_path):
    w, _folder, now = world
    policy = tmp_path / "fair.yaml"
    policy.write_text(FAIR_POLICY)
    earlier = (now - timedelta(days=5)).isoformat()
    base = ["monitor", "credit@1", "--policy", policy, "--window", "7d", "--end", earlier]
    # was exit 2: "the data lacks 1 column(s) it needs: 'gender' ... __govkit_outcome"
    r = cli(*base, "--db", w.db_url)
    assert r.exit_code == 0, r.output
    assert (
        "N/A    dpr-gender: groups by 'gender', which decisions do not record (they record "
        "the inputs of credit@1); pass --attributes FILE.csv with columns decision_id,gender "
        "(read for this run only, never stored)" in r.stdout
    )
    assert "__govkit" not in r.output

    rows = [f"dec_m{i:04d},{'F' if i % 2 else 'M'}" for i in range(50)]
    attrs = _attributes(tmp_path / "attrs.csv", rows)
    before = len(w.store.audit_events())
    r = cli(*base, "--attributes", attrs, "--db", w.db_url)
    assert r.exit_code in (0, 1), r.output
    assert "dpr-gender: demographic_parity_ratio by gender" in r.stdout
    assert "[computed on 50 decisions with attributes; window: 60 decisions, " in r.stdout
    assert " outcomes, 50 with attributes; attributes: " in r.stdout
    import hashlib

    digest = hashlib.sha256(attrs.read_bytes()).hexdigest()
    assert f"attributes: {attrs} (sha256 {digest[:16]}…), given for 50 of 60" in r.stdout
    events = w.store.audit_events()[before:]
    assert [e.event_type for e in events] == ["policy.run"]  # nothing else is recorded
    assert "dec_m0001" not in json.dumps([e.payload for e in events])


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "decision_id,gender\ndec_m0001,F\ndec_m0002,M\ndec_m0001,M\n",
            "attrs.csv:4: decision_id 'dec_m0001' is given twice (first at {p}:2); one row "
            "per decision",
        ),
        (
            "decision_id,gender\ndec_m0001,F\ndec_m0002,\n",
            "attrs.csv:3: 'gender' empty for decision dec_m0002; every decision in the file "
            "needs a value in every column",
        ),
        ("decision_id,gender\ndec_m0001,F,x\n", "attrs.csv:2: expected 2 fields"),
        ("id,gender\ndec_m0001,F\n", "attrs.csv:1: expected a CSV header with a decision_id"),
        (
            "decision_id,sex\ndec_m0001,F\n",
            "attrs.csv:1: no column 'gender', which rule 'dpr-gender' groups by and decisions "
            "do not record; columns: sex",
        ),
        (
            "decision_id,gender,age\ndec_m0001,F,40\n",
            "attrs.csv:1: column 'age' is an input of credit@1, recorded with each decision",
        ),
        ("decision_id,gender\n", "attrs.csv: no data rows (only a header)"),
        ("decision_id,gender\ndec_m0001,caf\xe9\n", "attrs.csv:2: not UTF-8 text (byte 0xe9)"),
    ],
    ids=["duplicate", "empty", "fields", "header", "no-column", "model-input", "no-rows", "utf8"],
)
def test_a_bad_attributes_file_is_refused_naming_the_line(world, tmp_path, text, message):
    w, _folder, _now = world
    policy = tmp_path / "fair.yaml"
    policy.write_text(FAIR_POLICY)
    attrs = tmp_path / "attrs.csv"
    attrs.write_bytes(text.encode("latin-1"))
    before = len(w.store.audit_events())
    r = cli(
        "monitor", "credit@1", "--policy", policy, "--window", "7d", "--attributes", attrs,
        "--db", w.db_url,
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert f"govkit: error: {tmp_path}/" + message.format(p=attrs) in r.stderr
    assert "caf" not in r.stderr and ",F" not in r.stderr  # no attribute value repeated
    assert len(w.store.audit_events()) == before
