"""Batch explanations: native tree contributions, chunking, and Dask partitions.

* :func:`make_batch_explainer` explains a LightGBM or XGBoost model (bare or as the last
  step of a Pipeline) with the library's own TreeSHAP routine, LightGBM
  ``predict(pred_contrib=True)`` / XGBoost ``predict(pred_contribs=True)``: exact
  path-dependent TreeSHAP of the margin, the numbers shap's TreeExplainer returns for
  these models, without building shap's copy of the trees. Columns the preprocessing
  expands (one-hot, ...) are summed back to the original columns with the explain
  module's column mapping. Any other model goes to :func:`make_explainer`.
* :func:`explain_batch` explains many rows in chunks (bounded memory), reporting
  progress to a callback; per-row numbers do not depend on the chunking for the tree
  and linear explainers. The permutation explainer draws its permutations per call,
  so its numbers depend on the chunk boundaries (not on anything else).
* :func:`explain_partitions` / :func:`explain_dask` explain a Dask DataFrame partition by
  partition. With a ``distributed`` client the explainer is sent to each worker once
  (``client.scatter(..., broadcast=True)``) and every task of that worker uses the same
  instance; a native tree explainer uses as many threads as the worker has.
  :func:`predict_partitions` does the same for predictions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from govkit._optional import import_optional
from govkit.explainers._attributions import Attributions, Method
from govkit.explainers._columns import Unmappable, pipeline_owners
from govkit.explainers._errors import ExplanationError
from govkit.explainers._explainers import Explainer, select_columns
from govkit.explainers._factory import (
    MethodChoice,
    _check_model,
    _input_schema,
    _split,
    _transformer,
    make_explainer,
)
from govkit.explainers._models import family_of, target_of
from govkit.explainers._rule import decide

__all__ = [
    "NativeTreeExplainer",
    "make_batch_explainer",
    "explain_batch",
    "explain_partitions",
    "explain_dask",
    "predict_partitions",
    "BASE_COLUMN",
    "OUTPUT_COLUMN",
]

logger = logging.getLogger(__name__)

#: Extra columns of :func:`explain_partitions`' frame beside one column per feature.
BASE_COLUMN = "__base_value__"
OUTPUT_COLUMN = "__model_output__"
DEFAULT_CHUNK = 50_000

Progress = Callable[[int, int], None]  # (rows done, rows in all)
# (transformed rows, threads or None) -> (n_rows, n_outputs, n_transformed + 1), bias last
Contributions = Callable[[Any, "int | None"], np.ndarray]


class NativeTreeExplainer(Explainer):
    """TreeSHAP by the model library itself, summed back to the original input columns.

    ``owners[j]`` is the input column of transformed column ``j``. ``n_threads`` (None:
    the library's default) is the number of threads the library may use per call.
    """

    method: Method = "tree"

    def __init__(
        self,
        *,
        contributions: Contributions,
        transform: Callable[[Any], Any],
        owners: np.ndarray,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_threads: int | None = None
        self._contributions = contributions
        self._transform = transform
        self._owners = np.asarray(owners, dtype=np.intp)

    def with_threads(self, n_threads: int | None) -> NativeTreeExplainer:
        """The same explainer, calling the library with ``n_threads`` threads."""
        other = object.__new__(type(self))  # a shallow copy sharing the model and mapping
        other.__dict__.update(self.__dict__)
        other.n_threads = n_threads
        return other

    def explain(self, X: pd.DataFrame) -> Attributions:
        """Attributions for every row of ``X``; the preprocessing runs once per call."""
        frame = select_columns(X, self.feature_names, what="X")
        if len(frame) == 0:
            return super().explain(frame)
        Xt = self._dense(self._transform(self._to_native(frame)))
        values, base = self._from_contributions(Xt)
        output = self._target.pick(self._output.compute(Xt), lead=1, space=self.output_space)
        return Attributions(
            values=values,
            base_values=base,
            model_output=output,
            feature_names=self.feature_names,
            method=self.method,
            output_space=self.output_space,
        )

    def _attribute(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self._from_contributions(self._dense(self._transform(self._to_native(frame))))

    def _output_of(self, frame: pd.DataFrame) -> np.ndarray:
        return self._output.compute(self._dense(self._transform(self._to_native(frame))))

    @staticmethod
    def _dense(Xt: Any) -> Any:
        return Xt.toarray() if hasattr(Xt, "toarray") else Xt  # scipy sparse preprocessing

    def _from_contributions(self, Xt: Any) -> tuple[np.ndarray, np.ndarray]:
        phi = self._contributions(Xt, self.n_threads)  # (n, n_outputs, width + 1)
        n_rows, _, width_1 = phi.shape
        if width_1 != len(self._owners) + 1:
            raise ExplanationError(
                f"the model returned contributions for {width_1 - 1} columns, but its "
                f"preprocessing produces {len(self._owners)}"
            )
        values = self._target.pick(
            np.moveaxis(phi[:, :, :-1], 1, 2), lead=2, space=self.output_space
        )
        base = self._target.pick(phi[:, :, -1], lead=1, space=self.output_space)
        # Sum expanded columns back, column by column: each row's numbers are the same
        # whatever the other rows of the call (chunks and partitions give equal results).
        out = np.zeros((n_rows, len(self.feature_names)))
        for j, owner in enumerate(self._owners):
            out[:, owner] += values[:, j]
        return out, np.ascontiguousarray(base)


# -- native contribution routines --------------------------------------------------------------


def _lightgbm_contributions(est: Any) -> Contributions:
    def contributions(Xt: Any, n_threads: int | None) -> np.ndarray:
        params = {} if n_threads is None else {"num_threads": n_threads}
        # the sklearn API, like the explained output predict(raw_score=True): same trees
        # (best_iteration_ after early stopping), same input handling (pandas categoricals)
        phi = np.asarray(est.predict(Xt, pred_contrib=True, **params), dtype=np.float64)
        width_1 = Xt.shape[1] + 1
        return phi.reshape(phi.shape[0], phi.shape[1] // width_1, width_1)  # class-major

    return contributions


def _xgboost_contributions(est: Any) -> Contributions:
    xgboost = import_optional("xgboost", feature="Explaining an XGBoost model")
    booster = est.get_booster()
    try:  # the trees est.predict uses: up to the best iteration after early stopping
        iteration_range = (0, est.best_iteration + 1)
    except AttributeError:
        iteration_range = (0, 0)
    threaded: dict[int, Any] = {}

    def contributions(Xt: Any, n_threads: int | None) -> np.ndarray:
        model = booster
        if n_threads is not None:  # a private copy per thread count; the user's is not touched
            if n_threads not in threaded:
                threaded[n_threads] = booster.copy()
                threaded[n_threads].set_param({"nthread": n_threads})
            model = threaded[n_threads]
        matrix = xgboost.DMatrix(
            Xt,
            missing=est.missing,
            enable_categorical=est.enable_categorical,
            feature_types=est.feature_types,
            nthread=n_threads,
        )
        phi = model.predict(
            matrix, pred_contribs=True, iteration_range=iteration_range, validate_features=False
        )
        phi = np.asarray(phi, dtype=np.float64)
        return phi[:, None, :] if phi.ndim == 2 else phi

    return contributions


_NATIVE: dict[str, Callable[[Any], Contributions]] = {
    "lightgbm": _lightgbm_contributions,
    "xgboost": _xgboost_contributions,
}


def make_batch_explainer(
    model: Any,
    background: pd.DataFrame,
    *,
    method: MethodChoice = "auto",
    positive_class: object | None = None,
    max_background: int = 200,
    random_state: int = 0,
) -> Explainer:
    """Like :func:`make_explainer`, with LightGBM / XGBoost explained by their own TreeSHAP.

    A LightGBM or XGBoost model whose preprocessing maps every produced column to one
    input column gets a :class:`NativeTreeExplainer` (``method`` "auto" or "tree");
    everything else, and every error, is :func:`make_explainer`'s.
    """
    if method in ("auto", "tree"):
        native = _native(model, background, positive_class)
        if native is not None:
            return native
    return make_explainer(
        model,
        background,
        method=method,
        positive_class=positive_class,
        max_background=max_background,
        random_state=random_state,
    )


def _native(model: Any, background: Any, positive_class: object | None) -> Explainer | None:
    """A NativeTreeExplainer, or None to let make_explainer decide (and explain any error)."""
    _check_model(model)
    steps, final = _split(model)
    family = family_of(final)
    if family is None or family.name not in _NATIVE or family.refuse(final):
        return None
    names, to_native = _input_schema(model, background)
    frame = select_columns(background, names, what="background")
    if len(frame) == 0:
        return None
    transform = _transformer(steps)
    width = NativeTreeExplainer._dense(transform(to_native(frame.iloc[:1]))).shape[1]
    if steps:
        try:
            owners = pipeline_owners(steps, len(names), width)
        except Unmappable as exc:
            logger.info("not using native contributions: %s", exc)
            return None
    elif width == len(names):
        owners = np.arange(len(names))
    else:
        return None
    target = target_of(model, positive_class)
    return NativeTreeExplainer(
        contributions=_NATIVE[family.name](final),
        transform=transform,
        owners=owners,
        feature_names=names,
        to_native=to_native,
        output=family.output(final, target.classes is not None),
        target=target,
    )


# -- many rows ---------------------------------------------------------------------------------


def explain_batch(
    explainer: Explainer,
    X: pd.DataFrame,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> Attributions:
    """``explainer.explain(X)`` in chunks of ``chunk_size`` rows; ``progress(done, total)``."""
    _check_chunk(chunk_size)
    frame = select_columns(X, explainer.feature_names, what="X")
    total = len(frame)
    pieces = []
    for start in range(0, max(total, 1), chunk_size):
        pieces.append(explainer.explain(frame.iloc[start : start + chunk_size]))
        if progress is not None:
            progress(min(start + chunk_size, total), total)
    return pieces[0] if len(pieces) == 1 else _concat(pieces)


def _check_chunk(chunk_size: int) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ExplanationError(f"chunk_size must be a whole number >= 1; got {chunk_size!r}")


def _concat(pieces: Sequence[Attributions]) -> Attributions:
    first = pieces[0]
    return Attributions(
        values=np.concatenate([p.values for p in pieces]),
        base_values=np.concatenate([p.base_values for p in pieces]),
        model_output=np.concatenate([p.model_output for p in pieces]),
        feature_names=first.feature_names,
        method=first.method,
        output_space=first.output_space,
    )


# -- Dask ------------------------------------------------------------------------------------


def _active_client(client: Any) -> Any:
    """``client``, else the ``distributed`` client dask would compute with now, else None."""
    if client is not None:
        return client
    from dask.base import get_scheduler

    scheduler = get_scheduler()  # a client's bound ``get`` when a client is the scheduler
    owner = getattr(scheduler, "__self__", None)
    return owner if type(owner).__module__.startswith("distributed") else None


def _on_workers(obj: Any, client: Any) -> Any:
    """A handle tasks can take as an argument: a broadcast future, or ``obj`` itself."""
    active = _active_client(client)
    if active is None:
        return obj
    return active.scatter(obj, broadcast=True, hash=False)


def _worker_threads() -> int | None:
    try:
        from distributed import get_worker
    except ImportError:
        return None
    try:
        return int(get_worker().state.nthreads)
    except ValueError:  # not in a worker
        return None


def _dask_columns(data: Any, names: Sequence[str], what: str) -> list[Any]:
    dd = import_optional("dask.dataframe", feature="Explaining a Dask DataFrame")
    if not isinstance(data, dd.DataFrame):
        raise ExplanationError(
            f"{what} must be a Dask DataFrame; got {type(data).__module__}.{type(data).__name__}"
        )
    # select_columns on an empty frame with the same columns: same checks, same message
    empty = pd.DataFrame(columns=list(data.columns))
    select_columns(empty, tuple(names), what=what)
    present = {str(c): c for c in data.columns}
    return [present[n] for n in names]


def _explain_partition(part: pd.DataFrame, explainer: Explainer, chunk_size: int) -> pd.DataFrame:
    if isinstance(explainer, NativeTreeExplainer):
        explainer = explainer.with_threads(_worker_threads())
    att = explain_batch(explainer, part, chunk_size=chunk_size)
    out = pd.DataFrame(att.values, columns=list(att.feature_names), index=part.index)
    out[BASE_COLUMN] = att.base_values
    out[OUTPUT_COLUMN] = att.model_output
    return out


def explain_partitions(
    explainer: Explainer,
    data: Any,
    *,
    client: Any = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> Any:
    """A lazy Dask DataFrame of the attributions of every row of ``data``.

    One float column per feature (``explainer.feature_names``), then ``BASE_COLUMN``
    and ``OUTPUT_COLUMN``; same partitions and index as ``data``. ``client`` (default:
    the running ``distributed`` client, if any) receives the explainer once per worker.
    """
    _check_chunk(chunk_size)
    names = explainer.feature_names
    if BASE_COLUMN in names or OUTPUT_COLUMN in names:
        raise ExplanationError(
            f"a feature is named {BASE_COLUMN!r} or {OUTPUT_COLUMN!r}; rename it to explain "
            "a Dask DataFrame"
        )
    columns = _dask_columns(data, names, "data")
    meta = pd.DataFrame(
        {name: pd.Series(dtype=np.float64) for name in (*names, BASE_COLUMN, OUTPUT_COLUMN)}
    )
    handle = _on_workers(explainer, client)
    return data[columns].map_partitions(_explain_partition, handle, chunk_size, meta=meta)


def explain_dask(
    explainer: Explainer,
    data: Any,
    *,
    client: Any = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> Attributions:
    """:func:`explain_partitions`, computed and gathered into one :class:`Attributions`.

    Equal to ``explain_batch(explainer, data.compute())`` for tree and linear explainers.
    """
    frame = explain_partitions(explainer, data, client=client, chunk_size=chunk_size).compute()
    names = list(explainer.feature_names)
    return Attributions(
        values=frame[names].to_numpy(dtype=np.float64),
        base_values=frame[BASE_COLUMN].to_numpy(dtype=np.float64),
        model_output=frame[OUTPUT_COLUMN].to_numpy(dtype=np.float64),
        feature_names=explainer.feature_names,
        method=explainer.method,
        output_space=explainer.output_space,
    )


def _predict_partition(
    part: pd.DataFrame,
    model: Any,
    output: str,
    index: int | None,
    meta: pd.Series,
    threshold: float | None = None,
) -> pd.Series:
    if len(part) == 0:  # models refuse zero rows
        return meta.set_axis(part.index)
    proba = output == "score" or threshold is not None
    try:
        if output == "score":
            values = np.asarray(model.predict_proba(part))[:, index]
        elif threshold is not None:  # the decision rule of the metadata (explainers._rule)
            assert index is not None
            values, _ = decide(
                model.predict_proba(part),
                classes=np.asarray(model.classes_),
                index=index,
                threshold=threshold,
            )
        else:
            values = np.asarray(model.predict(part))
    except (ValueError, TypeError, KeyError) as exc:  # the model refuses these rows
        call = "predict_proba" if proba else "predict"
        raise ExplanationError(f"{type(model).__name__}.{call} failed: {exc}") from None
    return pd.Series(values, index=part.index, name=meta.name)


def _class_index(model: Any, positive_class: object | None) -> int:
    """The column of ``positive_class`` in the model's ``predict_proba``."""
    classes = list(getattr(model, "classes_", ()))
    if not hasattr(model, "predict_proba") or not classes:
        raise ExplanationError(f"{type(model).__name__} gives no class probabilities")
    wanted = classes[1] if positive_class is None and len(classes) == 2 else positive_class
    if wanted not in classes:
        raise ExplanationError(
            f"positive_class={positive_class!r} is not one of the model's classes {classes!r}"
        )
    return classes.index(wanted)


def predict_partitions(
    model: Any,
    data: Any,
    *,
    feature_names: Sequence[str],
    output: Literal["label", "score"] = "label",
    positive_class: object | None = None,
    threshold: float | None = None,
    client: Any = None,
    name: str = "prediction",
) -> Any:
    """A lazy Dask Series of ``model.predict`` (or the positive class's ``predict_proba``).

    ``feature_names`` are the model's input columns, in training order. With a
    ``threshold``, labels are those the decision service decides (``positive_class``
    where its probability is at or above the threshold, else the most probable other
    class; see :mod:`govkit.explainers._rule`) instead of ``model.predict``'s. The model is
    sent to each worker once when a ``distributed`` client runs. A partition the model
    refuses (ValueError, TypeError, KeyError) raises :class:`ExplanationError` on compute.
    """
    columns = _dask_columns(data, feature_names, "data")
    index = None
    if output == "score":
        index = _class_index(model, positive_class)
        meta = pd.Series(dtype=np.float64, name=name)
    elif output == "label":
        if threshold is not None:
            index = _class_index(model, positive_class)
        classes_ = getattr(model, "classes_", None)
        dtype = np.asarray(classes_).dtype if classes_ is not None else np.float64
        meta = pd.Series(np.zeros(0, dtype=dtype), name=name)
    else:
        raise ExplanationError(f"output must be 'label' or 'score'; got {output!r}")
    frame = data[columns]
    if columns != list(feature_names):  # the names the model was fitted with
        frame = frame.rename(columns=dict(zip(columns, feature_names, strict=True)))
    handle = _on_workers(model, client)
    return frame.map_partitions(
        _predict_partition, handle, output, index, meta, threshold, meta=meta
    )
