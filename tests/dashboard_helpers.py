"""A small Adult registry for the dashboard tests: data, a model, two policy runs, decisions.

Real everything: the demo pipeline trained on UCI Adult (session fixture), its
datasets registered with lineage (raw -> train), two runs of a policy (fairness with a
waiver, performance, lineage) on two slices of the test split, decisions made through
:class:`govkit.service.DecisionService` for two tenants, and API keys.
"""

from __future__ import annotations

import secrets
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import EXAMPLES, HGB_TYPE

MODEL = "credit"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
CANARY_SUBJECT = "subject-canary-9f1c@example.org"

POLICY = textwrap.dedent(
    """\
    schema_version: 1
    name: dashboard-gate
    description: A small gate for the dashboard tests.
    rules:
      - id: four-fifths-sex
        kind: fairness
        metric: demographic_parity_ratio
        sensitive_features: [sex]
        threshold: {min: 0.8}
      - id: accuracy
        kind: performance
        metric: accuracy
        threshold: {min: 0.8}
      - id: roc-auc
        kind: performance
        metric: roc_auc
        threshold: {min: 0.99}
        severity: warning
      - id: training-data-lineage
        kind: lineage
        requirement: training_data_registered
    waivers:
      - rule: four-fifths-sex
        model: credit@1
        justification: Interim approval while the re-weighted model is validated.
        approver: Chief Risk Officer
        expires: 2999-12-31
    """
)


@dataclass
class Registry:
    folder: Path
    db_url: str
    store: Any
    service: Any
    runs: list[Any]  # CheckOutcome of the two runs, oldest first
    decisions: dict[str, list[Any]]  # tenant -> Decision
    rows: list[dict[str, Any]]  # the decided applicants' features
    keys: dict[str, str] = field(default_factory=dict)


def build_registry(
    folder: Path, adult_files: dict[str, Path], adult_test: Any, *, db_url: str | None = None
) -> Registry:
    """The dashboard's test world in ``db_url`` (default: a SQLite file in ``folder``)."""
    from demo import FEATURES_CAT, FEATURES_NUM

    from govkit.decisions import ApiPrincipal
    from govkit.service import DecisionService
    from govkit.store import Store
    from govkit.workflows import check, load_metadata, register_dataset, register_model

    folder.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{folder / 'govkit.db'}"
    store = Store.open(db_url)
    raw = adult_test.iloc[:4000]
    register_dataset(raw, name="adult-raw", store=store, source_uri="https://archive.ics.uci.edu")
    register_dataset(
        raw.iloc[:3000],
        name="adult-train",
        store=store,
        parents=["adult-raw@1"],
        transformation="first 3000 rows",
    )
    register_dataset(raw.iloc[3000:], name="adult-test", store=store, parents=["adult-raw@1"])
    model = folder / "model.skops"
    shutil.copy(adult_files["model"], model)
    meta = load_metadata(EXAMPLES / "meta.yaml").model_copy(update={"risk_tier": "high"})
    register_model(
        model,
        name=MODEL,
        store=store,
        training_data="adult-train@1",
        evaluation_data="adult-test@1",
        metadata=meta,
        trusted_types=[HGB_TYPE],
    )
    hostile = meta.model_copy(
        update={"owner": HOSTILE, "risk_tier": HOSTILE, "description": HOSTILE}
    )
    register_model(
        model, name="hostile", store=store, training_data=None, metadata=hostile,
        trusted_types=[HGB_TYPE],
    )  # fmt: skip
    policy = folder / "gate.yaml"
    policy.write_text(POLICY)
    runs = [
        check(policy, data=adult_test.iloc[start : start + 1500], store=store, model=f"{MODEL}@1",
              trusted_types=[HGB_TYPE])
        for start in (4000, 6000)
    ]  # fmt: skip
    service = DecisionService(store, subject_key=secrets.token_bytes(32), trusted_types=[HGB_TYPE])
    columns = FEATURES_CAT + FEATURES_NUM
    rows = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in adult_test[columns].iloc[i].items()}
        for i in range(4)
    ]
    decisions: dict[str, list[Any]] = {"acme": [], "globex": []}
    for i, (tenant, subject) in enumerate(
        [("acme", CANARY_SUBJECT), ("acme", None), ("acme", None), ("globex", None)]
    ):
        principal = ApiPrincipal(key_id="test", tenant=tenant, scopes=frozenset({"decide"}))
        decisions[tenant].append(service.decide(principal, MODEL, 1, rows[i], subject_id=subject))
    registry = Registry(folder, db_url, store, service, runs, decisions, rows)
    for role, tenant, scopes in (
        ("read", "acme", ["read"]),
        ("decide", "acme", ["decide"]),
        ("globex", "globex", ["read"]),
    ):
        _info, token = store.create_api_key(tenant=tenant, scopes=scopes, name=role, actor="test")
        registry.keys[role] = token
    return registry


def make_app(registry: Registry) -> Any:
    from govkit.api import ApiSettings, create_app
    from govkit.dashboard import DashboardData

    return create_app(
        registry.service, settings=ApiSettings(), dashboard=DashboardData(registry.store)
    )
