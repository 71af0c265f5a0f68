"""The audit store: registered datasets and models, policy runs, and a tamper-evident audit log.

``Store.open(url)`` works on SQLite (``sqlite:///PATH``) and PostgreSQL
(``postgresql://...``, psycopg 3). Nothing connects until ``Store.open`` is
called. Where to read more:

- the audit log's encoding, and what it does and does not guarantee:
  :mod:`govkit.store._chain` (verification: :mod:`govkit.store._verify`);
- signed checkpoints (detect truncation and rewrites): :mod:`govkit.store._checkpoint`,
  keys: :mod:`govkit.store._keys`;
- the JSON Lines export that verifies offline: :mod:`govkit.store._export`;
- the registry, lifecycle and API-key tables cross-checked against the log
  (``Store.verify_registry``): :mod:`govkit.store._registry_verify`;
- personal data (salted commitments, erasure): :mod:`govkit.store._privacy`;
- recorded decisions (encrypted per subject, crypto-shredding by pseudonym):
  :mod:`govkit.store._decisions`; API keys (hashed, scoped, per tenant):
  :mod:`govkit.store._apikeys`;
- schema migrations (Alembic, ``govkit db upgrade``): :mod:`govkit.store._migrate`.
"""

from govkit.store._chain import AUDIT_FORMAT_VERSION, AuditEvent, ChainReport, Fault
from govkit.store._checkpoint import Checkpoint, CheckpointCheck, read_checkpoint
from govkit.store._decisions import ENCRYPTION_FORMAT as DECISION_ENCRYPTION_FORMAT
from govkit.store._engine import redact_url
from govkit.store._export import verify_jsonl
from govkit.store._keys import (
    SigningKey,
    VerifyKey,
    generate_signing_key,
    load_public_key,
    load_signing_key,
)
from govkit.store._log import EventRef, NewEvent
from govkit.store._migrate import upgrade_database
from govkit.store._privacy import commit, new_salt
from govkit.store._registry_verify import RegistryProblem, RegistryReport
from govkit.store._runs import RunHeadline, StoredRun
from govkit.store._schema import SCHEMA_VERSION
from govkit.store._store import Store, default_database_url

__all__ = [
    "AUDIT_FORMAT_VERSION",
    "DECISION_ENCRYPTION_FORMAT",
    "SCHEMA_VERSION",
    "AuditEvent",
    "ChainReport",
    "Checkpoint",
    "CheckpointCheck",
    "EventRef",
    "Fault",
    "NewEvent",
    "RegistryProblem",
    "RegistryReport",
    "RunHeadline",
    "SigningKey",
    "Store",
    "StoredRun",
    "VerifyKey",
    "commit",
    "default_database_url",
    "generate_signing_key",
    "load_public_key",
    "load_signing_key",
    "new_salt",
    "read_checkpoint",
    "redact_url",
    "upgrade_database",
    "verify_jsonl",
]
