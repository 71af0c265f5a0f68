"""Import shap once, on first use, without the warnings its import emits on newer matplotlib."""

from __future__ import annotations

import importlib
import warnings
from functools import cache
from types import ModuleType

__all__ = ["load_shap"]


@cache
def load_shap() -> ModuleType:
    """The ``shap`` module.

    shap's plotting code calls ``Colormap.set_bad/set_over/set_under`` at import, which
    matplotlib >= 3.11 flags as pending deprecation; those notices (and only they) are
    silenced, so ``import shap`` does not fail a run where warnings are errors.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"The set_(bad|over|under) function will be deprecated",
            category=PendingDeprecationWarning,
        )
        # import_module, not ``import shap``: shap ships no type information, and this
        # function promises a module
        shap = importlib.import_module("shap")

    return shap
