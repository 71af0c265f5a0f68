"""Dashboard sign-in: a server-side session behind an opaque cookie.

Browsers cannot attach ``Authorization: Bearer`` to links, so a person signs in once
by posting an API key to ``/dashboard/login``. The key is checked (known, not revoked,
``read`` scope); the server then keeps it in memory under a random 256-bit session id
and sets the cookie ``govkit_session`` to that id: ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (no other site's page sends it, which with read-only pages leaves
nothing to forge), ``Secure`` when the request came over HTTPS, ``Path=/dashboard``.
The key never goes into the cookie; every page checks it again (a revoked key ends
the session at the next click). Sessions end after :data:`SESSION_TTL` seconds, at
sign-out, or when the server restarts. The login form itself is guarded against
cross-site posts by an ``Origin`` check.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

__all__ = ["COOKIE", "SESSION_TTL", "Sessions"]

COOKIE = "govkit_session"
SESSION_TTL = 8 * 3600.0
MAX_SESSIONS = 10_000


def _slot(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class Sessions:
    """Session id -> API key, in memory; ids are random, stored hashed."""

    def __init__(self, *, ttl: float = SESSION_TTL, max_sessions: int = MAX_SESSIONS) -> None:
        self._ttl = ttl
        self._max = max_sessions
        self._by_slot: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the keys
        return f"Sessions({len(self._by_slot)} open)"

    def create(self, token: str) -> str:
        """A new session for API key ``token``; returns its id (the cookie's value)."""
        session_id = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            if len(self._by_slot) >= self._max:
                self._by_slot = {k: v for k, v in self._by_slot.items() if v[0] > now}
                while len(self._by_slot) >= self._max:  # still full: drop the oldest
                    self._by_slot.pop(next(iter(self._by_slot)))
            self._by_slot[_slot(session_id)] = (now + self._ttl, token)
        return session_id

    def token(self, session_id: str | None) -> str | None:
        """The API key of a live session, or None (unknown, expired, malformed)."""
        if not session_id or len(session_id) > 128:
            return None
        slot = _slot(session_id)
        with self._lock:
            found = self._by_slot.get(slot)
            if found is None:
                return None
            if found[0] <= time.monotonic():
                del self._by_slot[slot]
                return None
            return found[1]

    def drop(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._by_slot.pop(_slot(session_id), None)
