"""The same job as demo.py through govkit's Python API, as a notebook would run it.

    python examples/credit/python_api.py --workdir build/python-api

Every CLI command has a twin here: `govkit dataset register` is govkit.register_dataset,
`govkit model register` govkit.register_model, `govkit check` govkit.check, `govkit card`
govkit.card, `govkit explain` govkit.explain (+ govkit.letter for the letter). The run is
recorded in the same audit log; the tests execute this file and cross-check its numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from adult import TARGET, load_adult  # noqa: E402
from demo import FEATURES_CAT, FEATURES_NUM, TRUST_TYPE, build_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "python-api")
    parser.add_argument("--db", default=None, help="database URL (default WORKDIR/govkit.db)")
    args = parser.parse_args()
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)

    import skops.io as sio

    import govkit

    train, test = load_adult("train"), load_adult("test")
    train_csv, test_csv = work / "adult_train.csv", work / "adult_test.csv"
    train.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)
    model = build_model(max_iter=100).fit(train[FEATURES_CAT + FEATURES_NUM], train[TARGET])
    model_path = work / "credit-model.skops"
    model_path.write_bytes(sio.dumps(model))

    db = args.db or f"sqlite:///{work / 'govkit.db'}"
    with govkit.Store.open(db) as store:
        govkit.register_dataset(train_csv, name="adult-train", store=store)
        govkit.register_dataset(test_csv, name="adult-test", store=store)
        version = govkit.register_model(
            model_path,
            name="credit-model",
            store=store,
            training_data="adult-train",
            evaluation_data="adult-test",
            metadata=HERE / "meta.yaml",
            trusted_types=[TRUST_TYPE],
        )
        print(repr(version))

        outcome = govkit.check(
            ROOT / "policies" / "credit-scoring.yaml",
            model="credit-model",
            data=test_csv,
            store=store,
            trusted_types=[TRUST_TYPE],
        )
        print(repr(outcome.result))
        for check in outcome.result.checks:
            print(f"  {check.status.value:5} {check.rule_id}")

        (work / "credit-model-card.pdf").write_bytes(
            govkit.card("credit-model", store=store, format="pdf")
        )

        applicant = json.loads((HERE / "applicant.json").read_text())
        decision = govkit.explain(
            "credit-model", applicant, store=store, trusted_types=[TRUST_TYPE]
        )
        (work / "decision-letter.pdf").write_bytes(govkit.letter(decision, store=store))
        print(f"decision {decision.decision_id}: {decision.explanation.outcome}")
        print(f"  {decision.explanation.reasons[0].text}")

        report = store.verify_chain()
        print(f"audit chain: {'intact' if report.ok else 'BROKEN'}, {report.events} events")

    summary = {
        "status": outcome.result.status.value,
        "exit_code": outcome.result.exit_code(),
        "checks": {
            c.rule_id: {"status": c.status.value, "value": c.value} for c in outcome.result.checks
        },
        "decision": decision.model_dump(mode="json"),
    }
    (work / "summary.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
