"""Explainers: built once by :func:`make_explainer`, then ``explain(X)`` many rows per call."""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from govkit.exceptions import closest
from govkit.explainers._attributions import Attributions, Method, OutputSpace
from govkit.explainers._errors import ExplanationError
from govkit.explainers._models import ModelOutput, Target
from govkit.explainers._shap import load_shap

__all__ = ["Explainer", "StructuredExplainer", "PermutationExplainer", "select_columns"]

logger = logging.getLogger(__name__)


def select_columns(frame: object, names: tuple[str, ...], *, what: str) -> pd.DataFrame:
    """``frame[names]`` or an error naming every missing column (with a close match)."""
    if not isinstance(frame, pd.DataFrame):
        raise ExplanationError(
            f"{what} must be a pandas DataFrame with the model's input columns; "
            f"got {type(frame).__name__}"
        )
    present = {str(c): c for c in frame.columns}
    missing = [n for n in names if n not in present]
    if missing:
        parts = []
        for name in missing:
            hint = closest(name, [c for c in present if c not in names])
            parts.append(repr(name) + (f" (did you mean {hint!r}?)" if hint else ""))
        raise ExplanationError(
            f"{what} is missing {len(missing)} column(s) the model needs: {', '.join(parts)}"
        )
    out = frame[[present[n] for n in names]]
    out.columns = list(names)
    return out


class Explainer(ABC):
    """Explains a fitted model on its original input columns; see :func:`make_explainer`."""

    method: Method
    feature_names: tuple[str, ...]
    output_space: OutputSpace
    #: Why a tree/linear explanation was not possible when ``method="auto"`` fell back, else None.
    fallback_reason: str | None

    def __init__(
        self,
        *,
        feature_names: tuple[str, ...],
        to_native: Callable[[pd.DataFrame], Any],
        output: ModelOutput,
        target: Target,
    ) -> None:
        self.feature_names = feature_names
        self.output_space = output.space
        self.fallback_reason = None
        self._to_native = to_native
        self._output = output
        self._target = target

    def explain(self, X: pd.DataFrame) -> Attributions:
        """Attributions for every row of ``X`` (extra columns are ignored) in one batch."""
        frame = select_columns(X, self.feature_names, what="X")
        if len(frame) == 0:  # nothing to ask the model or shap
            values, base, output = np.zeros((0, len(self.feature_names))), np.zeros(0), np.zeros(0)
        else:
            values, base = self._attribute(frame)
            output = self._target.pick(self._output_of(frame), lead=1, space=self.output_space)
        return Attributions(
            values=values,
            base_values=base,
            model_output=output,
            feature_names=self.feature_names,
            method=self.method,
            output_space=self.output_space,
        )

    @abstractmethod
    def _attribute(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(values on original columns, base values) for the rows of ``frame``."""

    @abstractmethod
    def _output_of(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's own output for ``frame``, computed by calling the model."""

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} method={self.method!r} output_space={self.output_space!r} "
            f"features={len(self.feature_names)}>"
        )


class StructuredExplainer(Explainer):
    """shap's Tree or Linear explainer on the final estimator, summed back to input columns.

    ``transform`` maps native model input through the pipeline's preprocessing (identity
    for a bare estimator); ``owners[j]`` is the input column of transformed column ``j``.
    """

    def __init__(
        self,
        *,
        method: Method,
        shap_explainer: Any,
        transform: Callable[[Any], Any],
        owners: np.ndarray,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.method = method
        self._shap = shap_explainer
        self._transform = transform
        # (n_transformed, n_inputs) 0/1 matrix: values_original = values_transformed @ sum_back
        self._sum_back = np.zeros((len(owners), len(self.feature_names)))
        self._sum_back[np.arange(len(owners)), owners] = 1.0

    def _attribute(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        Xt = self._transform(self._to_native(frame))
        if hasattr(Xt, "toarray"):  # scipy sparse output of the preprocessing
            Xt = Xt.toarray()
        if self.method == "tree":
            # __call__ rather than shap_values: same numbers, without shap's LightGBM
            # "output has changed" notice. Additivity is checked by us, against the model.
            explanation = self._shap(Xt, check_additivity=False)
            values, base = explanation.values, explanation.base_values
        else:
            Xt = np.asarray(Xt, dtype=np.float64)
            values = self._shap.shap_values(Xt)
            base = np.broadcast_to(
                np.asarray(self._shap.expected_value, dtype=np.float64),
                (len(Xt),) + np.shape(self._shap.expected_value),
            )
        values = self._target.pick(values, lead=2, space=self.output_space)
        base = self._target.pick(base, lead=1, space=self.output_space)
        return values @ self._sum_back, base

    def _output_of(self, frame: pd.DataFrame) -> np.ndarray:
        return self._output.compute(self._transform(self._to_native(frame)))


class PermutationExplainer(Explainer):
    """shap's PermutationExplainer on the original columns (model-agnostic fallback).

    Categorical columns are coded as numbers for shap's masker and decoded back to the
    original values and dtypes before every model call, so the model always sees the
    columns it was trained on. Each permutation's masked rows go to the model in one call.
    Additivity holds by construction (each permutation telescopes from the all-background
    output to f(x)), so the error is floating-point rounding only.
    """

    method: Method = "permutation"

    def __init__(self, *, background: pd.DataFrame, random_state: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._background = background
        self._random_state = random_state

    def _model(self, codec: _Codec) -> Callable[[np.ndarray], np.ndarray]:
        def f(codes: np.ndarray) -> np.ndarray:
            native = self._to_native(codec.decode(codes))
            return self._target.pick(self._output.compute(native), lead=1, space=self.output_space)

        return f

    def _attribute(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        shap = load_shap()
        codec = _Codec.fit(pd.concat([self._background, frame], ignore_index=True))
        background = codec.encode(self._background)
        masker = shap.maskers.Independent(background, max_samples=len(background))
        p = len(self.feature_names)
        with _restored_global_rng():  # shap seeds and draws from numpy's global RNG
            explainer = shap.PermutationExplainer(
                self._model(codec), masker, seed=self._random_state
            )
            explanation = explainer(
                codec.encode(frame),
                max_evals=10 * (2 * p + 1),  # 10 antithetic permutations per row
                batch_size=2 * p + 1,  # one model call per permutation (all its masked rows)
                silent=True,
            )
        return np.asarray(explanation.values), np.asarray(explanation.base_values)

    def _output_of(self, frame: pd.DataFrame) -> np.ndarray:
        return self._output.compute(self._to_native(frame))


@contextlib.contextmanager
def _restored_global_rng() -> Iterator[None]:
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


class _Codec:
    """Numeric matrix <-> original DataFrame: numbers stay numbers, other columns become codes."""

    def __init__(self, columns: list[str], dtypes: list[Any], levels: list[np.ndarray | None]):
        self._columns = columns
        self._dtypes = dtypes
        self._levels = levels  # None for numeric columns, else the distinct values

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> _Codec:
        levels: list[np.ndarray | None] = []
        for name in frame.columns:
            col = frame[name]
            if _is_numeric(col):
                levels.append(None)
            else:
                _, uniques = pd.factorize(col, use_na_sentinel=False)
                levels.append(np.asarray(uniques, dtype=object))
        return cls(list(frame.columns), [frame[c].dtype for c in frame.columns], levels)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self._columns)), dtype=np.float64)
        for j, (name, levels) in enumerate(zip(self._columns, self._levels, strict=True)):
            col = frame[name]
            if levels is None:
                out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                index = pd.Index(levels)
                codes = index.get_indexer(col.astype(object))
                if (codes < 0).any():  # missing values (NaN/None/NA) share one level
                    missing = [k for k, v in enumerate(levels) if _is_missing(v)]
                    if missing:
                        codes = np.where(codes < 0, missing[0], codes)
                if (codes < 0).any():
                    raise ExplanationError(
                        f"column {name!r} has a value the codec was not built on"
                    )
                out[:, j] = codes
        return out

    def decode(self, codes: np.ndarray) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for j, (name, dtype, levels) in enumerate(
            zip(self._columns, self._dtypes, self._levels, strict=True)
        ):
            column = codes[:, j]
            if levels is None:
                data[name] = pd.Series(column).astype(dtype)
            else:
                data[name] = pd.Series(levels[column.astype(np.intp)], dtype=object).astype(dtype)
        return pd.DataFrame(data, columns=self._columns)


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)


def _is_missing(value: Any) -> bool:  # a cell: any scalar, or an array-like in an object column
    return bool(pd.isna(value)) if np.ndim(value) == 0 else False
