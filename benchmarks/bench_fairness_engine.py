"""Benchmarks 1 and 4 of issue 4: the fairness gate on 1M rows, its time and its memory.

The gate: three seeded categorical sensitive features and their intersection (four
targets), selection rate / TPR / FPR per group and the demographic parity and equalized
odds differences and ratios. Prints best-of-N wall times of

(a) one pandas ``groupby([3 features, y_true, y_pred]).size()`` pass (the baseline),
(f) the floor: one ``np.bincount`` over precomputed intersection cells,
(b) govkit per target and for the whole gate,
(c) fairlearn's ``MetricFrame`` (+ ``difference()`` / ``ratio()``), once, on the
    intersection (``--fairlearn all``: on each of the four targets),

the ratios govkit/groupby (target <= 1.0) and fairlearn/govkit (target >= 100), and the
peak resident memory of the gate beside the size of its input columns.

    .venv/bin/python benchmarks/bench_fairness_engine.py [--rows N] [--repeats R]
        [--fairlearn intersection|all|none]
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
from _sysinfo import contention, mib, peak_rss, reset_peak, rss

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


def gate(df: pd.DataFrame, targets: list[list[str]]) -> list[dict[str, object]]:
    return [govkit_pass(df, features) for features in targets]


def fairlearn_gate(df: pd.DataFrame, features: list[str]) -> object:
    mf = fairlearn_pass(df, features)
    return mf.by_group, mf.difference(), mf.ratio()


def memory(df: pd.DataFrame, targets: list[list[str]], names: list[str]) -> None:
    """Benchmark 4: peak RSS of the gate beside the bytes of the columns it reads."""
    columns = df[[*names, "y_true", "y_pred"]]
    size = int(columns.memory_usage(deep=True, index=False).sum())
    gc.collect()
    before = rss()
    exact = reset_peak()
    gate(df, targets)
    peak = peak_rss()
    tracemalloc.start()
    gate(df, targets)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    kinds = ", ".join(f"{c}: {columns[c].dtype}" for c in columns.columns)
    print(f"(4) input columns ({kinds})  {mib(size)}")
    scope = "peak during the gate" if exact else "process peak (no reset: includes set-up)"
    print(f"(4) RSS before the gate {mib(before)}; {scope} {mib(peak)}")
    print(
        f"(4) gate's extra resident memory {mib(peak - before)} "
        f"= {(peak - before) / size:.2f}x the input columns; "
        f"numpy/pandas allocations (tracemalloc peak) {mib(traced)} = {traced / size:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--fairlearn",
        choices=["all", "intersection", "none"],
        default="intersection",
        help="which targets fairlearn runs, once each (the slow part: ~30 s per target)",
    )
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    df = make_data(args.rows)
    names = list(FEATURES)
    targets = [[n] for n in names] + [names]
    if args.memory_probe:  # a fresh process: no heap left over from the timings
        memory(df, targets, names)
        return
    print(f"rows={args.rows:,} features={FEATURES} best of {args.repeats}; {contention()}")

    keys = [*names, "y_true", "y_pred"]
    t_groupby = best_of(lambda: df.groupby(keys, observed=True).size(), args.repeats)
    print(f"(a) pandas groupby(3 features + y_true + y_pred).size() {t_groupby * 1e3:9.1f} ms")

    codes = [df[n].cat.codes.to_numpy().astype(np.intp) for n in names]
    levels = list(FEATURES.values())
    cell = ((codes[0] * levels[1] + codes[1]) * levels[2] + codes[2]) * 4
    cell += 2 * df["y_true"].to_numpy() + df["y_pred"].to_numpy()
    n_cells = 4 * int(np.prod(levels))
    t_floor = best_of(lambda: np.bincount(cell, minlength=n_cells), args.repeats)
    print(f"(f) floor: np.bincount over precomputed intersection cells {t_floor * 1e3:6.1f} ms")

    t_govkit = {}
    for features in targets:
        label = " x ".join(features)
        t_govkit[label] = best_of(partial(govkit_pass, df, features), args.repeats)
        print(f"(b) govkit {label:<44} {t_govkit[label] * 1e3:9.1f} ms")
    t_gate = best_of(partial(gate, df, targets), args.repeats)
    t_inter = t_govkit[" x ".join(names)]
    print(f"(b) govkit gate: all four targets in one call sequence     {t_gate * 1e3:9.1f} ms")

    t_fairlearn: dict[str, float] = {}
    chosen = {"all": targets, "intersection": [names], "none": []}[args.fairlearn]
    for features in chosen:
        label = " x ".join(features)
        start = time.perf_counter()
        fairlearn_gate(df, features)
        t_fairlearn[label] = time.perf_counter() - start
        print(f"(c) fairlearn MetricFrame {label:<29} (once) {t_fairlearn[label] * 1e3:9.1f} ms")

    ours = govkit_pass(df, names)
    if chosen:
        mf = fairlearn_pass(df, names)
        worst = max(
            float(np.nanmax(np.abs(np.asarray(ours[m]) - mf.by_group[m].to_numpy(float))))
            for m in PER_GROUP
        )
        print(f"max |govkit - fairlearn| over SR/TPR/FPR by group: {worst:.2e}")

    print(f"govkit gate / groupby                  {t_gate / t_groupby:8.2f}x  (target <= 1.0)")
    print(f"govkit intersection / groupby          {t_inter / t_groupby:8.2f}x")
    print(f"govkit gate / np.bincount floor        {t_gate / t_floor:8.2f}x")
    inter = " x ".join(names)
    if inter in t_fairlearn:
        ratio = t_fairlearn[inter] / t_inter
        print(f"fairlearn / govkit, intersection       {ratio:8.1f}x")
    if len(t_fairlearn) == len(targets):
        ratio = sum(t_fairlearn.values()) / t_gate
        print(f"fairlearn / govkit, whole gate         {ratio:8.1f}x  (target >= 100)")
    elif inter in t_fairlearn:  # fairlearn ran one of the four targets: a lower bound
        ratio = t_fairlearn[inter] / t_gate
        print(
            f"fairlearn / govkit, whole gate      >= {ratio:8.1f}x  (target >= 100; fairlearn "
            "timed on the intersection only, --fairlearn all for all four)"
        )
    probe = [sys.executable, __file__, "--rows", str(args.rows), "--memory-probe"]
    subprocess.run(probe, check=True)


if __name__ == "__main__":
    main()
