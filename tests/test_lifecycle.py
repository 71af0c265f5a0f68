"""Model lifecycle: candidate -> approved -> production, the gate, four-eyes, rollback, aliases.

Real SQLite files (and PostgreSQL through ``db_url`` for the store walk), a LightGBM
model trained on seeded data, real policy runs recorded by ``govkit check``. Every step
is read back from the audit log, which must verify afterwards.
"""

from __future__ import annotations

import secrets

import pytest
from api_helpers import FEATURES, credit_data, metadata
from typer.testing import CliRunner

from govkit.cli._app import app

PASSING = """\
schema_version: 1
name: credit-gate
approval: {required: true, independent: true}
rules:
  - {id: auc, kind: performance, metric: roc_auc, threshold: {min: 0.6}}
"""
FAILING = PASSING.replace("name: credit-gate", "name: credit-strict").replace(
    "{min: 0.6}", "{min: 0.999}"
)


def cli(*args: str, actor: str = "tester"):
    return CliRunner().invoke(
        app, [str(a) for a in args], env={"GOVKIT_ACTOR": actor}, catch_exceptions=False
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two LightGBM versions' artifacts, train and evaluation CSVs (built once)."""
    import lightgbm as lgb
    import skops.io as sio

    folder = tmp_path_factory.mktemp("lifecycle-models")
    data = credit_data(600)
    train, evaluation = data.iloc[:400], data.iloc[400:]
    train.to_csv(folder / "train.csv", index=False)
    evaluation.to_csv(folder / "eval.csv", index=False)
    artifacts = []
    for i, trees in enumerate((15, 25), start=1):
        model = lgb.LGBMClassifier(
            n_estimators=trees, num_leaves=7, n_jobs=1, verbose=-1, random_state=i
        ).fit(train[FEATURES], train["repaid"])
        path = folder / f"credit-v{i}.skops"
        sio.dump(model, path)
        artifacts.append(path)
    trusted = sio.get_untrusted_types(file=artifacts[0])
    return folder, artifacts, trusted


def _register(db: str, folder, artifacts, trusted, *, versions: int = 3) -> None:
    from govkit.store import Store
    from govkit.workflows import register_dataset, register_model

    with Store.open(db) as store:
        register_dataset(folder / "train.csv", name="credit-train", store=store, actor="dana")
        register_dataset(folder / "eval.csv", name="credit-eval", store=store, actor="dana")
        for i in range(versions):
            register_model(
                artifacts[i % len(artifacts)] if i < 2 else artifacts[0],
                name="credit",
                store=store,
                training_data="credit-train@1",
                evaluation_data="credit-eval@1",
                metadata=metadata().model_copy(update={"owner": "alice"}),
                trusted_types=trusted,
                actor="alice",
            )


@pytest.fixture
def world(tmp_path, trained):
    folder, artifacts, trusted = trained
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    _register(db, folder, artifacts, trusted)
    (tmp_path / "gate.yaml").write_text(PASSING)
    (tmp_path / "strict.yaml").write_text(FAILING)
    return tmp_path, db, folder, trusted


def _check(db, policy, ref, folder, trusted) -> int:
    args = ["check", policy, "--data", folder / "eval.csv", "--model", ref, "--target", "repaid"]
    for t in trusted:
        args += ["--trust-type", t]
    return cli(*args, "--db", db).exit_code


def _events(db):
    from govkit.store import Store

    with Store.open(db, read_only=True) as store:
        assert store.verify_chain().ok
        return [
            e
            for e in store.audit_events()
            if e.event_type.startswith("model.") and e.event_type != "model.registered"
        ]


def test_walk_refusals_and_rollback_through_the_cli(world):
    tmp, db, folder, trusted = world
    gate, strict = tmp / "gate.yaml", tmp / "strict.yaml"

    # no policy bound yet: refused (exit 1), and the refusal is in the log
    r = cli("model", "promote", "credit@1", "--to", "production", "--db", db)
    assert r.exit_code == 1
    assert "bound to no policy" in r.stderr

    assert cli("model", "bind", "credit", "--policy", strict, "--db", db).exit_code == 0
    assert _check(db, strict, "credit@1", folder, trusted) == 1  # AUC < 0.999: a failing run
    r = cli("model", "approve", "credit@1", "--approver", "bob", "--note", "validated", "--db", db)
    assert r.exit_code == 0, r.output
    r = cli("model", "promote", "credit@1", "--to", "production", "--db", db)
    assert r.exit_code == 1
    assert "verdict FAIL, not PASS" in r.stderr and "rules not met: auc" in r.stderr

    # bound to the passing policy, but no run of *that* policy yet
    assert cli("model", "bind", "credit", "--policy", gate, "--db", db).exit_code == 0
    r = cli("model", "promote", "credit@1", "--to", "production", "--db", db)
    assert r.exit_code == 1 and "no recorded run of policy 'credit-gate'" in r.stderr
    assert _check(db, gate, "credit@1", folder, trusted) == 0
    r = cli("model", "promote", "credit@1", "--to", "production", "--db", db, actor="carol")
    assert r.exit_code == 0, r.output
    assert "credit@1 is now production" in r.stdout

    # version 2: passing run, but only a self-approval by its owner -> refused (four-eyes)
    assert _check(db, gate, "credit@2", folder, trusted) == 0
    r = cli("model", "approve", "credit@2", "--approver", "alice", "--note", "mine", "--db", db)
    assert r.exit_code == 0
    r = cli("model", "promote", "credit@2", "--to", "production", "--db", db)
    assert r.exit_code == 1
    assert "independent approval (four-eyes)" in r.stderr and "only by its owner" in r.stderr
    cli("model", "approve", "credit@2", "--approver", "bob", "--note", "reviewed", "--db", db)
    r = cli("model", "promote", "credit@2", "--to", "production", "--reason", "better", "--db", db)
    assert r.exit_code == 0 and "(was 1)" in r.stdout

    r = cli("model", "rollback", "credit", "--reason", "complaints", "--db", db)
    assert r.exit_code == 0, r.output
    assert "production is now version 1 (was 2)" in r.stdout

    r = cli("model", "stages", "credit", "--db", db)
    assert r.exit_code == 0
    out = r.stdout
    assert "credit@1  production" in out and "credit@2  approved" in out
    assert "credit@3  candidate" in out and "alias production -> credit@1" in out
    assert "credit@1 approved -> production by carol" in out
    assert "rolled back: complaints" in out

    events = _events(db)
    kinds = [e.event_type for e in events]
    assert kinds == [
        "model.promotion_refused",  # unbound
        "model.policy_bound",
        "model.approved",
        "model.promotion_refused",  # failing run
        "model.policy_bound",
        "model.promotion_refused",  # no run of the bound policy
        "model.stage_changed",  # 1 -> production
        "model.approved",  # self
        "model.promotion_refused",  # four-eyes
        "model.approved",
        "model.stage_changed",  # 2 -> production
        "model.rolled_back",
    ]
    promoted = events[6]
    assert promoted.actor == "carol" and promoted.subject == "model:credit@1"
    assert promoted.payload["alias"] == {"production": {"from": None, "to": 1}}
    self_approval = events[7]
    assert self_approval.payload["independent"] is False
    assert self_approval.payload["approver"] == "alice"
    refused = events[8]
    assert refused.payload["to"] == "production" and len(refused.payload["reasons"]) == 1
    rolled = events[-1]
    assert rolled.payload["from_version"] == 2 and rolled.payload["to_version"] == 1
    assert rolled.payload["reason"] == "complaints"


@pytest.mark.parametrize(
    "args,message",
    [
        (["promote", "credit@1", "--to", "staging"], "unknown stage 'staging'"),
        (["promote", "credit@1", "--to", "candidate"], "credit@1 is already candidate"),
        (["promote", "credit@1", "--to", "approved"], "becomes approved by a sign-off"),
        (["promote", "credit", "--to", "production"], "name the version"),
        (["promote", "credit@9", "--to", "production"], "has no version 9"),
        (["promote", "nope@1", "--to", "production"], "no model named 'nope'"),
        (["rollback", "credit"], "has no version in production"),
        (["rollback", "credit@1"], "takes a model NAME"),
        (["alias", "credit@1", "Prod!"], "an alias is 1-32 characters"),
        (["alias", "credit@1", "production"], "moves only through the gate"),
        (["approve", "credit@1", "--approver", " ", "--note", "x"], "--approver must be"),
        (["approve", "credit@1", "--approver", "bob", "--note", ""], "--note must be"),
        (["bind", "credit@1", "--policy", "gate.yaml"], "not a version"),
        (["bind", "credit", "--policy", "missing.yaml"], "policy file not found"),
        (["stages", "nope"], "no model named 'nope'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(world, args, message, monkeypatch):
    tmp, db, _folder, _trusted = world
    monkeypatch.chdir(tmp)
    r = cli("model", *args, "--db", db)
    assert r.exit_code == 2, r.output
    assert message in r.stderr


def test_retired_versions_and_aliases(world):
    tmp, db, _folder, _trusted = world
    assert cli("model", "alias", "credit@2", "champion", "--db", db).exit_code == 0
    r = cli("model", "promote", "credit@2", "--to", "retired", "--db", db)
    assert r.exit_code == 2 and "served under the alias(es) champion" in r.stderr
    assert cli("model", "alias", "credit@1", "champion", "--db", db).exit_code == 0
    r = cli("model", "promote", "credit@2", "--to", "retired", "--reason", "superseded", "--db", db)
    assert r.exit_code == 0, r.output
    for args, message in [
        (["promote", "credit@2", "--to", "production"], "retired version cannot move"),
        (["promote", "credit@2", "--to", "retired"], "credit@2 is retired"),
        (["approve", "credit@2", "--approver", "bob", "--note", "x"], "cannot be approved"),
        (["alias", "credit@2", "shadow"], "an alias cannot name it"),
    ]:
        r = cli("model", *args, "--db", db)
        assert r.exit_code == 2 and message in r.stderr, (args, r.stderr)
    r = cli("model", "stages", "credit", "--db", db)
    assert "credit@2  retired" in r.stdout and "alias champion -> credit@1" in r.stdout
    kinds = [e.event_type for e in _events(db)]
    assert kinds == ["model.alias_set", "model.alias_set", "model.stage_changed"]


def test_store_walk_on_each_database(db_url, trained):
    """The same walk through the store API, on SQLite and PostgreSQL; rollback needs history."""
    from govkit import lifecycle
    from govkit.exceptions import InputError
    from govkit.records import ModelRef
    from govkit.results import EvaluationResult, Status
    from govkit.store import Store

    folder, artifacts, trusted = trained
    _register(db_url, folder, artifacts, trusted, versions=2)
    with Store.open(db_url) as store:
        store.bind_policy(
            "credit",
            policy_name="p",
            policy_digest="sha256:" + "0" * 64,
            approval_required=False,
            approval_independent=True,
            actor="ops",
        )
        fingerprint = store.get_dataset(
            store.get_model_version(ModelRef(name="credit", version=1)).evaluation_data
        ).fingerprint
        from datetime import UTC, datetime

        for version in (1, 2):
            store.record_run(
                EvaluationResult(
                    policy_name="p",
                    policy_digest="sha256:" + "0" * 64,
                    model=ModelRef(name="credit", version=version),
                    data_fingerprint=fingerprint,
                    n_rows=200,
                    started_at=datetime.now(UTC),
                    finished_at=datetime.now(UTC),
                    govkit_version="test",
                    checks=(),
                ),
                actor="ci",
            )
        assert store.latest_run(ModelRef(name="credit", version=2)).result.status == Status.PASS
        # no approval required: a candidate may go straight to production
        assert lifecycle.promote("credit@1", to="production", store=store, actor="ops").promoted
        with pytest.raises(InputError, match="no earlier production version"):
            lifecycle.rollback("credit", store=store, actor="ops")
        assert (
            lifecycle.promote("credit@2", to="production", store=store, actor="ops").previous == 1
        )
        assert store.resolve_alias("credit", "production") == 2
        lifecycle.rollback("credit", store=store, actor="ops")
        assert store.resolve_alias("credit", "production") == 1
        info = store.model_lifecycle("credit")
        assert info["stages"] == {1: "production", 2: "approved"}
        assert [(c.model.version, c.from_stage, c.to_stage) for c in info["history"]] == [
            (1, "candidate", "production"),
            (1, "production", "approved"),  # replaced by 2, in the same step
            (2, "candidate", "production"),
            (2, "production", "approved"),  # the rollback, one step
            (1, "approved", "production"),
        ]
        assert store.verify_chain().ok


def test_alias_serving_switches_versions_without_a_restart(world):
    """One DecisionService: a rollback changes the version behind /aliases/production."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from govkit import lifecycle, service
    from govkit.api import create_app
    from govkit.service import DecisionService
    from govkit.store import Store

    tmp, db, folder, trusted = world
    cli("model", "bind", "credit", "--policy", tmp / "gate.yaml", "--db", db)
    for version in (1, 2):
        assert _check(db, tmp / "gate.yaml", f"credit@{version}", folder, trusted) == 0
        cli(
            "model", "approve", f"credit@{version}", "--approver", "bob", "--note", "ok", "--db", db
        )
    store = Store.open(db)
    svc = DecisionService(store, subject_key=secrets.token_bytes(32), trusted_types=trusted)
    _info, token = store.create_api_key(
        tenant="acme", scopes=["decide", "read"], name="t", actor="t"
    )
    headers = {"Authorization": f"Bearer {token}"}
    row = {f: float(credit_data(600)[f].iloc[450]) for f in FEATURES}
    url = "/v1/models/credit/aliases/production/decisions"
    clock = [1000.0]
    original = service.time.monotonic
    service.time.monotonic = lambda: clock[0]  # the alias cache's clock, moved by hand
    try:
        with TestClient(create_app(svc)) as client:
            r = client.post(url, json={"features": row}, headers=headers)
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
            assert "no alias production" in r.json()["error"]["message"]
            lifecycle.promote("credit@1", to="production", store=store, actor="ops")
            clock[0] += service.ALIAS_TTL + 0.1
            response = client.post(url, json={"features": row}, headers=headers)
            assert response.status_code == 201, response.text
            first = response.json()
            assert first["model"] == {"name": "credit", "version": 1}
            lifecycle.promote("credit@2", to="production", store=store, actor="ops")
            clock[0] += service.ALIAS_TTL + 0.1
            second = client.post(url, json={"features": row}, headers=headers).json()
            assert second["model"] == {"name": "credit", "version": 2}
            lifecycle.rollback("credit", store=store, actor="ops")
            # within the TTL the cached version may still serve; after it, the rollback shows
            clock[0] += service.ALIAS_TTL + 0.1
            third = client.post(url, json={"features": row}, headers=headers).json()
            assert third["model"] == {"name": "credit", "version": 1}
            # both explainers stay cached, per version; the scores differ by model
            assert svc.model("credit", 1) is svc.model("credit", 1)
            assert first["score"] == third["score"] != second["score"]
            bad = client.post(
                "/v1/models/credit/aliases/Bad!/decisions", json={"features": row}, headers=headers
            )
            assert bad.status_code == 422
    finally:
        service.time.monotonic = original
        store.close()
