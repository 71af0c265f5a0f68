"""Personal data and the audit log: salted commitments, erasable salts (crypto-shredding).

The rule
--------
Hashed content can never change, so **no personal data goes into an audit event
in the clear** -- not in the payload, the actor or the subject. Record a
*commitment* instead: ``commit(value, salt)`` is an HMAC-SHA-256 of the value
keyed with a secret, random, per-subject salt. While the salt exists, anyone who
holds it and a candidate value can check the commitment (``commit(v, salt) ==
recorded``); without the salt the commitment reveals nothing, not even whether
two subjects share a value. The salt is kept **outside** the chain
(``govkit_subject_keys``, or the caller's own key store), so erasing a person
(GDPR art. 17) destroys their salt, and their commitments become meaningless
while every event and the whole chain stay verifiable. For data that must be
recoverable while the person exists, store ciphertext under a per-subject key
and destroy the key instead; the principle is the same.

``Store.new_subject_key()`` creates a subject's random ``key_id`` and salt,
``Store.commit_for(key_id, value)`` commits, ``Store.erase_subject(key_id)``
deletes the salt and records a ``subject.erased`` event naming only the
``key_id`` (random, not personal data). Map people to ``key_id``\\s in the system
that already holds their data, and delete that mapping when erasing them too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from govkit.exceptions import InputError

__all__ = ["COMMITMENT_PREFIX", "MIN_SALT_BYTES", "commit", "new_salt", "new_key_id"]

COMMITMENT_PREFIX = "hmac-sha256:"
MIN_SALT_BYTES = 16
SALT_BYTES = 32


def new_salt() -> bytes:
    """A fresh random salt (32 bytes) for one subject."""
    return secrets.token_bytes(SALT_BYTES)


def new_key_id() -> str:
    """A random identifier for a subject's salt: 32 hex digits, carries no personal data."""
    return secrets.token_hex(16)


def commit(value: str | bytes, salt: bytes) -> str:
    """The salted commitment to ``value``: ``"hmac-sha256:" + HMAC-SHA-256(salt, value)``.

    ``value`` text is encoded as UTF-8. ``salt`` must be secret, random and at
    least 16 bytes (:func:`new_salt`); the same value with the same salt always
    gives the same commitment.
    """
    if not isinstance(salt, bytes | bytearray) or len(salt) < MIN_SALT_BYTES:
        raise InputError(
            f"a commitment salt must be at least {MIN_SALT_BYTES} random bytes (use new_salt())"
        )
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, bytes | bytearray):
        data = bytes(value)
    else:
        raise InputError(
            f"commit() takes text or bytes; got {type(value).__name__} (convert it explicitly)"
        )
    return COMMITMENT_PREFIX + hmac.new(bytes(salt), data, hashlib.sha256).hexdigest()
