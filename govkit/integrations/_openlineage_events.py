"""OpenLineage run events of govkit's actions: the govkit facets and the event builders.

This module imports ``openlineage-python`` at import time: only
:mod:`govkit.integrations._openlineage` imports it, and only once emission is configured.

Naming (see ``docs/integrations/openlineage.md``):

- a registered dataset or model version is the dataset ``NAME@VERSION`` in the registry's
  namespace ``govkit://HOST/PATH`` (from the store URL, credentials never included; or
  ``$GOVKIT_OPENLINEAGE_REGISTRY``);
- a source file or object (``--source``, a model artifact, ``check --data``) is named as the
  OpenLineage naming spec says: ``file`` + absolute path, ``s3://bucket`` + key, ...
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import attr
from openlineage.client.constants import __version__ as CLIENT_VERSION
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    datasource_dataset,
    error_message_run,
    job_type_job,
    processing_engine_run,
    schema_dataset,
)
from openlineage.client.utils import RedactMixin

from govkit import __version__
from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.results import AuditAnchor, EvaluationResult, Status

__all__ = [
    "PRODUCER",
    "FACETS_SCHEMA_NAME",
    "GovkitDatasetFacet",
    "GovkitModelVersionDatasetFacet",
    "GovkitPolicyRunFacet",
    "GovkitPolicyRunCheck",
    "registry_namespace",
    "uri_dataset",
    "start_event",
    "finish_event",
    "dataset_registered",
    "model_registered",
    "policy_checked",
]

#: Where govkit lives; the producer URI and the facets' schema URLs are built on it.
HOME = "https://github.com/govkit/govkit"
PRODUCER = f"{HOME}/tree/v{__version__}"
#: The JSON schema of the govkit facets, shipped in templates/openlineage/.
FACETS_SCHEMA_NAME = "govkit-facets-1-0-0.json"
FACETS_SCHEMA_URL = f"{HOME}/blob/main/templates/openlineage/{FACETS_SCHEMA_NAME}"
INTEGRATION = "GOVKIT"


def _schema(definition: str) -> str:
    return f"{FACETS_SCHEMA_URL}#/$defs/{definition}"


# ---------------------------------------------------------------- govkit facets
@attr.define
class GovkitDatasetFacet(DatasetFacet):
    """``govkit_dataset``: a registered dataset version, its content fingerprint and parents."""

    name: str
    version: int
    fingerprint: str  # "sha256:<hex>" of the content (govkit.fingerprint)
    orderIndependent: bool  # noqa: N815
    rowCount: int  # noqa: N815
    parents: list[str] = attr.field(factory=list)
    transformation: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return _schema("GovkitDatasetFacet")


@attr.define
class GovkitModelVersionDatasetFacet(DatasetFacet):
    """``govkit_model_version``: a registered model version, its artifact and data links."""

    name: str
    version: int
    artifactSha256: str  # noqa: N815
    artifactFormat: str  # noqa: N815
    flavour: str
    estimator: str
    trainingData: str | None = attr.field(default=None)  # noqa: N815
    evaluationData: str | None = attr.field(default=None)  # noqa: N815
    riskTier: str | None = attr.field(default=None)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return _schema("GovkitModelVersionDatasetFacet")


@attr.define
class GovkitPolicyRunCheck(RedactMixin):
    """One rule's outcome in a policy run."""

    ruleId: str  # noqa: N815
    checkId: str  # noqa: N815
    severity: str
    status: str
    value: float | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return _schema("GovkitPolicyRunCheck")


@attr.define
class GovkitPolicyRunFacet(RunFacet):
    """``govkit_policy_run``: the verdict of a policy run and where the audit log holds it."""

    policyName: str  # noqa: N815
    policyDigest: str  # noqa: N815
    model: str
    verdict: str  # PASS / WARN / FAIL
    counts: dict[str, int]
    nRows: int  # noqa: N815
    govkitVersion: str  # noqa: N815
    checks: list[GovkitPolicyRunCheck] = attr.field(factory=list)
    dataFingerprint: str | None = attr.field(default=None)  # noqa: N815
    auditSequence: int | None = attr.field(default=None)  # noqa: N815
    auditHash: str | None = attr.field(default=None)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return _schema("GovkitPolicyRunFacet")


# ---------------------------------------------------------------- naming
def redact_uri(uri: str) -> str:
    """The URI without user name, password, query or fragment (they may hold credentials)."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def registry_namespace(store_url: str) -> str:
    """``govkit://HOST/PATH`` of the registry at ``store_url`` (or $GOVKIT_OPENLINEAGE_REGISTRY)."""
    explicit = os.environ.get("GOVKIT_OPENLINEAGE_REGISTRY")
    if explicit:
        return explicit
    from sqlalchemy.engine import make_url

    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            return f"govkit://{socket.gethostname()}/:memory:"
        return f"govkit://{socket.gethostname()}{Path(database).resolve().as_posix()}"
    host = url.host or "localhost"
    if url.port:
        host = f"{host}:{url.port}"
    return f"govkit://{host}/{url.database or ''}"


def uri_dataset(uri: str) -> tuple[str, str] | None:
    """(namespace, name) of a file or object URI or path, after the OpenLineage naming spec."""
    parts = urlsplit(uri)
    if not parts.scheme or len(parts.scheme) == 1:  # a plain path (or a Windows drive letter)
        return "file", Path(uri).resolve().as_posix()
    if parts.scheme == "file":
        return "file", unquote(parts.path)
    if not parts.hostname:
        return None
    host = parts.hostname + (f":{parts.port}" if parts.port is not None else "")
    path = unquote(parts.path)
    if parts.scheme in ("s3", "s3a", "gs", "gcs", "abfss", "wasbs"):
        path = path.lstrip("/")
    return f"{parts.scheme}://{host}", path or "/"


def _ref(ref: Any) -> str:
    return f"{ref.name}@{ref.version}"


# ---------------------------------------------------------------- datasets
def _dataset_facets(record: DatasetRecord) -> dict[str, DatasetFacet]:
    facets: dict[str, DatasetFacet] = {
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[
                # in column order (ordinal_position is newer than openlineage-python 1.30)
                schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.dtype)
                for c in record.columns
            ],
            producer=PRODUCER,
        ),
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=str(record.version), producer=PRODUCER
        ),
        "govkit_dataset": GovkitDatasetFacet(
            name=record.name,
            version=record.version,
            fingerprint=record.fingerprint,
            orderIndependent=record.order_independent,
            rowCount=record.row_count,
            parents=[_ref(p) for p in record.parents],
            transformation=record.transformation,
            producer=PRODUCER,
        ),
    }
    if record.source_uri:
        facets["dataSource"] = _datasource(record.source_uri)
    return facets


def _datasource(uri: str) -> datasource_dataset.DatasourceDatasetFacet:
    clean = redact_uri(uri) if urlsplit(uri).scheme else Path(uri).resolve().as_uri()
    parts = urlsplit(clean)
    name = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}"
    return datasource_dataset.DatasourceDatasetFacet(name=name, uri=clean, producer=PRODUCER)


def _input_dataset(namespace: str, record: DatasetRecord, **input_facets: Any) -> InputDataset:
    return InputDataset(
        namespace=namespace,
        name=_ref(record),
        facets=_dataset_facets(record),
        inputFacets=input_facets,
    )


def _model_facets(record: ModelVersionRecord) -> dict[str, DatasetFacet]:
    return {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=str(record.version), producer=PRODUCER
        ),
        "dataSource": _datasource(record.artifact_uri),
        "govkit_model_version": GovkitModelVersionDatasetFacet(
            name=record.name,
            version=record.version,
            artifactSha256=record.artifact_sha256,
            artifactFormat=record.artifact_format,
            flavour=record.flavour,
            estimator=record.estimator,
            trainingData=_ref(record.training_data) if record.training_data else None,
            evaluationData=_ref(record.evaluation_data) if record.evaluation_data else None,
            riskTier=record.metadata.risk_tier,
            producer=PRODUCER,
        ),
    }


def _uri_input(uri: str | None) -> list[InputDataset]:
    named = uri_dataset(uri) if uri else None
    return [InputDataset(namespace=named[0], name=named[1])] if named else []


# ---------------------------------------------------------------- events
def _job(namespace: str, name: str, job_type: str) -> Job:
    return Job(
        namespace=namespace,
        name=name,
        facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH",
                integration=INTEGRATION,
                jobType=job_type,
                producer=PRODUCER,
            )
        },
    )


def _run(run_id: str, **facets: RunFacet) -> Run:
    engine = processing_engine_run.ProcessingEngineRunFacet(
        version=__version__,
        name="govkit",
        openlineageAdapterVersion=CLIENT_VERSION,
        producer=PRODUCER,
    )
    return Run(runId=run_id, facets={"processing_engine": engine, **facets})


def start_event(
    *, namespace: str, job_name: str, job_type: str, run_id: str, when: datetime
) -> RunEvent:
    """The START of a govkit action (its inputs and outputs come with COMPLETE)."""
    return RunEvent(
        eventType=RunState.START,
        eventTime=when.isoformat(),
        run=_run(run_id),
        job=_job(namespace, job_name, job_type),
        producer=PRODUCER,
    )


def finish_event(
    state: RunState,
    *,
    namespace: str,
    job_name: str,
    job_type: str,
    run_id: str,
    when: datetime,
    inputs: Sequence[InputDataset] = (),
    outputs: Sequence[OutputDataset] = (),
    run_facets: dict[str, RunFacet] | None = None,
    error: str | None = None,
) -> RunEvent:
    """COMPLETE, FAIL or ABORT of a govkit action."""
    facets = dict(run_facets or {})
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python", producer=PRODUCER
        )
    return RunEvent(
        eventType=state,
        eventTime=when.isoformat(),
        run=_run(run_id, **facets),
        job=_job(namespace, job_name, job_type),
        inputs=list(inputs),
        outputs=list(outputs),
        producer=PRODUCER,
    )


def dataset_registered(
    record: DatasetRecord,
    *,
    registry: str,
    parents: Sequence[DatasetRecord],
    read: str | None = None,
) -> dict[str, Any]:
    """Inputs and outputs of registering ``record``: its source (else the file ``read``)
    and parents -> the version."""
    inputs = _uri_input(record.source_uri or read)
    inputs += [_input_dataset(registry, p) for p in parents]
    output = OutputDataset(namespace=registry, name=_ref(record), facets=_dataset_facets(record))
    return {"inputs": inputs, "outputs": [output]}


def model_registered(
    record: ModelVersionRecord,
    *,
    registry: str,
    training: DatasetRecord | None,
    evaluation: DatasetRecord | None,
) -> dict[str, Any]:
    """Inputs and outputs of registering a model version: artifact and data -> the version."""
    inputs = _uri_input(record.artifact_uri)
    inputs += [_input_dataset(registry, d) for d in (training, evaluation) if d is not None]
    output = OutputDataset(namespace=registry, name=_ref(record), facets=_model_facets(record))
    return {"inputs": inputs, "outputs": [output]}


def _assertions(result: EvaluationResult) -> Any:
    """Each judged rule as a data-quality assertion on the evaluated data (met: success)."""
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(
                assertion=c.rule_id,
                success=c.status in (Status.PASS, Status.WAIVED),
                severity=c.severity,
                name=c.check_id,
                actual=c.status.value,
            )
            for c in result.checks
            if c.status != Status.NOT_APPLICABLE
        ],
        producer=PRODUCER,
    )


def policy_checked(
    result: EvaluationResult,
    *,
    anchor: AuditAnchor | None,
    registry: str,
    model: ModelVersionRecord | None,
    evaluation: DatasetRecord | None,
    data_uri: str | None,
) -> dict[str, Any]:
    """Inputs and run facets of a policy run: the model and the evaluated data, the verdict.

    The evaluated data is the model's registered evaluation dataset when its fingerprint is the
    run's; else the file or URL it was read from; an in-memory frame has no name (its
    fingerprint is in the ``govkit_policy_run`` facet).
    """
    inputs: list[InputDataset] = []
    if model is not None:
        inputs.append(
            InputDataset(namespace=registry, name=_ref(model), facets=_model_facets(model))
        )
    assertions = _assertions(result)
    if evaluation is not None and evaluation.fingerprint == result.data_fingerprint:
        inputs.append(_input_dataset(registry, evaluation, dataQualityAssertions=assertions))
    elif data_uri is not None and (named := uri_dataset(data_uri)) is not None:
        inputs.append(
            InputDataset(
                namespace=named[0],
                name=named[1],
                inputFacets={"dataQualityAssertions": assertions},
            )
        )
    counts = {status.value: n for status, n in result.counts.items()}
    verdict = GovkitPolicyRunFacet(
        policyName=result.policy_name,
        policyDigest=result.policy_digest,
        model=str(result.model),
        verdict=result.status.value,
        counts=counts,
        nRows=result.n_rows,
        govkitVersion=result.govkit_version,
        checks=[
            GovkitPolicyRunCheck(
                ruleId=c.rule_id,
                checkId=c.check_id,
                severity=c.severity,
                status=c.status.value,
                value=c.value if c.value is not None and math.isfinite(c.value) else None,
            )
            for c in result.checks
        ],
        dataFingerprint=result.data_fingerprint,
        auditSequence=anchor.sequence if anchor else None,
        auditHash=anchor.hash if anchor else None,
        producer=PRODUCER,
    )
    return {"inputs": inputs, "run_facets": {"govkit_policy_run": verdict}}
