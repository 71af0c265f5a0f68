"""The audit store's registry and policy runs, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from sqlmodel import func, select

import govkit.store._log as audit_log
from govkit.exceptions import InputError, NotFoundError, StoreError
from govkit.records import ColumnSchema, DatasetRef, ModelMetadata, ModelRef
from govkit.results import (
    Bound,
    CheckResult,
    EvaluationResult,
    ExplanationEvidence,
    FeatureImportance,
    Finding,
    FindingsEvidence,
    GroupEvidence,
    GroupRow,
    MetricsEvidence,
    Status,
)
from govkit.store import RunHeadline, Store
from govkit.store._schema import CheckResultRow, RunRow

T0 = datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
COLUMNS = (ColumnSchema(name="age", dtype="int"), ColumnSchema(name="income", dtype="category"))


def fp(char: str) -> str:
    return "sha256:" + char * 64


@contextmanager
def raw(db_url: str) -> Iterator[sqlalchemy.Connection]:
    """A plain SQLAlchemy connection (in a transaction) to look behind the store's back."""
    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def add_dataset(store: Store, name: str, fingerprint: str, **overrides):
    fields = dict(
        name=name,
        version=None,
        fingerprint=fingerprint,
        order_independent=False,
        row_count=100,
        columns=COLUMNS,
        source_uri=f"file:///data/{name}.csv",
        parents=(),
        transformation=None,
        actor="alice",
    )
    fields.update(overrides)
    return store.add_dataset(**fields)


def add_model(store: Store, name: str = "credit", **overrides):
    fields = dict(
        name=name,
        version=None,
        artifact_uri=f"file:///models/{name}.skops",
        artifact_sha256="ab" * 32,
        artifact_format="skops",
        flavour="sklearn",
        estimator="Pipeline[HistGradientBoostingClassifier]",
        metadata=ModelMetadata(
            description="Credit scoring — ünïcode", owner="risk team", sensitive_features=("sex",)
        ),
        training_data=None,
        evaluation_data=None,
        actor="bob",
    )
    fields.update(overrides)
    return store.add_model_version(**fields)


def make_result(
    model: str = "credit", version: int | None = 1, *, offset: int = 0
) -> EvaluationResult:
    """An EvaluationResult with every kind of evidence and every status."""
    checks = (
        CheckResult(
            rule_id="dp-sex",
            check_id="fairness.demographic_parity_ratio",
            kind="fairness",
            severity="error",
            status=Status.PASS,
            description="Selection rates by sex within 80 %",
            value=0.9123456789,
            bound=Bound(min=0.8),
            message="ratio 0.91 ≥ 0.8",
            evidence=GroupEvidence(
                sensitive_features=("sex",),
                metric="selection_rate",
                overall={"selection_rate": 0.21},
                groups=(
                    GroupRow(group=("Female",), count=412, metrics={"selection_rate": 0.19}),
                    GroupRow(
                        group=("Other",), count=3, metrics={"selection_rate": None}, judged=False
                    ),
                ),
            ),
        ),
        CheckResult(
            rule_id="auc",
            check_id="performance.roc_auc",
            kind="performance",
            severity="warning",
            status=Status.WARN,
            value=0.69,
            bound=Bound(min=0.7, max=1.0),
            evidence=MetricsEvidence(
                values={"roc_auc": 0.69, "log_loss": None},
                confusion={"tp": 10.0, "fp": 2.0, "tn": 80.0, "fn": 8.0},
            ),
        ),
        CheckResult(
            rule_id="shap",
            check_id="explanation.additivity",
            kind="explanation",
            severity="error",
            status=Status.ERROR,
            message="explainer failed: <script>alert(1)</script>",
            evidence=ExplanationEvidence(
                method="tree",
                rows_evaluated=200,
                rows_valid=198,
                tolerance=1e-6,
                max_abs_error=None,
                top_features=(FeatureImportance(feature="age", mean_abs_attribution=0.31),),
            ),
        ),
        CheckResult(
            rule_id="lineage",
            check_id="lineage.training_data_registered",
            kind="lineage",
            severity="error",
            status=Status.NOT_APPLICABLE,
            evidence=FindingsEvidence(
                findings=(Finding(item="training data", ok=True, detail="adult@1"),)
            ),
        ),
        CheckResult(
            rule_id="nan-value",
            check_id="performance.accuracy",
            kind="performance",
            severity="error",
            status=Status.FAIL,
            value=None,
        ),
    )
    return EvaluationResult(
        policy_name="credit-policy",
        policy_path="policies/credit.yaml",
        policy_digest=fp("d"),
        model=ModelRef(name=model, version=version),
        data_fingerprint=fp("e"),
        n_rows=16281,
        started_at=T0 + timedelta(minutes=offset),
        finished_at=T0 + timedelta(minutes=offset, seconds=42),
        govkit_version="0.1.0",
        checks=checks,
    )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


# -- datasets ---------------------------------------------------------------------------


def test_register_and_get_dataset(store):
    record, created = add_dataset(store, "adult", fp("a"), transformation="raw export")
    assert created
    assert (record.name, record.version, record.fingerprint) == ("adult", 1, fp("a"))
    assert record.columns == COLUMNS and record.created_by == "alice"
    assert record.created_at.tzinfo is not None
    assert store.get_dataset(DatasetRef(name="adult")) == record
    assert store.get_dataset(DatasetRef(name="adult", version=1)) == record


def test_dataset_versions_count_up_and_latest_is_default(store):
    first, _ = add_dataset(store, "adult", fp("a"))
    second, created = add_dataset(store, "adult", fp("b"), row_count=200)
    assert created and (first.version, second.version) == (1, 2)
    assert store.get_dataset(DatasetRef(name="adult")) == second
    assert store.get_dataset(DatasetRef(name="adult", version=1)) == first


def test_reregistering_same_content_returns_existing_without_event(store):
    record, _ = add_dataset(store, "adult", fp("a"))
    events = len(store.audit_events())
    again, created = add_dataset(store, "adult", fp("a"), actor="someone-else")
    assert not created and again == record
    assert len(store.audit_events()) == events
    # the same content under an explicit version equal to the registered one is fine too
    assert add_dataset(store, "adult", fp("a"), version=1) == (record, False)


def test_explicit_versions(store):
    record, _ = add_dataset(store, "adult", fp("a"), version=5)
    assert record.version == 5
    assert add_dataset(store, "adult", fp("b"))[0].version == 6
    with pytest.raises(StoreError, match=r"adult@5 is already registered with other content"):
        add_dataset(store, "adult", fp("c"), version=5)
    with pytest.raises(StoreError, match=r"already registered as adult@5"):
        add_dataset(store, "adult", fp("a"), version=7)


def test_parents_are_resolved_and_lineage_is_breadth_first(store):
    raw1, _ = add_dataset(store, "raw", fp("1"))
    raw2, _ = add_dataset(store, "raw", fp("2"))
    census, _ = add_dataset(store, "census", fp("3"))
    clean, _ = add_dataset(
        store, "clean", fp("4"), parents=[DatasetRef(name="raw")], transformation="drop NA"
    )
    assert clean.parents == (DatasetRef(name="raw", version=2),)  # latest, resolved
    joined, _ = add_dataset(
        store,
        "joined",
        fp("5"),
        parents=[DatasetRef(name="clean", version=1), DatasetRef(name="census")],
    )
    features, _ = add_dataset(
        store,
        "features",
        fp("6"),
        # a diamond: raw@2 is reached through joined -> clean and directly
        parents=[DatasetRef(name="joined"), DatasetRef(name="raw", version=2)],
    )
    lineage = store.lineage(DatasetRef(name="features"))
    assert [str(r.ref) for r in lineage] == [
        "features@1", "joined@1", "raw@2", "clean@1", "census@1",
    ]  # fmt: skip
    assert store.lineage(DatasetRef(name="raw", version=1)) == [raw1]
    assert raw2 in lineage and census in lineage and features == lineage[0]


def test_unknown_parent_is_not_found_and_nothing_is_registered(store):
    add_dataset(store, "raw", fp("1"))
    events = len(store.audit_events())
    with pytest.raises(NotFoundError, match=r"no dataset named 'rwa'.*did you mean 'raw'"):
        add_dataset(store, "clean", fp("2"), parents=[DatasetRef(name="rwa")])
    with pytest.raises(NotFoundError, match=r"dataset 'raw' has no version 3.*latest: raw@1"):
        add_dataset(store, "clean", fp("2"), parents=[DatasetRef(name="raw", version=3)])
    assert len(store.audit_events()) == events
    with pytest.raises(NotFoundError):
        store.get_dataset(DatasetRef(name="clean"))


def test_unknown_dataset_names_close_matches(store):
    with pytest.raises(NotFoundError, match=r"no dataset named 'adult' is registered; no datasets"):
        store.get_dataset(DatasetRef(name="adult"))
    add_dataset(store, "adult", fp("a"))
    add_dataset(store, "adult-test", fp("b"))
    add_dataset(store, "zzz", fp("c"))
    with pytest.raises(NotFoundError) as caught:
        store.get_dataset(DatasetRef(name="adultt"))
    assert str(caught.value) == (
        "no dataset named 'adultt' is registered; did you mean 'adult' or 'adult-test'?"
    )
    with pytest.raises(NotFoundError, match=r"registered datasets: adult, adult-test, zzz"):
        store.lineage(DatasetRef(name="qqqqqqq"))


@pytest.mark.parametrize("name", ["", "a b", "adult@1", "-x", "x" * 129])
def test_invalid_names_are_input_errors(store, name):
    with pytest.raises(InputError):
        add_dataset(store, name, fp("a"))
    with pytest.raises(InputError):
        add_model(store, name)


def test_invalid_version_is_input_error(store):
    with pytest.raises(InputError, match="positive whole number"):
        add_dataset(store, "adult", fp("a"), version=0)
    # beyond the version columns (32-bit in PostgreSQL; SQLite raised OverflowError from
    # 2**63, a traceback from the CLI)
    for big in (2**31, 2**63):
        with pytest.raises(InputError, match=f"at most 2147483647; got {big}"):
            add_dataset(store, "adult", fp("a"), version=big)
    assert add_dataset(store, "adult", fp("a"), version=2**31 - 1)[0].version == 2**31 - 1


@pytest.mark.parametrize("text", ["m@2147483648", "m@99999999999999999999", "m@\u0661"])
def test_versions_beyond_the_columns_or_not_ascii_digits_are_refused(store, text):
    from govkit.records import parse_ref

    with pytest.raises(InputError, match="a whole number from 1 to 2147483647"):
        parse_ref(text, what="model")
    assert parse_ref("m@2147483647", what="model").version == 2**31 - 1
    assert store.audit_events(limit=2**70) == store.audit_events()  # no OverflowError


def test_list_datasets_by_name_then_version(store):
    assert store.list_datasets() == []
    b1, _ = add_dataset(store, "b", fp("x"))
    a1, _ = add_dataset(store, "a", fp("y"))
    a2, _ = add_dataset(store, "a", fp("z"), parents=[DatasetRef(name="b", version=1)])
    listed = store.list_datasets()
    assert listed == [a1, a2, b1]
    assert listed[1].parents == (DatasetRef(name="b", version=1),)


# -- models -----------------------------------------------------------------------------


def test_register_get_and_list_model_versions(store):
    add_dataset(store, "adult", fp("a"))
    add_dataset(store, "adult", fp("b"))
    add_dataset(store, "adult-test", fp("c"))
    first = add_model(
        store,
        training_data=DatasetRef(name="adult", version=1),
        evaluation_data=DatasetRef(name="adult-test"),
    )
    assert first.version == 1
    assert first.training_data == DatasetRef(name="adult", version=1)
    assert first.evaluation_data == DatasetRef(name="adult-test", version=1)  # resolved
    second = add_model(store, training_data=DatasetRef(name="adult"))
    assert second.version == 2 and second.training_data == DatasetRef(name="adult", version=2)
    other = add_model(store, "churn", version=3)
    assert store.get_model_version(ModelRef(name="credit")) == second
    assert store.get_model_version(ModelRef(name="credit", version=1)) == first
    assert store.list_model_versions() == [other, first, second]
    assert first.metadata.description == "Credit scoring — ünïcode"
    with pytest.raises(StoreError, match=r"credit@2 is already registered.*credit@3"):
        add_model(store, version=2)


def test_model_lookups_fail_with_suggestions(store):
    add_model(store, "credit")
    with pytest.raises(NotFoundError, match=r"no model named 'credti'.*did you mean 'credit'"):
        store.get_model_version(ModelRef(name="credti"))
    with pytest.raises(NotFoundError, match=r"model 'credit' has no version 9"):
        store.get_model_version(ModelRef(name="credit", version=9))
    with pytest.raises(NotFoundError, match=r"no dataset named 'adult'"):
        add_model(store, training_data=DatasetRef(name="adult"))
    assert [m.version for m in store.list_model_versions()] == [1]


def test_invalid_model_fields_are_input_errors(store):
    with pytest.raises(InputError, match="artifact_format"):
        add_model(store, artifact_format="exe")


def test_registrations_append_events(store):
    add_dataset(store, "adult", fp("a"), actor="alice")
    add_model(store, training_data=DatasetRef(name="adult"), actor="bob")
    events = store.audit_events()
    assert [(e.event_type, e.subject, e.actor) for e in events] == [
        ("dataset.registered", "dataset:adult@1", "alice"),
        ("model.registered", "model:credit@1", "bob"),
    ]
    assert events[0].payload["fingerprint"] == fp("a")
    assert events[1].payload["training_data"] == "adult@1"
    assert events[0].timestamp.utcoffset() == timedelta(0)


# -- policy runs ------------------------------------------------------------------------


def test_find_audit_events_filters_newest_first(store):
    add_dataset(store, "adult", fp("a"))
    add_model(store, "credit")
    add_model(store, "churn")
    store.record_event("note.added", {"n": 1}, actor="bob", subject="model:credit@1")
    every = list(reversed(store.audit_events()))  # newest first
    assert [e.sequence for e in store.find_audit_events(limit=None)] == [e.sequence for e in every]
    assert store.find_audit_events(limit=2) == every[:2]
    about = store.find_audit_events(subjects=["model:credit@1", "dataset:adult@1"])
    assert about == [e for e in every if e.subject in ("model:credit@1", "dataset:adult@1")]
    assert [e.event_type for e in about] == ["note.added", "model.registered", "dataset.registered"]
    typed = store.find_audit_events(event_types=["model.registered"], subjects=["model:churn@1"])
    assert [e.subject for e in typed] == ["model:churn@1"]
    assert store.find_audit_events(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    first = every[-1].timestamp
    assert store.find_audit_events(since=first.replace(microsecond=0), limit=None) == every


def test_record_run_round_trips(store, db_url):
    add_model(store)
    result = make_result()
    stored = store.record_run(result, actor="ci")
    assert stored.result == result
    latest = store.latest_run(ModelRef(name="credit", version=1))
    assert latest is not None
    assert latest == stored
    assert latest.result == result and latest.result.status == Status.FAIL
    assert latest.result.checks[0].evidence == result.checks[0].evidence

    event = store.audit_events()[-1]
    assert (event.sequence, event.hash) == (stored.anchor.sequence, stored.anchor.hash)
    assert event.event_type == "policy.run" and event.subject == "model:credit@1"
    assert event.payload == {
        "run_id": stored.run_id,
        "model": "credit@1",
        "policy": {"name": "credit-policy", "digest": fp("d")},
        "verdict": "FAIL",
        "rules": [
            {"rule_id": c.rule_id, "check_id": c.check_id, "status": c.status.value}
            for c in result.checks
        ],
        "data_fingerprint": fp("e"),
    }
    with raw(db_url) as conn:  # the queryable columns
        run = conn.execute(select(RunRow.__table__)).one()
        assert (run.model_name, run.model_version, run.status) == ("credit", 1, "FAIL")
        checks = conn.execute(
            sqlalchemy.text(
                "SELECT rule_id, status, value FROM govkit_check_results ORDER BY position"
            )
        ).all()
    assert [tuple(c) for c in checks] == [
        ("dp-sex", "PASS", 0.9123456789),
        ("auc", "WARN", 0.69),
        ("shap", "ERROR", None),
        ("lineage", "N/A", None),
        ("nan-value", "FAIL", None),
    ]


def test_latest_run(store):
    assert store.latest_run(ModelRef(name="credit")) is None
    v1_old = store.record_run(make_result(version=1, offset=0), actor=None)
    v1_new = store.record_run(make_result(version=1, offset=5), actor=None)
    v2 = store.record_run(make_result(version=2, offset=1), actor=None)
    store.record_run(make_result("churn", version=1, offset=9), actor=None)
    assert store.latest_run(ModelRef(name="credit", version=1)) == v1_new
    assert store.latest_run(ModelRef(name="credit", version=2)) == v2
    assert store.latest_run(ModelRef(name="credit")) == v2  # most recently recorded, any version
    assert store.latest_run(ModelRef(name="credit", version=3)) is None
    assert v1_old.run_id < v1_new.run_id < v2.run_id


def test_latest_run_headlines_match_the_runs_read_whole(store, db_url):
    assert store.latest_run_headlines() == {}
    store.record_run(make_result(version=1, offset=0), actor=None)
    store.record_run(make_result(version=1, offset=5), actor=None)
    store.record_run(make_result(version=2, offset=1), actor=None)
    store.record_run(make_result("churn", version=1, offset=9), actor=None)
    store.record_run(make_result("vendor", version=None, offset=3), actor=None)  # no version
    headlines = store.latest_run_headlines()
    refs = [ModelRef(name="credit", version=1), ModelRef(name="credit", version=2)]
    refs.append(ModelRef(name="churn", version=1))
    assert sorted(headlines, key=str) == sorted(refs, key=str)
    for ref in refs:
        whole = store.latest_run(ref)
        assert headlines[ref] == RunHeadline.of(whole)
    first = headlines[refs[0]]
    assert first.counts == make_result().counts  # every status, zeros included
    assert sum(first.counts.values()) == len(make_result().checks)
    assert first.finished_at.tzinfo is not None
    # an event lost from the log is reported, as latest_run reports it
    with raw(db_url) as conn:
        conn.execute(
            sqlalchemy.text("DELETE FROM govkit_audit_events WHERE sequence = :s"),
            {"s": headlines[refs[2]].anchor.sequence},
        )
    with pytest.raises(StoreError, match=r"the audit event of run \d+ .* is missing"):
        store.latest_run_headlines()


def test_audit_event_types_count_the_log(store):
    assert store.audit_event_types() == {}
    add_model(store)
    store.record_run(make_result(), actor=None)
    store.record_run(make_result(offset=1), actor=None)
    store.record_event("z.custom", {"n": 1}, actor=None, subject=None)
    counts: dict[str, int] = {}
    for event in store.audit_events():
        counts[event.event_type] = counts.get(event.event_type, 0) + 1
    assert store.audit_event_types() == counts
    assert list(store.audit_event_types()) == sorted(counts)
    assert counts["policy.run"] == 2 and counts["model.registered"] == 1


def test_record_run_is_atomic(store, db_url, monkeypatch):
    add_model(store)
    store.record_run(make_result(), actor="ci")
    before = store.audit_events()
    seen = {}

    def fail_after_check_rows(session, head, *args, **kwargs):
        session.flush()
        seen["runs"] = session.exec(select(func.count()).select_from(RunRow)).one()
        seen["checks"] = session.exec(select(func.count()).select_from(CheckResultRow)).one()
        raise RuntimeError("simulated crash while writing the audit event")

    monkeypatch.setattr(audit_log, "append_event", fail_after_check_rows)
    with pytest.raises(RuntimeError, match="simulated crash"):
        store.record_run(make_result(offset=10), actor="ci")
    assert seen == {"runs": 2, "checks": 10}  # the rows were written, then rolled back
    monkeypatch.undo()

    with raw(db_url) as conn:
        assert conn.execute(sqlalchemy.text("SELECT count(*) FROM govkit_runs")).scalar() == 1
        checks = conn.execute(sqlalchemy.text("SELECT count(*) FROM govkit_check_results"))
        assert checks.scalar() == 5
    assert store.audit_events() == before
    assert store.latest_run(ModelRef(name="credit")).result == make_result()
    report = store.verify_chain()
    assert report.ok and report.events == len(before)
    # and the store carries on where it stopped
    after = store.record_run(make_result(offset=20), actor="ci")
    assert after.anchor.sequence == before[-1].sequence + 1
    assert store.verify_chain().ok


def test_failed_registration_leaves_nothing(store, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("crash")

    monkeypatch.setattr(audit_log, "append_event", crash)
    with pytest.raises(RuntimeError):
        add_dataset(store, "adult", fp("a"))
    with pytest.raises(RuntimeError):
        add_model(store)
    monkeypatch.undo()
    with pytest.raises(NotFoundError):
        store.get_dataset(DatasetRef(name="adult"))
    assert store.list_model_versions() == []
    assert store.audit_events() == [] and store.verify_chain().ok


def test_reopening_keeps_everything(db_url):
    with Store.open(db_url) as first:
        record, _ = add_dataset(first, "adult", fp("a"))
        stored = first.record_run(make_result(), actor=None)
    with Store.open(db_url) as second:
        assert second.get_dataset(DatasetRef(name="adult")) == record
        assert second.latest_run(ModelRef(name="credit")) == stored
        assert second.verify_chain().ok
