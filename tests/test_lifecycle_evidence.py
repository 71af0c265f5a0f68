"""The promotion gate believes the audit log, not the plain tables beside it.

A real store (SQLite file and PostgreSQL through ``db_url``): a model version and its
data registered, a policy bound, runs recorded; then a row the gate reads is changed
behind the store's back with plain SQL, as someone with write access to the database
would, so that the gate would pass. The promotion must be refused (exit 1, the refusal
logged), naming the row, the field and what the log and the table say, and
``govkit audit verify`` must fail too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from api_helpers import FEATURES, credit_data, metadata
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.records import DatasetRef, ModelRef
from govkit.results import CheckResult, EvaluationResult, Status
from govkit.store import Store
from govkit.store._chain import payload_digest

DIGEST = "sha256:" + "d" * 64
OTHER_DATA = "sha256:" + "e" * 64


def cli(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env={"GOVKIT_ACTOR": "tester"})


def sql(db: str, statement: str) -> None:
    engine = sqlalchemy.create_engine(db)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train/eval CSVs and a tiny logistic regression saved with skops (built once)."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("lifecycle-evidence")
    data = credit_data(300)
    data.iloc[:200].to_csv(folder / "train.csv", index=False)
    data.iloc[200:].to_csv(folder / "eval.csv", index=False)
    model = LogisticRegression(max_iter=500).fit(data[FEATURES], data["repaid"])
    sio.dump(model, folder / "credit.skops")
    return folder


def _run(store: Store, status: Status, fingerprint: str, *, digest: str = DIGEST) -> None:
    check = CheckResult(
        rule_id="auc",
        check_id="performance.roc_auc",
        kind="performance",
        severity="error",
        status=status,
        value=0.7,
    )
    store.record_run(
        EvaluationResult(
            policy_name="credit-gate",
            policy_digest=digest,
            model=ModelRef(name="credit", version=1),
            data_fingerprint=fingerprint,
            n_rows=100,
            started_at=datetime.now(UTC),
            finished_at=datetime.now(UTC),
            govkit_version="test",
            checks=(check,),
        ),
        actor="ci",
    )


def _build(db: str, folder: Path, runs: list[tuple[Status, str]], approver: str | None) -> None:
    """credit@1 (owner and registrant alice), bound to a four-eyes policy, with ``runs``
    (status, ``eval``/``train``/``other`` data) and an approval by ``approver``."""
    from govkit.workflows import register_dataset, register_model

    with Store.open(db) as store:
        register_dataset(folder / "train.csv", name="credit-train", store=store, actor="dana")
        register_dataset(folder / "eval.csv", name="credit-eval", store=store, actor="dana")
        register_model(
            folder / "credit.skops",
            name="credit",
            store=store,
            training_data="credit-train@1",
            evaluation_data="credit-eval@1",
            metadata=metadata().model_copy(update={"owner": "alice"}),
            actor="alice",
        )
        store.bind_policy(
            "credit",
            policy_name="credit-gate",
            policy_digest=DIGEST,
            approval_required=True,
            approval_independent=True,
            actor="erin",
        )
        prints = {
            name: store.get_dataset(DatasetRef(name=f"credit-{name}", version=1)).fingerprint
            for name in ("eval", "train")
        }
        prints["other"] = OTHER_DATA
        for status, data in runs:
            _run(store, status, prints[data])
        if approver is not None:
            store.approve_model(
                ModelRef(name="credit", version=1), approver=approver, note="ok", actor=approver
            )


def _forge_verdict(db: str) -> None:
    """The run row and its event's payload both say PASS (the digest recomputed too)."""
    engine = sqlalchemy.create_engine(db)
    try:
        with engine.begin() as conn:
            sequence, text = conn.execute(
                sqlalchemy.text(
                    "SELECT sequence, payload FROM govkit_audit_events "
                    "WHERE event_type = 'policy.run'"
                )
            ).one()
            forged = text.replace('"verdict":"FAIL"', '"verdict":"PASS"')
            assert forged != text
            conn.execute(
                sqlalchemy.text(
                    "UPDATE govkit_audit_events SET payload = :p, payload_digest = :d "
                    "WHERE sequence = :s"
                ),
                {"p": forged, "d": payload_digest(forged), "s": sequence},
            )
            conn.execute(sqlalchemy.text("UPDATE govkit_runs SET status = 'PASS'"))
    finally:
        engine.dispose()


def _new_owner(db: str) -> None:
    """Owner and registrant of credit@1 become carol: alice's self-approval looks independent."""
    engine = sqlalchemy.create_engine(db)
    try:
        with engine.begin() as conn:
            (record,) = conn.execute(
                sqlalchemy.text("SELECT record FROM govkit_model_versions")
            ).one()
            record = json.loads(record) if isinstance(record, str) else record
            record["metadata"]["owner"] = "carol"
            record["created_by"] = "carol"
            conn.execute(
                sqlalchemy.text(
                    "UPDATE govkit_model_versions SET record = :r, created_by = 'carol'"
                ),
                {"r": json.dumps(record)},
            )
    finally:
        engine.dispose()


PASS, FAIL = Status.PASS, Status.FAIL
LATEST_RUN = "(SELECT MAX(id) FROM govkit_runs)"
RUN_EVENT = "(SELECT MAX(sequence) FROM govkit_audit_events WHERE event_type = 'policy.run')"

# (runs, approver, tamper: SQL or a function of the URL, what the refusal must say)
TAMPERS = [
    pytest.param(
        [(FAIL, "eval")],
        "bob",
        "UPDATE govkit_runs SET status = 'PASS'",
        [
            "run 1 (audit event 5) does not match its policy.run event: status: the audit log "
            "says 'FAIL', govkit_runs says 'PASS'",
            "(run 1) has verdict FAIL, not PASS; rules not met: auc",
        ],
        id="run-status",
    ),
    pytest.param(
        [(PASS, "eval"), (FAIL, "eval")],
        "bob",
        f"DELETE FROM govkit_check_results WHERE run_id = {LATEST_RUN}; "
        f"DELETE FROM govkit_runs WHERE id = {LATEST_RUN}",
        ["run 2 of credit@1 (audit event 6) is missing from govkit_runs"],
        id="failing-run-deleted",
    ),
    pytest.param(
        [(PASS, "eval"), (FAIL, "eval")],
        "bob",
        f"UPDATE govkit_runs SET data_fingerprint = '{OTHER_DATA}' WHERE id = 2",
        [
            "run 2 (audit event 6) does not match its policy.run event: data_fingerprint: "
            "the audit log says 'sha256:",
            f"govkit_runs says '{OTHER_DATA}'",
        ],
        id="failing-run-moved-to-other-data",
    ),
    pytest.param(
        [(FAIL, "eval")],
        "bob",
        _forge_verdict,
        ["the policy runs of credit@1: audit event 5 does not match its hash"],
        id="run-event-rewritten",
    ),
    pytest.param(
        [(PASS, "eval")],
        None,
        "UPDATE govkit_policy_bindings SET approval_required = false",
        [
            "the policy binding of 'credit' (audit event 4) does not match its audit event: "
            "approval_required: the audit log says True, govkit_policy_bindings says False"
        ],
        id="approval-requirement-dropped",
    ),
    pytest.param(
        [(PASS, "eval")],
        None,
        "DELETE FROM govkit_policy_bindings",
        [
            "the policy binding of 'credit' in force is audit event 4 in the audit log; "
            "govkit_policy_bindings has no row"
        ],
        id="binding-deleted",
    ),
    pytest.param(
        [(PASS, "eval")],
        "alice",
        "UPDATE govkit_approvals SET approver = 'bob'",
        [
            "an approval of credit@1 (audit event 6) does not match its audit event: "
            "approver: differs from the audit log (values not shown)"
        ],
        id="approver-renamed",
    ),
    pytest.param(
        [(PASS, "eval")],
        None,
        "INSERT INTO govkit_approvals (model_name, model_version, approver, note, approved_at, "
        f"recorded_by, audit_sequence) VALUES ('credit', 1, 'bob', 'ok', CURRENT_TIMESTAMP, "
        f"'bob', {RUN_EVENT})",
        [
            "an approval of credit@1 (audit event 5): audit event 5 is a policy.run event, "
            "not model.approved"
        ],
        id="approval-forged",
    ),
    pytest.param(
        [(PASS, "eval")],
        "alice",
        _new_owner,
        [
            "the registration of credit@1 (audit event 3) does not match its audit event: "
            "created_by: differs from the audit log (values not shown); record.metadata: the "
            "audit log says 'sha256:"
        ],
        id="owner-changed",
    ),
    pytest.param(
        [(FAIL, "eval"), (PASS, "train")],
        "bob",
        "UPDATE govkit_model_versions SET evaluation_dataset_id = training_dataset_id",
        [
            "the registration of credit@1 (audit event 3) does not match its audit event: "
            "evaluation_data: the audit log says 'credit-eval@1', govkit_model_versions says "
            "'credit-train@1'"
        ],
        id="evaluation-data-relinked",
    ),
    pytest.param(
        [(FAIL, "eval"), (PASS, "other")],
        "bob",
        f"UPDATE govkit_datasets SET fingerprint = '{OTHER_DATA}' WHERE name = 'credit-eval'",
        [
            "the registration of dataset credit-eval@1 (audit event 2) does not match its audit "
            "event: fingerprint: the audit log says 'sha256:",
            f"govkit_datasets says '{OTHER_DATA}'",
        ],
        id="evaluation-fingerprint-changed",
    ),
]


@pytest.mark.parametrize("runs,approver,tamper,messages", TAMPERS)
def test_a_tampered_row_does_not_pass_the_gate(
    db_url: str,
    files: Path,
    runs: list[tuple[Status, str]],
    approver: str | None,
    tamper: str | Callable[[str], None],
    messages: list[str],
) -> None:
    _build(db_url, files, runs, approver)
    if callable(tamper):
        tamper(db_url)
    else:
        for statement in tamper.split("; "):
            sql(db_url, statement)
    r = cli("model", "promote", "credit@1", "--to", "production", "--db", db_url)
    assert r.exit_code == 1, r.output
    assert "promotion of credit@1 to production refused" in r.stderr
    for message in messages:
        assert message in r.stderr, r.stderr
    assert "disagree with the tamper-evident audit log" in r.stderr
    assert "run `govkit audit verify`" in r.stderr
    assert "bob" not in r.stderr and "carol" not in r.stderr  # approvers, owners: not shown
    with Store.open(db_url, read_only=True) as store:
        assert store.model_lifecycle("credit")["stages"] == {
            1: "approved" if approver else "candidate"
        }
        refused = store.audit_events()[-1]
        assert refused.event_type == "model.promotion_refused"
        assert any(
            "disagree with the tamper-evident audit log" in why
            for why in refused.payload["reasons"]
        )
    assert cli("audit", "verify", "--db", db_url).exit_code == 1


def test_an_untampered_store_passes_the_gate(db_url: str, files: Path) -> None:
    """The same world without a tamper: a passing run and an independent approval promote."""
    _build(db_url, files, [(FAIL, "eval"), (PASS, "other"), (PASS, "eval")], "bob")
    r = cli("model", "promote", "credit@1", "--to", "production", "--db", db_url)
    assert r.exit_code == 0, r.output
    assert "credit@1 is now production" in r.stdout
    r = cli("audit", "verify", "--db", db_url)
    assert r.exit_code == 0, r.output


STRICT = """\
schema_version: 1
name: credit-strict
rules:
  - {id: auc, kind: performance, metric: roc_auc, threshold: {min: 0.999}}
"""


def test_a_failing_check_set_to_pass_in_the_database_is_not_promoted(
    db_url: str, files: Path, tmp_path: Path
) -> None:
    """The case as reported: `govkit check` fails, the run row is set to PASS with SQL,
    then `govkit model promote` and `govkit audit verify` are run."""
    _build(db_url, files, [], "bob")
    policy = tmp_path / "strict.yaml"
    policy.write_text(STRICT)
    assert cli("model", "bind", "credit", "--policy", policy, "--db", db_url).exit_code == 0
    data = files / "eval.csv"
    r = cli(
        "check", policy, "--data", data, "--model", "credit@1", "--target", "repaid", "--db", db_url
    )
    assert r.exit_code == 1, r.output  # AUC < 0.999: FAIL, recorded as run 1
    sql(db_url, "UPDATE govkit_runs SET status = 'PASS'")
    r = cli("model", "promote", "credit@1", "--to", "production", "--db", db_url)
    assert r.exit_code == 1, r.output
    assert (
        "does not match its policy.run event: status: the audit log says 'FAIL', govkit_runs "
        "says 'PASS'"
    ) in r.stderr
    assert "run 1 (audit event" in r.stderr and "has verdict FAIL, not PASS" in r.stderr
    r = cli("audit", "verify", "--db", db_url)
    assert r.exit_code == 1, r.output
    assert "registry MISMATCH run:1 status: the audit log says 'FAIL', the table says 'PASS'" in (
        r.stdout
    )
