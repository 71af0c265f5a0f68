"""MLflow: models from a real local MLflow registry (SQLite + file artifacts), --mlflow-log."""

# ruff: noqa: F811  (the fixtures world, _env and db come from tests/mlflow_helpers.py)

from __future__ import annotations

import json
import math
import re
import socket
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from govkit.data import fingerprint, read_table
from govkit.records import DatasetRef, ModelRef
from govkit.store import Store
from tests.mlflow_helpers import (  # noqa: F401 (fixtures)
    FEATURES,
    _env,
    check,
    cli,
    db,
    error_line,
    model_file,
    records,
    sha256,
    world,
)

pytestmark = pytest.mark.filterwarnings(
    # MLflow's SQLAlchemy models use a loader strategy SQLAlchemy 2.1 deprecates
    "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
)


# ---------------------------------------------------------------- registration


def test_check_registers_the_mlflow_model_with_digest_provenance_and_training_data(world, db):
    r = check(world, "mlflow:models:/credit/1", db)
    assert r.exit_code == 0, r.output
    assert "model credit@1 is MLflow models:/credit/1 (version 1" in r.stderr
    (record,) = records(db)
    assert record.ref == ModelRef(name="credit", version=1)
    path = model_file(world, "credit", 1)
    assert path.name == "model.skops"  # MLflow 3 saves scikit-learn models with skops
    assert record.artifact_sha256 == sha256(path)
    assert record.artifact_uri == path.resolve().as_uri()
    assert (record.artifact_format, record.flavour) == ("skops", "sklearn")
    assert record.metadata.feature_names == ("x0", "x1", "x2")
    source = record.metadata.mlflow
    assert source is not None
    assert source.run_id == world.runs["credit/1"]
    assert source.experiment_id == world.experiment_id
    assert (source.registered_model, source.version, source.alias) == ("credit", 1, None)
    assert source.tracking_uri == world.uri
    assert (source.flavour, source.serialization_format, source.model_file) == (
        "sklearn",
        "skops",
        "model.skops",
    )
    assert source.model_id and source.source == f"models:/{source.model_id}"
    # the training dataset MLflow logged: its source CSV is readable here and MLflow's digest
    # of it matches, so govkit registers its own content fingerprint
    with Store.open(db) as store:
        training = store.get_dataset(record.training_data)
        run = store.latest_run(record.ref)
    assert training.name == "credit-train"
    assert training.fingerprint == fingerprint(read_table(world.train_csv))
    assert training.row_count == 300
    assert training.source_uri == str(world.train_csv)
    assert world.runs["credit/1"] in training.transformation
    assert {c.rule_id: c.status.value for c in run.result.checks}["training"] == "PASS"
    # `govkit model show` names where the version came from
    shown = cli("model", "show", "credit@1", db=db)
    assert shown.exit_code == 0, shown.output
    assert re.search(
        rf"\n  from MLflow +credit version 1 \(models:/credit/1\), run {source.run_id}, "
        r"flavour sklearn\n",
        shown.stdout,
    ), shown.stdout


def test_same_mlflow_version_twice_or_by_alias_reuses_the_govkit_version(world, db):
    for model in ("mlflow:models:/credit/1", "mlflow:models:/credit@champion"):
        r = check(world, model, db)
        assert r.exit_code == 0, r.output
    (record,) = records(db)
    assert record.ref == ModelRef(name="credit", version=1)
    with Store.open(db) as store:  # the training data was registered once: no version 2
        assert store.get_dataset(DatasetRef(name="credit-train")).version == 1


def test_alias_resolves_to_its_version(world, db, tmp_path):
    import govkit
    from govkit.workflows import check as check_api

    with Store.open(db) as store:
        outcome = check_api(
            world.passing,
            data=world.eval_csv,
            store=store,
            model="mlflow:models:/credit@champion",
            target="y",
        )
        record = store.get_model_version(outcome.result.model)
    assert govkit.check is check_api
    assert record.metadata.mlflow.alias == "champion"
    assert record.metadata.mlflow.version == 1
    assert record.artifact_sha256 == sha256(model_file(world, "credit", 1))


def test_a_new_mlflow_version_is_a_new_govkit_version_pickle_needs_trust(world, db):
    r = check(world, "mlflow:models:/credit/2", db)
    message = error_line(r)
    for part in ("models:/credit/2", "sklearn flavour", "cloudpickle", "arbitrary code", "--trust"):
        assert part in message, message
    assert records(db) == []
    assert check(world, "mlflow:models:/credit/1", db).exit_code == 0
    r = check(world, "mlflow:models:/credit/2", db, "--trust")
    assert r.exit_code == 0, r.output
    versions = {rec.version: rec for rec in records(db)}
    assert set(versions) == {1, 2}
    assert versions[2].artifact_format == "pickle"
    assert versions[2].artifact_sha256 == sha256(model_file(world, "credit", 2))
    assert versions[2].metadata.mlflow.serialization_format == "cloudpickle"


def test_lightgbm_flavour_loads_with_trust_and_links_mlflow_digest(world, db):
    # MLflow saves LightGBM's scikit-learn API models with skops; its types are outside
    # skops' trusted set, so they need review (--trust-type), whatever MLmodel lists
    message = error_line(check(world, "mlflow:models:/credit-lgbm/1", db))
    assert "MLflow model models:/credit-lgbm/1 (model.skops)" in message
    assert "--trust-type lightgbm.sklearn.LGBMClassifier" in message
    r = check(world, "mlflow:models:/credit-lgbm/1", db, "--trust")
    assert r.exit_code == 0, r.output
    (record,) = records(db)
    assert (record.name, record.flavour, record.estimator) == (
        "credit-lgbm",
        "lightgbm",
        "LGBMClassifier",
    )
    assert record.artifact_sha256 == sha256(model_file(world, "credit-lgbm", 1))
    with Store.open(db) as store:
        training = store.get_dataset(record.training_data)
    # two inputs were logged; the one with context "training" is linked. Its source is
    # remote, so it carries MLflow's digest, labelled as such
    import mlflow

    logged = mlflow.MlflowClient(world.uri).get_run(world.runs["credit-lgbm/1"]).inputs
    digest = next(i.dataset.digest for i in logged.dataset_inputs if i.dataset.name == "lgbm-train")
    assert training.name == "lgbm-train"
    assert training.fingerprint == f"mlflow-digest:{digest}"
    assert training.source_uri == "s3://example-bucket/credit/train.parquet"
    assert [c.name for c in training.columns] == ["x0", "x1", "x2", "y"]
    assert training.row_count == 300


def test_xgboost_flavour_loads_without_trust_and_predicts_as_logged(world, db):
    """MLflow's xgboost flavour stores XGBoost's own UBJSON model: data, not code."""
    import xgboost as xgb

    r = check(world, "mlflow:models:/credit-xgb/1", db)
    assert r.exit_code == 0, r.output
    (record,) = records(db)
    assert (record.flavour, record.estimator, record.artifact_format) == (
        "xgboost",
        "XGBClassifier",
        "xgboost-ubj",
    )
    path = model_file(world, "credit-xgb", 1)
    assert path.suffix == ".ubj" and record.artifact_sha256 == sha256(path)
    assert record.metadata.feature_names == tuple(FEATURES)
    original = xgb.XGBClassifier()
    original.load_model(path)
    with Store.open(db) as store:
        from govkit.artifacts import load_registered

        loaded = load_registered(store.get_model_version(record.ref))
    X = pd.read_csv(world.eval_csv)[FEATURES]
    np.testing.assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))


def test_a_model_changed_in_mlflow_after_registration_is_refused(world, db):
    assert check(world, "mlflow:models:/credit/1", db).exit_code == 0
    path = model_file(world, "credit", 1)
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"\0")
        message = error_line(check(world, "credit@1", db))  # reload of the govkit version
        assert "changed after registration" in message and sha256(path) in message
        message = error_line(check(world, "mlflow:models:/credit/1", db))  # from MLflow again
        assert "changed in MLflow after registration" in message
        assert "credit@1" in message
    finally:
        path.write_bytes(original)
    assert check(world, "credit@1", db).exit_code == 0
    assert len(records(db)) == 1


def test_fetch_artifact_copies_the_file_from_the_artifact_store(world, db):
    from govkit.integrations._mlflow import fetch_artifact

    assert check(world, "mlflow:models:/credit/1", db).exit_code == 0
    (record,) = records(db)
    copy = fetch_artifact(record)
    assert copy != model_file(world, "credit", 1)
    assert sha256(copy) == record.artifact_sha256


# ---------------------------------------------------------------- --mlflow-log


def _logged_run_id(r) -> str:
    match = re.search(r"logged to MLflow run ([0-9a-f]+)", r.stderr)
    assert match, r.stderr
    return match[1]


def _artifact(client, run_id: str, path: str, tmp_path: Path) -> bytes:
    return Path(client.download_artifacts(run_id, path, str(tmp_path))).read_bytes()


@pytest.mark.parametrize(
    "policy,exit_code,verdict", [("passing", 0, "PASS"), ("failing", 1, "FAIL")]
)
def test_mlflow_log_records_metrics_tags_and_cards(world, db, tmp_path, policy, exit_code, verdict):
    import mlflow

    r = check(world, "mlflow:models:/credit/1", db, "--mlflow-log", policy=getattr(world, policy))
    assert r.exit_code == exit_code, r.output
    run_id = _logged_run_id(r)
    with Store.open(db) as store:
        stored = store.latest_run(ModelRef(name="credit", version=1))
    result = stored.result
    assert result.status.value == verdict
    client = mlflow.MlflowClient(world.uri)
    run = client.get_run(run_id)
    assert run.info.experiment_id == world.experiment_id  # the model's experiment
    assert run.info.status == "FINISHED"
    expected = {c.rule_id: c.value for c in result.checks if c.value is not None}
    assert {"acc", "auc"} <= set(expected)
    assert run.data.metrics == pytest.approx(expected)
    tags = run.data.tags
    assert tags["govkit.verdict"] == verdict
    assert tags["govkit.policy_digest"] == result.policy_digest
    assert tags["govkit.audit_sequence"] == str(stored.anchor.sequence)
    assert tags["govkit.audit_hash"] == stored.anchor.hash
    assert tags["govkit.model"] == "credit@1"
    assert tags["govkit.mlflow_model"] == "models:/credit/1"
    assert {tags[f"govkit.rule.{c.rule_id}"] for c in result.checks} <= {"PASS", "FAIL"}
    files = {a.path for a in client.list_artifacts(run_id, "govkit")}
    assert files == {"govkit/evaluation.json", "govkit/card.html", "govkit/card.pdf"}
    pdf = _artifact(client, run_id, "govkit/card.pdf", tmp_path)
    assert pdf.startswith(b"%PDF")
    html = _artifact(client, run_id, "govkit/card.html", tmp_path).decode()
    assert "credit" in html and "<html" in html.lower()
    evaluation = json.loads(_artifact(client, run_id, "govkit/evaluation.json", tmp_path))
    assert json.dumps(evaluation).count(result.policy_digest) >= 1
    version = client.get_model_version("credit", "1")
    assert version.tags["govkit.verdict"] == verdict
    assert version.tags["govkit.run"] == run_id


def test_python_api_logs_to_a_named_experiment(world, db):
    import mlflow

    from govkit.workflows import check as check_api

    with Store.open(db) as store:
        outcome = check_api(
            world.passing,
            data=world.eval_csv,
            store=store,
            model="mlflow:models:/credit@champion",
            target="y",
            mlflow_log=True,
            mlflow_experiment="govkit-gate",
        )
    run = mlflow.MlflowClient(world.uri).get_run(outcome.mlflow_run_id)
    experiment = mlflow.MlflowClient(world.uri).get_experiment(run.info.experiment_id)
    assert experiment.name == "govkit-gate"
    accuracy = next(c.value for c in outcome.result.checks if c.rule_id == "acc")
    assert math.isclose(run.data.metrics["acc"], accuracy)
    assert run.data.tags["govkit.verdict"] == outcome.result.status.value


def test_mlflow_log_failure_is_exit_2_and_the_audit_record_stays(world, db):
    r = check(world, "mlflow:models:/credit/1", db, "--mlflow-log", "--mlflow-experiment", "gone")
    message = error_line(r)
    assert "logging to MLflow failed" in message and "'gone' is deleted" in message
    assert "recorded in govkit's audit log as run 1 at audit sequence" in message
    with Store.open(db) as store:
        assert store.latest_run(ModelRef(name="credit", version=1)) is not None


def test_mlflow_log_of_a_govkit_model_needs_an_experiment(world, db):
    assert check(world, "mlflow:models:/credit/1", db).exit_code == 0
    with Store.open(db) as store:  # a plain govkit model (no MLflow provenance) under test
        record = store.get_model_version(ModelRef(name="credit", version=1))
        plain = record.metadata.model_copy(update={"mlflow": None})
        store.add_model_version(
            name="plain",
            version=None,
            artifact_uri=record.artifact_uri,
            artifact_sha256=record.artifact_sha256,
            artifact_format=record.artifact_format,
            flavour=record.flavour,
            estimator=record.estimator,
            metadata=plain,
            training_data=record.training_data,
            evaluation_data=None,
            actor="tester",
        )
    message = error_line(check(world, "plain@1", db, "--mlflow-log"))
    assert "--mlflow-experiment" in message and "audit log as run" in message
    r = check(world, "plain@1", db, "--mlflow-log", "--mlflow-experiment", "plain-models")
    assert r.exit_code == 0, r.output
    _logged_run_id(r)


@pytest.mark.parametrize(
    "args,expect",
    [
        (("--mlflow-experiment", "x"), "--mlflow-experiment applies with --mlflow-log only"),
        (("--mlflow-log", "--prediction-column", "y"), "--mlflow-log needs a --model"),
    ],
)
def test_mlflow_log_option_errors(world, db, args, expect):
    r = cli("check", str(world.passing), "--data", str(world.eval_csv), *args, db=db)
    assert expect in error_line(r)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "uri",
    ["mlflow:models:/credit", "mlflow:runs:/abc/model", "mlflow:models:/credit/0", "mlflow:"],
)
def test_malformed_uri_names_the_expected_forms(world, db, uri):
    message = error_line(check(world, uri, db))
    assert "mlflow:models:/NAME/VERSION or mlflow:models:/NAME@ALIAS" in message
    assert repr(uri) in message


@pytest.mark.parametrize(
    "uri,expect",
    [
        ("mlflow:models:/credt/1", "no registered model 'credt'"),
        ("mlflow:models:/credit/9", "model 'credit' has no version 9"),
        ("mlflow:models:/credit@prod", "model 'credit' has no alias '@prod'"),
    ],
)
def test_unknown_model_version_or_alias_names_what_exists(world, db, uri, expect):
    message = error_line(check(world, uri, db))
    assert expect in message
    if "credt" in uri:
        assert "did you mean 'credit'?" in message
        assert "credit, credit-lgbm, credit-xgb, pyfunc-only" in message
    elif "@" in uri:
        assert "aliases: @champion -> 1" in message
    else:
        assert "versions: 1, 2" in message


@pytest.mark.parametrize(
    "conf",
    [
        {"data": "model.xgb", "model_class": "xgboost.sklearn.XGBClassifier"},  # old binary
        {"data": "model.ubj", "model_class": "xgboost.core.Booster"},  # not the sklearn API
    ],
)
def test_an_xgboost_model_govkit_cannot_read_names_the_fix(conf):
    from govkit.exceptions import InputError
    from govkit.integrations._mlflow import _flavour, parse_mlflow_uri

    parsed = parse_mlflow_uri("mlflow:models:/credit-xgb/1")
    with pytest.raises(InputError) as info:
        _flavour({"flavors": {"xgboost": conf}}, parsed)
    message = str(info.value)
    assert message.startswith("MLflow model models:/credit-xgb/1: unsupported xgboost model")
    assert conf["model_class"] in message and conf["data"] in message
    assert "model_format='ubj' or 'json'" in message


def test_pyfunc_only_model_is_an_unsupported_flavour(world, db):
    message = error_line(check(world, "mlflow:models:/pyfunc-only/1", db, "--trust"))
    assert "unsupported MLflow flavour (python_function)" in message
    assert "'sklearn' flavour" in message


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tracking_uri_problems(world, db, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert "set MLFLOW_TRACKING_URI" in error_line(check(world, "mlflow:models:/credit/1", db))
    missing = tmp_path / "nowhere" / "mlflow.db"
    message = error_line(
        check(
            world,
            "mlflow:models:/credit/1",
            db,
            env={"MLFLOW_TRACKING_URI": f"sqlite:///{missing}"},
        )
    )
    assert f"no MLflow database at {missing}" in message
    assert not missing.parent.exists()  # no empty store was created
    message = error_line(
        check(world, "mlflow:models:/credit/1", db, env={"MLFLOW_TRACKING_URI": "foo://bar"})
    )
    assert "unsupported URI 'foo://bar'" in message and "sqlite:///mlflow.db" in message
    secret = f"http://alice:hunter2@127.0.0.1:{_closed_port()}/?token=s3cr3t"
    env = {
        "MLFLOW_TRACKING_URI": secret,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    }
    r = check(world, "mlflow:models:/credit/1", db, env=env)
    message = error_line(r)
    assert "cannot read MLflow model models:/credit/1 at http://***@127.0.0.1" in message
    for leaked in ("alice", "hunter2", "s3cr3t"):
        assert leaked not in r.output
    assert records(db) == []


def test_missing_extra_names_it(world, db, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if mlflow were not installed
    for args in (("mlflow:models:/credit/1",), ("credit@1", "--mlflow-log")):
        model, *extra = args
        message = error_line(check(world, model, db, *extra))
        assert "pip install 'govkit[mlflow]'" in message


def test_redaction():
    from govkit.integrations._mlflow_client import redact_uri, scrub
    from govkit.integrations._mlflow_log import metric_key

    assert redact_uri("https://bob:pw@mlflow.example/x?token=abc&ws=1") == (
        "https://***@mlflow.example/x?token=***&ws=***"
    )
    assert redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
    uri = "https://bob:pw123@host?token=abcdef"
    assert scrub(f"failed: {uri} and pw123, abcdef", uri) == (
        "failed: https://***@host?token=*** and ***, ***"
    )
    assert metric_key("fairness:dp(sex)") == "fairness_dp_sex_"
