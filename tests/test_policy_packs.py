"""Built-in policy packs: each has an example that passes and one that fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.policy import builtin_packs, load_policy
from govkit.policy_tests import run_policy_tests

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "policies"
HGB_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
PACKS = ["eeoc-four-fifths", "nyc-ll144", "gdpr-art22", "eu-ai-act-high-risk"]


def cli(*args):
    return CliRunner().invoke(app, list(args))


def test_every_pack_ships_and_cites_its_clause():
    assert set(PACKS) <= set(builtin_packs())
    for pack in PACKS:
        policy = load_policy(ROOT / "policies" / f"{pack}.yaml").policy
        for rule in policy.rules:
            assert rule.description, f"{pack}:{rule.id} cites no clause"
        assert any(ch.isdigit() for ch in policy.description), f"{pack} names no article"


def test_recorded_decision_examples_pass_and_fail_as_documented():
    outcomes = run_policy_tests(EXAMPLES)
    assert len(outcomes) == 4 and all(o.ok for o in outcomes), outcomes
    verdicts = {o.case: o.detail for o in outcomes}
    assert "verdict FAIL" in verdicts["one cut-off for everyone fails the four-fifths rule"]
    assert "verdict PASS" in verdicts["group-aware thresholds pass"]


def test_policy_test_command_reports_mismatches(tmp_path):
    shutil.copy(EXAMPLES / "decisions_group_thresholds.csv", tmp_path)
    (tmp_path / "wrong.yaml").write_text(
        "policy: eeoc-four-fifths\ncases:\n  - name: expects the wrong verdict\n"
        "    data: decisions_group_thresholds.csv\n    prediction_column: decision\n"
        "    target: income\n    positive_label: '>50K'\n    expect: FAIL\n"
    )
    r = cli("policy", "test", str(tmp_path))
    assert r.exit_code == 1
    assert "FAIL wrong.yaml: expects the wrong verdict (verdict PASS, expected FAIL)" in r.stdout
    assert cli("policy", "test", str(EXAMPLES)).exit_code == 0


def test_policy_test_bad_file_exits_2(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "policy: eeoc-four-fifths\ncases:\n  - name: x\n    dta: y\n"
    )
    r = cli("policy", "test", str(tmp_path))
    assert r.exit_code == 2 and "bad.yaml:4: cases.0.dta" in r.stderr
    assert "did you mean 'data'" in r.stderr


def test_policy_schema_is_valid_json_schema():
    r = cli("policy", "schema")
    assert r.exit_code == 0
    schema = json.loads(r.stdout)
    assert schema["properties"]["schema_version"]["const"] == 1
    kinds = {
        d
        for d in json.dumps(schema["$defs"]).split('"')
        if d in ("fairness", "performance", "explanation", "lineage", "documentation")
    }
    assert len(kinds) == 5
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)


def test_lint_reports_semantic_errors_with_exit_2(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(
        "schema_version: 1\nname: p\nextends: [eeoc-four-fifths]\nwaivers:\n"
        "  - {rule: eeoc-impact-ratio-sx, model: m, justification: long enough text,"
        " approver: a, expires: 2030-01-01}\n"
    )
    r = cli("policy", "lint", str(p))
    assert r.exit_code == 2
    assert f"{p}:5:" in r.stderr and "did you mean 'eeoc-impact-ratio-sex'" in r.stderr


def test_recorded_predictions_through_the_cli(tmp_path):
    data = EXAMPLES / "decisions_single_threshold.csv"
    args = [
        "check",
        str(ROOT / "policies" / "gdpr-art22.yaml"),
        "--data",
        str(data),
        "--prediction-column",
        "decision",
        "--target",
        "income",
        "--positive-label",
        ">50K",
        "--format",
        "json",
        "--db",
        f"sqlite:///{tmp_path / 'g.db'}",
    ]
    r = cli(*args)
    report = json.loads(r.stdout)
    statuses = {c["rule_id"]: c["status"] for c in report["checks"]}
    # explanations need the model itself: not applicable, never a silent pass
    assert statuses["gdpr-explanation-coverage"] == "N/A"
    assert report["status"] in ("WARN", "FAIL")
    assert "not recorded in the audit log" in r.stderr
    missing = cli(
        "check",
        str(ROOT / "policies" / "eeoc-four-fifths.yaml"),
        "--data",
        str(data),
        "--prediction-column",
        "decison",
        "--target",
        "income",
        "--db",
        f"sqlite:///{tmp_path / 'g.db'}",
    )
    assert (
        missing.exit_code == 2
        and "--prediction-column: the data has no column 'decison'" in missing.stderr
    )


def test_recorded_labels_other_than_zero_one_need_the_positive_label(tmp_path):
    # sorting 'approved' / 'denied' says nothing about which is favourable: the gate used
    # to take the second ('denied') and passed a four-fifths rule the data fails
    frame = pd.read_csv(EXAMPLES / "decisions_single_threshold.csv")
    labels = {">50K": "approved", "<=50K": "denied"}
    frame[["income", "decision"]] = frame[["income", "decision"]].replace(labels)
    frame.to_csv(tmp_path / "d.csv", index=False)
    db = f"sqlite:///{tmp_path / 'g.db'}"
    base = ["check", str(ROOT / "policies" / "eeoc-four-fifths.yaml"), "--data"]
    base += [str(tmp_path / "d.csv"), "--prediction-column", "decision", "--target", "income"]
    r = cli(*base, "--db", db)
    assert r.exit_code == 2, r.output
    assert "cannot tell which of the labels is the favourable outcome" in r.stderr
    assert "'approved', 'denied'; pass --positive-label" in r.stderr
    named = cli(*base, "--positive-label", "approved", "--format", "json", "--db", db)
    check = next(c for c in json.loads(named.stdout)["checks"] if c["rule_id"].endswith("sex"))
    approved = frame["decision"] == "approved"
    rates = approved.groupby(frame["sex"]).mean()
    assert check["value"] == pytest.approx(rates.min() / rates.max())  # the four-fifths ratio
    # 0/1 labels: 1 is the positive one, as before
    frame[["income", "decision"]] = (frame[["income", "decision"]] == "approved").astype(int)
    frame.to_csv(tmp_path / "01.csv", index=False)
    base[3] = str(tmp_path / "01.csv")
    zero_one = cli(*base, "--format", "json", "--db", db)
    again = next(c for c in json.loads(zero_one.stdout)["checks"] if c["rule_id"].endswith("sex"))
    assert again["value"] == pytest.approx(check["value"])


META_FULL = """\
owner: credit-risk@example.org
contact: model-risk@example.org, to contest a decision
intended_use: Pre-screening for manual review
out_of_scope_uses: [automated final decisions]
caveats_and_recommendations: 1994 data
target: income
positive_label: ">50K"
"""


@pytest.fixture(scope="module")
def registered(tmp_path_factory, adult_files):
    folder = tmp_path_factory.mktemp("packs")
    db = f"sqlite:///{folder / 'govkit.db'}"
    full = folder / "full.yaml"
    full.write_text(META_FULL)
    thin = folder / "thin.yaml"
    thin.write_text("target: income\npositive_label: '>50K'\nowner: someone\n")
    for name, key in (("adult-train", "train"), ("adult-test", "test")):
        assert (
            cli(
                "dataset",
                "register",
                str(adult_files[key]),
                "--name",
                name,
                "--source" if key == "train" else "--transformation",
                # a source is a URI (free text is refused)
                "https://archive.ics.uci.edu/dataset/2/adult"
                if key == "train"
                else "census extract",
                "--db",
                db,
            ).exit_code
            == 0
        )
    for model, meta, evaluation in (("documented", full, "adult-test"), ("thin", thin, None)):
        args = [
            "model",
            "register",
            str(adult_files["model"]),
            "--name",
            model,
            "--training-data",
            "adult-train",
            "--meta",
            str(meta),
            "--trust-type",
            HGB_TYPE,
            "--db",
            db,
        ]
        if evaluation:
            args += ["--evaluation-data", evaluation]
        assert cli(*args).exit_code == 0
    return {"db": db, **adult_files}


@pytest.mark.parametrize(
    "pack,model,code,failing",
    [
        ("gdpr-art22", "documented", 0, set()),
        ("gdpr-art22", "thin", 1, {"gdpr-contest-and-purpose"}),
        ("eu-ai-act-high-risk", "documented", 0, set()),
        (
            "eu-ai-act-high-risk",
            "thin",
            1,
            {"ai-act-art10-evaluation-data", "ai-act-art13-instructions"},
        ),
    ],
)
def test_model_packs_pass_and_fail(registered, pack, model, code, failing):
    r = cli(
        "check",
        str(ROOT / "policies" / f"{pack}.yaml"),
        "--model",
        model,
        "--data",
        str(registered["test"]),
        "--trust-type",
        HGB_TYPE,
        "--format",
        "json",
        "--db",
        registered["db"],
    )
    assert r.exit_code == code, r.output
    report = json.loads(r.stdout)
    assert {c["rule_id"] for c in report["checks"] if c["status"] == "FAIL"} == failing
    coverage = [c for c in report["checks"] if c["check_id"] == "explanation.coverage"]
    for c in coverage:
        assert c["value"] == 1.0 and c["evidence"]["rows_evaluated"] == 1000
