"""OpenLineage run events of the CLI, sent to a real loopback HTTP listener (and a file).

openlineage-python ships no JSON schema of the OpenLineage spec (neither its wheel nor its
sdist holds OpenLineage.json), so each core event is checked against the spec-generated
classes the client does ship: it is rebuilt from its JSON with them (unknown keys fail,
their validators run on eventTime, runId, URIs) and must serialise back to the same JSON.
The govkit facets are validated against the JSON schema govkit ships.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import attr
import jsonschema
import pytest
from openlineage.client import event_v2
from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset,
    dataset_version_dataset,
    datasource_dataset,
    error_message_run,
    job_type_job,
    processing_engine_run,
    schema_dataset,
    tags_job,
    tags_run,
)
from openlineage.client.serde import Serde
from typer.testing import CliRunner

from govkit._resources import resource_dir
from govkit.cli._app import app
from govkit.exceptions import NotFoundError
from govkit.integrations import _openlineage_events as ev
from govkit.integrations._openlineage import emit_openlineage
from govkit.records import DatasetRef, ModelRef
from govkit.store import Store

HGB_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
PASSING = """\
schema_version: 1
name: passing
rules:
  - {id: acc, kind: performance, metric: accuracy, threshold: 0.8}
  - {id: dp, kind: fairness, metric: demographic_parity_ratio, sensitive_features: [sex],
     threshold: 0.8, severity: warning}
  - {id: fp, kind: lineage, requirement: data_fingerprint}
"""
FAILING = PASSING.replace("severity: warning", "severity: error").replace("passing", "failing")
META = """\
owner: team@example.org
target: income
positive_label: ">50K"
sensitive_features: [sex, race]
risk_tier: high
"""
SECRET = "sk-not-to-be-logged-42"

# ---------------------------------------------------------------- the spec check
DATASET_FACETS = {
    "schema": schema_dataset.SchemaDatasetFacet,
    "dataSource": datasource_dataset.DatasourceDatasetFacet,
    "version": dataset_version_dataset.DatasetVersionDatasetFacet,
    "govkit_dataset": ev.GovkitDatasetFacet,
    "govkit_model_version": ev.GovkitModelVersionDatasetFacet,
}
FACETS = {  # (owner class, field) -> {facet key: spec class}
    (event_v2.InputDataset, "facets"): DATASET_FACETS,
    (event_v2.OutputDataset, "facets"): DATASET_FACETS,
    (event_v2.InputDataset, "inputFacets"): {
        "dataQualityAssertions": data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet
    },
    (event_v2.OutputDataset, "outputFacets"): {},
    (event_v2.Job, "facets"): {
        "jobType": job_type_job.JobTypeJobFacet,
        "tags": tags_job.TagsJobFacet,  # added by the client (its version)
    },
    (event_v2.Run, "facets"): {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
        "errorMessage": error_message_run.ErrorMessageRunFacet,
        "tags": tags_run.TagsRunFacet,  # added by the client (its version)
        "govkit_policy_run": ev.GovkitPolicyRunFacet,
    },
}
NESTED = {  # (class, field) -> the class of its items
    (event_v2.RunEvent, "run"): event_v2.Run,
    (event_v2.RunEvent, "job"): event_v2.Job,
    (event_v2.RunEvent, "inputs"): event_v2.InputDataset,
    (event_v2.RunEvent, "outputs"): event_v2.OutputDataset,
    (schema_dataset.SchemaDatasetFacet, "fields"): schema_dataset.SchemaDatasetFacetFields,
    (schema_dataset.SchemaDatasetFacetFields, "fields"): schema_dataset.SchemaDatasetFacetFields,
    (
        data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet,
        "assertions",
    ): data_quality_assertions_dataset.Assertion,
    (ev.GovkitPolicyRunFacet, "checks"): ev.GovkitPolicyRunCheck,
    (tags_job.TagsJobFacet, "tags"): tags_job.TagsJobFacetFields,
    (tags_run.TagsRunFacet, "tags"): tags_run.TagsRunFacetFields,
}
GOVKIT_FACETS = {
    "govkit_dataset": "GovkitDatasetFacet",
    "govkit_model_version": "GovkitModelVersionDatasetFacet",
    "govkit_policy_run": "GovkitPolicyRunFacet",
}


def _rebuild(cls, data):
    """``data`` as an instance of the spec-generated attrs class ``cls``; unknown keys fail."""
    assert isinstance(data, dict), (cls, data)
    fields = {a.name: a for a in attr.fields(cls)}
    kwargs, fixed = {}, {}
    for key, value in data.items():
        assert key in fields, f"{cls.__name__} has no field {key!r} in the OpenLineage spec"
        a = fields[key]
        if (cls, key) in FACETS:
            known = FACETS[(cls, key)]
            unknown = set(value) - set(known)
            assert not unknown, f"{cls.__name__}.{key}: facets without a known class: {unknown}"
            value = {k: _rebuild(known[k], v) for k, v in value.items()}
        elif (cls, key) in NESTED:
            sub = NESTED[(cls, key)]
            value = (
                [_rebuild(sub, v) for v in value]
                if isinstance(value, list)
                else (_rebuild(sub, value))
            )
        elif key == "eventType":
            value = event_v2.RunState(value)
        if a.init:
            kwargs[a.alias] = value
        else:
            fixed[key] = value
    obj = cls(**kwargs)
    for key, value in fixed.items():  # schemaURL: fixed by the class, so the JSON must agree
        assert getattr(obj, key) == value, (cls.__name__, key, value)
    return obj


def validate(event: dict) -> None:
    """The event conforms to the OpenLineage spec classes; govkit facets to govkit's schema."""
    assert event["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/OpenLineage.json")
    rebuilt = _rebuild(event_v2.RunEvent, event)
    assert json.loads(Serde.to_json(rebuilt)) == event
    assert uuid.UUID(event["run"]["runId"]).version == 7
    schema = json.loads(
        (resource_dir("templates") / "openlineage" / ev.FACETS_SCHEMA_NAME).read_text()
    )
    for facets in _all_facets(event):
        for key, definition in GOVKIT_FACETS.items():
            if key in facets:
                assert facets[key]["_schemaURL"] == f"{schema['$id']}#/$defs/{definition}"
                jsonschema.Draft202012Validator(
                    {**schema, "$ref": f"#/$defs/{definition}"},
                    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
                ).validate(facets[key])


def _all_facets(event: dict):
    yield event["run"].get("facets", {})
    yield event["job"].get("facets", {})
    for d in event.get("inputs", []) + event.get("outputs", []):
        yield d.get("facets", {})
        yield d.get("inputFacets", {})
        yield d.get("outputFacets", {})


# ---------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    """No OpenLineage configuration but what a test sets; restored whole afterwards.

    The client itself writes OPENLINEAGE__ variables when it reads OPENLINEAGE_URL, so the
    environment is restored from a snapshot, not only through monkeypatch.
    """
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(("OPENLINEAGE", "GOVKIT_OPENLINEAGE")):
            del os.environ[key]
    os.environ["HOME"] = str(tmp_path / "home")  # no ~/.openlineage/openlineage.yml
    monkeypatch.chdir(tmp_path)  # no ./openlineage.yml, no git repository to describe
    yield
    os.environ.clear()
    os.environ.update(saved)


class _Listener:
    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.status = 201  # what it answers (500: a lineage backend that is failing)
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers["Content-Length"])
                listener.paths.append(self.path)
                listener.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(listener.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = _Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory, adult_files):
    folder = tmp_path_factory.mktemp("ol")
    (folder / "passing.yaml").write_text(PASSING)
    (folder / "failing.yaml").write_text(FAILING)
    (folder / "meta.yaml").write_text(META)
    shutil.copy(adult_files["model"], folder / "model.skops")
    return {**adult_files, "dir": folder, "model": folder / "model.skops"}


def cli(*args: str, db: str):
    return CliRunner().invoke(app, [*args, "--db", db])


def register_all(files, db: str) -> None:
    """Two datasets (one derived, one from a URL with credentials), a model, two gates."""
    steps = [
        ("dataset", "register", str(files["train"]), "--name", "adult-train"),
        (
            "dataset",
            "register",
            str(files["test"]),
            "--name",
            "adult-test",
            "--source",
            f"https://reader:{SECRET}@data.example.org/adult/adult.test?sig={SECRET}",
            "--parent",
            "adult-train@1",
            "--transformation",
            "the held-out split",
        ),
        (
            "model",
            "register",
            str(files["model"]),
            "--name",
            "credit",
            "--training-data",
            "adult-train@1",
            "--evaluation-data",
            "adult-test@1",
            "--meta",
            str(files["dir"] / "meta.yaml"),
            "--trust-type",
            HGB_TYPE,
        ),
    ]
    for step in steps:
        r = cli(*step, db=db)
        assert r.exit_code == 0, r.output
    for policy, code in (("passing.yaml", 0), ("failing.yaml", 1)):
        r = cli(
            "check",
            str(files["dir"] / policy),
            "--model",
            "credit",
            "--data",
            str(files["test"]),
            "--trust-type",
            HGB_TYPE,
            db=db,
        )
        assert r.exit_code == code, r.output


def _facets(dataset: dict) -> dict:
    return dataset["facets"]


# ---------------------------------------------------------------- HTTP: the whole flow
def test_cli_actions_send_valid_run_events_that_match_the_registry(files, listener, tmp_path):
    os.environ["OPENLINEAGE_URL"] = listener.url
    os.environ["OPENLINEAGE_NAMESPACE"] = "ci-lineage"
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    register_all(files, db)

    events = listener.bodies
    assert set(listener.paths) == {"/api/v1/lineage"}
    jobs = [
        "govkit.register_dataset.adult-train",
        "govkit.register_dataset.adult-test",
        "govkit.register_model.credit",
        "govkit.check.credit",
        "govkit.check.credit",
    ]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        (job, state) for job in jobs for state in ("START", "COMPLETE")
    ]
    run_ids = [e["run"]["runId"] for e in events]
    assert run_ids[0::2] == run_ids[1::2]  # START and COMPLETE of one run share its id
    assert len(set(run_ids)) == len(jobs)
    for event in events:
        validate(event)
        assert event["job"]["namespace"] == "ci-lineage"
        assert event["producer"] == ev.PRODUCER
    starts, completes = events[0::2], events[1::2]
    assert all(s["eventTime"] <= c["eventTime"] for s, c in zip(starts, completes, strict=True))

    registry = ev.registry_namespace(db)
    assert registry == f"govkit://{os.uname().nodename}{(tmp_path / 'govkit.db').as_posix()}"
    with Store.open(db) as store:
        train = store.get_dataset(DatasetRef(name="adult-train", version=1))
        test = store.get_dataset(DatasetRef(name="adult-test", version=1))
        model = store.get_model_version(ModelRef(name="credit", version=1))
        latest = store.latest_run(ModelRef(name="credit", version=1))

    def dataset_matches(dataset: dict, record) -> None:
        assert (dataset["namespace"], dataset["name"]) == (registry, f"{record.name}@1")
        facets = _facets(dataset)
        assert facets["govkit_dataset"]["fingerprint"] == record.fingerprint
        assert facets["govkit_dataset"]["rowCount"] == record.row_count
        assert [(f["name"], f["type"]) for f in facets["schema"]["fields"]] == [
            (c.name, c.dtype) for c in record.columns
        ]
        assert facets["version"]["datasetVersion"] == "1"

    # register dataset: the source file -> adult-train@1
    (train_out,) = completes[0]["outputs"]
    dataset_matches(train_out, train)
    assert completes[0]["inputs"] == [
        {
            "namespace": "file",
            "name": Path(files["train"]).resolve().as_posix(),
            "facets": {},
            "inputFacets": {},
        }
    ]
    # registered without --source: the file is the run's input, but no source is recorded
    assert "dataSource" not in _facets(train_out) and train.source_uri is None
    # the derived dataset: its URL source (credentials dropped) and its parent are the inputs
    (test_out,) = completes[1]["outputs"]
    dataset_matches(test_out, test)
    assert _facets(test_out)["govkit_dataset"]["parents"] == ["adult-train@1"]
    assert _facets(test_out)["govkit_dataset"]["transformation"] == "the held-out split"
    assert _facets(test_out)["dataSource"] == {
        **_facets(test_out)["dataSource"],
        "name": "https://data.example.org",
        "uri": "https://data.example.org/adult/adult.test",
    }
    source, parent = completes[1]["inputs"]
    assert (source["namespace"], source["name"]) == (
        "https://data.example.org",
        "/adult/adult.test",
    )
    dataset_matches(parent, train)
    assert SECRET not in json.dumps(events)

    # register model: artifact + training + evaluation data -> credit@1
    artifact, training, evaluation = completes[2]["inputs"]
    assert (artifact["namespace"], artifact["name"]) == (
        "file",
        Path(files["model"]).resolve().as_posix(),
    )
    dataset_matches(training, train)
    dataset_matches(evaluation, test)
    (model_out,) = completes[2]["outputs"]
    assert (model_out["namespace"], model_out["name"]) == (registry, "credit@1")
    facet = _facets(model_out)["govkit_model_version"]
    assert facet["artifactSha256"] == model.artifact_sha256
    assert (facet["flavour"], facet["estimator"], facet["artifactFormat"]) == (
        model.flavour,
        model.estimator,
        model.artifact_format,
    )
    assert (facet["trainingData"], facet["evaluationData"]) == ("adult-train@1", "adult-test@1")
    assert facet["riskTier"] == "high" and "team@example.org" not in json.dumps(events)

    # check: the model and the evaluation data in, the verdict as a run facet
    for complete, verdict in ((completes[3], "WARN"), (completes[4], "FAIL")):
        assert complete["eventType"] == "COMPLETE"  # a FAIL verdict is a completed run
        model_in, data_in = complete["inputs"]
        assert (model_in["namespace"], model_in["name"]) == (registry, "credit@1")
        dataset_matches(data_in, test)
        assert complete["run"]["facets"]["govkit_policy_run"]["verdict"] == verdict
    stored = latest  # the FAIL run is the latest recorded one
    facet = completes[4]["run"]["facets"]["govkit_policy_run"]
    result = stored.result
    assert facet["verdict"] == result.status.value == "FAIL"
    assert facet["counts"] == {s.value: n for s, n in result.counts.items()}
    assert facet["policyName"] == "failing" and facet["policyDigest"] == result.policy_digest
    assert facet["dataFingerprint"] == result.data_fingerprint == test.fingerprint
    assert facet["nRows"] == result.n_rows and facet["model"] == "credit@1"
    assert (facet["auditSequence"], facet["auditHash"]) == (
        stored.anchor.sequence,
        stored.anchor.hash,
    )
    assert facet["checks"] == [
        {
            "ruleId": c.rule_id,
            "checkId": c.check_id,
            "severity": c.severity,
            "status": c.status.value,
            "value": c.value,
        }
        for c in result.checks
    ]
    assertions = completes[4]["inputs"][1]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"]) for a in assertions] == [
        (c.rule_id, c.status.value == "PASS") for c in result.checks
    ]


def test_an_aborted_run_is_a_fail_event_with_the_error(files, listener, tmp_path):
    os.environ["OPENLINEAGE_URL"] = listener.url
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    r = cli(
        "model",
        "register",
        str(files["model"]),
        "--name",
        "credit",
        "--training-data",
        "nowhere@1",
        "--trust-type",
        HGB_TYPE,
        db=db,
    )
    assert r.exit_code == 2, r.output
    start, fail = listener.bodies
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert start["run"]["runId"] == fail["run"]["runId"]
    assert fail["job"]["name"] == "govkit.register_model.credit"
    message = fail["run"]["facets"]["errorMessage"]["message"]
    assert message.startswith("NotFoundError: ") and "'nowhere'" in message
    assert message.removeprefix("NotFoundError: ") in r.stderr  # what the CLI said
    for event in (start, fail):
        validate(event)


# ---------------------------------------------------------------- file transport, Python API
def test_file_transport_from_an_openlineage_yml(files, tmp_path):
    log = tmp_path / "events.jsonl"
    (tmp_path / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {log}\n  append: true\n"
    )  # found in the working directory, as the client looks for it
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    r = cli("dataset", "register", str(files["train"]), "--name", "adult-train", db=db)
    assert r.exit_code == 0, r.output
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        validate(event)
    with Store.open(db) as store:
        record = store.get_dataset(DatasetRef(name="adult-train", version=1))
    output = events[1]["outputs"][0]
    assert output["facets"]["govkit_dataset"]["fingerprint"] == record.fingerprint


def test_python_callers_can_pass_a_client(adult_test, listener, tmp_path):
    from openlineage.client import OpenLineageClient

    from govkit.workflows import register_dataset

    client = OpenLineageClient(config={"transport": {"type": "http", "url": listener.url}})
    with Store.open(f"sqlite:///{tmp_path / 'govkit.db'}") as store:
        register_dataset(adult_test.head(200), name="sample", store=store)  # not configured
        assert listener.bodies == []
        with emit_openlineage(client, namespace="notebook"):
            record, _ = register_dataset(adult_test.head(300), name="sample", store=store)
    assert [(e["eventType"], e["job"]["namespace"]) for e in listener.bodies] == [
        ("START", "notebook"),
        ("COMPLETE", "notebook"),
    ]
    out = listener.bodies[1]["outputs"][0]
    assert out["name"] == "sample@2" and "dataSource" not in out["facets"]  # a frame
    assert out["facets"]["govkit_dataset"]["fingerprint"] == record.fingerprint
    assert listener.bodies[1]["inputs"] == []
    for event in listener.bodies:
        validate(event)


# ---------------------------------------------------------------- failures
def _down_transport(port: int) -> None:
    os.environ["OPENLINEAGE__TRANSPORT__TYPE"] = "http"
    os.environ["OPENLINEAGE__TRANSPORT__URL"] = f"http://lineage:{SECRET}@127.0.0.1:{port}"
    os.environ["OPENLINEAGE__TRANSPORT__AUTH"] = json.dumps({"type": "api_key", "apiKey": SECRET})
    os.environ["OPENLINEAGE__TRANSPORT__RETRY"] = json.dumps({"total": 0})


def test_endpoint_down_warns_and_the_registration_stands(files, listener, tmp_path, caplog):
    port = listener.server.server_address[1]
    listener.close()  # nothing listens on the port any more
    _down_transport(port)
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    r = cli("dataset", "register", str(files["train"]), "--name", "adult-train", db=db)
    assert r.exit_code == 0, r.output
    assert "adult-train@1 registered" in r.stdout
    warnings = [rec for rec in caplog.records if rec.name.startswith("govkit.integrations")]
    assert len(warnings) == 1  # START failed; the COMPLETE of that run is not tried
    (warning,) = warnings
    assert warning.levelname == "WARNING"
    assert "could not send the START event of job govkit.register_dataset.adult-train" in (
        warning.getMessage()
    )
    assert "with the http transport: ConnectionError" in warning.getMessage()
    assert SECRET not in caplog.text and SECRET not in r.output
    with Store.open(db) as store:
        assert store.get_dataset(DatasetRef(name="adult-train", version=1)).row_count > 0


def test_strict_mode_stops_the_action_when_lineage_cannot_be_sent(files, listener, tmp_path):
    port = listener.server.server_address[1]
    listener.close()
    _down_transport(port)
    os.environ["GOVKIT_OPENLINEAGE_STRICT"] = "1"
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    r = cli("dataset", "register", str(files["train"]), "--name", "adult-train", db=db)
    assert r.exit_code == 2
    assert "OpenLineage: could not send the START event" in r.stderr
    assert "the action was not run" in r.stderr and SECRET not in r.output
    with Store.open(db) as store:
        assert not [m for m in store.list_model_versions()]
        with pytest.raises(NotFoundError, match="adult-train"):
            store.get_dataset(DatasetRef(name="adult-train", version=1))


# ---------------------------------------------------------------- not configured: no cost
@pytest.mark.parametrize(
    "env",
    [{}, {"OPENLINEAGE_DISABLED": "true", "OPENLINEAGE_URL": "LISTENER"}],
    ids=["not-configured", "disabled"],
)
def test_without_configuration_nothing_is_sent_nor_imported(files, listener, tmp_path, env):
    code = (
        "import sys\n"
        "from govkit.cli import main\n"
        f"sys.argv = ['govkit', 'dataset', 'register', {str(files['train'])!r}, '--name', 'a',\n"
        f"            '--db', 'sqlite:///{tmp_path / 'g.db'}']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('IMPORTED' if any(m.startswith('openlineage') for m in sys.modules) else 'NOT')\n"
    )
    child_env = {**os.environ, **{k: v.replace("LISTENER", listener.url) for k, v in env.items()}}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=child_env, check=True
    )
    assert out.stdout.strip().endswith("NOT"), out.stdout + out.stderr
    assert "a@1 registered" in out.stdout
    assert listener.bodies == []


def test_configured_without_the_client_installed_warns_and_goes_on(files, listener, tmp_path):
    code = (
        "import sys\n"
        "sys.modules['openlineage'] = None  # as if openlineage-python were not installed\n"
        "from govkit.cli import main\n"
        f"sys.argv = ['govkit', 'dataset', 'register', {str(files['train'])!r}, '--name', 'a',\n"
        f"            '--db', 'sqlite:///{tmp_path / 'g.db'}']\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENLINEAGE_URL": listener.url},
    )
    assert out.returncode == 0, out.stderr
    assert "a@1 registered" in out.stdout
    assert "OpenLineage is configured, but no event is sent" in out.stderr
    assert "pip install 'govkit[openlineage]'" in out.stderr
    assert listener.bodies == []


# ---------------------------------------------------------------- a failing endpoint: paused
def _failing(listener) -> None:
    listener.status = 500
    os.environ["OPENLINEAGE__TRANSPORT__TYPE"] = "http"
    os.environ["OPENLINEAGE__TRANSPORT__URL"] = listener.url
    os.environ["OPENLINEAGE__TRANSPORT__RETRY"] = json.dumps({"total": 0})


def _register(files, db: str, name: str):
    r = cli("dataset", "register", str(files["train"]), "--name", name, db=db)
    assert r.exit_code == 0, r.output
    assert f"{name}@1 registered" in r.stdout
    return r


def _govkit_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("govkit.integrations")]


def test_after_a_failure_later_actions_skip_lineage_for_a_while(
    files, listener, tmp_path, caplog, monkeypatch
):
    from govkit.integrations import _openlineage

    now = [1000.0]
    monkeypatch.setattr(_openlineage, "_clock", lambda: now[0])
    _failing(listener)
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    _register(files, db, "first")
    assert [b["eventType"] for b in listener.bodies] == ["START"]  # tried once, answered 500
    (warning,) = _govkit_warnings(caplog)
    assert "could not send the START event of job govkit.register_dataset.first" in warning
    assert "no OpenLineage events with this configuration for the next 5 minutes" in warning

    _register(files, db, "second")  # paused: not even tried, and no second warning
    _register(files, db, "third")
    assert len(listener.bodies) == 1 and len(_govkit_warnings(caplog)) == 1

    now[0] += _openlineage.PAUSE_AFTER_FAILURE - 1
    _register(files, db, "fourth")
    assert len(listener.bodies) == 1

    now[0] += 1  # the pause is over, and the endpoint is back
    listener.status = 201
    _register(files, db, "fifth")
    assert [(b["eventType"], b["job"]["name"]) for b in listener.bodies[1:]] == [
        ("START", "govkit.register_dataset.fifth"),
        ("COMPLETE", "govkit.register_dataset.fifth"),
    ]
    with Store.open(db) as store:  # every registration stands
        for name in ("first", "second", "third", "fourth", "fifth"):
            assert store.get_dataset(DatasetRef(name=name, version=1)).row_count > 0


def test_a_changed_configuration_is_tried_at_once(files, listener, tmp_path, caplog):
    _failing(listener)
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    _register(files, db, "first")
    assert len(listener.bodies) == 1
    healthy = _Listener()
    try:
        os.environ["OPENLINEAGE__TRANSPORT__URL"] = healthy.url  # the CI job points elsewhere
        _register(files, db, "second")
        assert [b["eventType"] for b in healthy.bodies] == ["START", "COMPLETE"]
    finally:
        healthy.close()


def test_strict_mode_tries_every_action(files, listener, tmp_path):
    _failing(listener)
    os.environ["GOVKIT_OPENLINEAGE_STRICT"] = "1"
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    for name in ("first", "second"):
        r = cli("dataset", "register", str(files["train"]), "--name", name, db=db)
        assert r.exit_code == 2, r.output
        assert "the action was not run" in r.stderr
        assert "next 5 minutes" not in r.stderr
    assert [b["job"]["name"] for b in listener.bodies] == [
        "govkit.register_dataset.first",
        "govkit.register_dataset.second",
    ]


def test_a_python_block_pauses_its_own_client_only(adult_test, tmp_path, caplog):
    from govkit.workflows import register_dataset

    class Failing:
        def __init__(self) -> None:
            self.calls = 0

        def emit(self, event: object) -> None:
            self.calls += 1
            raise ConnectionError("refused")

    with Store.open(f"sqlite:///{tmp_path / 'govkit.db'}") as store:
        client = Failing()
        with emit_openlineage(client):
            register_dataset(adult_test.head(100), name="a", store=store)
            register_dataset(adult_test.head(110), name="b", store=store)
        assert client.calls == 1
        with emit_openlineage(client):  # a new block: tried again
            register_dataset(adult_test.head(120), name="c", store=store)
        assert client.calls == 2
        assert store.get_dataset(DatasetRef(name="b", version=1)).row_count == 110


def test_urllib3_retry_warnings_do_not_name_the_endpoint(files, listener, tmp_path, caplog):
    import logging

    import urllib3

    port = listener.server.server_address[1]
    listener.close()  # connection refused: urllib3 retries and warns on each retry
    os.environ["OPENLINEAGE__TRANSPORT__TYPE"] = "http"
    os.environ["OPENLINEAGE__TRANSPORT__URL"] = f"http://127.0.0.1:{port}"
    os.environ["OPENLINEAGE__TRANSPORT__RETRY"] = json.dumps({"total": 2, "backoff_factor": 0})
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    caplog.set_level(logging.WARNING)
    r = _register(files, db, "first")
    assert not [rec for rec in caplog.records if rec.name.startswith("urllib3")]
    assert f"127.0.0.1:{port}" not in caplog.text and str(port) not in r.output
    assert len(_govkit_warnings(caplog)) == 1
    # outside govkit's emission urllib3's own warnings are left as they are
    caplog.clear()
    pool = urllib3.PoolManager(retries=urllib3.Retry(total=1, backoff_factor=0))
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        pool.request("GET", f"http://127.0.0.1:{port}/")
    assert any(
        rec.name == "urllib3.connectionpool" and rec.getMessage().startswith("Retrying")
        for rec in caplog.records
    )


def test_the_pause_holds_with_openlineage_url(files, listener, tmp_path, caplog):
    """OPENLINEAGE_URL: the client writes OPENLINEAGE__ variables as it reads it (the pause
    must still find the configuration it failed with). Its default retries apply: ~9 s."""
    listener.status = 500
    os.environ["OPENLINEAGE_URL"] = listener.url
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    _register(files, db, "first")
    tried = len(listener.bodies)
    assert tried >= 1 and {b["job"]["name"] for b in listener.bodies} == {
        "govkit.register_dataset.first"
    }
    _register(files, db, "second")
    _register(files, db, "third")
    assert len(listener.bodies) == tried
    assert len(_govkit_warnings(caplog)) == 1
