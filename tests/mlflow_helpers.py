"""A real MLflow tracking store (SQLite + file artifact root) with small registered models."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.store import Store

FEATURES = ["x0", "x1", "x2"]

PASSING = """\
schema_version: 1
name: mlflow-gate
rules:
  - {id: acc, kind: performance, metric: accuracy, threshold: 0.6}
  - {id: auc, kind: performance, metric: roc_auc, threshold: 0.6}
  - {id: training, kind: lineage, requirement: training_data_registered}
"""
FAILING = PASSING.replace("name: mlflow-gate", "name: mlflow-strict").replace(
    "metric: accuracy, threshold: 0.6", "metric: accuracy, threshold: 0.9999"
)


@dataclass
class MlflowWorld:
    uri: str
    folder: Path
    train_csv: Path
    eval_csv: Path
    passing: Path
    failing: Path
    experiment_id: str
    runs: dict[str, str]  # model key -> run id that logged it


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype(float)
    df = pd.DataFrame(x, columns=FEATURES)
    df["y"] = y
    return df


class ConstantModel:  # a python_function-only model: no flavour govkit can load
    pass


def build_world(folder: Path) -> MlflowWorld:
    """Log and register: credit v1 (skops) with alias champion, credit v2 (cloudpickle),
    credit-lgbm v1 (LightGBM sklearn API), credit-xgb v1 (XGBoost's own UBJSON format) and
    pyfunc-only v1 (python_function only)."""
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # tests send nothing anywhere
        # MLflow's own notices (type-hint schemas, dataset source guesses, schema hints)
        warnings.simplefilter("ignore", UserWarning)
        warnings.filterwarnings("ignore", message=".*noload.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="Starting with pandas version 4.0")
        return _build_world(folder)


def _build_world(folder: Path) -> MlflowWorld:
    import lightgbm as lgb
    import mlflow
    import mlflow.lightgbm
    import mlflow.pyfunc
    import mlflow.sklearn
    import mlflow.xgboost
    import xgboost as xgb
    from sklearn.linear_model import LogisticRegression

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    train, evaluation = frame(300, 1), frame(200, 2)
    train_csv, eval_csv = folder / "train.csv", folder / "eval.csv"
    train.to_csv(train_csv, index=False)
    evaluation.to_csv(eval_csv, index=False)
    (folder / "passing.yaml").write_text(PASSING)
    (folder / "failing.yaml").write_text(FAILING)
    logged = pd.read_csv(train_csv)
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        client = mlflow.MlflowClient(uri)
        exp = client.create_experiment("credit", artifact_location=(folder / "art").as_uri())
        gone = client.create_experiment("gone", artifact_location=(folder / "gone").as_uri())
        client.delete_experiment(gone)
        X, y = logged[FEATURES], logged["y"].astype(int)
        sk = LogisticRegression().fit(X, y)
        reqs = ["scikit-learn"]
        with mlflow.start_run(experiment_id=exp) as run:
            ds = mlflow.data.from_pandas(logged, source=str(train_csv), name="credit-train")
            mlflow.log_input(ds, context="training")
            mlflow.sklearn.log_model(
                sk, name="model", registered_model_name="credit", pip_requirements=reqs
            )
            runs["credit/1"] = run.info.run_id
        with mlflow.start_run(experiment_id=exp) as run:
            ds = mlflow.data.from_pandas(logged, source=str(train_csv), name="credit-train")
            mlflow.log_input(ds, context="training")
            mlflow.sklearn.log_model(
                LogisticRegression(C=0.1).fit(X, y),
                name="model",
                registered_model_name="credit",
                serialization_format="cloudpickle",
                pip_requirements=reqs,
            )
            runs["credit/2"] = run.info.run_id
        client.set_registered_model_alias("credit", "champion", "1")
        with mlflow.start_run(experiment_id=exp) as run:
            remote = mlflow.data.from_pandas(
                logged, source="s3://example-bucket/credit/train.parquet", name="lgbm-train"
            )
            mlflow.log_input(remote, context="training")
            mlflow.log_input(mlflow.data.from_pandas(evaluation, name="holdout"), context="eval")
            model = lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1).fit(X, y)
            mlflow.lightgbm.log_model(
                model, name="model", registered_model_name="credit-lgbm", pip_requirements=reqs
            )
            runs["credit-lgbm/1"] = run.info.run_id
        with mlflow.start_run(experiment_id=exp) as run:
            ds = mlflow.data.from_pandas(logged, source=str(train_csv), name="credit-train")
            mlflow.log_input(ds, context="training")
            booster = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
            mlflow.xgboost.log_model(
                booster, name="model", registered_model_name="credit-xgb", pip_requirements=reqs
            )
            runs["credit-xgb/1"] = run.info.run_id
        with mlflow.start_run(experiment_id=exp) as run:
            mlflow.pyfunc.log_model(
                name="model",
                python_model=_Echo(),
                registered_model_name="pyfunc-only",
                pip_requirements=reqs,
            )
            runs["pyfunc-only/1"] = run.info.run_id
    return MlflowWorld(
        uri=uri,
        folder=folder,
        train_csv=train_csv,
        eval_csv=eval_csv,
        passing=folder / "passing.yaml",
        failing=folder / "failing.yaml",
        experiment_id=exp,
        runs=runs,
    )


def _echo_class():
    import mlflow.pyfunc

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: list[str], params=None) -> list[str]:
            return model_input

    return Echo


def _Echo():  # noqa: N802 - built lazily so importing this module does not import mlflow
    return _echo_class()()


def model_file(world: MlflowWorld, name: str, version: int) -> Path:
    """The local file MLflow stores the model version's model in (skops or pickle)."""
    import mlflow
    import yaml
    from mlflow.utils.file_utils import local_file_uri_to_path

    client = mlflow.MlflowClient(world.uri)
    root = Path(local_file_uri_to_path(client.get_model_version_download_uri(name, version)))
    flavors = yaml.safe_load((root / "MLmodel").read_text())["flavors"]
    conf = flavors.get("sklearn") or flavors.get("lightgbm") or flavors["xgboost"]
    return root / (conf.get("pickled_model") or conf["data"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- fixtures shared by the MLflow test modules (import them into the module) ---------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One MLflow world per test module.

    MLflow resolves a database store's default artifact root (./mlruns) against the working
    directory when it first opens the store: open it, and run every test, from a temp folder.
    """
    folder = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        yield build_world(folder)


@pytest.fixture(autouse=True)
def _env(monkeypatch, world):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world.uri)
    monkeypatch.setenv("GOVKIT_ACTOR", "tester")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def db(tmp_path):  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'govkit.db'}"


# -- the command line against the MLflow world ------------------------------------------


def cli(*args: str, db: str, env: dict | None = None):
    return CliRunner().invoke(app, [*args, "--db", db], env=env)


def check(world, model: str, db: str, *extra: str, policy: Path | None = None, env=None):
    return cli(
        "check",
        str(policy or world.passing),
        "--model",
        model,
        "--data",
        str(world.eval_csv),
        "--target",
        "y",
        *extra,
        db=db,
        env=env,
    )


def records(db: str):
    with Store.open(db) as store:
        return store.list_model_versions()


def error_line(r) -> str:
    assert r.exit_code == 2, r.output
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("govkit: error: "), r.stderr
    return last
