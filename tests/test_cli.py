"""The CLI contract: commands, exit codes 0/1/2, messages on stderr, nothing half-written."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.records import DatasetRef, ModelRef
from govkit.store import Store

HGB_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
ROOT = Path(__file__).resolve().parent.parent

META = """\
description: Income classifier <script>alert('meta')</script>
owner: team@example.org
contact: risk@example.org
intended_use: tests
target: income
positive_label: ">50K"
sensitive_features: [sex, race]
"""

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


def run(*args: str, db: str):
    result = CliRunner().invoke(app, [*args, "--db", db] if args[0] != "--help" else list(args))
    return result


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, adult_files):
    """A SQLite registry with Adult train/test and the model registered through the CLI."""
    folder = tmp_path_factory.mktemp("cli")
    db = f"sqlite:///{folder / 'govkit.db'}"
    (folder / "meta.yaml").write_text(META)
    (folder / "passing.yaml").write_text(PASSING)
    (folder / "failing.yaml").write_text(FAILING)
    model = folder / "model.skops"
    shutil.copy(adult_files["model"], model)
    for name, key in (("adult-train", "train"), ("adult-test", "test")):
        r = run("dataset", "register", str(adult_files[key]), "--name", name, db=db)
        assert r.exit_code == 0, r.output
    r = run(
        "model",
        "register",
        str(model),
        "--name",
        "credit",
        "--training-data",
        "adult-train",
        "--evaluation-data",
        "adult-test@1",
        "--meta",
        str(folder / "meta.yaml"),
        "--trust-type",
        HGB_TYPE,
        db=db,
    )
    assert r.exit_code == 0, r.output
    assert "credit@1 registered" in r.stdout
    return {**adult_files, "dir": folder, "db": db, "model": model}


def fresh_copy(workspace, tmp_path) -> str:
    shutil.copy(workspace["dir"] / "govkit.db", tmp_path / "govkit.db")
    return f"sqlite:///{tmp_path / 'govkit.db'}"


def test_registering_the_same_data_twice_returns_the_existing_version(workspace):
    r = run(
        "dataset", "register", str(workspace["train"]), "--name", "adult-train", db=workspace["db"]
    )
    assert r.exit_code == 0
    assert "adult-train@1 already registered (same content)" in r.stdout


def test_passing_policy_exits_0_and_records_the_run(workspace, tmp_path):
    db = fresh_copy(workspace, tmp_path)
    out = tmp_path / "report.json"
    r = run(
        "check",
        str(workspace["dir"] / "passing.yaml"),
        "--model",
        "credit",
        "--data",
        str(workspace["test"]),
        "--trust-type",
        HGB_TYPE,
        "--output",
        f"json={out}",
        db=db,
    )
    assert r.exit_code == 0, r.output
    assert "verdict WARN" in r.stdout  # the warning-severity four-fifths rule is reported
    report = json.loads(out.read_text())
    assert report["status"] == "WARN" and report["exit_code"] == 0
    assert [c["status"] for c in report["checks"]] == ["PASS", "WARN", "PASS"]
    assert "recorded as policy run 1 at audit sequence" in r.stderr
    with Store.open(db) as store:
        stored = store.latest_run(ModelRef(name="credit", version=1))
    assert stored.result.policy_name == "passing"


def test_failing_policy_exits_1(workspace, tmp_path):
    db = fresh_copy(workspace, tmp_path)
    r = run(
        "check",
        str(workspace["dir"] / "failing.yaml"),
        "--model",
        "credit@1",
        "--data",
        str(workspace["test"]),
        "--trust-type",
        HGB_TYPE,
        "--format",
        "json",
        db=db,
    )
    assert r.exit_code == 1, r.output
    report = json.loads(r.stdout)
    assert report["status"] == "FAIL"
    assert report["checks"][1]["status"] == "FAIL" and report["checks"][1]["value"] < 0.8


def test_fail_on_warn(workspace, tmp_path):
    db = fresh_copy(workspace, tmp_path)
    r = run(
        "check",
        str(workspace["dir"] / "passing.yaml"),
        "--model",
        "credit",
        "--data",
        str(workspace["test"]),
        "--trust-type",
        HGB_TYPE,
        "--fail-on-warn",
        db=db,
    )
    assert r.exit_code == 1


def _bad_policy(tmp_path: Path) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(PASSING.replace("metric: accuracy", "metric: acuracy"))
    return p


@pytest.mark.parametrize(
    "case",
    [
        "missing-policy",
        "malformed-policy",
        "unknown-model",
        "bad-ref",
        "missing-data",
        "missing-column",
        "untrusted-artifact",
        "bad-output-format",
        "missing-output-folder",
        "output-is-a-folder",
        "same-output-twice",
        "score-column-of-text",
        "empty-sensitive-cell",
    ],
)
def test_input_errors_exit_2_with_a_message_and_record_nothing(workspace, tmp_path, case):
    db = fresh_copy(workspace, tmp_path)
    policy = str(workspace["dir"] / "passing.yaml")
    data = str(workspace["test"])
    model = "credit"
    extra: list[str] = ["--trust-type", HGB_TYPE]
    expect = {
        "missing-policy": "nope.yaml: policy file not found",
        "malformed-policy": "bad.yaml:4:42: rules[0].metric",
        "unknown-model": "no model named 'credti'",
        "bad-ref": "--model: expected model reference NAME or NAME@VERSION",
        "missing-data": "none.csv: data file not found",
        "missing-column": "'sex' (sensitive feature of rule 'dp')",
        "untrusted-artifact": "--trust-type " + HGB_TYPE,
        "bad-output-format": "unknown format 'xml'",
        "missing-output-folder": "does not exist",
        "output-is-a-folder": "--output junit=.: is a directory; expected a file to write",
        "same-output-twice": "the same file twice; one file per format",
        # was a ValueError traceback (could not convert string to float)
        "score-column-of-text": "--score-column: column 'sex' holds text; expected numbers, "
        "the model's score (probability of the positive label) for each row",
        # was an ERROR result saying "rows 2" (zero-based), and a TypeError in accuracy
        "empty-sensitive-cell": "empty.csv:4: column 'sex' (sensitive feature of rule 'dp') is "
        "empty in 2 rows (lines 4, 7); every row needs a group: drop those rows or fill them "
        "with an explicit level such as 'Unknown'",
    }[case]
    if case == "missing-policy":
        policy = str(tmp_path / "nope.yaml")
    elif case == "malformed-policy":
        policy = str(_bad_policy(tmp_path))
    elif case == "unknown-model":
        model = "credti"
    elif case == "bad-ref":
        model = "credit@latest"
    elif case == "missing-data":
        data = str(tmp_path / "none.csv")
    elif case == "missing-column":
        import pandas as pd

        pd.read_csv(data).drop(columns=["sex"]).to_csv(tmp_path / "nosex.csv", index=False)
        data = str(tmp_path / "nosex.csv")
    elif case == "untrusted-artifact":
        extra = []
    elif case == "bad-output-format":
        extra += ["--output", f"xml={tmp_path / 'x'}"]
    elif case == "missing-output-folder":
        extra += ["--output", str(tmp_path / "no" / "such" / "report.txt")]
    elif case == "output-is-a-folder":  # (was a traceback after the run was recorded)
        extra += ["--output", f"json={tmp_path / 'ok.json'}", "--output", "junit=."]
    elif case == "same-output-twice":
        same = tmp_path / "r.json"
        extra += ["--output", f"json={same}", "--output", f"junit={same}"]
    elif case == "empty-sensitive-cell":
        import pandas as pd

        frame = pd.read_csv(data)
        frame.loc[[2, 5], "sex"] = None
        frame.to_csv(tmp_path / "empty.csv", index=False)
        data = str(tmp_path / "empty.csv")
    elif case == "score-column-of-text":
        extra += ["--prediction-column", "income", "--score-column", "sex"]
    r = run("check", policy, "--model", model, "--data", data, *extra, db=db)
    assert r.exit_code == 2, r.output
    assert expect in r.stderr, r.stderr
    assert r.stderr.startswith("govkit: error: ")
    assert "Traceback" not in r.output
    assert r.stdout == ""
    with Store.open(db) as store:
        events = store.audit_events()
    assert [e.event_type for e in events].count("policy.run") == 0
    assert not (tmp_path / "ok.json").exists() and not (tmp_path / "r.json").exists()


def test_unknown_model_suggests_the_close_name(workspace):
    r = run(
        "check",
        str(workspace["dir"] / "passing.yaml"),
        "--model",
        "credti",
        "--data",
        str(workspace["test"]),
        db=workspace["db"],
    )
    assert r.exit_code == 2 and "credit" in r.stderr


def test_changed_artifact_is_refused(workspace, tmp_path):
    db = fresh_copy(workspace, tmp_path)
    artifact = workspace["model"]
    original = artifact.read_bytes()
    try:
        artifact.write_bytes(original + b"tampered")
        r = run(
            "check",
            str(workspace["dir"] / "passing.yaml"),
            "--model",
            "credit",
            "--data",
            str(workspace["test"]),
            "--trust",
            db=db,
        )
    finally:
        artifact.write_bytes(original)
    assert r.exit_code == 2
    assert "changed after registration" in r.stderr
    assert hashlib.sha256(original).hexdigest() in r.stderr


def test_untrusted_pickle_is_not_registered(workspace, tmp_path, adult_model):
    import joblib

    db = fresh_copy(workspace, tmp_path)
    path = tmp_path / "model.joblib"
    joblib.dump(adult_model, path)
    r = run(
        "model", "register", str(path), "--name", "pickled", "--training-data", "adult-train", db=db
    )
    assert r.exit_code == 2
    assert "refusing to load a joblib artifact" in r.stderr and "--trust" in r.stderr
    with Store.open(db) as store:
        assert "pickled" not in {m.name for m in store.list_model_versions()}
    r = run(
        "model",
        "register",
        str(path),
        "--name",
        "pickled",
        "--training-data",
        "adult-train",
        "--trust",
        db=db,
    )
    assert r.exit_code == 0, r.output


def test_bad_metadata_file_names_the_line(workspace, tmp_path):
    db = fresh_copy(workspace, tmp_path)
    meta = tmp_path / "meta.yaml"
    meta.write_text("owner: me\nintended_uses: x\n")
    r = run(
        "model",
        "register",
        str(workspace["model"]),
        "--name",
        "m2",
        "--training-data",
        "adult-train",
        "--meta",
        str(meta),
        "--trust-type",
        HGB_TYPE,
        db=db,
    )
    assert r.exit_code == 2
    assert f"{meta}:2:1: unknown metadata field 'intended_uses'" in r.stderr
    assert "did you mean" in r.stderr


def test_card_html_and_pdf_are_written_and_logged(workspace, tmp_path):
    db = fresh_copy(workspace, tmp_path)
    run(
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
    html, pdf = tmp_path / "card.html", tmp_path / "card.pdf"
    assert run("card", "credit", "--format", "html", "--output", str(html), db=db).exit_code == 0
    assert run("card", "credit@1", "--format", "pdf", "--output", str(pdf), db=db).exit_code == 0
    text = html.read_text()
    assert "credit@1" in text
    assert "<script>alert" not in text and "&lt;script&gt;alert(" in text
    assert pdf.read_bytes().startswith(b"%PDF-")
    with Store.open(db) as store:
        cards = [e for e in store.audit_events() if e.event_type == "card.rendered"]
        assert store.verify_chain().ok
    assert [c.payload["sha256"] for c in cards] == [
        hashlib.sha256(html.read_bytes()).hexdigest(),
        hashlib.sha256(pdf.read_bytes()).hexdigest(),
    ]
    assert cards[0].payload["policy_run_sequence"] is not None
    # the same subject as the version's registration and policy runs
    assert {c.subject for c in cards} == {"model:credit@1"}


def test_a_pdf_card_from_a_new_process_goes_to_the_child_started_first(workspace, tmp_path):
    """`govkit card --format pdf` starts the PDF child before importing the rest of govkit, so
    WeasyPrint is imported meanwhile; the first card of the process is then laid out by it."""
    db = fresh_copy(workspace, tmp_path)
    pdf = tmp_path / "card.pdf"
    code = (
        "import sys\n"
        "from govkit.report import _child\n"
        "heavy = [m for m in ('pandas', 'matplotlib', 'sqlalchemy') if m in sys.modules]\n"
        "seen = []\n"
        "class Seen(_child.ChildRender):\n"
        "    def __init__(self, **kw):\n"
        "        seen.append('pandas' in sys.modules)\n"
        "        super().__init__(**kw)\n"
        "        seen.append(self.warm)\n"
        "_child.ChildRender = Seen\n"
        "from govkit.report import _pdf\n"
        "_pdf.ChildRender = Seen\n"
        "started = []\n"
        "real = _child.start_spare\n"
        "def start():\n"
        "    started.append([m for m in ('pandas', 'matplotlib') if m in sys.modules])\n"
        "    real()\n"
        "_child.start_spare = start\n"
        "from govkit.cli import main\n"
        f"sys.argv = ['govkit', 'card', 'credit', '--format', 'pdf', '--output', {str(pdf)!r},\n"
        f"            '--db', {db!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('RESULT', heavy, started, seen)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = out.stdout.strip().splitlines()[-1]
    # nothing heavy imported before the command; the child started before matplotlib was;
    # a card never needs pandas (govkit.cards); the card's renderer found the child
    # waiting (warm)
    assert result == "RESULT [] [[]] [False, True]", result
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_audit_verify_detects_tampering(workspace, tmp_path):
    import sqlite3

    db = fresh_copy(workspace, tmp_path)
    r = run("audit", "verify", db=db)
    assert r.exit_code == 0 and "audit chain intact" in r.stdout
    assert "cannot be detected" in r.stderr  # honest about what a chain alone cannot show
    con = sqlite3.connect(tmp_path / "govkit.db")
    tables = [t for (t,) in con.execute("select name from sqlite_master where type='table'")]
    table = next(t for t in tables if "audit" in t and "head" not in t)
    cols = [c[1] for c in con.execute(f"pragma table_info({table})")]
    payload_col = next(c for c in cols if "payload" in c and "digest" not in c)
    con.execute(
        f"update {table} set {payload_col} = replace({payload_col}, 'adult', 'adul7') "
        "where rowid = (select min(rowid) from " + table + ")"
    )
    con.commit()
    con.close()
    r = run("audit", "verify", db=db)
    assert r.exit_code == 1
    assert "BROKEN at sequence 1" in r.stdout


def test_unreachable_database_exits_2(tmp_path):
    r = run("audit", "verify", db=f"sqlite:///{tmp_path}/no/such/dir/govkit.db")
    assert r.exit_code == 2 and "govkit: error:" in r.stderr and "Traceback" not in r.output


def test_console_script_end_to_end(workspace, tmp_path):
    """The installed `govkit` executable, in a real process: exit codes and clean stdout."""
    db = fresh_copy(workspace, tmp_path)
    exe = Path(sys.executable).with_name("govkit")
    base = [
        str(exe),
        "check",
        str(workspace["dir"] / "failing.yaml"),
        "--model",
        "credit",
        "--data",
        str(workspace["test"]),
        "--db",
        db,
        "--format",
        "json",
    ]
    proc = subprocess.run(base + ["--trust-type", HGB_TYPE], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["status"] == "FAIL"
    assert "\x1b[" not in proc.stderr  # no progress bar on a pipe
    proc = subprocess.run(base, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    lint = subprocess.run(
        [str(exe), "policy", "lint", str(_bad_policy(tmp_path))], capture_output=True, text=True
    )
    assert lint.returncode == 2 and "did you mean 'accuracy'" in lint.stderr


@pytest.mark.postgres
def test_same_flow_on_postgres(workspace, pg_url, tmp_path):
    """Registration, gate and card against the real PostgreSQL server."""
    db = pg_url
    for name, key in (("adult-train", "train"), ("adult-test", "test")):
        assert run("dataset", "register", str(workspace[key]), "--name", name, db=db).exit_code == 0
    r = run(
        "model",
        "register",
        str(workspace["model"]),
        "--name",
        "credit-pg",
        "--training-data",
        "adult-train",
        "--evaluation-data",
        "adult-test",
        "--meta",
        str(workspace["dir"] / "meta.yaml"),
        "--trust-type",
        HGB_TYPE,
        db=db,
    )
    assert r.exit_code == 0, r.output
    r = run(
        "check",
        str(workspace["dir"] / "failing.yaml"),
        "--model",
        "credit-pg",
        "--data",
        str(workspace["test"]),
        "--trust-type",
        HGB_TYPE,
        db=db,
    )
    assert r.exit_code == 1
    out = tmp_path / "card.html"
    assert run("card", "credit-pg", "--output", str(out), db=db).exit_code == 0
    assert run("audit", "verify", db=db).exit_code == 0


def test_help_lists_the_contract():
    r = CliRunner().invoke(app, ["--help"])
    for command in ("dataset", "model", "check", "card", "policy", "audit"):
        assert command in r.stdout


@pytest.mark.parametrize("command", ["card", "export", "checkpoint"])
def test_a_folder_as_output_is_refused_before_anything_is_done(workspace, tmp_path, command):
    # a card was rendered and its digest recorded, then os.replace failed: a traceback
    db = fresh_copy(workspace, tmp_path)
    with Store.open(db) as store:
        before = len(store.audit_events())
    args = {
        "card": ["card", "credit", "--format", "md", "--output", str(tmp_path)],
        "export": ["audit", "export", "--output", str(tmp_path)],
        "checkpoint": ["audit", "checkpoint", "--key-file", str(tmp_path / "k"), "--output", "."],
    }[command]
    r = run(*args, db=db)
    assert r.exit_code == 2, r.output
    assert "is a directory; expected a file to write" in r.stderr
    assert "Traceback" not in r.output
    with Store.open(db) as store:
        assert len(store.audit_events()) == before


@pytest.mark.parametrize("timeout", ["1e10", "inf"])
def test_a_card_timeout_beyond_a_day_is_refused(workspace, tmp_path, timeout):
    # 1e10 s overflowed the platform's timer: an OverflowError traceback after the render began
    db = fresh_copy(workspace, tmp_path)
    with Store.open(db) as store:
        before = len(store.audit_events())
    out = tmp_path / "card.pdf"
    r = run("card", "credit", "--format", "pdf", "--output", str(out), "--timeout", timeout, db=db)
    assert r.exit_code == 2, r.output
    assert r.stderr == (
        "govkit: error: --timeout: expected a number of seconds above 0 and at most "
        f"86,400 (a day), found {float(timeout):g}\n"
    )
    assert not out.exists()
    with Store.open(db) as store:
        assert len(store.audit_events()) == before


def test_registration_records_the_labels_the_classifier_predicts(workspace, tmp_path):
    # decision outcomes import checks observed outcomes against them
    with Store.open(workspace["db"]) as store:
        record = store.get_model_version(ModelRef(name="credit", version=1))
    assert record.metadata.classes == ("<=50K", ">50K")
    db = fresh_copy(workspace, tmp_path)
    meta = tmp_path / "meta.yaml"
    meta.write_text(META + "classes: [bad, good]\n")
    r = run(
        "model", "register", str(workspace["model"]), "--name", "m2", "--training-data",
        "adult-train", "--meta", str(meta), "--trust-type", HGB_TYPE, db=db,
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert (
        "metadata says classes ['bad', 'good'], but the artifact's model predicts ['<=50K', '>50K']"
    ) in r.stderr


def test_an_empty_cell_of_a_metadata_sensitive_feature_leaves_other_rules_alone(
    workspace, tmp_path
):
    # the metadata's sensitive features group the card's ROC curves: an empty cell there
    # was a TypeError in every performance rule; now the curves by that column are left out
    import pandas as pd

    db = fresh_copy(workspace, tmp_path)
    frame = pd.read_csv(workspace["test"])
    frame.loc[2, "race"] = None
    frame.to_csv(tmp_path / "empty.csv", index=False)
    policy = tmp_path / "acc.yaml"
    policy.write_text(
        "schema_version: 1\nname: acc\nrules:\n"
        "  - {id: acc, kind: performance, metric: roc_auc, threshold: 0.8}\n"
    )
    report = tmp_path / "r.json"
    r = run(
        "check", str(policy), "--model", "credit", "--data", str(tmp_path / "empty.csv"),
        "--trust-type", HGB_TYPE, "--output", f"json={report}", db=db,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    (check,) = json.loads(report.read_text())["checks"]
    assert check["status"] == "PASS", check["message"]


@pytest.mark.parametrize(
    "case,message",
    [
        ("artifact-is-a-folder", "{tmp}: expected a model artifact file, found a directory"),
        (
            "empty-artifact",
            "{tmp}/empty.skops: the file is empty (0 bytes); expected a saved model",
        ),
        ("meta-is-a-folder", "--meta {tmp}: is a directory; expected a metadata YAML file"),
        (
            "db-is-a-folder",
            "cannot open the audit store at sqlite:///{tmp}: '{tmp}' is a directory",
        ),
        ("meta-yaml-syntax", "{tmp}/meta.yaml:3:1: invalid YAML: expected ',' or ']'"),
        (
            "meta-nested-field",
            "{tmp}/meta.yaml:3:3: unknown metadata field 'decision.thresold' "
            "(did you mean 'threshold'?); expected one of: consequences,",
        ),
    ],
)
def test_model_register_refuses_unusable_files_naming_them(workspace, tmp_path, case, message):
    # a folder, an empty file: "unsupported model artifact type '(none)'", skops' "Exactly one
    # of data or file should be passed", "metadata file not found", "the file '.' does not exist"
    db = fresh_copy(workspace, tmp_path)
    artifact, meta = str(workspace["model"]), str(workspace["dir"] / "meta.yaml")
    if case == "artifact-is-a-folder":
        artifact = str(tmp_path)
    elif case == "empty-artifact":
        (tmp_path / "empty.skops").write_bytes(b"")
        artifact = str(tmp_path / "empty.skops")
    elif case == "meta-is-a-folder":
        meta = str(tmp_path)
    elif case == "db-is-a-folder":
        db = f"sqlite:///{tmp_path}"
    elif case == "meta-yaml-syntax":
        (tmp_path / "meta.yaml").write_text("owner: me\nsensitive_features: [sex, race\n")
        meta = str(tmp_path / "meta.yaml")
    elif case == "meta-nested-field":
        (tmp_path / "meta.yaml").write_text("owner: me\ndecision:\n  thresold: 0.7\n")
        meta = str(tmp_path / "meta.yaml")
    r = run(
        "model", "register", artifact, "--name", "m2", "--training-data", "adult-train",
        "--meta", meta, "--trust-type", HGB_TYPE, db=db,
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("govkit: error: " + message.format(tmp=tmp_path)), r.stderr
    if case != "db-is-a-folder":
        with Store.open(db) as store:
            assert "m2" not in {m.name for m in store.list_model_versions()}


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0, r.output
    assert r.stdout == f"govkit {version('govkit')}\n"


def test_a_header_only_csv_is_not_registered(workspace, tmp_path):
    db = fresh_copy(workspace, tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("age,sex,income\n")
    r = run("dataset", "register", str(empty), "--name", "empty", db=db)
    assert r.exit_code == 2, r.output  # was "empty@1 registered: 0 rows"
    assert (
        r.stderr
        == f"govkit: error: {empty}: no data rows (only a header); expected at least one row\n"
    )
    with Store.open(db) as store:
        assert "empty" not in {d.name for d in store.list_datasets()}


def test_data_registered_without_a_source_fails_the_lineage_rule(workspace, tmp_path):
    # the file's own path was recorded as its source (file:///...), so
    # lineage.training_data_registered could not fail for data registered from the CLI
    db = fresh_copy(workspace, tmp_path)
    with Store.open(db) as store:
        assert store.get_dataset(DatasetRef(name="adult-train", version=1)).source_uri is None
    policy = tmp_path / "lineage.yaml"
    policy.write_text(
        "schema_version: 1\nname: lineage\nrules:\n"
        "  - {id: lineage, kind: lineage, requirement: training_data_registered}\n"
    )
    r = run(
        "check", str(policy), "--model", "credit", "--data", str(workspace["test"]),
        "--trust-type", HGB_TYPE, db=db,
    )  # fmt: skip
    assert r.exit_code == 1, r.output
    assert "lineage incomplete: adult-train@1 lack(s) a source" in r.stdout
    r = run(
        "dataset", "register", str(workspace["train"]), "--name", "adult-raw", "--source",
        "https://archive.ics.uci.edu/dataset/2/adult", db=db,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with Store.open(db) as store:
        raw = store.get_dataset(DatasetRef(name="adult-raw", version=1))
    assert raw.source_uri == "https://archive.ics.uci.edu/dataset/2/adult"


@pytest.mark.parametrize(
    "source,message",
    [
        (
            "/data/adult.csv",
            "--source '/data/adult.csv': expected a URI with a scheme saying where the data came "
            "from, e.g. s3://bucket/key, https://host/path or file:///abs/path; for this local "
            "file: file:///data/adult.csv",
        ),
        ("https://", "--source 'https://': expected a URI with a scheme"),
        (
            "s3://bucket/raw data.csv",
            "--source 's3://bucket/raw data.csv': a URI has no spaces or control characters "
            "(write a space as %20)",
        ),
        ("http://[::1", "--source 'http://[::1': not a URI (Invalid IPv6 URL)"),
    ],
)
def test_a_source_that_is_not_a_uri_is_refused(workspace, tmp_path, source, message):
    db = fresh_copy(
        workspace, tmp_path
    )  # was recorded as given: a path is not where data came from
    r = run("dataset", "register", str(workspace["train"]), "--name", "src", "--source", source,
            db=db)  # fmt: skip
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"govkit: error: {message}"), r.stderr
    with Store.open(db) as store:
        assert "src" not in {d.name for d in store.list_datasets()}
