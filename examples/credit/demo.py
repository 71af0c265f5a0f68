"""govkit's main job end to end on UCI Adult: register data, train, register, gate, card, audit.

Run with `make demo`. Every step is the real `govkit` command line, printed before it runs.
The demo is honest: when the model fails a rule, it shows the failure (and still exits 0 —
the demo is not the gate).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from adult import CATEGORICAL, NUMERIC, TARGET, load_adult  # noqa: E402

SENSITIVE = ["sex", "race"]
# fnlwgt is the census sampling weight, not an attribute of the person
FEATURES_CAT = [c for c in CATEGORICAL if c not in SENSITIVE]
FEATURES_NUM = [c for c in NUMERIC if c != "fnlwgt"]
TRUST_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


def govkit(*args: str, expect: tuple[int, ...] = (0,)) -> int:
    exe = Path(sys.executable).with_name("govkit")
    print(f"\n$ govkit {' '.join(shlex.quote(a) for a in args)}", flush=True)
    rc = subprocess.call([str(exe), *args])
    if rc not in expect:
        sys.exit(f"demo: 'govkit {args[0]}' exited {rc}")
    return rc


def build_model(*, max_iter: int = 200):
    """One-hot encoding of the categorical columns, then gradient-boosted trees."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer(
        [
            (
                "categories",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False, min_frequency=20),
                FEATURES_CAT,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    classify = HistGradientBoostingClassifier(max_iter=max_iter, random_state=0)
    return Pipeline([("encode", encode), ("classify", classify)])


def train(train_csv: Path, model_path: Path) -> None:
    import pandas as pd
    import skops.io as sio

    df = pd.read_csv(train_csv)
    model = build_model()
    model.fit(df[FEATURES_CAT + FEATURES_NUM], df[TARGET])
    model_path.write_bytes(sio.dumps(model))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "demo")
    parser.add_argument("--db", default=None, help="database URL (default ./govkit.db)")
    args = parser.parse_args()
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    db = args.db or f"sqlite:///{(Path.cwd() / 'govkit.db')}"
    os.environ["GOVKIT_DATABASE_URL"] = db
    started = time.perf_counter()

    print("== 1. Data: UCI Adult (CC BY 4.0, examples/data/README.md)")
    raw = {"train": work / "adult_census_train.csv", "test": work / "adult_census_test.csv"}
    clean = {"train": work / "adult_train.csv", "test": work / "adult_test.csv"}
    for split in ("train", "test"):
        df = load_adult(split)
        df.to_csv(clean[split], index=False)
        load_adult(split, clean=False).to_csv(raw[split], index=False)
    source = "https://doi.org/10.24432/C5XW20"
    for split in ("train", "test"):
        govkit(
            "dataset",
            "register",
            str(raw[split]),
            "--name",
            f"adult-census-{split}",
            "--source",
            f"{source}#adult.{'data' if split == 'train' else 'test'}",
        )
        govkit(
            "dataset",
            "register",
            str(clean[split]),
            "--name",
            f"adult-{split}",
            "--parent",
            f"adult-census-{split}",
            "--transformation",
            "missing categorical values ('?') replaced by 'Unknown'; "
            "test labels stripped of their trailing '.'",
        )

    print("\n== 2. Train: one-hot encoding + gradient-boosted trees (sex and race excluded)")
    model_path = work / "credit-model.skops"
    train(clean["train"], model_path)
    print(
        f"saved {model_path.relative_to(ROOT) if model_path.is_relative_to(ROOT) else model_path}"
    )

    print("\n== 3. Register the model version (skops artifact; one reviewed type trusted)")
    govkit(
        "model",
        "register",
        str(model_path),
        "--name",
        "credit-model",
        "--training-data",
        "adult-train",
        "--evaluation-data",
        "adult-test",
        "--meta",
        str(HERE / "meta.yaml"),
        "--trust-type",
        TRUST_TYPE,
    )

    print("\n== 4. The policy gate")
    report = work / "check.json"
    policy = ROOT / "policies" / "credit-scoring.yaml"
    rc = govkit(
        "check",
        str(policy),
        "--model",
        "credit-model",
        "--data",
        str(clean["test"]),
        "--trust-type",
        TRUST_TYPE,
        "--output",
        f"json={report}",
        expect=(0, 1),
    )

    print("\n== 5. Model card")
    card_html, card_pdf = work / "credit-model-card.html", work / "credit-model-card.pdf"
    govkit("card", "credit-model", "--format", "html", "--output", str(card_html))
    govkit("card", "credit-model", "--format", "pdf", "--output", str(card_pdf))

    print("\n== 6. One decision, explained to the person it is about (GDPR Art. 15, ECOA)")
    letter = work / "decision-letter.pdf"
    govkit(
        "explain",
        "credit-model",
        "--input",
        str(HERE / "applicant.json"),
        "--trust-type",
        TRUST_TYPE,
        "--format",
        "pdf",
        "--output",
        str(letter),
    )

    print("\n== 7. Audit log")
    govkit("audit", "log", "--model", "credit-model", "--limit", "5")
    govkit("audit", "find", str(card_pdf))  # the filed card, tied to its event by its digest
    govkit("audit", "verify")

    verdict = "PASSED" if rc == 0 else "FAILED"
    print(
        f"\n== Done in {time.perf_counter() - started:.0f} s. The gate {verdict} "
        f"(exit code {rc}); a CI pipeline would {'deploy' if rc == 0 else 'stop'} here."
    )
    print(f"  policy      {policy}")
    print(f"  gate report {report}")
    print(f"  model card  {card_html}")
    print(f"              {card_pdf}")
    print(f"  decision    {letter}")
    print(f"  audit log   {db}")


if __name__ == "__main__":
    main()
