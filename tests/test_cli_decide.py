"""`govkit explain`, `decision show`, `apikey`, `subject`: decisions from the command line.

A real SQLite registry with the demo's pipeline on UCI Adult and the demo's metadata
(feature wording, decision spec, counterfactual bounds). Numbers are cross-checked
against the model itself: the score is its predict_proba, and base + sum of the
attributions is its log-odds.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, HGB_TYPE
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.store import Store

CANARY = "Zyxwvut-canary-4711"


def run(*args: str, db: str):
    return CliRunner().invoke(app, [*args, "--db", db])


@pytest.fixture(scope="module")
def registry(tmp_path_factory, adult_files):
    folder = tmp_path_factory.mktemp("decide")
    db = f"sqlite:///{folder / 'govkit.db'}"
    model = folder / "model.skops"
    shutil.copy(adult_files["model"], model)
    for name, key in (("adult-train", "train"), ("adult-test", "test")):
        assert (
            run("dataset", "register", str(adult_files[key]), "--name", name, db=db).exit_code == 0
        )
    r = run(
        "model", "register", str(model), "--name", "credit",
        "--training-data", "adult-train", "--evaluation-data", "adult-test",
        "--meta", str(EXAMPLES / "meta.yaml"), "--trust-type", HGB_TYPE, db=db,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return {"dir": folder, "db": db}


@pytest.fixture
def db(registry, tmp_path):
    shutil.copy(registry["dir"] / "govkit.db", tmp_path / "govkit.db")
    return f"sqlite:///{tmp_path / 'govkit.db'}"


@pytest.fixture
def applicant(adult_test, tmp_path):
    """The first test-set person the model refers for review, as the input JSON file."""
    from demo import FEATURES_CAT, FEATURES_NUM

    row = adult_test[FEATURES_CAT + FEATURES_NUM].iloc[[3]]
    values = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.iloc[0].items()}
    path = tmp_path / "row.json"
    path.write_text(json.dumps(values))
    return path, row, values


def _events(db: str) -> int:
    with Store.open(db) as store:
        return len(store.audit_events())


def explain(db: str, path, *more: str):
    return run("explain", "credit", "--input", str(path), "--trust-type", HGB_TYPE, *more, db=db)


def test_explain_prints_the_recorded_decision_and_agrees_with_the_model(db, applicant, adult_model):
    path, row, values = applicant
    before = _events(db)
    r = explain(db, path)
    assert r.exit_code == 0, r.output
    decision = json.loads(r.stdout)
    exp = decision["explanation"]
    proba = adult_model.predict_proba(row)[0, list(adult_model.classes_).index(">50K")]
    assert exp["score"] == pytest.approx(proba, abs=1e-12)
    assert exp["output_space"] == "log_odds"
    logit = math.log(proba / (1 - proba))
    assert exp["base_value"] + sum(exp["attributions"].values()) == pytest.approx(logit, abs=1e-6)
    assert exp["reliable"] and exp["additivity_error"] <= 1e-6
    assert set(exp["attributions"]) == set(values)  # the columns a person recognises
    assert exp["outcome"] == (
        "passed pre-screening" if proba >= 0.5 else "referred for manual review"
    )
    assert decision["features"] == values
    assert decision["audit_sequence"] == before + 1 == _events(db)
    assert f"decision {decision['decision_id']}" in r.stderr

    shown = run("decision", "show", decision["decision_id"], db=db)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == decision
    assert run("audit", "verify", db=db).exit_code == 0


def test_explain_writes_the_letter_as_pdf(db, applicant, tmp_path):
    from pypdf import PdfReader

    path, _, _ = applicant
    out = tmp_path / "letter.pdf"
    r = explain(db, path, "--format", "pdf", "--output", str(out))
    assert r.exit_code == 0, r.output
    assert out.stat().st_mode & 0o777 == 0o600  # a letter is personal data: owner only
    decision_id = r.stderr.split("decision ")[1].split(":")[0]
    text = " ".join(p.extract_text() for p in PdfReader(out).pages)
    text = " ".join(text.split())
    assert decision_id in text
    assert "model-risk@example.org" in text
    shown = json.loads(run("decision", "show", decision_id, db=db).stdout)
    first = shown["explanation"]["reasons"][0]["text"]
    assert " ".join(first.split()) in text


def test_a_pdf_needs_an_output_file(db, applicant, tmp_path):
    url = db
    with Store.open(url) as store:
        before = len(store.audit_events())
    r = explain(db, applicant[0], "--format", "pdf")
    assert r.exit_code == 2 and "--format pdf needs --output FILE" in r.output
    # a folder, or a file in a missing folder: refused the same way, before deciding
    for output, message in [
        (".", "--output .: is a directory; expected a file to write"),
        (str(tmp_path), f"--output {tmp_path}: is a directory"),
        (str(tmp_path / "no" / "l.pdf"), "output folder"),
    ]:
        r = explain(db, applicant[0], "--format", "pdf", "--output", output)
        assert r.exit_code == 2 and message in r.stderr, r.output
        assert "Traceback" not in r.output
    with Store.open(url) as store:
        assert len(store.audit_events()) == before  # no decision recorded for any of them


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"age": 30,,}', "row.json:1:12: not valid JSON"),
        ('{"age": NaN}', "NaN is not valid JSON"),
        ("[1, 2]", "expected a JSON object of feature values, got an array"),
        # age, capital-gain: int64 columns in the training data, so whole numbers (a
        # fraction was truncated silently; 1e20 overflowed building the row: a traceback)
        ('{"age": "' + CANARY + '"}', "features.age: expected a whole number, got a string"),
        ('{"capital-gain": 2.5}', "features.capital-gain: expected a whole number, got a fraction"),
        ('{"capital-gain": 1e20}', "features.capital-gain: expected a whole number within 64 bits"),
        (
            '{"education-num": 9.5}',
            "features.education-num: expected a whole number, got a fraction",
        ),
        ('{"age": 30}', "features.workclass: missing"),
        # a lone surrogate escape: named as its escape (no UTF-8 terminal takes it raw)
        ('{"age": 30, "\\udc00": 1}', "features.\\udc00: not an input of this model"),
        # json keeps the last of a repeated key, silently
        (
            '{"age": 30,\n "age": 31}',
            "row.json:2: features.age: given more than once; give each feature once",
        ),
    ],
)
def test_bad_input_exits_2_names_the_problem_and_records_nothing(db, tmp_path, content, message):
    path = tmp_path / "row.json"
    path.write_text(content)
    before = _events(db)
    r = explain(db, path)
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert CANARY not in r.output
    assert "Traceback" not in r.output
    assert _events(db) == before


def test_missing_input_file_and_unknown_model_exit_2(db, tmp_path, applicant):
    r = explain(db, tmp_path / "nope.json")
    assert r.exit_code == 2 and "nope.json: file not found" in r.output
    r = run("explain", "credt", "--input", str(applicant[0]), db=db)
    assert r.exit_code == 2 and "credt" in r.stderr


def test_a_category_the_model_never_saw_is_refused_naming_the_field(db, applicant, tmp_path):
    """The one-hot encoder ignores an unknown category (all zeros): the person was scored
    as if the field were blank and the explanation served as reliable. Now exit 2, naming
    the field, the categories the encoder learned and the closest one; never the value."""
    _, _, values = applicant
    before = _events(db)
    for value, hint in [("Astronaut", ""), ("private", ' (did you mean "Private"?)'),
                        (CANARY, "")]:  # fmt: skip
        path = tmp_path / "row.json"
        path.write_text(json.dumps({**values, "workclass": value}))
        r = explain(db, path)
        assert r.exit_code == 2, r.output
        assert (
            "features.workclass: not a category the model was trained on; expected one of "
            '"Federal-gov", "Local-gov", "Never-worked", "Private",'
        ) in r.stderr
        assert r.stderr.rstrip().endswith('"Without-pay"' + hint)
        assert value not in r.stderr and "Traceback" not in r.output
    assert _events(db) == before


def test_personal_values_stay_out_of_the_logs(db, applicant, tmp_path):
    _, _, values = applicant
    path = tmp_path / "canary.json"
    # a value the person sent (any category the model knows: an unknown one is refused)
    canary = 987654321
    path.write_text(json.dumps({**values, "capital-gain": canary}))
    r = CliRunner().invoke(
        app, ["-vv", "explain", "credit", "--input", str(path), "--trust-type", HGB_TYPE,
              "--db", db],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert str(canary) not in r.stderr  # logs and progress; stdout is the decision itself
    with open(db.removeprefix("sqlite:///"), "rb") as fh:
        assert str(canary).encode() not in fh.read()  # stored encrypted under the subject's key


def test_a_subject_is_pseudonymised_and_can_be_erased(db, applicant, tmp_path):
    key = tmp_path / "subject.key"
    r = CliRunner().invoke(app, ["subject", "keygen", "--output", str(key)])
    assert r.exit_code == 0, r.output
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    again = CliRunner().invoke(app, ["subject", "keygen", "--output", str(key)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output

    r = explain(db, applicant[0], "--subject-id", CANARY, "--subject-key-file", str(key))
    assert r.exit_code == 0, r.output
    decision = json.loads(r.stdout)
    assert decision["has_subject"] is True
    with open(db.removeprefix("sqlite:///"), "rb") as fh:
        assert CANARY.encode() not in fh.read()

    erased = run("subject", "erase", CANARY, "--subject-key-file", str(key), db=db)
    assert erased.exit_code == 0, erased.output
    assert "1 decision(s)" in erased.stdout
    gone = run("decision", "show", decision["decision_id"], db=db)
    assert gone.exit_code == 2 and "erased" in gone.stderr
    assert run("audit", "verify", db=db).exit_code == 0
    again = run("subject", "erase", CANARY, "--subject-key-file", str(key), db=db)
    assert again.exit_code == 2


def test_a_subject_access_request_gives_their_decisions_and_letters(
    db, applicant, tmp_path, monkeypatch
):
    from pypdf import PdfReader

    monkeypatch.delenv("GOVKIT_SUBJECT_KEY", raising=False)
    key = tmp_path / "subject.key"
    assert CliRunner().invoke(app, ["subject", "keygen", "--out", str(key)]).exit_code == 0
    keyed = ("--subject-key-file", str(key))
    made = []
    for _ in range(2):
        r = explain(db, applicant[0], "--subject-id", CANARY, *keyed)
        assert r.exit_code == 0, r.output
        made.append(json.loads(r.stdout))
    assert explain(db, applicant[0], "--subject-id", "someone-else", *keyed).exit_code == 0

    letters = tmp_path / "letters"
    letters.mkdir()
    out = tmp_path / "access.json"
    r = run("subject", "access", CANARY, *keyed, "--output", str(out), "--letters", str(letters),
            db=db)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "2 decision(s) about the subject; 2 letter(s)" in r.stderr
    given = json.loads(out.read_text())
    assert out.stat().st_mode & 0o777 == 0o600  # personal data: owner only
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in letters.iterdir())
    assert given["count"] == 2
    assert {d["decision_id"] for d in given["decisions"]} == {d["decision_id"] for d in made}
    for decision in given["decisions"]:  # what `decision show` gives, personal data included
        assert decision.pop("observed_outcome") is None  # no outcome was recorded
        shown = run("decision", "show", decision["decision_id"], db=db)
        assert json.loads(shown.stdout) == decision
        assert decision["features"] == applicant[2]
        pdf = PdfReader(letters / f"decision-{decision['decision_id']}.pdf")
        assert decision["decision_id"] in pdf.pages[0].extract_text()  # that decision's letter
    assert sorted(p.name for p in letters.iterdir()) == sorted(
        f"decision-{d['decision_id']}.pdf" for d in made
    )
    store = Store.open(db)
    try:
        accessed = store.audit_events()[-1]
        assert accessed.event_type == "subject.accessed" and accessed.payload["decisions"] == 2
        assert CANARY not in json.dumps([e.payload for e in store.audit_events()])
    finally:
        store.close()
    assert run("audit", "verify", db=db).exit_code == 0

    # to stdout; a missing folder, an unknown subject, no key: exit 2, nothing written
    printed = run("subject", "access", CANARY, *keyed, db=db)
    assert printed.exit_code == 0 and json.loads(printed.stdout)["count"] == 2
    nowhere = run("subject", "access", CANARY, *keyed, "--letters", str(tmp_path / "no"), db=db)
    assert nowhere.exit_code == 2 and "expected an existing folder" in nowhere.stderr
    nobody = run("subject", "access", "nobody", *keyed, "--output", str(tmp_path / "n.json"),
                 db=db)  # fmt: skip
    assert nobody.exit_code == 2 and "no such data subject" in nobody.stderr
    assert not (tmp_path / "n.json").exists()
    assert "nobody" not in nobody.stderr  # the subject id is not echoed
    keyless = run("subject", "access", CANARY, db=db)
    assert keyless.exit_code == 2 and "subject key" in keyless.stderr


def test_a_subject_id_needs_the_subject_key(db, applicant, monkeypatch):
    monkeypatch.delenv("GOVKIT_SUBJECT_KEY", raising=False)
    r = explain(db, applicant[0], "--subject-id", "alice")
    assert r.exit_code == 2 and "GOVKIT_SUBJECT_KEY" in r.stderr


def test_api_keys_are_shown_once_and_stored_hashed(db):
    r = run("apikey", "create", "--tenant", "acme", "--scope", "decide", "--scope", "read",
            "--name", "ci", db=db)  # fmt: skip
    assert r.exit_code == 0, r.output
    token = r.stdout.strip()
    assert token.startswith("gk_")
    with Store.open(db) as store:
        principal = store.api_principal(token)
    assert principal.tenant == "acme" and principal.scopes == {"decide", "read"}
    listed = run("apikey", "list", db=db)
    assert principal.key_id in listed.stdout and token not in listed.stdout
    assert "active" in listed.stdout
    with open(db.removeprefix("sqlite:///"), "rb") as fh:
        secret = token.split("_", 2)[2]  # gk_<key id>_<secret>; the secret may contain '_'
        assert len(secret) == 43 and secret.encode() not in fh.read()
    revoked = run("apikey", "revoke", principal.key_id, db=db)
    assert revoked.exit_code == 0, revoked.output
    with Store.open(db) as store:
        assert store.api_principal(token) is None
    assert "revoked" in run("apikey", "list", db=db).stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--tenant", "acme", "--scope", "delete"], "scope"),
        (["--tenant", "a b", "--scope", "read"], "tenant"),
    ],
)
def test_bad_api_key_requests_exit_2(db, args, message):
    r = run("apikey", "create", *args, db=db)
    assert r.exit_code == 2 and message in r.stderr.lower()
    assert run("apikey", "revoke", "nope", db=db).exit_code == 2


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_govkit_serve_answers_over_http(db, applicant, tmp_path):
    """The real console script: `govkit serve` on a loopback port, driven with httpx."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    from govkit.service import generate_subject_key

    token = run("apikey", "create", "--tenant", "acme", "--scope", "decide", "--scope", "read",
                "--scope", "admin", db=db).stdout.strip()  # fmt: skip
    key, public = tmp_path / "audit.key", tmp_path / "audit.pub"
    assert CliRunner().invoke(
        app, ["audit", "keygen", "--output", str(key), "--public-output", str(public)]
    ).exit_code == 0  # fmt: skip
    signed = run("audit", "checkpoint", "--key-file", str(key), "--output",
                 str(tmp_path / "cp.json"), db=db)  # fmt: skip
    assert signed.exit_code == 0, signed.output
    port = _free_port()
    exe = Path(sys.executable).with_name("govkit")
    env = {**os.environ, "GOVKIT_SUBJECT_KEY": generate_subject_key()}
    server = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--db", db, "--trust-type", HGB_TYPE,
         "--checkpoint", str(tmp_path / "cp.json"), "--public-key", str(public)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read().decode()
            assert time.monotonic() < deadline, "govkit serve did not start"
            time.sleep(0.2)
        assert httpx.get(f"{base}/readyz").status_code == 200
        # the api extra brings uvicorn's C HTTP parser and libuv loop, and serve uses them
        maps = Path(f"/proc/{server.pid}/maps").read_text()
        assert "/httptools/parser/" in maps and "/uvloop/loop" in maps
        headers = {"Authorization": f"Bearer {token}"}
        page = httpx.get(f"{base}/dashboard/", headers=headers, timeout=60)
        assert page.status_code == 200 and "credit" in page.text  # the dashboard is served too
        audit = httpx.get(f"{base}/dashboard/audit", headers=headers, timeout=60)
        assert audit.status_code == 200
        assert re.search(r"#\d+ — verified", audit.text), "the checkpoint was not checked"
        body = {"features": applicant[2], "subject_id": CANARY}
        r = httpx.post(f"{base}/v1/models/credit/versions/1/decisions", json=body,
                       headers=headers, timeout=60)  # fmt: skip
        assert r.status_code == 201, r.text
        decision_id = r.json()["decision_id"]
        letter = httpx.get(f"{base}/v1/decisions/{decision_id}?format=html", headers=headers)
        assert letter.status_code == 200 and decision_id in letter.text
        assert httpx.get(f"{base}/v1/decisions/{decision_id}").status_code == 401
        assert httpx.delete(f"{base}/v1/subjects/{CANARY}", headers=headers).status_code == 200
        assert httpx.get(f"{base}/v1/decisions/{decision_id}", headers=headers).status_code == 410
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert CANARY.encode() not in err
    assert run("audit", "verify", db=db).exit_code == 0


# ---------------------------------------------------------------- govkit serve --preload
@pytest.fixture
def served(monkeypatch):
    """`govkit serve` up to uvicorn.run: the app it would serve, the models then loaded,
    and hooks run on the app while the server would be up (the store is open)."""
    from types import SimpleNamespace

    import uvicorn

    seen = SimpleNamespace(runs=[], hooks=[])

    def fake_run(application, **kw):
        seen.runs.append((application, sorted(application.state.govkit.backend._loaded)))
        for hook in seen.hooks:
            hook(application)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return seen


def test_serve_preloads_models_before_it_listens(db, applicant, served, monkeypatch):
    from fastapi.testclient import TestClient

    from govkit.explainers import DecisionExplainer
    from govkit.records import ModelRef

    with Store.open(db) as store:
        store.set_model_alias(ModelRef(name="credit", version=1), "champion", actor="test")
    token = run("apikey", "create", "--tenant", "acme", "--scope", "decide", db=db).stdout.strip()
    statuses = []

    def first_decision(application):  # must not build anything: it was built before
        def refuse(*args, **kwargs):
            raise AssertionError("the explainer was built during a request")

        monkeypatch.setattr(DecisionExplainer, "build", refuse)
        with TestClient(application) as client:
            resp = client.post(
                "/v1/models/credit/aliases/champion/decisions",
                json={"features": applicant[2]},
                headers={"Authorization": f"Bearer {token}"},
            )
        statuses.append((resp.status_code, resp.text))

    served.hooks.append(first_decision)
    r = CliRunner().invoke(
        app,
        ["serve", "--db", db, "--trust-type", HGB_TYPE, "--preload", "credit@champion",
         "--preload", "credit", "--preload", "credit@1"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    for given in ("credit@champion", "credit", "credit@1"):
        assert f"preloaded credit@1 ({given}) in " in r.stderr
    ((_application, loaded),) = served.runs
    assert loaded == [("credit", 1)]  # built once, before the server would listen
    ((status, text),) = statuses
    assert status == 201, text


@pytest.mark.parametrize(
    "preload,message",
    [
        ("nosuch", "--preload nosuch: no model named 'nosuch'"),
        ("credit@9", "--preload credit@9: model 'credit' has no version 9"),
        ("credit@staging", "--preload credit@staging: "),
        ("bad name!", "--preload bad name!: model name must be"),
        ("credit@0", "--preload credit@0: expected model reference NAME or NAME@VERSION"),
        ("credit@", "--preload credit@: expected model reference"),
    ],
)
def test_serve_refuses_a_model_it_cannot_preload(db, served, preload, message):
    r = CliRunner().invoke(
        app, ["serve", "--db", db, "--trust-type", HGB_TYPE, "--preload", preload]
    )
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "Traceback" not in r.output
    assert served.runs == []  # the server never started


def test_serve_refuses_a_model_whose_file_is_gone(db, served):
    from urllib.parse import unquote, urlparse

    from govkit.records import ModelRef

    with Store.open(db) as store:
        artifact = store.get_model_version(ModelRef(name="credit", version=1)).artifact_uri

    path = Path(unquote(urlparse(artifact).path))
    moved = path.with_suffix(".away")
    path.rename(moved)
    try:
        r = CliRunner().invoke(
            app, ["serve", "--db", db, "--trust-type", HGB_TYPE, "--preload", "credit@1"]
        )
    finally:
        moved.rename(path)
    assert r.exit_code == 2, r.output
    assert "--preload credit@1: model credit@1 cannot be served: " in r.stderr
    assert "model artifact not found" in r.stderr
    assert served.runs == []


def test_subject_keygen_takes_output_like_every_command_and_out_still_works(tmp_path):
    # every other command writes with --output; --out stays as a hidden alias for scripts
    r = CliRunner().invoke(app, ["subject", "keygen", "--output", str(tmp_path / "a.key")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["subject", "keygen", "--out", str(tmp_path / "b.key")])
    assert r.exit_code == 0, r.output
    assert oct((tmp_path / "b.key").stat().st_mode & 0o777) == "0o600"
    help_text = CliRunner().invoke(app, ["subject", "keygen", "--help"]).stdout
    assert "--output FILE" in help_text and "--out " not in help_text
    r = CliRunner().invoke(app, ["subject", "keygen"])
    assert r.exit_code == 2
    assert r.stderr == "govkit: error: --output FILE is required: the file to write the key to\n"
