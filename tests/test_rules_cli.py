"""`govkit check` with the new inputs: --reference-data (verified against the registry) for
drift rules, and champions loaded from the registry or given as recorded predictions."""

from __future__ import annotations

import json
import shutil

import pytest
from _rule_helpers import one_thread  # noqa: F401 (autouse)
from typer.testing import CliRunner

from govkit import workflows as gk
from govkit.cli._app import app
from govkit.store import Store

HGB_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
META = 'target: income\npositive_label: ">50K"\nsensitive_features: [sex, race]\n'

DRIFT = """\
schema_version: 1
name: drift
rules:
  - {id: psi, kind: drift, statistic: psi, threshold: 0.1}
  - {id: score, kind: drift, statistic: ks, scope: prediction, threshold: 0.05}
"""
CHAMPION = """\
schema_version: 1
name: champion
rules:
  - id: no-regression
    kind: champion_challenger
    champion: CHAMPION
    metrics: {accuracy: {max_drop: 0.01}, roc_auc: {max_drop: 0.02}}
    fairness: [{metric: demographic_parity_difference, sensitive_features: [sex],
                max_widening: 0.05}]
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, adult_files, adult_train):
    """credit@1 (a weaker champion) and credit@2 (the Adult model), trained on adult-train."""
    import skops.io as sio
    from demo import FEATURES_CAT, FEATURES_NUM, build_model

    folder = tmp_path_factory.mktemp("rules-cli")
    db = f"sqlite:///{folder / 'govkit.db'}"
    (folder / "meta.yaml").write_text(META)
    champion = build_model(max_iter=15).fit(
        adult_train[FEATURES_CAT + FEATURES_NUM], adult_train["income"]
    )
    sio.dump(champion, folder / "champion.skops")
    (folder / "drift.yaml").write_text(DRIFT)
    for name in ("credit", "credit@1", "credit@2"):
        (folder / f"champion-{name}.yaml").write_text(CHAMPION.replace("CHAMPION", name))
    with Store.open(db) as store:
        gk.register_dataset(adult_files["train"], name="adult-train", store=store)
        for artifact in (folder / "champion.skops", adult_files["model"]):
            gk.register_model(
                artifact,
                name="credit",
                store=store,
                training_data="adult-train",
                metadata=folder / "meta.yaml",
                trusted_types=[HGB_TYPE],
            )
    return {**adult_files, "dir": folder, "db": db}


def check(workspace, tmp_path, *args):
    out = tmp_path / "out.json"
    db = tmp_path / "govkit.db"
    shutil.copy(workspace["dir"] / "govkit.db", db)
    result = CliRunner().invoke(
        app,
        [
            "check",
            *args,
            "--data",
            str(workspace["test"]),
            "--trust-type",
            HGB_TYPE,
            "--output",
            f"json={out}",
            "--db",
            f"sqlite:///{db}",
        ],
    )
    report = json.loads(out.read_text()) if out.exists() else None
    return result, report


def test_drift_against_the_verified_training_data(workspace, tmp_path):
    result, report = check(
        workspace,
        tmp_path,
        str(workspace["dir"] / "drift.yaml"),
        "--model",
        "credit@2",
        "--reference-data",
        str(workspace["train"]),
    )
    assert result.exit_code == 0, result.output
    psi, score = report["checks"]
    assert psi["status"] == score["status"] == "PASS"
    assert psi["evidence"]["reference"] == "adult-train@1"
    assert psi["evidence"]["statistic"] == "population_stability_index"
    assert {f["feature"] for f in psi["evidence"]["features"]} >= {"age", "workclass"}


def test_reference_data_that_is_not_the_training_data_exits_2(workspace, tmp_path):
    from govkit.data import fingerprint, read_table

    result, report = check(
        workspace,
        tmp_path,
        str(workspace["dir"] / "drift.yaml"),
        "--model",
        "credit@2",
        "--reference-data",
        str(workspace["test"]),
    )
    assert result.exit_code == 2 and report is None
    given = fingerprint(read_table(workspace["test"]))
    registered = fingerprint(read_table(workspace["train"]))
    assert "is not the registered training data of model credit@2" in result.stderr
    assert given in result.stderr and registered in result.stderr


def test_without_reference_data_drift_rules_are_not_applicable(workspace, tmp_path):
    result, report = check(
        workspace, tmp_path, str(workspace["dir"] / "drift.yaml"), "--model", "credit@2"
    )
    assert result.exit_code == 0
    assert [c["status"] for c in report["checks"]] == ["N/A", "N/A"]
    assert "--reference-data PATH" in report["checks"][0]["message"]


@pytest.mark.parametrize(
    "candidate,champion,expected",
    [("credit@2", "credit", "credit@1"), ("credit@1", "credit", "credit@2")],
)
def test_champion_by_name_is_the_latest_other_version(
    workspace, tmp_path, candidate, champion, expected
):
    result, report = check(
        workspace,
        tmp_path,
        str(workspace["dir"] / f"champion-{champion}.yaml"),
        "--model",
        candidate,
    )
    (rule,) = report["checks"]
    assert rule["evidence"]["champion"] == expected
    assert rule["evidence"]["challenger"] == candidate
    # nothing is in production: the fallback is said
    assert rule["message"].startswith(
        f"{candidate} vs champion {expected} (no version of 'credit' is in production, so the "
        "latest version other than the candidate): "
    )
    rows = {c["metric"]: c for c in rule["evidence"]["comparisons"]}
    assert set(rows) == {"accuracy", "roc_auc", "demographic_parity_difference"}
    # the values of the candidate on the same data are those of a plain performance run
    assert rows["accuracy"]["challenger"] != rows["accuracy"]["champion"]
    assert result.exit_code == (0 if rule["status"] == "PASS" else 1)


def test_the_candidate_cannot_be_its_own_champion(workspace, tmp_path):
    result, _ = check(
        workspace, tmp_path, str(workspace["dir"] / "champion-credit@2.yaml"), "--model", "credit@2"
    )
    assert result.exit_code == 2
    assert "champion credit@2 is the candidate credit@2 itself" in result.stderr


def test_recorded_predictions_with_and_without_the_champion_column(
    workspace, tmp_path, adult_model, adult_test
):
    from demo import FEATURES_CAT, FEATURES_NUM
    from skops.io import get_untrusted_types, load

    path = workspace["dir"] / "champion.skops"
    champion = load(path, trusted=get_untrusted_types(file=path))
    X = adult_test[FEATURES_CAT + FEATURES_NUM]
    decisions = adult_test.assign(
        decision=adult_model.predict(X),
        score=adult_model.predict_proba(X)[:, 1],
        old_decision=champion.predict(X),
        old_score=champion.predict_proba(X)[:, 1],
    )
    csv = tmp_path / "decisions.csv"
    decisions.to_csv(csv, index=False)
    workspace = {**workspace, "test": csv}
    policy = str(workspace["dir"] / "champion-credit@1.yaml")
    base = [policy, "--model", "credit@2", "--prediction-column", "decision"]
    _, alone = check(workspace, tmp_path, *base, "--score-column", "score")
    assert alone["checks"][0]["status"] == "N/A"
    assert "--champion-prediction-column" in alone["checks"][0]["message"]
    _, recorded = check(
        workspace,
        tmp_path,
        *base,
        "--score-column",
        "score",
        "--champion-prediction-column",
        "old_decision",
        "--champion-score-column",
        "old_score",
    )
    _, ran = check(workspace, tmp_path, policy, "--model", "credit@2")
    got = recorded["checks"][0]["evidence"]
    assert got["champion"] == "credit@1 (recorded in column 'old_decision')"
    # CSV round trip of the scores: equal to the run of both models up to float printing
    for a, b in zip(got["comparisons"], ran["checks"][0]["evidence"]["comparisons"], strict=True):
        assert a["champion"] == pytest.approx(b["champion"], abs=1e-9)
        assert a["challenger"] == pytest.approx(b["challenger"], abs=1e-9)
    result, _ = check(workspace, tmp_path, *base, "--champion-score-column", "old_score")
    assert result.exit_code == 2
    assert "--champion-score-column needs --champion-prediction-column" in result.stderr


def test_a_single_version_has_no_champion(workspace, tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'one.db'}") as store:
        gk.register_dataset(workspace["train"], name="adult-train", store=store)
        gk.register_model(
            workspace["model"],
            name="solo",
            store=store,
            training_data="adult-train",
            metadata=workspace["dir"] / "meta.yaml",
            trusted_types=[HGB_TYPE],
        )
        policy = tmp_path / "solo.yaml"
        policy.write_text(CHAMPION.replace("CHAMPION", "solo"))
        outcome = gk.check(
            policy,
            model="solo",
            data=workspace["test"],
            store=store,
            trusted_types=[HGB_TYPE],
            record=False,
        )
    (rule,) = outcome.result.checks
    assert rule.status.value == "N/A"
    assert rule.message == (
        "no champion: no version of 'solo' other than the candidate solo@1 is registered"
    )


LENIENT = """\
schema_version: 1
name: lenient
rules:
  - {id: fp, kind: lineage, requirement: data_fingerprint}
"""


@pytest.fixture(scope="module")
def promoted(workspace, tmp_path_factory, adult_test):
    """credit@1 (weak) in production, credit@2 (the Adult model) under alias 'shadow',
    credit@3 (the weak model again) the newest: 'latest other' and 'serving' differ."""
    from govkit import lifecycle

    folder = tmp_path_factory.mktemp("promoted")
    db = f"sqlite:///{folder / 'govkit.db'}"
    data = folder / "eval.csv"
    adult_test.iloc[:3000].to_csv(data, index=False)
    (folder / "lenient.yaml").write_text(LENIENT)
    with Store.open(db) as store:
        gk.register_dataset(workspace["train"], name="adult-train", store=store)
        gk.register_dataset(data, name="adult-eval", store=store)
        for artifact in ("champion.skops", workspace["model"], "champion.skops"):
            gk.register_model(
                workspace["dir"] / artifact,
                name="credit",
                store=store,
                training_data="adult-train",
                evaluation_data="adult-eval",
                metadata=workspace["dir"] / "meta.yaml",
                trusted_types=[HGB_TYPE],
            )
        lifecycle.bind_policy("credit", folder / "lenient.yaml", store=store)
        gk.check(
            folder / "lenient.yaml",
            model="credit@1",
            data=data,
            store=store,
            trusted_types=[HGB_TYPE],
        )
        assert lifecycle.promote("credit@1", to="production", store=store).promoted
        lifecycle.set_alias("credit@2", "shadow", store=store)
    return {**workspace, "dir": folder, "test": data, "db_file": folder / "govkit.db"}


@pytest.mark.parametrize(
    "champion,expected,basis",
    [
        ("credit", "credit@1", "the version in production"),  # was credit@2, the latest other
        ("credit@production", "credit@1", "the version in production"),
        ("credit@shadow", "credit@2", "alias 'shadow'"),
    ],
)
def test_the_champion_is_the_version_serving(promoted, tmp_path, champion, expected, basis):
    result, report = check(promoted, tmp_path, *_policy(tmp_path, champion), "--model", "credit@3")
    assert result.exit_code in (0, 1), result.output
    (rule,) = report["checks"]
    assert rule["evidence"]["champion"] == expected
    assert rule["message"].startswith(f"credit@3 vs champion {expected} ({basis}): accuracy ")


def test_the_version_in_production_has_no_champion_by_name(promoted, tmp_path):
    _, report = check(promoted, tmp_path, *_policy(tmp_path, "credit"), "--model", "credit@1")
    (rule,) = report["checks"]
    assert rule["status"] == "N/A"
    assert rule["message"] == (
        "no champion: the version in production is the candidate credit@1 itself"
    )


@pytest.mark.parametrize(
    "champion,message",
    [
        (  # a misspelt model name was N/A and exit 0
            "credit-modle",
            "champion.yaml:6:15: rules[0].champion: no model named 'credit-modle' is "
            "registered; registered models: credit (did you mean 'credit'?)",
        ),
        (
            "credit@9",
            "champion.yaml:6:15: rules[0].champion: model 'credit' has no version 9",
        ),
        (
            "credit@prodution",
            "champion.yaml:6:15: rules[0].champion: model 'credit' has no alias 'prodution'; "
            "its aliases: production, shadow (did you mean 'production'?)",
        ),
        (
            "credit@approved",
            "champion.yaml:6:15: rules[0].champion: 'approved' is a lifecycle stage, which may "
            "hold several versions; a champion is one version (name a version, an alias or "
            "credit@production)",
        ),
    ],
)
def test_a_champion_the_registry_cannot_resolve_exits_2_at_its_line(
    promoted, tmp_path, champion, message
):
    with Store.open(f"sqlite:///{promoted['db_file']}", read_only=True) as store:
        before = len(store.audit_events())
    result, report = check(promoted, tmp_path, *_policy(tmp_path, champion), "--model", "credit@3")
    assert result.exit_code == 2 and report is None
    assert message in " ".join(result.stderr.split())
    assert str(tmp_path / "champion.yaml") in result.stderr
    with Store.open(f"sqlite:///{tmp_path / 'govkit.db'}", read_only=True) as store:
        assert len(store.audit_events()) == before  # nothing recorded


def _policy(tmp_path, champion: str) -> list[str]:
    policy = tmp_path / "champion.yaml"
    policy.write_text(CHAMPION.replace("CHAMPION", champion))
    return [str(policy)]
