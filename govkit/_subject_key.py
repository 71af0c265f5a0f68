"""The subject key: what pseudonymises subject ids (a keyed HMAC), kept outside the database.

Read from a file or ``$GOVKIT_SUBJECT_KEY`` as base64 or hex of at least 32 random bytes;
the key never appears in a message. :mod:`govkit.service` uses it and re-exports these.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from govkit.exceptions import InputError

__all__ = [
    "SUBJECT_KEY_ENV",
    "MIN_SUBJECT_KEY_BYTES",
    "KEY_HELP",
    "generate_subject_key",
    "load_subject_key",
]

SUBJECT_KEY_ENV = "GOVKIT_SUBJECT_KEY"
MIN_SUBJECT_KEY_BYTES = 32
KEY_HELP = (
    f"expected at least {MIN_SUBJECT_KEY_BYTES} random bytes in base64 or hex "
    "(create one with `govkit subject keygen`)"
)


def generate_subject_key() -> str:
    """A new random subject key (32 bytes), base64-encoded, for a file or the environment."""
    return base64.b64encode(secrets.token_bytes(MIN_SUBJECT_KEY_BYTES)).decode("ascii")


def _decode_key(text: str, where: str) -> bytes:
    text = text.strip()
    raw: bytes | None = None
    if len(text) >= 2 * MIN_SUBJECT_KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in text):
        raw = bytes.fromhex(text)
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) < MIN_SUBJECT_KEY_BYTES:
        found = "no key" if not text else f"{len(text)} characters that are not such a key"
        raise InputError(f"{where}: {KEY_HELP}; found {found}")
    return raw


def load_subject_key(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> bytes:
    """The subject-pseudonymisation key from ``path``, else ``$GOVKIT_SUBJECT_KEY``.

    InputError naming where it looked when there is none or it is malformed; the key
    itself never appears in a message.
    """
    env = os.environ if environ is None else environ
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="ascii")
        except FileNotFoundError:
            raise InputError(f"{p}: subject key file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"{p}: cannot read the subject key file ({type(exc).__name__})"
            ) from None
        return _decode_key(text, str(p))
    if env.get(SUBJECT_KEY_ENV):
        return _decode_key(env[SUBJECT_KEY_ENV], f"${SUBJECT_KEY_ENV}")
    raise InputError(
        f"no subject key: set ${SUBJECT_KEY_ENV} or pass --subject-key-file ({KEY_HELP}); "
        "it pseudonymises subject ids and must be kept outside the database"
    )
