"""Lazy imports of optional extras, with an error that says how to install them."""

from __future__ import annotations

import importlib
from types import ModuleType

from govkit.exceptions import MissingDependencyError

_EXTRA_FOR = {
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "psycopg": "postgres",
    "dask": "dask",
    "distributed": "dask",
    "fastapi": "api",
    "uvicorn": "api",
    "starlette": "api",
}


def import_optional(module: str, *, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRA_FOR.get(top, top)
        raise MissingDependencyError(
            f"{feature} needs the optional package '{top}', which is not installed; "
            f"install it with: pip install 'govkit[{extra}]'"
        ) from exc
