"""Which policy run a card reports, and what it says about it, through `govkit card`.

The card (and `model show`'s "last check") reports the latest run of the policy the model
is bound to, not the latest run of any policy; `--policy NAME` and `--run ID` choose
another. The header names the data the shown run evaluated and flags data that is not the
version's registered evaluation dataset; the card shows the lifecycle stage, bound policy
and approvals, and the evaluation data's lineage. `--generated-at` re-renders a filed card.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_cli import HGB_TYPE, fresh_copy, run, workspace  # noqa: F401 (the fixture)

from govkit.records import ModelRef
from govkit.store import Store

LENIENT = """\
schema_version: 1
name: lenient
rules:
  - {id: docs, kind: lineage, requirement: metadata_present, fields: [owner]}
"""


@pytest.fixture()
def two_runs(workspace: dict[str, Any], tmp_path: Path) -> dict[str, Any]:  # noqa: F811
    """credit bound to `failing`, whose run FAILs on its evaluation data; then a one-rule
    `lenient` policy PASSes on 199 rows that are not registered (the recorded order)."""
    db = fresh_copy(workspace, tmp_path)
    failing = str(workspace["dir"] / "failing.yaml")
    assert run("model", "bind", "credit", "--policy", failing, db=db).exit_code == 0
    check = ["--model", "credit@1", "--trust-type", HGB_TYPE]
    r = run("check", failing, *check, "--data", str(workspace["test"]), db=db)
    assert r.exit_code == 1, r.output
    tiny = tmp_path / "tiny199.csv"
    pd.read_csv(workspace["test"]).head(199).to_csv(tiny, index=False)
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(LENIENT)
    r = run("check", str(lenient), *check, "--data", str(tiny), db=db)
    assert r.exit_code == 0, r.output
    return {"db": db, "tmp": tmp_path}


def _card(two_runs: dict[str, Any], *args: str, name: str = "card.md") -> str:
    out: Path = two_runs["tmp"] / name
    r = run("card", "credit@1", "--format", "md", "--output", str(out), *args, db=two_runs["db"])
    assert r.exit_code == 0, r.output
    return out.read_text()


def _header(card: str) -> str:
    return card[card.index("# Model card") : card.index("## Model details")]


def test_card_reports_the_latest_run_of_the_bound_policy(two_runs: dict[str, Any]) -> None:
    """It reported the later lenient run: '✓ PASS | lenient' over 'Evaluated data: adult-test@1'."""
    card = _card(two_runs)
    header = _header(card)
    assert "| \u2717 FAIL | failing | sequence #" in header
    with Store.open(two_runs["db"]) as store:
        ref = store.get_model_version(ModelRef(name="credit", version=1)).evaluation_data
        assert ref is not None
        test = store.get_dataset(ref)
    assert f"| {test.name}@{test.version} ({test.row_count:,} rows) |" in header
    lineage = card[card.index("## Data lineage") : card.index("## Audit anchor")]
    assert f"- **{test.name}@{test.version}**" in lineage  # the evaluation data's tree too
    assert "Warning" not in header
    assert "| Run shown | run 1: the latest run of the bound policy failing |" in card
    assert "| Bound policy | failing (sha256:" in card
    assert "| Lifecycle stage | candidate |" in card
    r = run("model", "show", "credit@1", db=two_runs["db"])
    (line,) = [x for x in r.stdout.splitlines() if "last check" in x]
    assert "FAIL" in line and "against policy failing" in line
    assert line.endswith("; the latest run of the bound policy failing")


def test_policy_option_reports_another_policy_and_flags_its_data(two_runs: dict[str, Any]) -> None:
    card = _card(two_runs, "--policy", "lenient")
    assert "| Run shown | run 2: the latest run of policy lenient, not the bound policy " in card
    header = _header(card)
    assert "| \u2713 PASS | lenient | sequence #" in header
    assert "| unregistered data (199 rows, sha256:" in header
    assert "> **Warning:** Evaluated data: This is not the registered evaluation dataset " in header
    assert "This run is of policy lenient, not failing, the policy the model is bound to" in header
    card = _card(two_runs, "--run", "1", name="run1.md")
    assert "| \u2717 FAIL | failing |" in _header(card)
    assert "| Run shown | run 1: the latest run of the bound policy failing |" in card


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "99"], "--run 99: no policy run 99 is recorded"),
        (["--policy", "nope"], "--policy nope: no run of policy 'nope' on credit@1 is recorded"),
        (["--run", "1", "--policy", "failing"], "--policy and --run choose the run two ways"),
        (["--generated-at", "2025-01-01"], "--generated-at 2025-01-01: give a time zone"),
        (["--generated-at", "yesterday"], "--generated-at: expected an ISO 8601 time"),
    ],
)
def test_a_bad_choice_is_exit_2_and_writes_nothing(
    two_runs: dict[str, Any], args: list[str], message: str
) -> None:
    out = two_runs["tmp"] / "card.md"
    r = run("card", "credit@1", "--output", str(out), *args, db=two_runs["db"])
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert not out.exists()


def test_generated_at_and_run_reproduce_a_filed_card(two_runs: dict[str, Any]) -> None:
    """The docs say re-rendering with the logged generated_at gives the same bytes; there
    was no way to give it."""
    first = _card(two_runs, name="filed.md").encode()
    with Store.open(two_runs["db"]) as store:
        (event,) = [e for e in store.audit_events() if e.event_type == "card.rendered"]
    payload = event.payload
    assert payload["sha256"] == hashlib.sha256(first).hexdigest()
    assert payload["policy_run_id"] == 1
    again = _card(
        two_runs,
        "--run",
        str(payload["policy_run_id"]),
        "--generated-at",
        payload["generated_at"],
        name="again.md",
    ).encode()
    assert again == first


def test_json_card_has_the_artifact_digest_verdict_and_lifecycle(two_runs: dict[str, Any]) -> None:
    out = two_runs["tmp"] / "card.json"
    r = run("card", "credit", "--format", "json", "--output", str(out), db=two_runs["db"])
    assert r.exit_code == 0, r.output
    citations = {
        c["style"]: c["citation"] for c in json.loads(out.read_text())["model_details"]["citations"]
    }
    with Store.open(two_runs["db"]) as store:
        sha = store.get_model_version(store.list_model_versions()[0].ref).artifact_sha256
    assert citations["govkit model artifact"] == f"credit@1: skops artifact, SHA-256 {sha}"
    assert "verdict FAIL" in citations["govkit audit anchor"]
    assert "Bound policy: failing (sha256:" in citations["govkit lifecycle"]
    assert "Lifecycle stage: candidate" in citations["govkit lifecycle"]
