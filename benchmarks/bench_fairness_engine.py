"""Time govkit's fairness engine against a pandas groupby pass and fairlearn's MetricFrame.

1M rows, three seeded categorical sensitive features. Prints best-of-N wall times and
the ratios govkit/groupby and fairlearn/govkit.

    .venv/bin/python benchmarks/bench_fairness_engine.py [--rows N] [--repeats R]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from govkit.fairness import DISPARITY_METRICS, group_table

FEATURES = {"region": 8, "age_band": 6, "group": 5}  # name: number of levels
PER_GROUP = ("selection_rate", "true_positive_rate", "false_positive_rate")


def make_data(n_rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            name: pd.Categorical.from_codes(
                rng.integers(0, k, n_rows), [f"{name}_{i}" for i in range(k)]
            )
            for name, k in FEATURES.items()
        }
    )
    df["y_true"] = rng.integers(0, 2, n_rows)
    df["y_pred"] = np.where(rng.random(n_rows) < 0.2, 1 - df["y_true"], df["y_true"])
    return df


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def govkit_pass(df: pd.DataFrame, features: list[str]) -> dict[str, object]:
    sf = df[features[0]] if len(features) == 1 else df[features]
    table = group_table(df["y_true"], df["y_pred"], sensitive_features=sf, pos_label=1)
    out: dict[str, object] = {name: table.disparity(name) for name in DISPARITY_METRICS}
    out.update({name: table.metric(name) for name in PER_GROUP})
    return out


def fairlearn_pass(df: pd.DataFrame, features: list[str]):
    import fairlearn.metrics as flm

    metrics = {
        "selection_rate": partial(flm.selection_rate, pos_label=1),
        "true_positive_rate": partial(flm.true_positive_rate, pos_label=1),
        "false_positive_rate": partial(flm.false_positive_rate, pos_label=1),
    }
    return flm.MetricFrame(
        metrics=metrics, y_true=df["y_true"], y_pred=df["y_pred"], sensitive_features=df[features]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    df = make_data(args.rows)
    names = list(FEATURES)
    print(f"rows={args.rows:,} features={FEATURES} best of {args.repeats}")

    keys = [*names, "y_true", "y_pred"]
    t_groupby = best_of(lambda: df.groupby(keys, observed=True).size(), args.repeats)
    print(f"(a) pandas groupby(3 features + y_true + y_pred).size() {t_groupby * 1e3:9.1f} ms")

    targets = [[n] for n in names] + [names]
    t_govkit = {}
    for features in targets:
        label = " x ".join(features)
        t_govkit[label] = best_of(partial(govkit_pass, df, features), args.repeats)
        print(f"(b) govkit {label:<44} {t_govkit[label] * 1e3:9.1f} ms")
    t_total = sum(t_govkit.values())
    t_inter = t_govkit[" x ".join(names)]
    print(f"(b) govkit all four targets                              {t_total * 1e3:9.1f} ms")

    start = time.perf_counter()
    mf = fairlearn_pass(df, names)
    t_fairlearn = time.perf_counter() - start
    print(f"(c) fairlearn MetricFrame intersection (once)             {t_fairlearn * 1e3:9.1f} ms")

    ours = govkit_pass(df, names)
    worst = max(
        float(np.nanmax(np.abs(np.asarray(ours[m]) - mf.by_group[m].to_numpy(float))))
        for m in PER_GROUP
    )
    print(f"max |govkit - fairlearn| over SR/TPR/FPR by group: {worst:.2e}")

    print(f"govkit intersection / groupby   {t_inter / t_groupby:8.2f}x")
    print(f"govkit all four / groupby       {t_total / t_groupby:8.2f}x")
    print(f"fairlearn / govkit intersection {t_fairlearn / t_inter:8.1f}x")


if __name__ == "__main__":
    main()
