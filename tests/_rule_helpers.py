"""Helpers shared by the tests/test_rules_*.py files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from threadpoolctl import threadpool_limits

from govkit.policy import LoadedPolicy, parse_policy
from govkit.records import ModelMetadata, ModelVersionRecord

POS = ">50K"


def record(name: str = "credit", version: int = 2, **meta) -> ModelVersionRecord:
    base = dict(
        target="income",
        positive_label=POS,
        owner="team@example.org",
        sensitive_features=("sex", "race"),
    )
    base.update(meta)
    return ModelVersionRecord(
        name=name,
        version=version,
        artifact_uri="file:///model.skops",
        artifact_sha256="0" * 64,
        artifact_format="skops",
        flavour="sklearn",
        estimator="Pipeline",
        metadata=ModelMetadata(**base),
        created_at=datetime.now(UTC),
    )


def policy(*rules: str) -> LoadedPolicy:
    """A policy with these rules, each a YAML flow mapping."""
    body = "".join(f"  - {r}\n" for r in rules)
    return parse_policy(f"schema_version: 1\nname: t\nrules:\n{body}", source="t.yaml")


def by_id(result) -> dict:
    return {c.rule_id: c for c in result.checks}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """OpenMP models (HistGradientBoosting) crawl on a busy 2-core runner; import this
    fixture into a test module to run it single-threaded."""
    with threadpool_limits(limits=1):
        yield
