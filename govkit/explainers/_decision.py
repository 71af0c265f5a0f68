"""DecisionExplainer: one model version's decisions, explained one person at a time.

>>> explainer = DecisionExplainer.build(model, metadata=meta)      # once per model version
>>> explanation = explainer.explain(row)                            # per request, fast

``build`` chooses how to explain once (that is the expensive part); ``explain`` scores
one row, attributes it on the model's **original** input columns, checks additivity,
and words the principal reasons (and, on request, a counterfactual):

* tree models need no background: path-dependent TreeSHAP from the trees' own cover.
  A bare LightGBM model on numeric columns goes through LightGBM's single-row C API
  (method ``lightgbm-native``); LightGBM / XGBoost models in a Pipeline through their
  own contribution routines (``lightgbm-native`` / ``xgboost-native``); scikit-learn
  trees through shap's TreeExplainer (``tree``). Preprocessing that expands a column
  (one-hot, ...) is summed back to the column the person gave.
* other models (linear, anything else) need ``background`` -- a sample of the model's
  input data -- for the linear or permutation explainer (``linear`` / ``permutation``);
  ``background_fingerprint`` then identifies the rows used.

Score and decision: the score is the probability of the positive label
(``positive_class``, else ``metadata.positive_label``, else ``classes_[1]``) or a
regressor's prediction; at or above ``DecisionSpec.threshold`` (0.5 without a
``metadata.decision``) the prediction is the positive label. The outcome is favourable
when (prediction is positive) == ``DecisionSpec.positive_is_favourable``.

Additivity: every explanation checks ``|base + sum(attributions) - f(x)|`` with ``f(x)``
computed by a separate call of the model, in the attributions' output space (log-odds
for boosted classifiers and logistic models). Within ``tolerance`` (by default 1e-6,
1e-5 for XGBoost's float32 arithmetic, as the ``explanation.coverage`` check) the
explanation is ``reliable``; otherwise it is still returned, marked ``reliable=False``
and logged -- never passed off as reliable.

Thread safety: ``explain``, ``attribute`` and ``score`` may be called from many threads
at once on one explainer. Everything ``build`` sets up is read-only afterwards;
per-call data lives in each call; LightGBM's single-row predictors are per thread;
calls into shap's explainers are serialised by a lock.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from govkit._i18n import messages
from govkit.decisions import DecisionExplanation
from govkit.exceptions import InputError
from govkit.explainers._categories import known_categories
from govkit.explainers._columns import Unmappable, pipeline_owners
from govkit.explainers._counterfactual import DEFAULT_BUDGET, search_counterfactual
from govkit.explainers._errors import ExplanationError
from govkit.explainers._explainers import StructuredExplainer, select_columns
from govkit.explainers._factory import (
    _build_shap,
    _check_model,
    _input_schema,
    _NoStructure,
    _split,
    _transformer,
    make_explainer,
)
from govkit.explainers._models import Target, family_of, target_of
from govkit.explainers._reasons import Formatter, feature_texts, numeric_kind, reason_codes
from govkit.explainers._rule import is_positive
from govkit.explainers._single_row import ExplainerBackend, LightGBMFast, lightgbm_fast
from govkit.records import DecisionSpec, ModelMetadata

__all__ = ["DecisionExplainer", "default_tolerance"]

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 1e-6
FLOAT32_TOLERANCE = 1e-5
_Backend = LightGBMFast | ExplainerBackend


def default_tolerance(model: Any) -> float:
    """The additivity tolerance by the model's precision (as ``explanation.coverage``)."""
    _, final = _split(model)
    return FLOAT32_TOLERANCE if type(final).__module__.startswith("xgboost") else DEFAULT_TOLERANCE


class DecisionExplainer:
    """Explains one model version's decisions; build with :meth:`build`, then :meth:`explain`."""

    feature_names: tuple[str, ...]  # the model's original input columns, in order
    method: str  # "lightgbm-native", "xgboost-native", "tree", "linear", "permutation"
    output_space: str  # what the attributions add up to: "log_odds", "probability", "raw"
    background_fingerprint: str | None  # govkit.data.fingerprint of the rows used, if any
    tolerance: float  # additivity tolerance
    #: input column -> the categories its encoders learned (columns they read as given);
    #: any other value there is scored as if the field were blank (see ``_categories``)
    categories: dict[str, tuple[str | int | float | bool, ...]]

    def __init__(
        self,
        backend: _Backend,
        *,
        metadata: ModelMetadata,
        feature_names: tuple[str, ...],
        target: Target,
        tolerance: float,
        background_fingerprint: str | None,
        counterfactual_budget: int,
        opposing_reasons: int,
        categories: dict[str, tuple[str | int | float | bool, ...]] | None = None,
    ) -> None:
        self.feature_names = feature_names
        self.categories = dict(categories or {})
        self.method = backend.method
        self.output_space = backend.output_space
        self.background_fingerprint = background_fingerprint
        self.tolerance = tolerance
        self._backend = backend
        self._decision = metadata.decision or DecisionSpec()
        self._texts = feature_texts(feature_names, metadata)
        self._sensitive = frozenset(metadata.sensitive_features)
        self._columns = list(feature_names)
        self._index = pd.Index(self._columns)
        self._classifier = target.classes is not None
        self._positive = target_class(target)
        self._budget = counterfactual_budget
        self._opposing = opposing_reasons

    @classmethod
    def build(
        cls,
        model: Any,
        *,
        metadata: ModelMetadata,
        background: pd.DataFrame | None = None,
        positive_class: object | None = None,
        tolerance: float | None = None,
        max_background: int = 200,
        counterfactual_budget: int = DEFAULT_BUDGET,
        opposing_reasons: int = 2,
    ) -> DecisionExplainer:
        """Choose and set up the explanation of ``model`` (see the module docstring).

        ``background`` (the model's input columns; a seeded sample of at most
        ``max_background`` rows is used) is needed for models without tree structure.
        ``counterfactual_budget`` bounds the model calls of one counterfactual search;
        ``opposing_reasons`` is how many factors that weighed the other way follow the
        principal reasons.
        """
        if not isinstance(metadata, ModelMetadata):
            raise ExplanationError(
                f"metadata must be a govkit ModelMetadata; got {type(metadata).__name__}"
            )
        if tolerance is not None and not (
            isinstance(tolerance, int | float)
            and not isinstance(tolerance, bool)
            and tolerance >= 0
        ):
            raise ExplanationError(f"tolerance must be a number >= 0; got {tolerance!r}")
        for option, value, low in (
            ("max_background", max_background, 1),
            ("counterfactual_budget", counterfactual_budget, 1),
            ("opposing_reasons", opposing_reasons, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ExplanationError(f"{option} must be a whole number >= {low}; got {value!r}")
        _check_model(model)
        names, to_native = _schema(model, metadata, background)
        target = target_of(model, _positive(model, positive_class, metadata.positive_label))
        frame = None
        if background is not None:
            frame = select_columns(background, names, what="background")
            if len(frame) == 0:
                raise ExplanationError("background has no rows; pass a sample of the input data")
            if len(frame) > max_background:
                frame = frame.sample(n=max_background, random_state=0)

        backend, reason = _tree_backend(model, names, to_native, target, frame)
        fingerprint = None
        if backend is None:
            if frame is None:
                raise ExplanationError(
                    f"{type(model).__name__} cannot be explained without background data "
                    f"({reason}); pass background= a sample of the model's input rows (tree "
                    "models -- scikit-learn trees, LightGBM, XGBoost -- need none)"
                )
            explainer = make_explainer(
                model, frame, positive_class=target_class(target), max_background=max_background
            )
            backend = ExplainerBackend(
                explainer, model, method=explainer.method, target=target, locked=True
            )
            from govkit.data import fingerprint as data_fingerprint

            fingerprint = data_fingerprint(frame)
        _note_metadata(names, metadata)
        return cls(
            backend,
            metadata=metadata,
            feature_names=names,
            target=target,
            tolerance=default_tolerance(model) if tolerance is None else float(tolerance),
            background_fingerprint=fingerprint,
            counterfactual_budget=counterfactual_budget,
            opposing_reasons=opposing_reasons,
            categories=known_categories(_split(model)[0], names),
        )

    # -- per call ------------------------------------------------------------------------

    def _row(self, row: object) -> pd.DataFrame:
        if not isinstance(row, pd.DataFrame):
            raise InputError(
                "row must be a pandas DataFrame of one row of the model's input columns; "
                f"got {type(row).__name__}"
            )
        if len(row) != 1:
            raise InputError(f"explain() takes exactly one row; got {len(row)}")
        if not row.columns.equals(self._index):
            try:
                row = select_columns(row, self.feature_names, what="row")
            except ExplanationError as exc:
                raise InputError(str(exc)) from None
        return row

    def score(self, rows: pd.DataFrame) -> np.ndarray:
        """The score of each row: P(positive label) for a classifier, else the prediction."""
        if not isinstance(rows, pd.DataFrame):
            raise InputError(f"rows must be a pandas DataFrame; got {type(rows).__name__}")
        if not rows.columns.equals(self._index):
            try:
                rows = select_columns(rows, self.feature_names, what="rows")
            except ExplanationError as exc:
                raise InputError(str(exc)) from None
        return self._backend.score(rows)

    def attribute(self, row: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Only the attributions of one row on the original columns, and the base value.

        The hot path of :meth:`explain` without the score, the additivity check or words.
        """
        return self._backend.attribute(self._row(row))

    def may_wait(self, counterfactual: bool | None = None) -> bool:
        """Whether :meth:`explain` with this ``counterfactual`` may wait or run long.

        It may when concurrent calls take turns on a lock: shap's explainers and the
        model-agnostic ones (which also call the model many times per row); only the
        native tree paths (LightGBM, XGBoost) run without one. And when it may search
        for a counterfactual (up to ``counterfactual_budget`` model calls):
        ``counterfactual`` True, or None when the model's ``DecisionSpec.counterfactual``
        asks for one on unfavourable decisions.
        """
        search = self._decision.counterfactual if counterfactual is None else counterfactual
        return self._backend.locked or bool(search)

    def explain(
        self,
        row: pd.DataFrame,
        *,
        reasons: int | None = None,
        locale: str | None = None,
        counterfactual: bool | None = None,
    ) -> DecisionExplanation:
        """Score, attribute and word the decision about one row (a 1-row DataFrame).

        ``reasons`` (default ``DecisionSpec.reasons``) principal reasons, in ``locale``
        (default ``DecisionSpec.locale``). A counterfactual when ``counterfactual`` is True,
        or, when it is None, for unfavourable decisions if ``DecisionSpec.counterfactual``
        (what would have changed an adverse outcome; a favourable one needs no remedy).
        The result holds the person's values.
        """
        spec = self._decision
        if reasons is None:
            k = spec.reasons
        elif isinstance(reasons, bool) or not isinstance(reasons, int) or reasons < 0:
            raise InputError(f"reasons must be a whole number >= 0; got {reasons!r}")
        else:
            k = reasons
        locale = spec.locale if locale is None else locale
        fmt = Formatter(locale, messages(locale, "reasons"))
        frame = self._row(row)

        result = self._backend.explain_row(frame)
        values = result.values
        with np.errstate(invalid="ignore", over="ignore"):
            error = abs(result.base + float(values.sum()) - result.output)
        reliable = bool(
            math.isfinite(error) and error <= self.tolerance and np.isfinite(values).all()
        )
        if not reliable:  # numbers only: no feature values in logs
            logger.warning(
                "explanation failed its additivity check (error %.3g, tolerance %.3g, "
                "method %s); it is marked unreliable",
                error,
                self.tolerance,
                self.method,
            )
        score = result.score
        positive = bool(is_positive(score, spec.threshold))
        if self._classifier:
            prediction = self._positive if positive else result.negative_label
        else:
            prediction = score
        favourable = positive == spec.positive_is_favourable
        principal = reason_codes(
            values,
            lambda j: frame.iat[0, j],
            self._texts,
            positive=positive,
            k=k,
            opposing=self._opposing,
            fmt=fmt,
        )
        if counterfactual is None:
            wanted = spec.counterfactual and not favourable
        else:
            wanted = bool(counterfactual)
        found = None
        if wanted:
            found = search_counterfactual(
                frame,
                self._texts,
                sensitive=self._sensitive,
                score=self._backend.score,
                threshold=spec.threshold,
                current_score=score,
                other_outcome=spec.unfavourable_outcome if favourable else spec.favourable_outcome,
                fmt=fmt,
                budget=self._budget,
            )
        return DecisionExplanation(
            score=score,
            prediction=_scalar(prediction),
            outcome=spec.favourable_outcome if favourable else spec.unfavourable_outcome,
            favourable=favourable,
            threshold=spec.threshold,
            base_value=result.base,
            output_space=self.output_space,
            attributions=dict(zip(self._columns, values.tolist(), strict=True)),
            additivity_error=error,
            reliable=reliable,
            method=self.method,
            background=self.background_fingerprint,
            reasons=principal,
            counterfactual=found,
            locale=locale,
        )

    def __repr__(self) -> str:
        return (
            f"<DecisionExplainer method={self.method!r} output_space={self.output_space!r} "
            f"features={len(self.feature_names)}>"
        )


# -- build helpers ---------------------------------------------------------------------------


def target_class(target: Target) -> object | None:
    """The explained class; None for a regressor."""
    if target.classes is None or target.index is None:
        return None
    explained: object = target.classes[target.index]
    return explained


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _schema(model: Any, metadata: ModelMetadata, background: Any) -> tuple[tuple[str, ...], Any]:
    """The model's input columns and how a frame of them becomes the model's input."""
    if getattr(model, "feature_names_in_", None) is not None or background is not None:
        names, to_native = _input_schema(model, background)
    elif metadata.feature_names and len(metadata.feature_names) == getattr(
        model, "n_features_in_", None
    ):
        names, to_native = tuple(metadata.feature_names), lambda frame: frame.to_numpy()
    else:
        raise ExplanationError(
            f"{type(model).__name__} was fitted without column names; give them in "
            "metadata.feature_names (in training order) or pass background= with those columns"
        )
    if metadata.feature_names and set(metadata.feature_names) != set(names):
        logger.warning(
            "metadata.feature_names differ from the model's input columns; using the model's"
        )
    return names, to_native


def _positive(model: Any, given: object | None, declared: object | None) -> object | None:
    """The class to explain: ``given``, else the metadata's positive_label (matched as text)."""
    classes = getattr(model, "classes_", None)
    if given is not None or classes is None or declared is None:
        return given
    listed: list[object] = np.asarray(classes).tolist()
    for match in (lambda c: c == declared, lambda c: str(c) == str(declared)):
        for c in listed:
            if match(c):
                return c
    raise ExplanationError(
        f"metadata.positive_label {declared!r} is not one of the model's classes {listed!r}"
    )


def _tree_backend(
    model: Any,
    names: tuple[str, ...],
    to_native: Any,
    target: Target,
    frame: pd.DataFrame | None,
) -> tuple[_Backend | None, str]:
    """A backend from the trees themselves (no background), or None and why not."""
    from govkit.explainers._batch import _NATIVE, NativeTreeExplainer

    steps, final = _split(model)
    family = family_of(final)
    if family is None or family.method != "tree":
        return None, f"{type(final).__name__} has no tree structure"
    refusal = family.refuse(final)
    if refusal:
        return None, refusal
    output = family.output(final, target.classes is not None)
    if not steps and family.name == "lightgbm":
        fast = lightgbm_fast(
            model,
            feature_names=names,
            target=target,
            output_space=output.space,
            probes=_probes(names, frame),
        )
        if fast is not None:
            return fast, ""
    width = getattr(final, "n_features_in_", None)
    if not isinstance(width, int):
        return None, f"{type(final).__name__} does not say how many columns it takes"
    if steps:
        try:
            owners = pipeline_owners(steps, len(names), width)
        except Unmappable as exc:
            return None, f"its preprocessing cannot be traced back to input columns ({exc})"
    elif width == len(names):
        owners = np.arange(len(names))
    else:
        return None, f"the model takes {width} columns, not {len(names)}"
    common: dict[str, Any] = {
        "transform": _transformer(steps),
        "owners": owners,
        "feature_names": names,
        "to_native": to_native,
        "output": output,
        "target": target,
    }
    if family.name in _NATIVE:
        explainer: Any = NativeTreeExplainer(contributions=_NATIVE[family.name](final), **common)
        method, locked = f"{family.name}-native", False
    else:
        try:
            shap_explainer = _build_shap(family, final, None)
        except _NoStructure as exc:
            return None, str(exc)
        explainer = StructuredExplainer(method="tree", shap_explainer=shap_explainer, **common)
        method, locked = "tree", True
    return ExplainerBackend(explainer, model, method=method, target=target, locked=locked), ""


def _probes(names: tuple[str, ...], frame: pd.DataFrame | None) -> pd.DataFrame:
    """Rows to check LightGBM's single-row API against its own API: zeros, missing, data."""
    synthetic = pd.DataFrame(
        np.array([np.zeros(len(names)), np.full(len(names), np.nan)]), columns=list(names)
    )
    if frame is None:
        return synthetic
    head = frame.iloc[:3]
    if not all(pd.api.types.is_numeric_dtype(dtype) for dtype in head.dtypes):  # bool counts
        return head  # not numbers: the single-row API does not apply
    return pd.concat([synthetic, head.astype(np.float64)], ignore_index=True)


def _note_metadata(names: tuple[str, ...], metadata: ModelMetadata) -> None:
    """Log (names only) what the metadata implies for reasons and counterfactuals."""
    inputs = [n for n in metadata.sensitive_features if n in names]
    if inputs:
        logger.info(
            "sensitive feature(s) %s are model inputs: reasons report them when they weigh; "
            "counterfactuals never change them",
            inputs,
        )
    for name in names:
        spec = metadata.features.get(name)
        if spec is not None and spec.actionable and numeric_kind(spec) and spec.kind != "boolean":
            if (spec.min is None or spec.max is None) and not spec.values:
                logger.info(
                    "actionable feature %r has no min/max: counterfactuals will not change it",
                    name,
                )
