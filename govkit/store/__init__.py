"""The audit store: registered datasets and models, policy runs, and a hash-chained audit log.

``Store.open(url)`` works on SQLite (``sqlite:///PATH``) and PostgreSQL
(``postgresql://...``, psycopg 3). Nothing connects until ``Store.open`` is
called. The audit log's encoding is described in :mod:`govkit.store._chain`.
"""

from govkit.store._chain import AUDIT_FORMAT_VERSION, AuditEvent, ChainReport
from govkit.store._engine import redact_url
from govkit.store._schema import SCHEMA_VERSION
from govkit.store._store import Store, StoredRun, default_database_url

__all__ = [
    "AUDIT_FORMAT_VERSION",
    "SCHEMA_VERSION",
    "AuditEvent",
    "ChainReport",
    "Store",
    "StoredRun",
    "default_database_url",
    "redact_url",
]
