"""govkit model register mlflow:models:/...: an MLflow model version with govkit's metadata."""

# ruff: noqa: F811  (the fixtures world, _env and db come from tests/mlflow_helpers.py)

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from govkit.data import fingerprint, read_table
from govkit.exceptions import InputError, NotFoundError
from govkit.records import DatasetRef, DecisionSpec, FeatureSpec, ModelRef
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

META = """\
owner: credit-risk@example.org
contact: appeals@example.org
intended_use: Pre-screening of consumer credit applications
sensitive_features: [x2]
features:
  x0: {description: monthly income, kind: money, unit: EUR, actionable: true}
  x1: {description: years at current address, kind: years}
  x2: {description: age band, kind: category, immutable: true}
decision:
  subject: credit application
  favourable_outcome: approved
  unfavourable_outcome: declined
  threshold: 0.4
  how_to_contest: Write to appeals@example.org within 30 days
"""


@pytest.fixture
def meta(tmp_path) -> Path:
    path = tmp_path / "meta.yaml"
    path.write_text(META)
    return path


def register(*args: str, db: str):
    return cli("model", "register", *args, db=db)


def register_eval(world, db: str) -> None:
    r = cli("dataset", "register", str(world.eval_csv), "--name", "credit-eval", db=db)
    assert r.exit_code == 0, r.output


# ---------------------------------------------------------------- with metadata


def test_register_with_metadata_and_evaluation_data_reaches_the_card(world, db, meta, tmp_path):
    register_eval(world, db)
    args = ("mlflow:models:/credit/1", "--meta", str(meta), "--evaluation-data", "credit-eval@1")
    r = register(*args, db=db)
    assert r.exit_code == 0, r.output
    path = model_file(world, "credit", 1)
    run_id = world.runs["credit/1"]
    assert r.stdout.strip() == (
        f"credit@1 registered from MLflow models:/credit/1 (version 1, run {run_id}): "
        f"LogisticRegression (sklearn), sha256 {sha256(path)}"
    )
    (record,) = records(db)
    m = record.metadata
    # the team's metadata, as written
    assert (m.owner, m.contact) == ("credit-risk@example.org", "appeals@example.org")
    assert m.intended_use == "Pre-screening of consumer credit applications"
    assert m.sensitive_features == ("x2",)
    assert m.features["x0"] == FeatureSpec(
        description="monthly income", kind="money", unit="EUR", actionable=True
    )
    assert m.feature_spec("x2").immutable
    assert m.decision == DecisionSpec(
        subject="credit application",
        threshold=0.4,
        how_to_contest="Write to appeals@example.org within 30 days",
    )
    # what govkit knows from the artifact and MLflow
    assert (record.flavour, m.flavour, record.estimator) == (
        "sklearn",
        "sklearn",
        "LogisticRegression",
    )
    assert m.feature_names == tuple(FEATURES)
    assert record.artifact_sha256 == sha256(path)
    assert record.artifact_uri == path.resolve().as_uri()
    assert m.mlflow is not None
    assert (m.mlflow.registered_model, m.mlflow.version, m.mlflow.run_id) == ("credit", 1, run_id)
    assert m.mlflow.experiment_id == world.experiment_id
    # training data: the run's mlflow.log_input; evaluation data: the option
    assert record.evaluation_data == DatasetRef(name="credit-eval", version=1)
    with Store.open(db) as store:
        training = store.get_dataset(record.training_data)
    assert training.name == "credit-train"
    assert training.fingerprint == fingerprint(read_table(world.train_csv))
    # the metadata reaches the model card
    out = tmp_path / "card.json"
    r = cli("card", "credit@1", "--format", "json", "--output", str(out), db=db)
    assert r.exit_code == 0, r.output
    card = json.loads(out.read_text())
    assert card["model_details"]["owners"] == [
        {"name": "credit-risk@example.org", "contact": "appeals@example.org"}
    ]
    assert card["considerations"]["use_cases"] == [
        {"description": "Pre-screening of consumer credit applications"}
    ]
    data = {d["name"]: d for d in card["model_parameters"]["data"]}
    assert set(data) == {"credit-train@1", "credit-eval@1"}
    assert data["credit-eval@1"]["sensitive"] == {"sensitive_data": ["x2"]}


def test_a_decision_letter_of_the_mlflow_model_speaks_the_metadatas_words(
    world, db, meta, tmp_path
):
    assert register("mlflow:models:/credit/1", "--meta", str(meta), db=db).exit_code == 0
    row = {"x0": 0.3, "x1": -1.2, "x2": 0.8}
    (tmp_path / "row.json").write_text(json.dumps(row))
    background = tmp_path / "background.csv"  # a linear model is explained against a sample
    pd.read_csv(world.train_csv)[FEATURES].head(100).to_csv(background, index=False)
    r = cli(
        "explain",
        "credit@1",
        "--input",
        str(tmp_path / "row.json"),
        "--background",
        str(background),
        db=db,
    )
    assert r.exit_code == 0, r.output
    decision = json.loads(r.stdout)
    out = tmp_path / "letter.html"
    r = cli("decision", "show", decision["decision_id"], "--format", "html", "-o", str(out), db=db)
    assert r.exit_code == 0, r.output
    letter = out.read_text()
    # the YAML's decision spec and wording, where MLflow alone gives generic sentences
    assert "Write to appeals@example.org within 30 days" in letter
    assert "credit application" in letter and "appeals@example.org" in letter
    # the decision's score is the MLflow model's own probability, against the YAML's threshold
    import mlflow.sklearn

    model = mlflow.sklearn.load_model("models:/credit/1")
    proba = float(model.predict_proba(pd.DataFrame([row]))[0, 1])
    assert decision["explanation"]["score"] == pytest.approx(proba, abs=1e-9)
    assert decision["explanation"]["outcome"] == ("approved" if proba >= 0.4 else "declined")


def test_description_comes_from_mlflow_unless_the_metadata_has_one(world, db, tmp_path):
    import mlflow

    mlflow.MlflowClient(world.uri).update_model_version(
        "credit-xgb", "1", description="Gradient boosted credit scorer"
    )
    plain = tmp_path / "plain.yaml"
    plain.write_text("owner: a@example.org\n")
    own = tmp_path / "own.yaml"
    own.write_text("owner: a@example.org\ndescription: Our own words\n")
    assert register("mlflow:models:/credit-xgb/1", "--meta", str(plain), db=db).exit_code == 0
    assert register("mlflow:models:/credit-xgb/1", "--meta", str(own), db=db).exit_code == 0
    first, second = records(db)
    assert first.metadata.description == "Gradient boosted credit scorer"
    assert second.metadata.description == "Our own words"
    assert first.artifact_sha256 == second.artifact_sha256


# ---------------------------------------------------------------- the reuse rule


def test_check_first_then_metadata_adds_a_version_that_check_then_uses(world, db, meta):
    assert check(world, "mlflow:models:/credit/1", db).exit_code == 0
    (bare,) = records(db)
    assert bare.ref == ModelRef(name="credit", version=1) and bare.metadata.owner is None

    r = register("mlflow:models:/credit/1", "--meta", str(meta), db=db)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("credit@2 registered from MLflow models:/credit/1 (version 1, ")
    first, second = records(db)
    assert second.ref == ModelRef(name="credit", version=2)
    assert second.metadata.owner == "credit-risk@example.org"
    assert second.artifact_sha256 == first.artifact_sha256 == sha256(model_file(world, "credit", 1))
    assert second.training_data == first.training_data  # carried over: not given
    assert second.metadata.mlflow.version == 1

    for uri in ("mlflow:models:/credit/1", "mlflow:models:/credit@champion"):
        r = check(world, uri, db)
        assert r.exit_code == 0, r.output
        assert "model credit@2 is MLflow" in r.stderr
    assert len(records(db)) == 2  # nothing new registered
    with Store.open(db) as store:
        run = store.latest_run(ModelRef(name="credit", version=2))
    assert run is not None and run.result.model == ModelRef(name="credit", version=2)


def test_check_uses_the_name_the_mlflow_version_was_registered_under(world, db, meta):
    r = register("mlflow:models:/credit/1", "--name", "credit-scoring", "--meta", str(meta), db=db)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("credit-scoring@1 registered from MLflow models:/credit/1")
    for uri in ("mlflow:models:/credit/1", "mlflow:models:/credit@champion"):
        r = check(world, uri, db)
        assert r.exit_code == 0, r.output
        assert "model credit-scoring@1 is MLflow" in r.stderr
    for uri in ("mlflow:models:/credit/1", "mlflow:models:/credit@champion"):
        r = register(uri, db=db)  # no name, nothing new: reused
        assert r.exit_code == 0 and r.stdout.startswith("credit-scoring@1 already registered")
    assert [rec.ref for rec in records(db)] == [ModelRef(name="credit-scoring", version=1)]
    with Store.open(db) as store:
        run = store.latest_run(ModelRef(name="credit-scoring", version=1))
    assert run is not None and run.result.model == ModelRef(name="credit-scoring", version=1)

    # another MLflow version is its own registration, under the MLflow name by default
    r = check(world, "mlflow:models:/credit/2", db, "--trust")  # stored as cloudpickle
    assert r.exit_code == 0, r.output
    assert "model credit@1 is MLflow" in r.stderr
    # a name given is a name kept; the latest registration of the MLflow version is current
    r = register("mlflow:models:/credit/1", "--name", "credit-v1", db=db)
    assert r.exit_code == 0 and r.stdout.startswith("credit-v1@1 registered")
    assert "model credit-v1@1 is MLflow" in check(world, "mlflow:models:/credit/1", db).stderr
    r = register("mlflow:models:/credit/1", "--name", "credit-scoring", db=db)
    assert r.stdout.startswith("credit-scoring@1 already registered")
    digests = {rec.artifact_sha256 for rec in records(db) if rec.metadata.mlflow.version == 1}
    assert digests == {sha256(model_file(world, "credit", 1))}


def test_the_same_registration_twice_is_already_registered(world, db, meta, tmp_path):
    register_eval(world, db)
    args = ("mlflow:models:/credit/1", "--meta", str(meta), "--evaluation-data", "credit-eval")
    assert register(*args, db=db).exit_code == 0
    r = register(*args, db=db)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(
        "credit@1 already registered from MLflow models:/credit/1 (same metadata and data "
        "links): LogisticRegression (sklearn), sha256 "
    )
    # nothing given: the latest version is reused too
    r = register("mlflow:models:/credit/1", db=db)
    assert r.exit_code == 0 and "credit@1 already registered" in r.stdout
    assert len(records(db)) == 1
    # other metadata: a new version, the latest; the first metadata again: a third one
    other = tmp_path / "other.yaml"
    other.write_text(META.replace("credit-risk@", "lending@"))
    assert (
        "credit@2 registered"
        in register("mlflow:models:/credit/1", "--meta", str(other), db=db).stdout
    )
    r = register(*args, db=db)
    assert "credit@3 registered" in r.stdout
    owners = [(rec.version, rec.metadata.owner, rec.evaluation_data) for rec in records(db)]
    eval_ref = DatasetRef(name="credit-eval", version=1)
    assert owners == [
        (1, "credit-risk@example.org", eval_ref),
        (2, "lending@example.org", eval_ref),  # the evaluation data was carried over
        (3, "credit-risk@example.org", eval_ref),
    ]


def test_training_data_option_replaces_the_run_input(world, db):
    r = cli("dataset", "register", str(world.eval_csv), "--name", "other-train", db=db)
    assert r.exit_code == 0
    assert (
        register("mlflow:models:/credit/1", "--training-data", "other-train", db=db).exit_code == 0
    )
    (record,) = records(db)
    assert record.training_data == DatasetRef(name="other-train", version=1)
    with Store.open(db) as store, pytest.raises(NotFoundError):
        store.get_dataset(DatasetRef(name="credit-train"))  # the run's input was not registered


def test_alias_form_is_the_same_mlflow_version(world, db, meta):
    r = register("mlflow:models:/credit@champion", "--meta", str(meta), db=db)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(
        "credit@1 registered from MLflow models:/credit@champion (version 1, "
    )
    (record,) = records(db)
    assert (record.metadata.mlflow.alias, record.metadata.mlflow.version) == ("champion", 1)
    assert record.artifact_sha256 == sha256(model_file(world, "credit", 1))
    r = register("mlflow:models:/credit/1", "--meta", str(meta), db=db)
    assert "credit@1 already registered from MLflow models:/credit/1" in r.stdout


def test_a_changed_mlflow_file_is_refused_against_the_latest_version(world, db, meta):
    assert check(world, "mlflow:models:/credit/1", db).exit_code == 0
    assert register("mlflow:models:/credit/1", "--meta", str(meta), db=db).exit_code == 0
    path = model_file(world, "credit", 1)
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"\0")
        for r in (
            register("mlflow:models:/credit/1", db=db),
            check(world, "mlflow:models:/credit/1", db),
        ):
            message = error_line(r)
            assert "registered in govkit as credit@2" in message
            assert "changed in MLflow after registration" in message and sha256(path) in message
    finally:
        path.write_bytes(original)
    assert len(records(db)) == 2


# ---------------------------------------------------------------- bad input


MLFLOW_BLOCK = """\
owner: someone
mlflow:
  model_uri: models:/credit/1
  registered_model: credit
  version: 1
  tracking_uri: sqlite:///elsewhere.db
  model_file: model.skops
  flavour: sklearn
"""
URI = "mlflow:models:/credit/1"
FILE = "{file}"  # the model file MLflow stores credit/1 in, registered directly
META_FILE = "{meta}"  # the metadata file of the case


@pytest.mark.parametrize(
    "args,yaml_text,expected",
    [
        pytest.param(
            (FILE, "--training-data", "credit-eval"),
            None,
            ["--name is required to register a model file ({file})", "e.g. --name credit"],
            id="file-without-name",
        ),
        pytest.param(
            (FILE, "--name", "credit"),
            None,
            ["--training-data is required to register a model file ({file})", "NAME@VER"],
            id="file-without-training-data",
        ),
        pytest.param(
            (URI, "--version", "3"),
            None,
            ["--version: a model from MLflow (mlflow:models:/credit/1)", "(found 3)"],
            id="mlflow-with-version",
        ),
        pytest.param(
            (URI, "--meta", META_FILE),
            MLFLOW_BLOCK,
            ["{meta}:2: mlflow: expected no 'mlflow' field", "found one naming 'models:/credit/1'"],
            id="meta-sets-mlflow",
        ),
        pytest.param(
            (URI, "--meta", META_FILE),
            "owner: someone\nflavour: lightgbm\n",
            ["{meta}:2: flavour: expected 'sklearn'", "LogisticRegression", "found 'lightgbm'"],
            id="meta-contradicts-flavour",
        ),
        pytest.param(
            (URI, "--evaluation-data", "credit-evl@1"),
            None,
            ["--evaluation-data: no dataset named 'credit-evl'", "did you mean 'credit-eval'?"],
            id="unknown-evaluation-data",
        ),
        pytest.param(
            (URI, "--meta", META_FILE),
            "owner: someone\nevaluation_data: holdout@2\n",
            ["{meta}:2: evaluation_data: no dataset named 'holdout'", "credit-eval"],
            id="unknown-evaluation-data-in-meta",
        ),
        pytest.param(
            (URI, "--meta", META_FILE),
            "owner: someone\ncontact: [unclosed\n",
            [
                "{meta}:3:1: invalid YAML: expected ',' or ']', but got '<stream end>' "
                "(while parsing a flow sequence at line 2, column 10)"
            ],
            id="malformed-meta",
        ),
        pytest.param(
            (URI, "--meta", META_FILE),
            "contact: x\nownr: someone\n",
            ["{meta}:2:1: unknown metadata field 'ownr'", "did you mean 'owner'?"],
            id="misspelt-meta-field",
        ),
    ],
)
def test_bad_input_is_exit_2_naming_it_and_registers_nothing(
    world, db, tmp_path, args, yaml_text, expected
):
    register_eval(world, db)
    names = {"file": str(model_file(world, "credit", 1)), "meta": str(tmp_path / "meta.yaml")}
    if yaml_text is not None:
        Path(names["meta"]).write_text(yaml_text)
    r = register(*(a.format(**names) for a in args), db=db)
    assert r.exit_code == 2, r.output
    message = r.stderr  # a YAML syntax error quotes the line, over several lines
    assert message.startswith("govkit: error: "), message
    for part in expected:
        assert part.format(**names) in message, message
    assert records(db) == []
    with Store.open(db) as store, pytest.raises(NotFoundError):
        store.get_dataset(DatasetRef(name="credit-train"))  # not even the run's training input


# ---------------------------------------------------------------- Python


def test_python_api_gives_the_same_record_as_the_cli(world, tmp_path, meta):
    import govkit
    from govkit.workflows import load_metadata, register_model, register_model_or_reuse

    assert govkit.register_model is register_model
    cli_db, py_db = (f"sqlite:///{tmp_path / n}" for n in ("cli.db", "py.db"))
    for path in (cli_db, py_db):
        register_eval(world, path)
    args = ("mlflow:models:/credit/1", "--meta", str(meta), "--evaluation-data", "credit-eval@1")
    r = register(*args, db=cli_db)
    assert r.exit_code == 0, r.output
    with Store.open(py_db) as store:
        record = govkit.register_model(
            "mlflow:models:/credit/1", store=store, metadata=meta, evaluation_data="credit-eval@1"
        )
        # the same, given as a ModelMetadata: reused
        again, created = register_model_or_reuse(
            "mlflow:models:/credit/1",
            store=store,
            metadata=load_metadata(meta),
            evaluation_data=DatasetRef(name="credit-eval", version=1),
        )
        with pytest.raises(InputError, match=r"--name is required to register a model file"):
            register_model(model_file(world, "credit", 1), store=store)
    (from_cli,) = records(cli_db)
    assert (again, created) == (record, False)
    assert record.artifact_sha256 == from_cli.artifact_sha256
    assert record.model_dump(exclude={"created_at"}) == from_cli.model_dump(exclude={"created_at"})


def test_python_registration_from_mlflow_emits_openlineage_events(world, db, meta):
    from govkit.integrations._openlineage import emit_openlineage
    from govkit.workflows import register_model

    class Collect:  # an OpenLineage client: anything with emit(event)
        def __init__(self) -> None:
            self.events: list = []

        def emit(self, event) -> None:
            self.events.append(event)

    sink = Collect()
    with Store.open(db) as store, emit_openlineage(sink, namespace="t"):
        record = register_model("mlflow:models:/credit/1", store=store, metadata=meta)
    start, complete = sink.events
    assert [e.eventType.value for e in sink.events] == ["START", "COMPLETE"]
    assert start.job.name == complete.job.name == "govkit.register_model.credit"
    assert [o.name for o in complete.outputs] == [str(record.ref)]
    inputs = {i.name for i in complete.inputs}
    assert str(model_file(world, "credit", 1).resolve()) in inputs  # the MLflow file
    assert str(record.training_data) in inputs  # credit-train@1, from the run


def test_malformed_mlflow_uri_names_the_argument(db):
    message = error_line(register("mlflow:models:/credit", db=db))
    assert re.search(r"ARTIFACT: expected an MLflow model URI mlflow:models:/NAME/VERSION", message)
