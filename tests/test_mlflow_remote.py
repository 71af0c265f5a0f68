"""An MLflow model whose artifact store is not a local folder: FTP, with a password.

A real FTP server (pyftpdlib) on loopback holds the artifacts of an MLflow experiment
(``ftp://USER:PASSWORD@127.0.0.1:PORT/artifacts``), as MLflow supports. govkit registers
a model from it, gates it, and explains a decision with it, downloading the file each
time and checking its registered SHA-256. The password is in MLflow's own database; it
must reach neither govkit's registry, nor its audit log, its output or its messages.
"""

# ruff: noqa: F811  (the fixtures _env and db come from tests/mlflow_helpers.py)

from __future__ import annotations

import json
import logging
import threading
import warnings
from pathlib import Path

import pytest

from govkit.records import ModelRef
from govkit.store import Store
from tests.mlflow_helpers import (  # noqa: F401 (fixtures)
    FEATURES,
    _env,
    check,
    cli,
    db,
    error_line,
    frame,
    records,
    sha256,
)

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
    ),
    # pyftpdlib 2 still runs on asyncore/asynchat on Python 3.11 (deprecated there)
    pytest.mark.filterwarnings("ignore:The (asyncore|asynchat) module is deprecated"),
]

PASSWORD = "Ftp-s3cret-4711"
MODEL = "remote-credit"
SKLEARN_TYPE = "sklearn.linear_model._logistic.LogisticRegression"


class _Ftp:
    """pyftpdlib on a free loopback port; counts the files it sends."""

    def __init__(self, root: Path) -> None:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer

        self.sent: list[str] = []
        ftp = self

        class Handler(FTPHandler):
            def on_file_sent(self, file: str) -> None:
                ftp.sent.append(file)

        authorizer = DummyAuthorizer()
        authorizer.add_user("mlflow", PASSWORD, str(root), perm="elradfmwMT")
        Handler.authorizer = authorizer
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        self.server = FTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.close_all()


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # type: ignore[no-untyped-def]
    """MLflow (SQLite) with one skops model in an FTP artifact store, and the data."""
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("mlflow-ftp")
    (folder / "ftp" / "artifacts").mkdir(parents=True)
    ftp = _Ftp(folder / "ftp")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    train, evaluation = frame(300, 1), frame(200, 2)
    eval_csv = folder / "eval.csv"
    evaluation.to_csv(eval_csv, index=False)
    (folder / "policy.yaml").write_text(
        "schema_version: 1\nname: remote-gate\nrules:\n"
        "  - {id: acc, kind: performance, metric: accuracy, threshold: 0.6}\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        client = mlflow.MlflowClient(uri)
        exp = client.create_experiment(
            "remote", artifact_location=f"ftp://mlflow:{PASSWORD}@127.0.0.1:{ftp.port}/artifacts"
        )
        model = LogisticRegression().fit(train[FEATURES], train["y"].astype(int))
        with warnings.catch_warnings(), mlflow.start_run(experiment_id=exp):
            warnings.simplefilter("ignore", UserWarning)  # MLflow's notices on type hints
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=MODEL,
                serialization_format="skops",
                pip_requirements=["scikit-learn"],
            )
        root = client.get_model_version_download_uri(MODEL, "1")
        assert root.startswith("ftp://") and PASSWORD in root  # MLflow keeps it in the clear
        yield type(
            "World",
            (),
            {
                "uri": uri,
                "folder": folder,
                "ftp": ftp,
                "model": model,
                "eval_csv": eval_csv,
                "passing": folder / "policy.yaml",
                "evaluation": evaluation,
            },
        )
    ftp.close()


def _register(db: str):  # type: ignore[no-untyped-def]
    r = cli("model", "register", f"mlflow:models:/{MODEL}/1", "--trust-type", SKLEARN_TYPE, db=db)
    assert r.exit_code == 0, r.output
    return r


def _person(tmp_path: Path, row: dict[str, float]) -> Path:
    path = tmp_path / "person.json"
    path.write_text(json.dumps(row))
    return path


def _everything_govkit_wrote(db: str) -> bytes:
    path = Path(db.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_registered_without_the_password_and_gated_from_ftp(world, db, tmp_path):
    r = cli("model", "register", f"mlflow:models:/{MODEL}/1", "--trust-type", SKLEARN_TYPE, db=db)
    assert r.exit_code == 0, r.output
    (record,) = records(db)
    assert record.artifact_uri.startswith("ftp://***@127.0.0.1:")
    assert record.artifact_uri.endswith("/model.skops")
    sent = len(world.ftp.sent)
    r = check(world, f"mlflow:models:/{MODEL}/1", db, "--trust-type", SKLEARN_TYPE)
    assert r.exit_code == 0, r.output
    assert len(world.ftp.sent) > sent  # the gate fetched the file over FTP
    assert world.ftp.sent[-1].endswith("model.skops")
    card = tmp_path / "card.json"
    assert (
        cli("card", f"{MODEL}@1", "--format", "json", "--output", str(card), db=db).exit_code == 0
    )
    export = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--output", str(export), db=db).exit_code == 0
    for text in (r.output, card.read_text(), export.read_text()):
        assert PASSWORD not in text
    assert PASSWORD.encode() not in _everything_govkit_wrote(db)
    with Store.open(db) as store:
        assert store.verify_chain().ok


def test_a_decision_downloads_the_model_and_agrees_with_it(world, db, tmp_path):
    _register(db)
    row = {f: float(world.evaluation[f].iloc[0]) for f in FEATURES}
    person = _person(tmp_path, row)
    background = tmp_path / "background.csv"  # a linear model: SHAP needs reference rows
    world.evaluation[FEATURES].to_csv(background, index=False)
    sent = len(world.ftp.sent)
    r = cli(
        "explain", f"{MODEL}@1", "--input", str(person), "--background", str(background),
        "--trust-type", SKLEARN_TYPE, db=db,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert len(world.ftp.sent) == sent + 1  # the service fetched it once
    out = json.loads(r.stdout)
    import pandas as pd

    expected = world.model.predict_proba(pd.DataFrame([row])[FEATURES])[0, 1]
    assert out["explanation"]["score"] == pytest.approx(expected, abs=1e-9)
    assert PASSWORD not in r.output


def test_the_ftp_server_down_is_an_error_without_the_password(world, db, tmp_path, monkeypatch):
    _register(db)
    person = _person(tmp_path, {f: 0.0 for f in FEATURES})
    # the artifact store moved: MLflow points at a port where nothing listens
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    import mlflow

    real = mlflow.MlflowClient(world.uri).get_model_version_download_uri

    def moved(name: str, v: str) -> str:
        return real(name, v).replace(f":{world.ftp.port}/", f":{closed}/")

    monkeypatch.setattr(mlflow.MlflowClient, "get_model_version_download_uri", staticmethod(moved))
    r = cli("explain", f"{MODEL}@1", "--input", str(person), "--trust-type", SKLEARN_TYPE, db=db)
    message = error_line(r)
    assert f"model {MODEL}@1 cannot be served: cannot download model.skops" in message, message
    assert PASSWORD not in r.output
    with Store.open(db) as store:
        assert not [e for e in store.audit_events() if e.event_type == "decision.recorded"]


def test_another_tracking_server_is_refused_by_name(world, db, tmp_path, monkeypatch):
    _register(db)
    other = tmp_path / "other.db"
    other.write_bytes((world.folder / "mlflow.db").read_bytes())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{other}")
    person = _person(tmp_path, {f: 0.0 for f in FEATURES})
    r = cli("explain", f"{MODEL}@1", "--input", str(person), "--trust-type", SKLEARN_TYPE, db=db)
    message = error_line(r)
    assert "was registered from the MLflow tracking server sqlite:///" in message
    assert "point it at the server the model came from" in message
    assert records(db)[0].ref == ModelRef(name=MODEL, version=1)
