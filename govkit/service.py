"""Per-decision explanations as a service: decide, record, explain in a letter, erase.

:class:`DecisionService` composes the registry and audit store, the explain engine
and the letter renderer. ``govkit serve`` hands one to the HTTP API (it satisfies
:class:`govkit.api.DecisionBackend`), ``govkit explain`` uses one directly.

- **One explainer per model version**, built on first use and cached (building costs
  ~100 ms and loads the artifact, checked against its registered SHA-256; a one-row
  explanation costs ~1 ms). Concurrent first requests build it once.
- **Input validation** (:func:`govkit.decisions.validate_features`) before the model
  sees anything: every feature the model needs, nothing else, JSON scalars of the
  declared kind, finite numbers. Problems name the feature and what was expected, never
  the value (it is personal data).
- **Subjects are pseudonymised**: a subject id becomes ``HMAC-SHA-256(subject key,
  tenant ‖ id)``. The subject key comes from a file or ``GOVKIT_SUBJECT_KEY`` and never
  reaches the database, so the database alone cannot link a pseudonym back to an id.
  Erasing a subject destroys the per-subject encryption key in the store
  (crypto-shredding): their decisions become unreadable, the audit chain still verifies.
- **API keys** are looked up in the store by the hash of their secret; a looked-up key
  is cached for :data:`PRINCIPAL_TTL` seconds, so a revocation takes effect within that.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from govkit._registration import artifact_file
from govkit._subject_key import (
    KEY_HELP,
    MIN_SUBJECT_KEY_BYTES,
    SUBJECT_KEY_ENV,
    generate_subject_key,
    load_subject_key,
)
from govkit.artifacts import load_artifact
from govkit.data import read_table
from govkit.decisions import (
    ApiPrincipal,
    Decision,
    FeatureField,
    JsonScalar,
    SubjectRecords,
    field_kind,
    parse_features_json,
    validate_features,
)
from govkit.exceptions import (
    EvaluationError,
    GovkitError,
    InputError,
    IntegrityError,
    InvalidFieldsError,
    ModelUnavailableError,
    StoreError,
    UntrustedArtifactError,
    WouldWait,
)
from govkit.records import ModelRef, ModelVersionRecord, parse_ref
from govkit.store import Store

__all__ = [
    "SUBJECT_KEY_ENV",
    "PRINCIPAL_TTL",
    "ALIAS_TTL",
    "DecisionService",
    "FeatureField",
    "generate_subject_key",
    "load_subject_key",
    "local_principal",
    "parse_features_json",
    "validate_features",
]

log = logging.getLogger(__name__)

#: seconds an authenticated API key is trusted without asking the database again
PRINCIPAL_TTL = 5.0
#: seconds a resolved model alias (``production`` ...) is used before asking again
ALIAS_TTL = 1.0
MAX_SUBJECT_ID_CHARS = 256
#: the tenant and actor of decisions made from the command line
LOCAL_TENANT = "default"

# ---------------------------------------------------------------- the service


@dataclass(frozen=True)
class _Loaded:
    record: ModelVersionRecord
    explainer: Any  # govkit.explainers.DecisionExplainer
    fields: tuple[FeatureField, ...]
    dtypes: dict[str, str]  # column -> canonical kind of the training data, when known

    @cached_property
    def float_columns(self) -> pd.Index | None:
        """The columns, when every one is a float (a row is then one float64 array)."""
        if all(
            f.kind in ("number", "integer") and self.dtypes.get(f.name) != "int"
            for f in self.fields
        ):
            return pd.Index([f.name for f in self.fields])
        return None


class DecisionService:
    """Decide, explain, record and erase; one instance serves many threads.

    ``background`` (a DataFrame or a CSV/Parquet path) is the reference data for
    explainers that need one (linear and permutation; tree models are explained
    without it). The same trust rules as ``govkit check`` apply to artifacts.
    """

    def __init__(
        self,
        store: Store,
        *,
        subject_key: bytes | None = None,
        background: pd.DataFrame | str | Path | None = None,
        trust: bool = False,
        trusted_types: Sequence[str] = (),
        actor: str | None = None,
    ) -> None:
        if subject_key is not None and len(subject_key) < MIN_SUBJECT_KEY_BYTES:
            raise InputError(f"subject key: {KEY_HELP}; found {len(subject_key)} bytes")
        self._store = store
        self._subject_key = subject_key
        self._background = (
            read_table(background) if isinstance(background, str | Path) else background
        )
        self._trust = trust
        self._trusted_types = tuple(trusted_types)
        self._actor = actor
        self._loaded: dict[tuple[str, int], _Loaded] = {}
        self._building: dict[tuple[str, int], threading.Lock] = {}
        self._lock = threading.Lock()
        self._principals: dict[str, tuple[float, ApiPrincipal | None]] = {}
        self._unknown: dict[str, tuple[float, ApiPrincipal | None]] = {}
        self._aliases: dict[tuple[str, str], tuple[float, int]] = {}

    def __repr__(self) -> str:  # never the subject key
        return f"DecisionService(store={self._store!r}, models_loaded={len(self._loaded)})"

    @property
    def store(self) -> Store:
        return self._store

    # -- auth -------------------------------------------------------------------------

    def authenticate(self, token: str, *, wait: bool = True) -> ApiPrincipal | None:
        """The principal of an API key (cached for PRINCIPAL_TTL s), or None.

        ``wait=False``: WouldWait unless the answer is cached (a lookup reads the store).
        """
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        now = time.monotonic()
        for cache in (self._unknown, self._principals):
            cached = cache.get(digest)
            if cached is not None and cached[0] > now:
                return cached[1]
        if not wait:
            raise WouldWait(partial(self.authenticate, token))
        principal = self._store.api_principal(token)
        cache = self._unknown if principal is None else self._principals
        with self._lock:  # kept apart: made-up keys evict only made-up keys, oldest first
            if len(cache) >= 10_000 and digest not in cache:
                del cache[next(iter(cache))]
            cache[digest] = (now + PRINCIPAL_TTL, principal)
        return principal

    # -- models -----------------------------------------------------------------------

    def model(self, name: str, version: int) -> _Loaded:
        """The model version with its explainer, built once (thread-safe)."""
        key = (name, version)
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded
        with self._lock:
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            loaded = self._loaded.get(key)
            if loaded is None:
                loaded = self._build(name, version)
                self._loaded[key] = loaded
        return loaded

    def _build(self, name: str, version: int) -> _Loaded:
        from govkit.explainers import DecisionExplainer

        record = self._store.get_model_version(ModelRef(name=name, version=version))
        started = time.perf_counter()
        try:  # a failure here is the server's (not cached: the next request tries again)
            model = load_artifact(
                artifact_file(record),
                expected_sha256=record.artifact_sha256,
                trust=self._trust,
                trusted_types=self._trusted_types,
            )
            explainer = DecisionExplainer.build(
                model, metadata=record.metadata, background=self._background
            )
        except (EvaluationError, InputError, IntegrityError, UntrustedArtifactError) as exc:
            # the server's setup, not the request (the API logs it): a file missing or
            # changed, types not trusted here, no background data for a non-tree model
            raise ModelUnavailableError(f"model {record.ref} cannot be served: {exc}") from None
        log.info(
            "loaded %s and built its %s explainer in %.0f ms",
            record.ref,
            explainer.method,
            1e3 * (time.perf_counter() - started),
        )
        columns: dict[str, str] = {}
        for ref in (record.training_data, record.evaluation_data):
            if ref is not None and not columns:
                try:
                    columns = {c.name: c.dtype for c in self._store.get_dataset(ref).columns}
                except GovkitError:
                    columns = {}
        if not columns and self._background is not None:
            from govkit.data import schema_of

            columns = {c.name: c.dtype for c in schema_of(self._background)}
        fields = tuple(
            FeatureField(
                name,
                field_kind(
                    record.metadata.features[name].kind
                    if name in record.metadata.features
                    else None,
                    columns.get(name),
                ),
                categories=explainer.categories.get(name),  # what its encoder learned
            )
            for name in explainer.feature_names
        )
        return _Loaded(record=record, explainer=explainer, fields=fields, dtypes=columns)

    def preload(self, model: str) -> ModelVersionRecord:
        """Load model ``NAME@VERSION``, ``NAME@ALIAS`` or ``NAME`` (its latest version) and
        build its explainer now, so that its first decision does not wait for them.

        NotFoundError for an unknown model, version or alias; ModelUnavailableError when the
        version cannot be loaded here (as a decision would get).
        """
        name, _, at = model.partition("@")
        if at and not at.isdigit():  # an alias, e.g. production
            parse_ref(name, what="model")
            version = self.resolve_alias(name, at)
        else:
            ref = parse_ref(model, what="model")
            version = ref.version or self._store.get_model_version(ref).version
        return self.model(name, version).record

    def resolve_alias(self, model: str, alias: str, *, wait: bool = True) -> int:
        """The version ``alias`` names now (asked again after ALIAS_TTL s); NotFoundError.

        ``wait=False``: WouldWait unless the answer is cached (a lookup reads the store).
        """
        now = time.monotonic()
        cached = self._aliases.get((model, alias))
        if cached is not None and cached[0] > now:
            return cached[1]
        if not wait:
            raise WouldWait(partial(self.resolve_alias, model, alias))
        version = self._store.resolve_alias(model, alias)
        self._aliases[(model, alias)] = (now + ALIAS_TTL, version)  # explainers stay per version
        return version

    @staticmethod
    def _frame(loaded: _Loaded, clean: Mapping[str, JsonScalar]) -> pd.DataFrame:
        columns = loaded.float_columns
        if columns is not None:  # the same frame as below, built 6x faster
            values = [clean[name] for name in columns]
            return pd.DataFrame(np.array([values], dtype=float), columns=columns)
        data: dict[str, Any] = {}
        for field in loaded.fields:
            value = clean[field.name]
            kind = loaded.dtypes.get(field.name)
            if field.kind in ("number", "integer") and kind != "int":
                data[field.name] = np.array([value], dtype=float)
            elif kind == "int" and isinstance(value, int | float):
                data[field.name] = np.array([int(value)], dtype=np.int64)
            else:
                data[field.name] = np.array([value], dtype=object)
        return pd.DataFrame(data)

    # -- decisions --------------------------------------------------------------------

    def pseudonym(self, tenant: str, subject_id: str) -> str:
        """``HMAC-SHA-256(subject key, tenant ‖ 0x00 ‖ subject id)`` in hex."""
        if self._subject_key is None:
            raise InputError(
                f"a subject id needs the subject key: set ${SUBJECT_KEY_ENV} or pass "
                "--subject-key-file"
            )
        if not isinstance(subject_id, str) or not subject_id.strip():
            raise InvalidFieldsError(
                "invalid input", problems=(("subject_id", "expected a non-empty string"),)
            )
        if len(subject_id) > MAX_SUBJECT_ID_CHARS:
            raise InvalidFieldsError(
                "invalid input",
                problems=(("subject_id", f"longer than {MAX_SUBJECT_ID_CHARS} characters"),),
            )
        message = tenant.encode("utf-8") + b"\x00" + subject_id.encode("utf-8")
        return hmac.new(self._subject_key, message, hashlib.sha256).hexdigest()

    def decide(
        self,
        principal: ApiPrincipal,
        model: str,
        version: int,
        features: Mapping[str, JsonScalar],
        *,
        subject_id: str | None = None,
        counterfactual: bool | None = None,
        wait: bool = True,
    ) -> Decision:
        """Validate, predict, explain and record one decision (one audit append).

        ``wait=False``: the whole decision only if nothing in it waits or runs long,
        for a caller on an event loop (the HTTP API): the model version is loaded
        already, its explainer neither takes a lock nor may search for a counterfactual
        (``DecisionExplainer.may_wait``), and the store records it at once (see
        ``Store.record_decision``). Otherwise :class:`WouldWait`, whose ``finish``
        does the rest (reusing the explanation when it was made) and returns the
        decision; nothing was recorded before.
        """
        if not wait:
            loaded_now = self._loaded.get((model, version))
            if loaded_now is None or loaded_now.explainer.may_wait(counterfactual):
                raise WouldWait(
                    partial(
                        self.decide,
                        principal,
                        model,
                        version,
                        features,
                        subject_id=subject_id,
                        counterfactual=counterfactual,
                    )
                )
        loaded = self.model(model, version)
        clean = validate_features(loaded.fields, features)
        pseudonym = self.pseudonym(principal.tenant, subject_id) if subject_id is not None else None
        row = self._frame(loaded, clean)
        try:
            explanation = loaded.explainer.explain(row, counterfactual=counterfactual)
        except GovkitError:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            # the model rejected a well-typed value (e.g. a category it never saw)
            log.info("model %s rejected an input: %s", loaded.record.ref, type(exc).__name__)
            raise InputError(
                f"model {loaded.record.ref} cannot score these features "
                f"({type(exc).__name__}); check categories against the model's training data"
            ) from None
        decision = Decision(
            decision_id="dec_" + secrets.token_hex(12),
            tenant=principal.tenant,
            model=loaded.record.ref,
            created_at=datetime.now(UTC),
            features=clean,
            explanation=explanation,
            has_subject=pseudonym is not None,
        )
        return self._store.record_decision(
            decision, subject_pseudonym=pseudonym, actor=self._actor or principal.key_id, wait=wait
        )

    def get_decision(self, principal: ApiPrincipal, decision_id: str) -> Decision:
        return self._store.get_decision(decision_id, tenant=principal.tenant)

    def letter(
        self, principal: ApiPrincipal, decision_id: str, fmt: Literal["html", "pdf"]
    ) -> bytes:
        """The decision letter: UTF-8 HTML or PDF."""
        from govkit.report import render_letter_html, render_letter_pdf

        decision = self.get_decision(principal, decision_id)
        record = self._store.get_model_version(decision.model)
        if fmt == "pdf":
            return render_letter_pdf(decision, record)
        if fmt == "html":
            return render_letter_html(decision, record).encode("utf-8")
        raise InputError(f"letter format must be 'html' or 'pdf'; got {fmt!r}")

    def record_outcome(
        self, principal: ApiPrincipal, decision_id: str, outcome: JsonScalar
    ) -> bool:
        """Attach the observed outcome to a decision of the principal's tenant."""
        return self._store.record_outcome(
            decision_id, outcome, tenant=principal.tenant, actor=self._actor or principal.key_id
        )

    def subject_records(self, principal: ApiPrincipal, subject_id: str) -> SubjectRecords:
        """Every decision about a subject in the principal's tenant, newest first, and the
        outcomes observed for them (a subject access request, GDPR Art. 15); the
        disclosure is recorded in the audit log."""
        pseudonym = self.pseudonym(principal.tenant, subject_id)
        return self._store.subject_records(
            pseudonym, tenant=principal.tenant, actor=self._actor or principal.key_id
        )

    def erase_subject(self, principal: ApiPrincipal, subject_id: str) -> int:
        """Crypto-shred a subject's decisions in the principal's tenant; how many."""
        pseudonym = self.pseudonym(principal.tenant, subject_id)
        return self._store.erase_subject_by_pseudonym(
            pseudonym, tenant=principal.tenant, actor=self._actor or principal.key_id
        )

    def ready(self) -> str | None:
        """None when the database answers; otherwise why not (no credentials in it)."""
        try:
            self._store.audit_events(limit=1)
        except StoreError as exc:
            return str(exc)
        return None


def local_principal(tenant: str = LOCAL_TENANT) -> ApiPrincipal:
    """The principal of the command line: every scope, in ``tenant``."""
    return ApiPrincipal(
        key_id="cli", tenant=tenant, scopes=frozenset({"decide", "read", "admin"}), name="cli"
    )
