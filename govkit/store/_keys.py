"""Ed25519 keys for audit checkpoints: loading, generating, signing, verifying.

The signing key comes from a file or the ``GOVKIT_AUDIT_SIGNING_KEY``
environment variable, never from the database, and is never logged or shown in
an error or a repr. Accepted: a PEM ``PRIVATE KEY`` (PKCS#8, unencrypted, as
written by ``govkit audit keygen`` or ``openssl genpkey -algorithm ed25519``), or
the 32-byte seed in base64 or hex. Public keys: PEM ``PUBLIC KEY``, or 32 bytes
in base64 or hex. A key's id is ``"ed25519:"`` + the first 16 hex digits of the
SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from govkit.exceptions import InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = [
    "SIGNING_KEY_ENV",
    "SigningKey",
    "VerifyKey",
    "key_id",
    "generate_signing_key",
    "load_signing_key",
    "load_public_key",
]

SIGNING_KEY_ENV = "GOVKIT_AUDIT_SIGNING_KEY"
_KEY_HELP = (
    "expected a PEM 'PRIVATE KEY' block (govkit audit keygen, or openssl genpkey "
    "-algorithm ed25519) or the 32-byte Ed25519 seed in base64 or hex"
)
_PUBLIC_HELP = (
    "expected a PEM 'PUBLIC KEY' block or the 32-byte Ed25519 public key in base64 or hex"
)


def key_id(raw_public: bytes) -> str:
    return "ed25519:" + hashlib.sha256(raw_public).hexdigest()[:16]


class VerifyKey:
    """An Ed25519 public key that checks checkpoint signatures."""

    def __init__(self, key: Ed25519PublicKey) -> None:
        from cryptography.hazmat.primitives import serialization

        self._key = key
        self.raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = key_id(self.raw)

    @classmethod
    def from_raw(cls, raw: bytes) -> VerifyKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        return cls(Ed25519PublicKey.from_public_bytes(raw))

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def __repr__(self) -> str:
        return f"VerifyKey({self.key_id})"


class SigningKey:
    """An Ed25519 private key; its repr and str never show the secret."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = VerifyKey(key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (to write to a protected file)."""
        from cryptography.hazmat.primitives import serialization

        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return f"SigningKey({self.public_key.key_id})"

    __str__ = __repr__


def generate_signing_key() -> SigningKey:
    """A new random Ed25519 signing key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return SigningKey(Ed25519PrivateKey.generate())


def _raw_32(text: str) -> bytes | None:
    """32 bytes from hex or base64 text, or None."""
    compact = "".join(text.split())
    if len(compact) == 64:
        try:
            return bytes.fromhex(compact)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def _private_from_text(data: bytes, where: str) -> SigningKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            raise InputError(
                f"{where}: the signing key is encrypted; govkit needs an unencrypted key "
                "(protect the file or variable instead)"
            ) from None
        except (ValueError, binascii.Error):
            raise InputError(f"{where}: not a readable private key; {_KEY_HELP}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise InputError(
                f"{where}: the private key is not an Ed25519 key; {_KEY_HELP}"
            ) from None
        return SigningKey(key)
    try:
        raw = _raw_32(data.decode("ascii"))
    except UnicodeDecodeError:
        raw = None
    if raw is None:
        raise InputError(f"{where}: not a signing key; {_KEY_HELP}")
    return SigningKey(Ed25519PrivateKey.from_private_bytes(raw))


def _read_secret_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path} is a directory, not a key file") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_signing_key(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> SigningKey:
    """The signing key from ``path``, else from ``$GOVKIT_AUDIT_SIGNING_KEY``.

    InputError (naming the file or variable, never its content) when neither
    is given or the key is unusable.
    """
    env = os.environ if environ is None else environ
    if path is not None:
        file = Path(path)
        return _private_from_text(_read_secret_file(file, "signing key file"), str(file))
    value = env.get(SIGNING_KEY_ENV)
    if not value:
        raise InputError(
            f"no signing key: pass --key-file FILE or set {SIGNING_KEY_ENV} "
            "(make a key pair with `govkit audit keygen`)"
        )
    return _private_from_text(value.encode("utf-8", "replace"), f"${SIGNING_KEY_ENV}")


def load_public_key(path: str | Path) -> VerifyKey:
    """The Ed25519 public key in ``path`` (PEM or 32 raw bytes as base64/hex)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    file = Path(path)
    data = _read_secret_file(file, "public key file")
    if b"PRIVATE KEY" in data:
        raise InputError(
            f"{file}: this is a private key; give the public key (keep the private key secret)"
        )
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, binascii.Error):
            raise InputError(f"{file}: not a readable public key; {_PUBLIC_HELP}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InputError(f"{file}: the public key is not an Ed25519 key; {_PUBLIC_HELP}")
        return VerifyKey(key)
    try:
        raw = _raw_32(data.decode("ascii"))
    except UnicodeDecodeError:
        raw = None
    if raw is None:
        raise InputError(f"{file}: not a public key; {_PUBLIC_HELP}")
    return VerifyKey.from_raw(raw)
