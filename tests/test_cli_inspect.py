"""Inspecting the registry and the audit log from the CLI: ``govkit model list|show``,
``govkit dataset list|show``, ``govkit audit log``.

A real SQLite file with the Adult splits and a model registered through the CLI, one
policy run, a derived dataset; every value shown is checked against the store or a
hand computation (the artifact's SHA-256, the CSV's rows and columns).
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from test_cli import HGB_TYPE, run, workspace  # noqa: F401  (the registered workspace)

from govkit.records import DatasetRef, ModelRef
from govkit.store import Store


@pytest.fixture(scope="module")
def registry(workspace):  # noqa: F811
    """The workspace with a policy run and a card of credit@1, and a dataset derived from
    Adult."""
    db = workspace["db"]
    r = run(
        "check",
        str(workspace["dir"] / "passing.yaml"),
        "--model",
        "credit",
        "--data",
        str(workspace["test"]),
        "--trust-type",
        HGB_TYPE,
        db=db,
    )
    assert r.exit_code == 0, r.output
    r = run(
        "card", "credit", "--format", "html", "--output", str(workspace["dir"] / "c.html"), db=db
    )
    assert r.exit_code == 0, r.output  # a card.rendered event (its subject: "model:credit@1")
    sample = workspace["dir"] / "sample.csv"
    pd.read_csv(workspace["train"]).head(100).to_csv(sample, index=False)
    r = run(
        "dataset",
        "register",
        str(sample),
        "--name",
        "adult-sample",
        "--parent",
        "adult-train@1",
        "--transformation",
        "first 100 rows",
        db=db,
    )
    assert r.exit_code == 0, r.output
    return workspace


def _head(db: str) -> int:
    with Store.open(db) as store:
        return store.verify_chain().events


def test_model_list_shows_every_version_with_its_stage_and_last_check(registry) -> None:
    db = registry["db"]
    before = _head(db)
    r = run("model", "list", db=db)
    assert r.exit_code == 0, r.output
    with Store.open(db) as store:
        latest = store.latest_run(ModelRef(name="credit", version=1))
    assert latest is not None
    first, second = r.stdout.splitlines()[:2]
    assert first.startswith("credit@1  candidate  ") and "trained on adult-train@1" in first
    assert f"last check: {latest.result.status} (2 PASS, 1 WARN) against policy passing" in second
    assert f"run {latest.run_id} at audit sequence {latest.anchor.sequence}" in second
    assert _head(db) == before  # reading writes nothing, not even an audit event


def test_model_list_json_is_the_stored_records(registry) -> None:
    r = run("model", "list", "--format", "json", db=registry["db"])
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    with Store.open(registry["db"]) as store:
        records = store.list_model_versions()
        latest = store.latest_run(records[0].ref)
    assert [{k: v for k, v in m.items() if k not in ("stage", "latest_run")} for m in listed] == [
        rec.model_dump(mode="json") for rec in records
    ]
    assert listed[0]["stage"] == "candidate"
    run_json = listed[0]["latest_run"]
    assert latest is not None
    assert run_json["run_id"] == latest.run_id
    assert run_json["status"] == latest.result.status == "WARN"  # a warning rule failed
    assert run_json["counts"] == dict(latest.result.counts)
    assert {k: n for k, n in run_json["counts"].items() if n} == {"PASS": 2, "WARN": 1}
    assert (run_json["audit_sequence"], run_json["audit_hash"]) == (
        latest.anchor.sequence,
        latest.anchor.hash,
    )


def test_model_show_gives_the_artifact_digest_metadata_and_lineage(registry) -> None:
    r = run("model", "show", "credit", db=registry["db"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "credit@1"
    fields = {line.split(None, 1)[0]: line for line in lines[1:]}
    digest = hashlib.sha256(registry["model"].read_bytes()).hexdigest()
    assert fields["sha256"].split()[-1] == digest
    assert "team@example.org" in fields["owner"]
    # free text on one line, markup printed as it is
    assert "Income classifier" not in r.stdout  # description is not a shown field
    assert fields["sensitive"].split(None, 1)[1] == "sex, race"
    assert "adult-train@1 <- " in fields["training"]
    assert "adult-test@1 (16,281 rows, sha256:" in fields["evaluation"]
    assert fields["risk"].endswith("not provided")  # metadata without a risk tier
    assert "WARN (2 PASS, 1 WARN)" in fields["last"]


def test_model_show_json_adds_stage_run_and_training_lineage(registry) -> None:
    r = run("model", "show", "credit@1", "--format", "json", db=registry["db"])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    with Store.open(registry["db"]) as store:
        record = store.get_model_version(ModelRef(name="credit", version=1))
        lineage = store.lineage(DatasetRef(name="adult-train", version=1))
    assert shown["artifact_sha256"] == record.artifact_sha256
    assert shown["stage"] == "candidate" and shown["latest_run"]["status"] == "WARN"
    assert shown["training_lineage"] == [d.model_dump(mode="json") for d in lineage]


def test_dataset_list_and_show_match_the_files(registry) -> None:
    db = registry["db"]
    r = run("dataset", "list", db=db)
    assert r.exit_code == 0, r.output
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert names == ["adult-sample@1", "adult-test@1", "adult-train@1"]
    assert "adult-sample@1  100 rows × 15 columns" in r.stdout
    assert "from adult-train@1" in r.stdout

    r = run("dataset", "show", "adult-train", db=db)
    assert r.exit_code == 0, r.output
    frame = pd.read_csv(registry["train"])
    assert f"rows            {len(frame):,}" in r.stdout
    shown_columns = [line.split()[0] for line in r.stdout.splitlines() if line.startswith("    ")]
    assert shown_columns == list(frame.columns)
    with Store.open(db) as store:
        record = store.get_dataset(DatasetRef(name="adult-train"))
    assert record.fingerprint in r.stdout


def test_dataset_show_gives_parents_transformation_and_lineage(registry) -> None:
    r = run("dataset", "show", "adult-sample@1", db=registry["db"])
    assert r.exit_code == 0, r.output
    assert "parents         adult-train@1" in r.stdout
    assert "transformation  first 100 rows" in r.stdout
    assert "lineage         adult-train@1 <- " in r.stdout
    r = run("dataset", "show", "adult-sample", "--format", "json", db=registry["db"])
    shown = json.loads(r.stdout)
    assert shown["parents"] == [{"name": "adult-train", "version": 1}]
    assert [d["name"] for d in shown["lineage"]] == ["adult-train"]
    assert shown["row_count"] == 100


def test_control_characters_in_metadata_never_reach_the_terminal(registry) -> None:
    folder, db = registry["dir"], registry["db"]
    meta = folder / "escape.yaml"
    meta.write_text(
        'owner: "team\\u001b[2J\\u001b]0;pwned\\u0007"\n'
        'intended_use: "line one\\nline two\\u009b31m"\n'
    )
    r = run(
        "model",
        "register",
        str(registry["model"]),
        "--name",
        "credit-escape",
        "--training-data",
        "adult-train@1",
        "--meta",
        str(meta),
        "--trust-type",
        HGB_TYPE,
        db=db,
    )
    assert r.exit_code == 0, r.output
    r = run("model", "show", "credit-escape", db=db)
    assert r.exit_code == 0, r.output
    assert not any(c in r.stdout for c in "\x1b\x07\x9b")
    assert "team\ufffd[2J\ufffd]0;pwned\ufffd" in r.stdout
    assert "line one line two\ufffd31m" in r.stdout
    r = run("model", "show", "credit-escape", "--format", "json", db=db)
    assert r.exit_code == 0, r.output
    assert not any(c in r.stdout for c in "\x1b\x07\x9b")  # escaped as \u001b, \u009b
    shown = json.loads(r.stdout)  # and the text itself is intact
    assert shown["metadata"]["owner"] == "team\x1b[2J\x1b]0;pwned\x07"
    assert shown["metadata"]["intended_use"] == "line one\nline two\x9b31m"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("model", "show", "nope"), "no model named 'nope'"),
        (("model", "show", "credit@9"), "model 'credit' has no version 9"),
        (("model", "show", "credit@x"), "NAME[@VER]: expected model reference"),
        (("dataset", "show", "adult-tain"), "did you mean 'adult-train'"),
        (("dataset", "show", "adult-train@0"), "NAME[@VER]: expected dataset reference"),
        (("model", "list", "--format", "yaml"), "Invalid value for '--format'"),
    ],
)
def test_bad_references_exit_2_with_the_reason(registry, args, message) -> None:
    r = run(*args, db=registry["db"])
    assert r.exit_code == 2
    assert message in r.stderr, r.stderr
    assert r.stdout == ""


def test_an_empty_registry_says_so(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    r = run("model", "list", db=db)  # no database file: an error, and none is created
    assert r.exit_code == 2 and "does not exist" in r.stderr, r.output
    assert not (tmp_path / "empty.db").exists()
    Store.open(db).close()  # an empty registry
    for what, said in (("model", "no model versions"), ("dataset", "no datasets")):
        r = run(what, "list", db=db)
        assert r.exit_code == 0 and said in r.stdout, r.output
        r = run(what, "list", "--format", "json", db=db)
        assert r.exit_code == 0 and json.loads(r.stdout) == []


# ---------------------------------------------------------------- govkit audit log


def _copy(db: str, folder) -> str:
    """A copy of the SQLite database ``db`` (a URL or a path) in ``folder``, as a URL."""
    import sqlite3
    from contextlib import closing

    target = folder / "copy.db"
    source = sqlite3.connect(db.removeprefix("sqlite:///"))
    with closing(source), closing(sqlite3.connect(target)) as to:
        source.backup(to)  # the WAL's pages included
    return f"sqlite:///{target}"


def _log(db: str) -> list:
    """The whole audit log, newest first, as the store reads it."""
    with Store.open(db) as store:
        return list(reversed(store.audit_events()))


def _sequences(stdout: str) -> list[int]:
    return [int(line.split()[0][1:]) for line in stdout.splitlines() if line.startswith("#")]


def test_audit_log_shows_the_newest_events_first(registry) -> None:
    db = registry["db"]
    every = _log(db)
    r = run("audit", "log", db=db)
    assert r.exit_code == 0, r.output
    assert _sequences(r.stdout) == [e.sequence for e in every[:20]]
    head = r.stdout.splitlines()[0]
    assert head.startswith(f"#{every[0].sequence} {every[0].hash[:16]}  ")
    assert _sequences(run("audit", "log", "--limit", "0", db=db).stdout) == [
        e.sequence for e in every
    ]
    assert _sequences(run("audit", "log", "--limit", "2", db=db).stdout) == [
        e.sequence for e in every[:2]
    ]


def test_audit_log_about_a_model_a_dataset_or_of_a_type(registry) -> None:
    db = registry["db"]
    every = _log(db)
    r = run("audit", "log", "--model", "credit", "--limit", "0", db=db)
    assert r.exit_code == 0, r.output
    expected = [
        e.sequence for e in every if e.subject in ("model:credit", "model:credit@1", "credit@1")
    ]
    assert _sequences(r.stdout) == expected
    kinds = {e.event_type for e in every if e.sequence in expected}
    assert {"model.registered", "policy.run", "card.rendered"} <= kinds
    r = run("audit", "log", "--model", "credit@1", "--type", "policy.run", db=db)
    runs = [e for e in every if e.event_type == "policy.run" and e.subject == "model:credit@1"]
    assert _sequences(r.stdout) == [e.sequence for e in runs]
    assert f"run_id={runs[0].payload['run_id']}" in r.stdout  # the payload, summarised
    r = run("audit", "log", "--dataset", "adult-train", db=db)
    assert _sequences(r.stdout) == [
        e.sequence for e in every if e.subject == "dataset:adult-train@1"
    ]
    assert "dataset.registered  dataset:adult-train@1" in r.stdout


def test_audit_log_since_and_json(registry) -> None:
    db = registry["db"]
    every = _log(db)
    later = "2999-01-01"
    r = run("audit", "log", "--since", later, db=db)
    assert r.exit_code == 0 and r.stdout.strip() == "no audit events match", r.output
    oldest = every[-1].timestamp.strftime("%Y-%m-%dT%H:%M:%S")
    r = run("audit", "log", "--since", oldest, "--limit", "0", "--format", "json", db=db)
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    assert [e["sequence"] for e in shown] == [e.sequence for e in every]
    for got, event in zip(shown, every, strict=True):
        assert (got["hash"], got["prev_hash"], got["payload"]) == (
            event.hash,
            event.prev_hash,
            event.payload,
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "--since: expected an ISO 8601 date or time"),
        (("--model", "nope"), "no model named 'nope'"),
        (("--model", "credit@7"), "model 'credit' has no version 7"),
        (("--dataset", "adult-tain"), "did you mean 'adult-train'"),
        (("--model", "credit@x"), "--model: expected model reference"),
        (("--limit", "-1"), "Invalid value for '--limit'"),
    ],
)
def test_audit_log_bad_options_exit_2(registry, args, message) -> None:
    r = run("audit", "log", *args, db=registry["db"])
    assert r.exit_code == 2
    assert message in r.stderr, r.stderr
    assert r.stdout == ""


def test_one_line_shows_control_characters_and_keeps_text() -> None:
    from govkit._text import one_line

    assert one_line("a\x1b[31mb\tc\n d\x9b\x07") == "a\ufffd[31mb c d\ufffd\ufffd"
    assert one_line("Größe über 50K – Ørsted") == "Größe über 50K – Ørsted"


def test_json_text_escapes_every_control_character_and_keeps_the_text() -> None:
    from govkit._text import json_text, visible

    data = {"a": "x\x1b[2J\x9b31m\x7f\x07 Größe\n", "n": [1, 2.5]}
    text = json_text(data)
    assert not any(ord(c) < 0x20 and c != "\n" or 0x7F <= ord(c) <= 0x9F for c in text)
    assert "Größe" in text  # non-ASCII text as it is
    assert json.loads(text) == data
    with pytest.raises(ValueError):
        json_text({"x": float("nan")})
    assert visible("a\tb\nc\x1bd\x9b") == "a\tb\nc\ufffdd\ufffd"


def test_audit_log_shows_no_control_character_of_an_event(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(db) as store:
        store.record_event(
            "note.added", {"k\x1b[1m": "v\x1b[2J\x07", "n": 1}, actor="a\x9b1m", subject="s\x1b]0;x"
        )
    r = run("audit", "log", db=db)
    assert r.exit_code == 0, r.output
    assert not any(c in r.stdout for c in "\x1b\x07\x9b")
    assert "s\ufffd]0;x by a\ufffd1m" in r.stdout and "k\ufffd[1m=v\ufffd[2J\ufffd n=1" in r.stdout
    r = run("audit", "log", "--format", "json", db=db)
    assert not any(c in r.stdout for c in "\x1b\x07\x9b")
    assert json.loads(r.stdout)[0]["payload"] == {"k\x1b[1m": "v\x1b[2J\x07", "n": 1}


def test_audit_log_finds_cards_logged_under_the_old_subject(registry, tmp_path) -> None:
    """Cards were once logged as "NAME@VER" (no "model:"): such events still belong to it."""
    db = _copy(registry["db"], tmp_path)  # the shared registry stays as it is
    with Store.open(db) as store:
        old = store.record_event(
            "card.rendered", {"model": "credit@1", "format": "html"}, actor="t", subject="credit@1"
        )
        store.record_event("card.rendered", {"model": "other@1"}, actor="t", subject="other@1")
    r = run("audit", "log", "--model", "credit", "--type", "card.rendered", db=db)
    assert r.exit_code == 0, r.output
    found = _sequences(r.stdout)
    assert old.sequence in found
    every = _log(db)
    assert found == [
        e.sequence
        for e in every
        if e.event_type == "card.rendered" and e.subject in ("model:credit@1", "credit@1")
    ]


def test_an_unknown_event_type_is_pointed_out(registry) -> None:
    db = registry["db"]
    every = _log(db)
    counts: dict[str, int] = {}
    for e in every:
        counts[e.event_type] = counts.get(e.event_type, 0) + 1
    r = run("audit", "log", "--type", "policy.runs", "--type", "card.rendered", db=db)
    assert r.exit_code == 0, r.output
    cards = [e.sequence for e in every if e.event_type == "card.rendered"]
    assert _sequences(r.stdout) == cards[:20]  # the known type still answers
    listed = ", ".join(f"{t} ({n})" for t, n in sorted(counts.items()))
    assert f"no event in this log has type 'policy.runs'; the types in it (events): {listed}" in (
        r.stderr
    )
    r = run("audit", "log", "--type", "policy.run", "--format", "json", db=db)
    assert r.exit_code == 0 and "note:" not in r.stderr  # every type known: no note
    assert [e["sequence"] for e in json.loads(r.stdout)] == [
        e.sequence for e in every if e.event_type == "policy.run"
    ]


def test_audit_find_ties_a_filed_card_to_its_event(registry, tmp_path) -> None:
    db = _copy(registry["db"], tmp_path)
    card = tmp_path / "filed.html"
    assert run("card", "credit@1", "--format", "html", "--output", str(card), db=db).exit_code == 0
    every = _log(db)
    digest = hashlib.sha256(card.read_bytes()).hexdigest()
    (event,) = [
        e for e in every if e.event_type == "card.rendered" and e.payload["sha256"] == digest
    ]
    (ran,) = [e for e in every if e.sequence == event.payload["policy_run_sequence"]]
    assert ran.event_type == "policy.run" and ran.hash in card.read_text()  # the printed anchor
    r = run("audit", "find", str(card), db=db)
    assert r.exit_code == 0, r.output
    assert f"sha256 {digest}" in r.stdout
    assert f"recorded by event #{event.sequence} ({event.hash[:16]}…)" in r.stdout
    assert "card of credit@1, format html" in r.stdout
    assert f"it reports the policy run of event #{ran.sequence}, hash {ran.hash}" in r.stdout
    assert f"audit chain intact: {len(every):,} events" in r.stdout
    r = run("audit", "find", str(card), "--format", "json", db=db)
    out = json.loads(r.stdout)
    assert r.exit_code == 0 and out["found"] and out["sha256"] == digest
    assert [e["sequence"] for e in out["events"]] == [event.sequence]
    assert out["events"][0]["policy_run"]["hash"] == ran.hash and out["chain"]["ok"]

    # one byte more: another file
    changed = tmp_path / "changed.html"
    changed.write_bytes(card.read_bytes() + b"\n")
    r = run("audit", "find", str(changed), db=db)
    assert r.exit_code == 1 and "NOT FOUND: no card.rendered event records this digest" in r.stdout
    assert (
        json.loads(run("audit", "find", str(changed), "--format", "json", db=db).stdout)["found"]
        is False
    )

    # found, but on a log that was changed: not a tie to trust
    import sqlalchemy

    engine = sqlalchemy.create_engine(db)
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.text("UPDATE govkit_audit_events SET actor = 'mallory' WHERE sequence = 1")
        )
    engine.dispose()
    r = run("audit", "find", str(card), db=db)
    assert r.exit_code == 1 and f"recorded by event #{event.sequence}" in r.stdout
    assert "audit chain BROKEN at sequence 1" in r.stdout


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_audit_find_needs_a_file(registry, tmp_path, what) -> None:
    path = tmp_path / "nothing.pdf" if what == "missing" else tmp_path
    r = run("audit", "find", str(path), db=registry["db"])
    assert r.exit_code == 2 and r.stdout == ""
    said = "does not exist" if what == "missing" else "is a folder, not a file"
    assert f"{path}: {said}" in r.stderr
