"""Registry types: references to and records of datasets and model versions (no I/O)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal, overload
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field

from govkit.exceptions import InputError

__all__ = [
    "DatasetRef",
    "ModelRef",
    "ColumnSchema",
    "DatasetRecord",
    "Flavour",
    "FeatureKind",
    "FeatureSpec",
    "DecisionSpec",
    "MlflowSource",
    "ModelMetadata",
    "ModelVersionRecord",
    "parse_ref",
    "clean_source_uri",
]

Flavour = Literal["sklearn", "lightgbm", "xgboost"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _check_name(name: str, what: str) -> str:
    if not _NAME_RE.match(name):
        raise InputError(
            f"{what} name must be 1-128 characters of letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit; got {name!r}"
        )
    return name


#: the largest version number (the store's version columns are 32-bit in PostgreSQL)
MAX_VERSION = 2**31 - 1
#: the range of a 64-bit signed integer: a model's int64 columns, SQLite's INTEGER and
#: PostgreSQL's BIGINT; no whole number beyond it is taken (API, decisions, the store)
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class _Ref(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int | None = None  # None: the latest version

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


class DatasetRef(_Ref):
    """``NAME@VERSION`` of a registered dataset."""


class ModelRef(_Ref):
    """``NAME@VERSION`` of a registered model version."""


@overload
def parse_ref(text: str, *, what: Literal["dataset"], option: str = "") -> DatasetRef: ...
@overload
def parse_ref(text: str, *, what: Literal["model"], option: str = "") -> ModelRef: ...
@overload
def parse_ref(text: str, *, what: Literal["dataset", "model"], option: str = "") -> _Ref: ...
def parse_ref(text: str, *, what: Literal["dataset", "model"], option: str = "") -> _Ref:
    """Parse ``NAME`` or ``NAME@VERSION``; the error names the option and the expected form."""
    cls = DatasetRef if what == "dataset" else ModelRef
    name, sep, version = text.partition("@")
    where = f"{option}: " if option else ""
    try:
        _check_name(name, what)
    except InputError as exc:
        raise InputError(f"{where}{exc}") from None
    if not sep:
        return cls(name=name)
    if not (version.isascii() and version.isdigit()) or not 1 <= int(version) <= MAX_VERSION:
        raise InputError(
            f"{where}expected {what} reference NAME or NAME@VERSION with VERSION a "
            f"whole number from 1 to {MAX_VERSION}; got {text!r}"
        )
    return cls(name=name, version=int(version))


#: query parameters whose values are credentials: signatures, tokens, keys, passwords
#: (S3/GCS pre-signed URLs, Azure SAS ``sig``, ``access_token``, ``api_key`` ...)
_SECRET_QUERY = re.compile(r"sig|token|key|secret|pass|pwd|credential|auth|session", re.I)


def _mask_parameters(text: str, removed: list[str]) -> str:
    """``text`` (``a=1&b=2``) with the values of credential parameters replaced by ``***``.

    Parameters are rewritten one by one, as written: only a credential's value changes,
    every other byte stays (re-encoding would change what allow-list prefixes match and
    what readers of a card see).
    """
    if "=" not in text:
        return text
    fields = text.split("&")
    for i, field in enumerate(fields):
        name, equals, value = field.partition("=")
        key = unquote_plus(name)
        if equals and value and _SECRET_QUERY.search(key):
            removed.append(f"the value of '{key}'")
            fields[i] = f"{name}=***"
    return "&".join(fields)


def clean_source_uri(uri: str) -> tuple[str, list[str]]:
    """``uri`` without credentials, and what was taken out, before it is recorded for good.

    A dataset's source goes into the registry and the append-only audit log, and onto
    cards. The user name and password (``https://user:pw@host/...``) are dropped, so the
    URI still starts with its host (source allow-lists match it); the values of query or
    fragment parameters that hold credentials become ``***`` (their names, and every other
    byte, such as an object version, stay as written). Anything that is not a URL is
    returned as it is.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri, []
    if not parts.scheme or not parts.netloc:
        return uri, []
    removed: list[str] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        removed.append("the password" if ":" in userinfo else "the user name")
    query = _mask_parameters(parts.query, removed)
    fragment = _mask_parameters(parts.fragment, removed)  # OAuth's #access_token=...
    if not removed:
        return uri, []
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment)), removed


class ColumnSchema(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    dtype: str  # canonical kind: int, float, bool, string, datetime, category


class DatasetRecord(BaseModel):
    """A registered dataset version: content fingerprint, schema and lineage."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int
    fingerprint: str  # "sha256:<hex>", see govkit.fingerprint
    order_independent: bool = False
    row_count: int
    columns: tuple[ColumnSchema, ...]
    source_uri: str | None = None
    parents: tuple[DatasetRef, ...] = ()
    transformation: str | None = None
    created_at: datetime
    created_by: str | None = None

    @property
    def ref(self) -> DatasetRef:
        return DatasetRef(name=self.name, version=self.version)

    def _repr_html_(self) -> str:
        from govkit._html_repr import table

        return table(
            f"Dataset {self.ref}",
            [(c.name, c.dtype) for c in self.columns],
            header=("column", "type"),
            summary=[
                ("rows", self.row_count),
                ("fingerprint", self.fingerprint),
                ("source", self.source_uri),
                ("parents", ", ".join(map(str, self.parents)) or None),
                ("transformation", self.transformation),
            ],
        )


FeatureKind = Literal[
    "number", "integer", "money", "percent", "years", "count", "category", "boolean"
]


class FeatureSpec(BaseModel):
    """How one input feature is described to the person a decision is about.

    ``description`` names the feature without a possessive ("reported capital gains"): the
    message catalog adds it ("your reported capital gains"), so it can be translated;
    ``kind`` chooses how values are formatted (``money`` with ``unit`` as currency).
    A counterfactual may change only ``actionable`` features, never ``immutable`` or
    sensitive ones, and only within [``min``, ``max``] in multiples of ``step`` (numbers)
    or to one of ``values`` (categories).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = None
    kind: FeatureKind = "number"
    unit: str | None = None
    actionable: bool = False
    immutable: bool = False
    min: float | None = None
    max: float | None = None
    step: float | None = Field(default=None, gt=0)
    values: tuple[str | int | float | bool, ...] = ()
    data_category: str | None = Field(
        default=None, description="The category of personal data, e.g. 'financial situation'"
    )


class DecisionSpec(BaseModel):
    """What a decision made with the model means, for decision letters and reason codes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(
        default="application", description="What is decided, e.g. 'credit application'"
    )
    favourable_outcome: str = "approved"
    unfavourable_outcome: str = "declined"
    #: the score is the probability of ``positive_label``; at or above threshold -> positive
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    #: is the model's positive label the favourable outcome for the person?
    positive_is_favourable: bool = True
    score_meaning: str | None = None
    significance: str | None = None
    consequences: str | None = None
    how_to_contest: str | None = None
    human_review: str | None = None
    controller: str | None = Field(default=None, description="Who is responsible for the decision")
    reasons: int = Field(default=4, ge=1, le=10, description="How many principal reasons to give")
    counterfactual: bool = False
    locale: str = "en"


class MlflowSource(BaseModel):
    """Where a model version registered from an MLflow model registry came from.

    ``tracking_uri`` is stored with credentials removed (see govkit.integrations).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_uri: str  # as given: models:/NAME/VERSION or models:/NAME@ALIAS
    registered_model: str
    version: int
    alias: str | None = None
    tracking_uri: str
    run_id: str | None = None
    experiment_id: str | None = None
    model_id: str | None = None  # MLflow 3 logged model id
    source: str | None = None  # the model version's source in MLflow
    artifact_location: str | None = None  # where MLflow stores the model's files
    model_file: str  # the file govkit hashed, relative to artifact_location
    flavour: str  # the MLflow flavour loaded, e.g. "sklearn"
    serialization_format: str | None = None  # e.g. "skops", "cloudpickle"


class ModelMetadata(BaseModel):
    """What a team declares about a model version (``--meta meta.yaml``).

    Free text here ends up in model cards and letters, always escaped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = None
    owner: str | None = None
    contact: str | None = Field(
        default=None, description="Who to contact to contest a decision or ask about the model"
    )
    intended_use: str | None = None
    intended_users: str | None = None
    out_of_scope_uses: tuple[str, ...] = ()
    factors: str | None = None
    ethical_considerations: str | None = None
    caveats_and_recommendations: str | None = None
    license: str | None = None
    #: the risk classification the organisation gave the model (e.g. "high", EU AI Act
    #: Annex III); shown by the compliance dashboard
    risk_tier: str | None = None
    flavour: Flavour | None = None
    feature_names: tuple[str, ...] = ()
    feature_descriptions: dict[str, str] = Field(default_factory=dict)
    #: per-feature wording, formatting and counterfactual bounds (decision letters)
    features: dict[str, FeatureSpec] = Field(default_factory=dict)
    decision: DecisionSpec | None = None
    target: str | None = None
    positive_label: str | int | bool | None = None
    #: the labels a classifier predicts (its ``classes_``, recorded at registration); empty
    #: for a regressor or a version registered before govkit recorded them
    classes: tuple[str | int | bool, ...] = ()
    sensitive_features: tuple[str, ...] = ()
    evaluation_data: str | None = Field(
        default=None, description="NAME@VER of the registered evaluation dataset"
    )
    #: set when the version was registered from an MLflow model registry
    mlflow: MlflowSource | None = None

    def feature_spec(self, name: str) -> FeatureSpec:
        """The spec of feature ``name``; ``feature_descriptions`` fills a missing description."""
        spec = self.features.get(name) or FeatureSpec()
        if spec.description is None and name in self.feature_descriptions:
            spec = spec.model_copy(update={"description": self.feature_descriptions[name]})
        return spec


class ModelVersionRecord(BaseModel):
    """A registered model version: its artifact, metadata and the data it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int
    artifact_uri: str
    artifact_sha256: str  # hex digest of the artifact file
    artifact_format: Literal[
        "skops", "joblib", "pickle", "lightgbm-text", "xgboost-json", "xgboost-ubj"
    ]
    flavour: Flavour
    estimator: str  # class name of the estimator, e.g. "Pipeline[HistGradientBoostingClassifier]"
    metadata: ModelMetadata
    training_data: DatasetRef | None = None
    evaluation_data: DatasetRef | None = None
    created_at: datetime
    created_by: str | None = None

    @property
    def ref(self) -> ModelRef:
        return ModelRef(name=self.name, version=self.version)

    def _repr_html_(self) -> str:
        from govkit._html_repr import table

        meta = self.metadata
        return table(
            f"Model {self.ref}",
            [],
            summary=[
                ("estimator", f"{self.estimator} ({self.flavour})"),
                ("artifact sha256", self.artifact_sha256),
                ("owner", meta.owner),
                ("intended use", meta.intended_use),
                ("training data", str(self.training_data) if self.training_data else None),
                ("evaluation data", str(self.evaluation_data) if self.evaluation_data else None),
            ],
        )
