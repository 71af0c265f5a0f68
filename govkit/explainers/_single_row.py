"""One row at a time: the attributions, the model's own output and the score of a single row.

The :class:`govkit.explainers.DecisionExplainer` hands every row to one backend, chosen
once when it is built:

* :class:`LightGBMFast` -- a bare LightGBM model on numeric columns (binary classifier
  or regressor). It calls LightGBM's single-row "fast" C API
  (``LGBM_BoosterPredictForMatSingleRowFast``): the same TreeSHAP routine, the same
  trees and the same numbers as ``booster.predict(x, pred_contrib=True)``, but with the
  prediction configuration parsed and the predictor built once instead of on every
  call (``Booster.predict`` builds both per call, which costs more than the Python
  around it). It is used only when, at build time, it reproduces the scikit-learn
  API's contributions, raw scores and probabilities on probe rows bit for bit.
* :class:`ExplainerBackend` -- any other model, through a govkit explainer
  (``NativeTreeExplainer``: LightGBM / XGBoost contributions through their own API;
  shap's Tree or Linear explainer; the permutation explainer).

Thread safety: ``LightGBMFast`` keeps one LightGBM predictor per thread (LightGBM's
advice: a shared one is correct but serialises callers on its mutex) and allocates
only each call's own result arrays; the C call releases the GIL. ``ExplainerBackend``
serialises calls into shap with a lock (shap's explainers write attributes while
explaining, and the permutation explainer seeds numpy's global random state); the
native LightGBM / XGBoost contribution calls need no lock.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from govkit.exceptions import InputError
from govkit.explainers._errors import ExplanationError
from govkit.explainers._explainers import Explainer
from govkit.explainers._models import Target
from govkit.explainers._rule import other_labels

__all__ = ["RowResult", "LightGBMFast", "ExplainerBackend", "lightgbm_fast"]

logger = logging.getLogger(__name__)

_PREDICT_NORMAL, _PREDICT_RAW, _PREDICT_CONTRIB = 0, 1, 3  # C_API_PREDICT_*
_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_FAST_OBJECTIVES = {"binary", "cross_entropy", "xentropy"}  # classifiers with P = sigmoid(margin)


@dataclass(frozen=True, slots=True)
class RowResult:
    """What a backend says about one row."""

    values: np.ndarray  # (n_features,) attributions on the original input columns
    base: float  # the attributions' base value
    output: float  # the model's own output in the attributions' space, computed separately
    score: float  # P(positive class), or the regressor's prediction
    negative_label: Any  # the label predicted when the score is below the threshold


# -- LightGBM's single-row C API ----------------------------------------------------------------


class _Fast:
    """One LightGBM single-row predictor (a ``FastConfig``), freed when collected."""

    __slots__ = ("handle", "__weakref__")

    def __init__(self, booster: Any, predict_type: int, ncol: int, num_iteration: int) -> None:
        from lightgbm.basic import _c_str, _safe_call
        from lightgbm.libpath import _LIB  # the library lightgbm.basic loaded and set up

        handle = ctypes.c_void_p()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(predict_type),
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(num_iteration),
                ctypes.c_int(_DTYPE_FLOAT64),
                ctypes.c_int32(ncol),
                _c_str(""),
                ctypes.byref(handle),
            )
        )
        assert handle.value is not None  # set by the successful call
        self.handle: int = handle.value
        # the booster is an argument so that it outlives the predictor that points into it
        weakref.finalize(self, _free, _LIB, handle, booster)


def _free(lib: Any, handle: ctypes.c_void_p, booster: Any) -> None:
    lib.LGBM_FastConfigFree(handle)


# int LGBM_BoosterPredictForMatSingleRowFast(FastConfigHandle, const void* data,
#                                            int64_t* out_len, double* out_result)
# A prototype of our own (argtypes set here, not on lightgbm's shared function object);
# ctypes releases the GIL for the call.
_PROTOTYPE = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p
)


class _PerThread(threading.local):
    contrib: _Fast | None = None
    raw: _Fast | None = None
    normal: _Fast | None = None


class LightGBMFast:
    """A bare LightGBM model on numeric columns, one row at a time through the fast C API."""

    method = "lightgbm-native"
    #: whether calls from several threads take turns on a lock (never: a handle per thread)
    locked = False

    def __init__(
        self, model: Any, *, feature_names: tuple[str, ...], target: Target, output_space: str
    ) -> None:
        from lightgbm.libpath import _LIB  # (lightgbm.basic is loaded: the model is LightGBM's)

        self.output_space = output_space
        self._booster = model.booster_
        self._names = feature_names
        self._ncol = len(feature_names)
        self._num_iteration = int(self._booster.best_iteration or -1)
        self._classes = target.classes
        # binary: LightGBM scores classes[1]; explaining classes[0] flips every sign
        self._sign = -1.0 if target.classes is not None and target.index == 0 else 1.0
        self._negative = (
            None
            if target.classes is None or target.index is None
            else target.classes[1 - target.index]
        )
        self._call = _PROTOTYPE(("LGBM_BoosterPredictForMatSingleRowFast", _LIB))
        self._local = _PerThread()

    # one predictor of each kind per thread, built on the thread's first call
    def _fast(self, kind: str, predict_type: int) -> int:
        fast: _Fast | None = getattr(self._local, kind)
        if fast is None:
            fast = _Fast(self._booster, predict_type, self._ncol, self._num_iteration)
            setattr(self._local, kind, fast)
        return fast.handle

    def _run(self, handle: int, x: np.ndarray, size: int) -> np.ndarray:
        out = np.empty(size, dtype=np.float64)
        length = np.zeros(1, dtype=np.int64)
        status = self._call(handle, x.ctypes.data, length.ctypes.data, out.ctypes.data)
        if status != 0:
            from lightgbm.libpath import _LIB  # LGBM_GetLastError returns a char* (lightgbm.basic)

            raise ExplanationError(
                f"LightGBM could not score the row: {_LIB.LGBM_GetLastError().decode()}"
            )
        return out

    @staticmethod
    def matrix(frame: pd.DataFrame) -> np.ndarray:
        """The rows as a float64 matrix in the model's column order."""
        try:
            return frame.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            pass
        try:  # nullable columns holding pd.NA: missing, as LightGBM understands it
            return frame.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):  # the pandas message would show the value
            bad = [str(c) for c in frame.columns if not _is_numeric(frame[c])]
            raise InputError(
                f"this model takes numbers; column(s) {bad!r} are not numeric"
            ) from None

    def vector(self, row: pd.DataFrame) -> np.ndarray:
        """A 1-row frame as a contiguous float64 vector (exactly the model's width: the C
        call reads that many values)."""
        x = np.ascontiguousarray(self.matrix(row).reshape(-1))
        if x.size != self._ncol:
            raise ExplanationError(f"expected one row of {self._ncol} values; got {x.size}")
        return x

    def attribute(self, row: pd.DataFrame) -> tuple[np.ndarray, float]:
        """(attributions on the original columns, base value) of a 1-row frame."""
        phi = self._run(self._fast("contrib", _PREDICT_CONTRIB), self.vector(row), self._ncol + 1)
        if self._sign < 0:
            phi = -phi
        return phi[:-1], float(phi[-1])

    def explain_row(self, row: pd.DataFrame) -> RowResult:
        x = self.vector(row)
        phi = self._run(self._fast("contrib", _PREDICT_CONTRIB), x, self._ncol + 1)
        raw = self._run(self._fast("raw", _PREDICT_RAW), x, 1)[0]
        if self._classes is None:
            score = float(self._run(self._fast("normal", _PREDICT_NORMAL), x, 1)[0])
        else:
            p = self._run(self._fast("normal", _PREDICT_NORMAL), x, 1)[0]
            score = float(p) if self._sign > 0 else float(1.0 - p)
        if self._sign < 0:
            phi, raw = -phi, -raw
        return RowResult(phi[:-1], float(phi[-1]), float(raw), score, self._negative)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores of many rows in one call of ``booster.predict``."""
        if len(frame) == 0:
            return np.zeros(0)
        X = self.matrix(frame)
        p = np.asarray(
            self._booster.predict(X, num_iteration=self._num_iteration), dtype=np.float64
        )
        return p if self._sign > 0 else 1.0 - p


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)


def lightgbm_fast(
    model: Any,
    *,
    feature_names: tuple[str, ...],
    target: Target,
    output_space: str,
    probes: pd.DataFrame,
) -> LightGBMFast | None:
    """A :class:`LightGBMFast` for ``model`` when it applies and matches LightGBM's own API."""
    booster = getattr(model, "booster_", None)
    objective = getattr(model, "objective_", None)
    if booster is None or booster.pandas_categorical:  # categories: the sklearn API maps them
        return None
    if booster.num_feature() != len(feature_names) or booster.num_model_per_iteration() != 1:
        return None
    if target.classes is not None and (
        len(target.classes) != 2 or objective not in _FAST_OBJECTIVES
    ):
        return None
    if target.classes is None and not isinstance(objective, str):
        return None
    if not all(_is_numeric(probes[c]) for c in probes.columns):
        return None
    fast = LightGBMFast(
        model, feature_names=feature_names, target=target, output_space=output_space
    )
    from lightgbm.basic import LightGBMError

    try:
        same = _agrees(fast, model, probes, target)
    except (LightGBMError, ExplanationError, AttributeError, TypeError, ValueError) as exc:
        # e.g. a LightGBM without the single-row API, or trees it cannot explain this way:
        # the model is then explained through LightGBM's own predict
        logger.info("not using LightGBM's single-row API (%s)", type(exc).__name__)
        return None
    if not same:
        logger.info("not using LightGBM's single-row API: it disagrees with booster.predict")
        return None
    return fast


def _agrees(fast: LightGBMFast, model: Any, probes: pd.DataFrame, target: Target) -> bool:
    """Do the single-row results equal the scikit-learn API's on every probe row, bit for bit?"""
    contrib = np.asarray(model.predict(probes, pred_contrib=True), dtype=np.float64)
    raw = np.asarray(model.predict(probes, raw_score=True), dtype=np.float64)
    if target.classes is None:
        score = np.asarray(model.predict(probes), dtype=np.float64)
    else:
        score = np.asarray(model.predict_proba(probes), dtype=np.float64)[:, target.index]
    sign = fast._sign
    for i in range(len(probes)):
        row = probes.iloc[[i]]
        result = fast.explain_row(row)
        values, base = fast.attribute(row)
        checks = (
            np.array_equal(result.values, sign * contrib[i, :-1]),
            np.array_equal(values, result.values),
            base == result.base == sign * contrib[i, -1],
            result.output == sign * raw[i],
            result.score == score[i],
            fast.score(probes.iloc[[i]])[0] == score[i],
        )
        if not all(checks):
            return False
    return bool(np.array_equal(fast.score(probes), score))


# -- any govkit explainer -----------------------------------------------------------------------


class ExplainerBackend:
    """A govkit :class:`Explainer` and the model's own scores, one row at a time."""

    def __init__(
        self,
        explainer: Explainer,
        model: Any,
        *,
        method: str,
        target: Target,
        locked: bool,
    ) -> None:
        self.method = method
        self.output_space = explainer.output_space
        self.locked = locked
        self._explainer = explainer
        self._target = target
        self._lock = threading.Lock() if locked else None
        self._score: Callable[[pd.DataFrame], np.ndarray]
        self._proba: Callable[[pd.DataFrame], Any] | None
        if target.classes is None:
            self._proba = None
            predict = model.predict
            self._score = lambda frame: np.asarray(predict(frame), dtype=np.float64).reshape(-1)
        else:
            if not hasattr(model, "predict_proba"):
                raise ExplanationError(
                    f"{type(model).__name__} gives no class probabilities (predict_proba); a "
                    "decision needs the probability of the positive class as its score"
                )
            proba = self._proba = model.predict_proba
            index = target.index
            self._score = lambda frame: np.asarray(proba(frame), dtype=np.float64)[:, index]

    def _explain(self, row: pd.DataFrame) -> Any:
        if self._lock is None:
            return self._explainer.explain(row)
        with self._lock:
            return self._explainer.explain(row)

    def attribute(self, row: pd.DataFrame) -> tuple[np.ndarray, float]:
        att = self._explain(row)
        return att.values[0], float(att.base_values[0])

    def explain_row(self, row: pd.DataFrame) -> RowResult:
        att = self._explain(row)
        classes, index = self._target.classes, self._target.index
        if classes is None:
            score = float(self._score(row)[0])
            negative = None
        else:
            assert self._proba is not None and index is not None  # a classifier
            proba = np.asarray(self._proba(row), dtype=np.float64)[0]
            score = float(proba[index])
            negative = other_labels(proba[None, :], index, np.asarray(classes, dtype=object))[0]
        return RowResult(
            att.values[0], float(att.base_values[0]), float(att.model_output[0]), score, negative
        )

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        if len(frame) == 0:
            return np.zeros(0)
        return self._score(frame)
