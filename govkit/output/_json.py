"""``json``: the whole result (the :mod:`govkit.results` format), plus verdict and exit code."""

from __future__ import annotations

import math
from typing import Any

from govkit._text import json_text
from govkit.output._context import RenderContext
from govkit.results import EvaluationResult

__all__ = ["write_json"]


def _finite(obj: Any) -> Any:
    """NaN and infinities become null, which JSON can carry."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def write_json(result: EvaluationResult, ctx: RenderContext) -> str:
    payload = _finite(result.model_dump(mode="json"))
    payload["status"] = result.status.value
    payload["exit_code"] = result.exit_code(fail_on_warn=ctx.fail_on_warn)
    return json_text(payload) + "\n"
