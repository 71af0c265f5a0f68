"""`Store.verify_registry` and `govkit audit verify`: registry tables cross-checked with the log.

A real store (SQLite file and PostgreSQL through ``db_url``): datasets and a
scikit-learn model saved with skops registered through the workflows, a policy
bound, an approval, an alias and API keys; then rows are changed behind the store's
back with plain SQL, as someone with write access to the database would, and each
change must be reported naming the row (subject) and the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy
from api_helpers import FEATURES, credit_data
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.records import DatasetRef, ModelRef
from govkit.results import CheckResult, EvaluationResult, Status
from govkit.store import RegistryReport, Store
from govkit.store._schema import DatasetRow, ModelVersionRow, RunRow

POLICY = """\
schema_version: 1
name: credit-gate
approval: {required: true, independent: true}
rules:
  - {id: auc, kind: performance, metric: roc_auc, threshold: {min: 0.55}}
"""


def cli(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env={"GOVKIT_ACTOR": "tester"})


@contextmanager
def raw(db: str) -> Iterator[sqlalchemy.Connection]:
    """A plain connection in a transaction, behind the store's back."""
    engine = sqlalchemy.create_engine(db)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def sql(db: str, statement: str, **params: Any) -> None:
    with raw(db) as conn:
        conn.execute(sqlalchemy.text(statement), params)


def verify(db: str) -> RegistryReport:
    with Store.open(db, read_only=True) as store:
        assert store.verify_chain().ok  # the log itself is untouched by every tamper here
        return store.verify_registry()


def fields(report: RegistryReport) -> set[tuple[str, str]]:
    return {(p.subject, p.field) for p in report.problems}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Train/eval CSVs and two tiny logistic regressions saved with skops (built once)."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("registry-verify")
    data = credit_data(300)
    data.iloc[:200].to_csv(folder / "train.csv", index=False)
    data.iloc[200:].to_csv(folder / "eval.csv", index=False)
    models = []
    for i, c in enumerate((1.0, 0.1), start=1):
        model = LogisticRegression(C=c, max_iter=500).fit(data[FEATURES], data["repaid"])
        sio.dump(model, folder / f"credit-v{i}.skops")
        models.append(folder / f"credit-v{i}.skops")
    return {"folder": folder, "models": models}


def run_result(version: int, status: Status, fingerprint: str) -> EvaluationResult:
    """A run of credit-gate on credit@VERSION whose one rule (auc) has ``status``."""
    check = CheckResult(
        rule_id="auc",
        check_id="performance.roc_auc",
        kind="performance",
        severity="error",
        status=status,
        value=0.7,
    )
    moment = datetime.now(UTC)
    return EvaluationResult(
        policy_name="credit-gate",
        policy_digest="sha256:" + "d" * 64,
        model=ModelRef(name="credit", version=version),
        data_fingerprint=fingerprint,
        n_rows=100,
        started_at=moment,
        finished_at=moment,
        govkit_version="test",
        checks=(check,),
    )


def build(db: str, files: dict[str, Any]) -> dict[str, str]:
    """The world every test starts from; returns the API key ids (live, revoked)."""
    from govkit.workflows import register_dataset, register_model

    folder = files["folder"]
    with Store.open(db) as store:
        register_dataset(folder / "train.csv", name="credit-train", store=store, actor="dana")
        register_dataset(
            folder / "eval.csv",
            name="credit-eval",
            store=store,
            parents=["credit-train@1"],
            transformation="held-out split",
            actor="dana",
        )
        for artifact in files["models"]:
            register_model(
                artifact,
                name="credit",
                store=store,
                training_data="credit-train@1",
                evaluation_data="credit-eval@1",
                actor="alice",
            )
        store.bind_policy(
            "credit",
            policy_name="credit-gate",
            policy_digest="sha256:" + "d" * 64,
            approval_required=True,
            approval_independent=True,
            actor="erin",
        )
        store.approve_model(
            ModelRef(name="credit", version=1), approver="bob", note="validated", actor="bob"
        )
        store.set_model_alias(ModelRef(name="credit", version=1), "champion", actor="erin")
        fingerprint = store.get_dataset(DatasetRef(name="credit-eval", version=1)).fingerprint
        for version, status in ((1, Status.FAIL), (2, Status.PASS)):  # runs 1 and 2
            store.record_run(run_result(version, status, fingerprint), actor="ci")
        live, _ = store.create_api_key(tenant="acme", scopes=["decide"], name="svc", actor="erin")
        gone, _ = store.create_api_key(tenant="acme", scopes=["read"], name="old", actor="erin")
        store.revoke_api_key(gone.key_id, actor="erin")
    return {"live": live.key_id, "revoked": gone.key_id}


@pytest.fixture
def world(db_url: str, files: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return db_url, build(db_url, files)


def test_an_untampered_store_matches_its_log(world: tuple[str, dict[str, str]]) -> None:
    db, _ = world
    report = verify(db)
    assert report.ok and report.problems == ()
    assert (report.models_checked, report.datasets_checked) == (2, 2)
    assert report.lifecycle_checked == 4  # alias, stage (credit@1 approved), approval, binding
    assert report.api_keys_checked == 2
    assert report.runs_checked == 2
    r = cli("audit", "verify", "--db", db)
    assert r.exit_code == 0, r.output
    assert "audit chain intact:" in r.stdout
    assert (
        "registry matches the audit log: 2 model versions, 2 datasets, 4 lifecycle rows, "
        "2 policy runs and 2 API keys cross-checked"
    ) in r.stdout


SHA = "0123456789abcdef" * 4
FP = "sha256:" + "0" * 64

# (statement, subject, field, values the problem may show or None when none may be shown)
TAMPERS = [
    pytest.param(
        f"UPDATE govkit_datasets SET fingerprint = '{FP}' WHERE name = 'credit-train'",
        "dataset:credit-train@1",
        "fingerprint",
        True,
        id="fingerprint",
    ),
    pytest.param(
        "UPDATE govkit_model_versions SET version = 3 WHERE name = 'credit' AND version = 2",
        "model:credit@3",
        "registration",
        True,
        id="model-row-without-event",
    ),
    pytest.param(
        "UPDATE govkit_model_versions SET training_dataset_id = evaluation_dataset_id",
        "model:credit@1",
        "training_data",
        True,
        id="training-data-link",
    ),
    pytest.param(
        "DELETE FROM govkit_dataset_parents",
        "dataset:credit-eval@1",
        "parents",
        True,
        id="lineage-edge-deleted",
    ),
    pytest.param(
        "UPDATE govkit_datasets SET source_uri = 'file:///home/someone/x.csv'",
        "dataset:credit-train@1",
        "source_uri",
        False,
        id="source_uri-not-shown",
    ),
    pytest.param(
        "UPDATE govkit_model_aliases SET model_version = 2",
        "model:credit",
        "alias.champion",
        True,
        id="alias",
    ),
    pytest.param(
        "UPDATE govkit_model_stages SET stage = 'production'",
        "model:credit@1",
        "stage",
        True,
        id="stage",
    ),
    pytest.param(
        "UPDATE govkit_approvals SET approver = 'mallory'",
        "model:credit@1",
        "approver",
        False,
        id="approver-not-shown",
    ),
    pytest.param(
        "UPDATE govkit_policy_bindings SET approval_independent = false",
        "model:credit",
        "approval_independent",
        True,
        id="four-eyes-dropped",
    ),
    pytest.param(
        "UPDATE govkit_api_keys SET scopes = 'decide read admin' WHERE scopes = 'decide'",
        "api-key:{live}",
        "scopes",
        True,
        id="api-key-scopes",
    ),
    pytest.param(
        "UPDATE govkit_runs SET status = 'PASS' WHERE status = 'FAIL'",
        "run:1",
        "status",
        True,
        id="run-verdict",
    ),
    pytest.param(
        "UPDATE govkit_check_results SET status = 'PASS'",
        "run:1",
        "checks",
        True,
        id="run-check-status",
    ),
    pytest.param(
        "UPDATE govkit_runs SET model_version = 2 WHERE id = 1",
        "run:1",
        "model",
        True,
        id="run-moved-to-another-version",
    ),
    pytest.param(
        "UPDATE govkit_runs SET recorded_by = 'mallory'",
        "run:1",
        "recorded_by",
        False,
        id="run-recorder-not-shown",
    ),
    pytest.param(
        "DELETE FROM govkit_check_results WHERE run_id = 1; DELETE FROM govkit_runs WHERE id = 1",
        "run:1",
        "policy.run",
        True,
        id="failing-run-deleted",
    ),
    pytest.param(
        "UPDATE govkit_api_keys SET revoked_at = NULL",
        "api-key:{revoked}",
        "revoked",
        True,
        id="api-key-unrevoked",
    ),
]


@pytest.mark.parametrize("statement,subject,field,shown", TAMPERS)
def test_a_tampered_row_is_reported(
    world: tuple[str, dict[str, str]], statement: str, subject: str, field: str, shown: bool
) -> None:
    db, keys = world
    subject = subject.format(**keys)
    with raw(db) as conn:
        before = {
            str(r[0]): str(r[1])
            for r in conn.execute(sqlalchemy.text("SELECT name, source_uri FROM govkit_datasets"))
        }
    for part in statement.split("; "):
        sql(db, part)
    report = verify(db)
    assert not report.ok
    assert (subject, field) in fields(report), report.problems
    problem = next(p for p in report.problems if (p.subject, p.field) == (subject, field))
    if not shown:  # possibly personal data: neither the old nor the new value
        assert "(values not shown)" in problem.detail
        for secret in ("mallory", "bob", "someone", *before.values()):
            assert secret not in problem.detail
    r = cli("audit", "verify", "--db", db)
    assert r.exit_code == 1, r.output
    assert f"registry MISMATCH {subject} {field}:" in r.stdout
    assert "audit chain intact:" in r.stdout  # the chain itself is fine: the tables lie


def test_a_digest_problem_shows_both_digests(world: tuple[str, dict[str, str]]) -> None:
    db, _ = world
    with Store.open(db) as store:
        logged = store.get_model_version(ModelRef(name="credit", version=1)).artifact_sha256
    sql(db, f"UPDATE govkit_model_versions SET artifact_sha256 = '{SHA}' WHERE version = 1")
    (problem,) = verify(db).problems
    assert problem == ("model:credit@1", "artifact_sha256", problem.detail)
    assert f"the audit log says {logged!r}, the table says {SHA!r}" == problem.detail


def test_a_deleted_row_is_reported_as_gone(world: tuple[str, dict[str, str]]) -> None:
    db, _ = world
    sql(db, "DELETE FROM govkit_model_versions WHERE version = 2")
    report = verify(db)
    assert report.models_checked == 1
    assert [(p.subject, p.field) for p in report.problems] == [("model:credit@2", "registration")]
    assert "the row is gone" in report.problems[0].detail


def _set_json(
    db: str, table: Any, where: Any, field: str, value: Any, *, column: str = "record"
) -> None:
    with raw(db) as conn:
        (record,) = conn.execute(sqlalchemy.select(table.c[column]).where(where)).one()
        conn.execute(
            sqlalchemy.update(table).where(where).values({column: {**record, field: value}})
        )


def test_a_run_edited_behind_the_log_is_reported_with_both_values(
    world: tuple[str, dict[str, str]],
) -> None:
    """A failing run set to PASS, in its row, its check rows and its result JSON."""
    db, _ = world
    runs = RunRow.__table__  # type: ignore[attr-defined]
    sql(db, "UPDATE govkit_runs SET status = 'PASS' WHERE id = 1")
    sql(db, "UPDATE govkit_check_results SET status = 'PASS' WHERE run_id = 1")
    with raw(db) as conn:
        (result,) = conn.execute(sqlalchemy.select(runs.c.result).where(runs.c.id == 1)).one()
    checks = [{**c, "status": "PASS"} for c in result["checks"]]
    _set_json(db, runs, runs.c.id == 1, "checks", checks, column="result")
    with Store.open(db, read_only=True) as store:  # what a card would now show
        assert store.latest_run(ModelRef(name="credit", version=1)).result.status == Status.PASS
    problems = {(p.subject, p.field): p.detail for p in verify(db).problems}
    assert problems == {
        ("run:1", "status"): "the audit log says 'FAIL', the table says 'PASS'",
        ("run:1", "checks"): "rule 1: the audit log says ['auc', 'performance.roc_auc', 'FAIL'], "
        "the table says ['auc', 'performance.roc_auc', 'PASS'] (rule id, check id, status)",
        ("run:1", "result.checks"): "rule 1: the audit log says ['auc', 'performance.roc_auc', "
        "'FAIL'], the table says ['auc', 'performance.roc_auc', 'PASS'] (rule id, check id, "
        "status)",
    }
    r = cli("audit", "verify", "--db", db)
    assert r.exit_code == 1, r.output
    assert "registry MISMATCH run:1 status: the audit log says 'FAIL', the table says 'PASS'" in (
        r.stdout
    )
    assert "registry does NOT match the audit log: 3 problem(s)" in r.stdout


def test_every_field_of_a_run_is_checked(world: tuple[str, dict[str, str]]) -> None:
    """Each column that identifies a run or gives its verdict, and the same in its result."""
    db, _ = world
    runs = RunRow.__table__  # type: ignore[attr-defined]
    where = runs.c.id == 2
    columns = {
        "model_name": ("credit2", "model"),
        "model_version": (1, "model"),
        "policy_name": ("lax", "policy_name"),
        "policy_digest": ("sha256:" + "a" * 64, "policy_digest"),
        "status": ("FAIL", "status"),
        "data_fingerprint": (FP, "data_fingerprint"),
    }
    for column, (value, field) in columns.items():
        with raw(db) as conn:
            (original,) = conn.execute(sqlalchemy.select(runs.c[column]).where(where)).one()
            conn.execute(sqlalchemy.update(runs).where(where).values({column: value}))
        assert fields(verify(db)) == {("run:2", field)}, column
        with raw(db) as conn:
            conn.execute(sqlalchemy.update(runs).where(where).values({column: original}))
    assert verify(db).ok
    with raw(db) as conn:
        (result,) = conn.execute(sqlalchemy.select(runs.c.result).where(where)).one()
    for key, value in {
        "model": {"name": "credit", "version": 1},
        "policy_name": "lax",
        "policy_digest": "sha256:" + "a" * 64,
        "data_fingerprint": FP,
        "checks": [],
    }.items():
        _set_json(db, runs, where, key, value, column="result")
        assert fields(verify(db)) == {("run:2", f"result.{key}")}, key
        with raw(db) as conn:
            conn.execute(sqlalchemy.update(runs).where(where).values(result=result))
    assert verify(db).ok


MODEL_VALUES = {
    "artifact_uri": "file:///elsewhere/model.skops",
    "artifact_sha256": SHA,
    "artifact_format": "pickle",
    "flavour": "lightgbm",
    "estimator": "RandomForestClassifier",
}
DATASET_VALUES = {
    "fingerprint": FP,
    "order_independent": True,
    "row_count": 7,
    "source_uri": "file:///elsewhere.csv",
    "transformation": "something else",
}


def test_any_single_field_tamper_is_detected(world: tuple[str, dict[str, str]]) -> None:
    """Every covered column, and the same field in the record JSON the loaders read."""
    db, _ = world
    models, datasets = ModelVersionRow.__table__, DatasetRow.__table__  # type: ignore[attr-defined]
    model_row = (models.c.name == "credit") & (models.c.version == 1)
    dataset_row = datasets.c.name == "credit-eval"
    cases: list[tuple[Any, Any, str, str, Any]] = [
        (models, model_row, "model:credit@1", f, v) for f, v in MODEL_VALUES.items()
    ] + [(datasets, dataset_row, "dataset:credit-eval@1", f, v) for f, v in DATASET_VALUES.items()]
    for table, where, subject, field, value in cases:
        with raw(db) as conn:
            (original,) = conn.execute(sqlalchemy.select(table.c[field]).where(where)).one()
            conn.execute(sqlalchemy.update(table).where(where).values({field: value}))
        assert fields(verify(db)) == {(subject, field)}, field
        with raw(db) as conn:
            conn.execute(sqlalchemy.update(table).where(where).values({field: original}))
        assert verify(db).ok
        # the record JSON only: what get_model_version / get_dataset return
        with raw(db) as conn:
            (record,) = conn.execute(sqlalchemy.select(table.c.record).where(where)).one()
        _set_json(db, table, where, field, value)
        assert fields(verify(db)) == {(subject, f"record.{field}")}, field
        with raw(db) as conn:
            conn.execute(sqlalchemy.update(table).where(where).values(record=record))
    assert verify(db).ok


def test_the_record_json_the_loader_reads_is_checked(world: tuple[str, dict[str, str]]) -> None:
    db, _ = world
    table = ModelVersionRow.__table__  # type: ignore[attr-defined]
    _set_json(db, table, table.c.version == 1, "artifact_sha256", SHA)
    with Store.open(db) as store:  # the loader now trusts the forged digest ...
        assert store.get_model_version(ModelRef(name="credit", version=1)).artifact_sha256 == SHA
    (problem,) = verify(db).problems  # ... which the log contradicts
    assert (problem.subject, problem.field) == ("model:credit@1", "record.artifact_sha256")
    r = cli("audit", "verify", "--db", db)
    assert (
        r.exit_code == 1 and "registry MISMATCH model:credit@1 record.artifact_sha256" in r.stdout
    )
    assert "1 problem(s)" in r.stdout


def test_production_promotion_and_rollback_replay(tmp_path: Any, files: dict[str, Any]) -> None:
    """Stages and the production alias as moved by promote and rollback (real gate runs)."""
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    build(db, files)
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY)
    assert cli("model", "bind", "credit", "--policy", policy, "--db", db).exit_code == 0
    data = files["folder"] / "eval.csv"
    for version in (1, 2):
        args = ["check", policy, "--data", data, "--model", f"credit@{version}"]
        r = cli(*args, "--target", "repaid", "--db", db)
        assert r.exit_code == 0, r.output
        r = cli(
            "model", "approve", f"credit@{version}", "--approver", "bob", "--note", "ok", "--db", db
        )
        assert r.exit_code == 0, r.output
        r = cli("model", "promote", f"credit@{version}", "--to", "production", "--db", db)
        assert r.exit_code == 0, r.output
    assert cli("model", "rollback", "credit", "--db", db).exit_code == 0
    report = verify(db)
    assert report.ok, report.problems
    with Store.open(db, read_only=True) as store:
        assert store.resolve_alias("credit", "production") == 1
    sql(db, "UPDATE govkit_model_aliases SET model_version = 2 WHERE alias = 'production'")
    sql(db, "UPDATE govkit_model_stages SET stage = 'production' WHERE model_version = 2")
    assert fields(verify(db)) == {("model:credit", "alias.production"), ("model:credit@2", "stage")}


def test_forged_and_corrupt_events_are_reported(world: tuple[str, dict[str, str]]) -> None:
    """The public API refuses the registry's own event types; events forged past it (the
    store's internal append) cannot re-register a version or move an alias unnoticed."""
    from govkit.exceptions import InputError
    from govkit.store._log import NewEvent

    db, _ = world
    with Store.open(db) as store:
        forged = store.audit_events()[2].payload  # credit@1's model.registered
        assert forged["name"] == "credit" and forged["version"] == 1
        for event_type in (
            "model.registered",
            "dataset.registered",
            "api_key.created",
            "policy.run",
        ):
            with pytest.raises(InputError, match=f"audit event type '{event_type}' is reserved"):
                store.record_event(event_type, {"x": 1}, actor="x", subject=None)
            with pytest.raises(InputError, match="is reserved"):
                store.record_events([("note.ok", {}), (event_type, {})], actor="x")
        before = len(store.audit_events())
        store._append(
            "forge",
            [
                NewEvent("model.registered", {**forged, "artifact_sha256": SHA}, None),
                NewEvent("model.alias_set", {"model": "credit"}, None),
            ],
            "x",
        )
        assert len(store.audit_events()) == before + 2  # the refused batches wrote nothing
    report = verify(db)
    assert [(p.subject, p.field) for p in report.problems] == [
        ("model:credit@1", "registration"),
        ("log", "event"),
    ]
    assert "registered twice in the audit log" in report.problems[0].detail
    assert "unexpected payload" in report.problems[1].detail


def test_a_payload_changed_behind_the_chain_is_not_trusted(
    world: tuple[str, dict[str, str]],
) -> None:
    db, _ = world
    sql(
        db,
        "UPDATE govkit_audit_events SET payload = REPLACE(payload, '\"skops\"', '\"pickle\"') "
        "WHERE event_type = 'model.registered'",
    )
    with Store.open(db, read_only=True) as store:
        assert not store.verify_chain().ok
        problems = fields(store.verify_registry())
    assert ("model:credit@1", "event") in problems and ("model:credit@2", "event") in problems
    assert ("model:credit@1", "registration") in problems  # its event is not used


@pytest.mark.parametrize("revision", ["0001", "0004"])
def test_older_schemas_verify_read_only(tmp_path: Any, revision: str) -> None:
    """A read-only store of an older schema: tables it does not have yet are skipped."""
    from govkit.store._migrate import upgrade

    db = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sqlalchemy.create_engine(db)
    with engine.begin() as conn:
        upgrade(conn, revision)
    engine.dispose()
    with Store.open(db, read_only=True) as store:
        report = store.verify_registry()
    assert report.ok and report.models_checked == report.lifecycle_checked == 0


def test_metadata_and_column_changes_are_caught_by_their_logged_digests(
    world: tuple[str, dict[str, str]],
) -> None:
    """The owner the four-eyes check reads, and a dataset's column types, are digested in the
    registration events: a change in the record JSON is reported, without showing values."""
    db, _ = world
    models, datasets = ModelVersionRow.__table__, DatasetRow.__table__  # type: ignore[attr-defined]
    model_row = (models.c.name == "credit") & (models.c.version == 1)
    with raw(db) as conn:
        (record,) = conn.execute(sqlalchemy.select(models.c.record).where(model_row)).one()
    _set_json(db, models, model_row, "metadata", {**record["metadata"], "owner": "mallory"})
    with Store.open(db) as store:  # what the approval check would now read
        assert store.get_model_version(ModelRef(name="credit", version=1)).metadata.owner == (
            "mallory"
        )
    (problem,) = verify(db).problems
    assert (problem.subject, problem.field) == ("model:credit@1", "record.metadata")
    assert "mallory" not in problem.detail
    with raw(db) as conn:
        conn.execute(sqlalchemy.update(models).where(model_row).values(record=record))
    assert verify(db).ok

    dataset_row = datasets.c.name == "credit-eval"
    with raw(db) as conn:
        (record,) = conn.execute(sqlalchemy.select(datasets.c.record).where(dataset_row)).one()
    columns = [dict(c) for c in record["columns"]]
    columns[0] = {
        **columns[0],
        "dtype": "object" if columns[0].get("dtype") != "object" else "int64",
    }
    _set_json(db, datasets, dataset_row, "columns", columns)
    assert fields(verify(db)) == {("dataset:credit-eval@1", "record.columns")}
