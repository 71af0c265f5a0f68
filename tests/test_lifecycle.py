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
        (  # the hint was 'approved' (difflib ranks it higher)
            ["promote", "credit@1", "--to", "prod"],
            "unknown stage 'prod'; stages: candidate, approved, production, retired "
            "(did you mean 'production'?)",
        ),
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
            assert r.json()["error"]["message"] == "no such model or alias is registered"
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


# -- configurable stage names (lifecycle.stage_names) -------------------------------------

NAMED = PASSING.replace("name: credit-gate", "name: credit-named") + (
    "lifecycle:\n"
    "  stage_names: {candidate: proposed, approved: validated, production: live, "
    "retired: archived}\n"
)
ALL_NAMED = "proposed [candidate], validated [approved], live [production], archived [retired]"


def test_configured_stage_names_are_accepted_shown_and_logged_as_ids(world):
    tmp, db, folder, trusted = world
    (tmp / "named.yaml").write_text(NAMED)
    named = tmp / "named.yaml"
    r = cli("model", "bind", "credit", "--policy", named, "--db", db)
    assert r.exit_code == 0, r.output
    assert (
        "stage names: candidate as proposed, approved as validated, production as live, "
        "retired as archived" in r.stdout
    )
    for version in (1, 2):
        assert _check(db, named, f"credit@{version}", folder, trusted) == 0

    # unknown name: exit 2, every stage listed by name (and id), a close match suggested
    r = cli("model", "promote", "credit@1", "--to", "lvie", "--db", db)
    assert r.exit_code == 2
    assert f"unknown stage 'lvie'; stages (names from policy 'credit-named'): {ALL_NAMED}" in (
        r.stderr
    )
    assert "did you mean 'live'?" in r.stderr
    # the gate's refusal speaks the policy's names (no approval yet)
    r = cli("model", "promote", "credit@1", "--to", "live", "--db", db)
    assert r.exit_code == 1 and "promotion of credit@1 to live refused" in r.stderr
    for version in (1, 2):
        r = cli(
            "model", "approve", f"credit@{version}", "--approver", "bob", "--note", "ok", "--db", db
        )
        assert r.exit_code == 0, r.output
    # the configured name and the id both work
    r = cli("model", "promote", "credit@1", "--to", "live", "--db", db, actor="carol")
    assert r.exit_code == 0, r.output
    assert "credit@1 is now live" in r.stdout
    r = cli("model", "promote", "credit@2", "--to", "production", "--db", db)
    assert r.exit_code == 0 and "credit@2 is now live (was 1)" in r.stdout
    r = cli("model", "promote", "credit@3", "--to", "archived", "--reason", "old", "--db", db)
    assert r.exit_code == 0 and "credit@3 is now archived" in r.stdout
    for args, message in [
        (["promote", "credit@2", "--to", "live"], "credit@2 is already live"),
        (["promote", "credit@1", "--to", "validated"], "credit@1 is already validated"),
        (["promote", "credit@2", "--to", "validated"], "becomes validated by a sign-off"),
        (["promote", "credit@1", "--to", "proposed"], "cannot move back to proposed"),
        (["promote", "credit@3", "--to", "live"], "credit@3 is archived [retired]"),
        (["approve", "credit@3", "--approver", "bob", "--note", "x"], "is archived [retired]"),
        (["alias", "credit@1", "live"], "'live' is what policy 'credit-named' calls a stage"),
    ]:
        r = cli("model", *args, "--db", db)
        assert r.exit_code == 2 and message in r.stderr, (args, r.stderr)

    r = cli("model", "stages", "credit", "--db", db)
    assert r.exit_code == 0
    out = r.stdout
    assert "credit@1  validated [approved]" in out and "credit@2  live [production]" in out
    assert "credit@3  archived [retired]" in out
    assert "alias production -> credit@2" in out  # the alias the API serves keeps the id
    assert "credit@1 validated [approved] -> live [production] by carol" in out
    assert "credit@1 live [production] -> validated [approved]" in out

    # the log (which verifies) records stage ids only; the names once, with the binding
    events = _events(db)
    bound = [e for e in events if e.event_type == "model.policy_bound"]
    assert bound[-1].payload["stage_names"] == {
        "candidate": "proposed",
        "approved": "validated",
        "production": "live",
        "retired": "archived",
    }
    moves = [e.payload for e in events if e.event_type == "model.stage_changed"]
    assert [(m["model"], m["from"], m["to"]) for m in moves] == [
        ("credit@1", "approved", "production"),
        ("credit@2", "approved", "production"),
        ("credit@3", "candidate", "retired"),
    ]
    assert moves[1]["alias"] == {"production": {"from": 1, "to": 2}}
    refused = [e.payload for e in events if e.event_type == "model.promotion_refused"]
    assert [p["to"] for p in refused] == ["production"]
    approved = [e.payload for e in events if e.event_type == "model.approved"]
    assert approved[0]["stage"] == {"from": "candidate", "to": "approved"}

    # binding a policy without names brings the ids back (history kept in the log)
    assert cli("model", "bind", "credit", "--policy", tmp / "gate.yaml", "--db", db).exit_code == 0
    r = cli("model", "stages", "credit", "--db", db)
    assert "credit@2  production" in r.stdout and "[production]" not in r.stdout
    r = cli("model", "promote", "credit@1", "--to", "live", "--db", db)
    assert r.exit_code == 2 and "unknown stage 'live'; stages: candidate, approved," in r.stderr


@pytest.mark.parametrize(
    "names,message",
    [
        (
            "{candidat: proposed}",
            "lifecycle.stage_names.candidat: unknown field 'candidat'; expected one of: "
            "approved, candidate, production, retired (did you mean 'candidate'?)",
        ),
        (
            "{production: Live!}",
            "lifecycle.stage_names.production: string should match pattern",
        ),
        ("{production: ''}", "a stage name is 1-32 characters"),
        (
            "{production: approved}",
            "stage 'production' may not be named 'approved': that is the id of another stage",
        ),
        (
            "{approved: live, production: live}",
            "stages 'approved' and 'production' are both named 'live'",
        ),
        ("[live]", "lifecycle.stage_names: expected a mapping, found a list"),
    ],
)
def test_bad_stage_names_exit_2_with_file_and_line(world, names, message):
    tmp, db, _folder, _trusted = world
    policy = tmp / "bad.yaml"
    policy.write_text(PASSING + f"lifecycle:\n  stage_names: {names}\n")
    line = PASSING.count("\n") + 2  # the stage_names line
    r = cli("model", "bind", "credit", "--policy", policy, "--db", db)
    assert r.exit_code == 2, r.output
    assert f"bad.yaml:{line}:" in r.stderr and message in r.stderr, r.stderr
    assert _events(db) == []  # nothing bound


def test_store_api_validates_stage_names(world):
    from govkit.exceptions import InputError
    from govkit.store import Store

    _tmp, db, _folder, _trusted = world
    with Store.open(db) as store:
        with pytest.raises(InputError, match="invalid stage_names: staging: Extra inputs"):
            store.bind_policy(
                "credit",
                policy_name="p",
                policy_digest="sha256:" + "0" * 64,
                approval_required=False,
                approval_independent=True,
                stage_names={"staging": "qa"},
                actor="ops",
            )
        bound = store.bind_policy(
            "credit",
            policy_name="p",
            policy_digest="sha256:" + "0" * 64,
            approval_required=False,
            approval_independent=True,
            stage_names={"production": "live", "retired": "retired"},  # an id as itself: dropped
            actor="ops",
        )
        assert bound.stage_names == {"production": "live"}
        assert store.model_lifecycle("credit")["binding"].stage_names == {"production": "live"}


def test_upgrade_from_schema_4_keeps_bindings(world):
    """Revision 0005 adds the stage-names column; a 0004 store's bindings survive it."""
    import sqlalchemy
    from alembic import command
    from audit_helpers import engine

    from govkit.exceptions import StoreError
    from govkit.store import Store, upgrade_database
    from govkit.store._migrate import _config

    tmp, db, _folder, _trusted = world
    assert cli("model", "bind", "credit", "--policy", tmp / "gate.yaml", "--db", db).exit_code == 0
    eng = engine(db)
    try:
        with eng.begin() as conn:  # back to schema 4, as a govkit of that version left it
            command.downgrade(_config(conn), "0004")
        with eng.connect() as conn:
            columns = {
                c["name"] for c in sqlalchemy.inspect(conn).get_columns("govkit_policy_bindings")
            }
            meta = dict(conn.execute(sqlalchemy.text("SELECT key, value FROM govkit_meta")).all())
    finally:
        eng.dispose()
    assert "stage_names" not in columns and meta["schema_version"] == "4"
    with pytest.raises(StoreError, match="has schema version 4; this govkit needs version 5"):
        Store.open(db)
    assert upgrade_database(db) == ("0004", "0005")
    r = cli("model", "stages", "credit", "--db", db)
    assert r.exit_code == 0 and "policy: credit-gate (sha256:" in r.stdout
    assert "credit@1  candidate" in r.stdout
    with Store.open(db) as store:
        bound = store.model_lifecycle("credit")["binding"]
        assert bound.policy_name == "credit-gate" and bound.approval_required
        assert bound.stage_names is None
        assert store.verify_chain().ok
    (tmp / "named.yaml").write_text(NAMED)
    assert cli("model", "bind", "credit", "--policy", tmp / "named.yaml", "--db", db).exit_code == 0
    r = cli("model", "stages", "credit", "--db", db)
    assert "credit@1  proposed [candidate]" in r.stdout
