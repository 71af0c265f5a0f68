"""Bridges to the tools ML teams already use: MLflow's model registry and OpenLineage.

Each bridge is an optional extra (``pip install 'govkit[mlflow]'``, ``'govkit[openlineage]'``)
imported only when used, so ``import govkit`` stays cheap.

- MLflow: ``govkit check --model mlflow:models:/NAME/VERSION`` (or ``@ALIAS``) registers the
  MLflow version in govkit (:func:`register_mlflow_model`); ``--mlflow-log`` logs the
  evaluation and the card to an MLflow run (:func:`log_check`).
- OpenLineage: registrations and policy runs emit run events when the client is configured
  the usual way (:func:`openlineage_configured`); Python callers can pass their own client
  with :func:`emit_openlineage`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govkit._lazy import lazy_exports

_EXPORTS = {
    "register_mlflow_model": "govkit.integrations._mlflow",
    "parse_mlflow_uri": "govkit.integrations._mlflow",
    "log_check": "govkit.integrations._mlflow_log",
    "MlflowLogError": "govkit.integrations._mlflow_log",
    "redact_uri": "govkit.integrations._mlflow_client",
    "emit_openlineage": "govkit.integrations._openlineage",
    "openlineage_configured": "govkit.integrations._openlineage",
    "OpenLineageError": "govkit.integrations._openlineage",
}
__all__ = [
    "MlflowLogError",
    "OpenLineageError",
    "emit_openlineage",
    "log_check",
    "openlineage_configured",
    "parse_mlflow_uri",
    "redact_uri",
    "register_mlflow_model",
]

if TYPE_CHECKING:  # pragma: no cover
    from govkit.integrations._mlflow import parse_mlflow_uri, register_mlflow_model
    from govkit.integrations._mlflow_client import redact_uri
    from govkit.integrations._mlflow_log import MlflowLogError, log_check
    from govkit.integrations._openlineage import (
        OpenLineageError,
        emit_openlineage,
        openlineage_configured,
    )


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
