"""lineage.* rules: allowed sources on the whole path, PII columns kept out of the features,
the age of the training data -- and the existing full-path rule alongside them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from _rule_helpers import by_id, one_thread, policy, record  # noqa: F401 (autouse)

from govkit.evaluate import evaluate
from govkit.records import ColumnSchema, DatasetRecord, DatasetRef
from govkit.results import Status


def dataset(name, *, source=None, parents=(), age_days=1.0) -> DatasetRecord:
    return DatasetRecord(
        name=name,
        version=1,
        fingerprint="sha256:" + "0" * 64,
        row_count=10,
        columns=(ColumnSchema(name="age", dtype="int"),),
        source_uri=source,
        parents=tuple(DatasetRef(name=p, version=1) for p in parents),
        created_at=datetime.now(UTC) - timedelta(days=age_days),
    )


TRAIN = dataset("adult-train", parents=("adult-raw",), age_days=10)
RAW = dataset("adult-raw", source="s3://corp-data/census/adult.csv", age_days=400)
ORPHAN = dataset("adult-train", age_days=10)  # no source, no parents: an unregistered hop


def run(adult_model, adult_test, *rules, lineage=(TRAIN, RAW), **kw):
    adult_test = adult_test.head(2000)  # lineage rules do not read the rows
    rec = record().model_copy(update={"training_data": DatasetRef(name="adult-train", version=1)})
    return by_id(
        evaluate(
            policy(*rules),
            rec,
            adult_test,
            training_lineage=lineage,
            **({"model": adult_model} | kw),
        )
    )


@pytest.mark.parametrize(
    "allowed,ok",
    [
        (["s3://corp-data/"], True),  # a prefix
        (["s3://corp-*/census/*.csv"], True),  # a glob
        (["https://data.example.org/", "s3://corp-data/census/adult.csv"], True),
        (["https://data.example.org/"], False),
        (["s3://corp-data/census/*.parquet"], False),
    ],
)
def test_sources_allowed(adult_model, adult_test, allowed, ok):
    rule = f"{{id: src, kind: lineage, requirement: sources_allowed, allowed: {allowed}}}"
    check = run(adult_model, adult_test, rule)["src"]
    assert check.status == (Status.PASS if ok else Status.FAIL)
    findings = {f.item: f for f in check.evidence.findings}
    assert findings["adult-train@1"].ok  # derived: judged through its parent
    assert findings["adult-raw@1"].ok == ok
    if not ok:
        assert "adult-raw@1: s3://corp-data/census/adult.csv is not on the allow-list" in (
            check.message
        )


def test_an_unregistered_hop_fails_both_path_rules(adult_model, adult_test):
    checks = run(
        adult_model,
        adult_test,
        "{id: src, kind: lineage, requirement: sources_allowed, allowed: ['s3://']}",
        "{id: path, kind: lineage, requirement: training_data_registered}",
        lineage=(ORPHAN,),
    )
    assert checks["src"].status == Status.FAIL and "unregistered hop" in checks["src"].message
    assert checks["path"].status == Status.FAIL
    assert (
        run(
            adult_model,
            adult_test,
            "{id: path, kind: lineage, requirement: training_data_registered}",
        )["path"].status
        == Status.PASS
    )


def test_no_training_data_fails_sources_and_age(adult_model, adult_test):
    checks = run(
        adult_model,
        adult_test,
        "{id: src, kind: lineage, requirement: sources_allowed, allowed: ['s3://']}",
        "{id: age, kind: lineage, requirement: max_data_age_days, days: 30}",
        lineage=(),
    )
    assert checks["src"].status == Status.FAIL and "no registered training data" in (
        checks["src"].message
    )
    assert checks["age"].status == Status.FAIL and checks["age"].value is None


def test_pii_columns_among_the_features(adult_model, adult_test):
    checks = run(
        adult_model,
        adult_test,
        "{id: pii, kind: lineage, requirement: pii_absent, columns: [ssn, Age, name]}",
        "{id: clean, kind: lineage, requirement: pii_absent, columns: [ssn, name, sex]}",
    )
    pii = checks["pii"]
    assert pii.status == Status.FAIL and pii.value == 1.0
    assert "PII column(s) used as model input: Age" in pii.message
    assert {f.item: f.detail for f in pii.evidence.findings}["Age"] == "model input feature 'age'"
    assert checks["clean"].status == Status.PASS  # sex is in the data but not a model input


def test_pii_without_known_features_is_not_applicable(adult_model, adult_test):
    y_pred = adult_model.predict(adult_test[list(adult_model.feature_names_in_)])
    rule = "{id: pii, kind: lineage, requirement: pii_absent, columns: [age]}"
    unknown = evaluate(policy(rule), record(), adult_test, predictions=y_pred).checks[0]
    assert unknown.status == Status.NOT_APPLICABLE and "feature_names" in unknown.message
    declared = evaluate(
        policy(rule), record(feature_names=("age", "workclass")), adult_test, predictions=y_pred
    ).checks[0]
    assert declared.status == Status.FAIL


def test_training_data_age(adult_model, adult_test):
    checks = run(
        adult_model,
        adult_test,
        "{id: month, kind: lineage, requirement: max_data_age_days, days: 30}",
        "{id: week, kind: lineage, requirement: max_data_age_days, days: 7}",
    )
    assert checks["month"].status == Status.PASS
    assert checks["month"].value == pytest.approx(10.0, abs=0.01)  # the training set, not RAW
    assert checks["week"].status == Status.FAIL
    assert "adult-train@1 is 10.0 days old; allowed 7" in checks["week"].message
