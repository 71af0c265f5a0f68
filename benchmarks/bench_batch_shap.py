"""Benchmark 3 of issue 4: batch SHAP for LightGBM, govkit vs the native routine, and Dask.

A seeded Pipeline (one-hot of three categorical columns + eight numeric columns ->
LGBMClassifier with ``--trees`` trees) explains ``--rows`` rows. Prints best-of-N times of

(n) native: ``booster.predict(Xt, pred_contrib=True)`` on the already one-hot-encoded rows;
(g) govkit: ``explain_batch(make_batch_explainer(model, X), rows, chunk_size=--chunk)``
    - preprocessing, native contributions (one call per chunk), sum back to the 11
    original columns and the model's own output for the additivity check, all included;
(1) govkit on one thread (``with_threads(1)``);
(2) ``explain_dask`` on a LocalCluster of ``--workers`` worker processes x 1 thread (the
    explainer sent to each worker once per call, included),

and the ratios g/n (target <= 1.0) and 1/2 (target >= 1.7). The Dask numbers are checked
to be identical to the single-process ones.

    .venv/bin/python benchmarks/bench_batch_shap.py [--rows N] [--trees T] [--chunk C] [--shap]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from _sysinfo import contention

CATEGORICAL = {"channel": 5, "region": 8, "product": 12}  # name: number of levels
NUMERIC = [f"x{i}" for i in range(8)]


def make_data(n_rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({c: rng.normal(size=n_rows) for c in NUMERIC})
    for name, k in CATEGORICAL.items():
        X[name] = rng.choice([f"{name}_{i}" for i in range(k)], n_rows)
    score = X["x0"] + X["x1"] * X["x2"] - 0.5 * X["x3"] ** 2 + (X["region"] == "region_1")
    y = (score + rng.normal(size=n_rows) > 0.3).astype(int)
    return X, y


def build_model(trees: int, X: pd.DataFrame, y: pd.Series):
    import lightgbm
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    pre = ColumnTransformer([("cat", encoder, list(CATEGORICAL))], remainder="passthrough")
    model = lightgbm.LGBMClassifier(n_estimators=trees, verbose=-1, random_state=0)
    return Pipeline([("pre", pre), ("model", model)]).fit(X, y)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=50_000, help="rows per native call")
    parser.add_argument("--shap", action="store_true", help="also time shap's TreeExplainer")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.WARNING)

    import dask.dataframe as dd

    from govkit.explainers import make_explainer
    from govkit.explainers._batch import explain_batch, explain_dask, make_batch_explainer
    from govkit.fairness import connect

    X, y = make_data(20_000, seed=0)
    rows, _ = make_data(args.rows, seed=1)
    start = time.perf_counter()
    model = build_model(args.trees, X, y)
    booster = model[-1].booster_
    width = model[:-1].transform(X[:1]).shape[1]
    print(
        f"rows={args.rows:,} trees={args.trees} leaves<={model[-1].num_leaves} "
        f"columns={len(NUMERIC) + len(CATEGORICAL)} (one-hot: {width}); trained in "
        f"{time.perf_counter() - start:.1f} s; best of {args.repeats}; {contention()}"
    )
    explainer = make_batch_explainer(model, X)
    Xt = model[:-1].transform(rows)

    t_native, t_govkit = float("inf"), float("inf")
    for _ in range(args.repeats):  # interleaved, so drifting load hits both alike
        t, native = timed(lambda: booster.predict(Xt, pred_contrib=True))
        t_native = min(t_native, t)
        t, ours = timed(lambda: explain_batch(explainer, rows, chunk_size=args.chunk))
        t_govkit = min(t_govkit, t)
    print(f"(n) native booster.predict(pred_contrib=True)        {t_native:8.2f} s")
    print(f"(g) govkit explain_batch (chunks of {args.chunk:,})".ljust(53) + f"{t_govkit:8.2f} s")
    assert np.array_equal(ours.base_values, native[:, -1])
    print(f"    additivity: max |base + sum(phi) - f(x)| = {ours.additivity_error().max():.1e}")
    if args.shap:
        shap_explainer = make_explainer(model, X)
        t_shap, _ = timed(lambda: shap_explainer.explain(rows))
        print(f"(s) make_explainer (shap TreeExplainer)              {t_shap:8.2f} s")

    t_one, single = timed(lambda: explain_batch(explainer.with_threads(1), rows))
    print(f"(1) govkit, one thread                               {t_one:8.2f} s")
    with connect(n_workers=args.workers, threads_per_worker=1) as client:
        frame = dd.from_pandas(rows, npartitions=4 * args.workers)
        explain_dask(explainer, dd.from_pandas(rows[:50], npartitions=args.workers))  # warm-up
        t_dask, spread = timed(lambda: explain_dask(explainer, frame, client=client))
    label = f"{args.workers} workers x 1 thread, {frame.npartitions} partitions"
    print(f"(2) Dask, {label:<42} {t_dask:8.2f} s")
    assert np.array_equal(spread.values, single.values)
    assert np.array_equal(spread.model_output, single.model_output)
    print("    Dask attributions identical to one process: yes")

    print(f"govkit / native pred_contrib    {t_govkit / t_native:8.3f}x  (target <= 1.0)")
    print(f"Dask speed-up over one thread   {t_one / t_dask:8.2f}x  (target >= 1.7)")
    if args.shap:
        print(f"shap TreeExplainer / govkit     {t_shap / t_govkit:8.2f}x")


if __name__ == "__main__":
    main()
