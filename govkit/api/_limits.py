"""Limits that protect the server: body size (413), rate per key, failed keys per address (429).

:class:`BodyLimitMiddleware` refuses large bodies before parsing, :class:`RateLimiter`
bounds requests per API key, :class:`AuthFailureThrottle` bounds failed API-key attempts
per client address.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from govkit.api._errors import error_payload

__all__ = [
    "AuthFailureThrottle",
    "BodyLimitMiddleware",
    "RateLimiter",
    "address_bucket",
    "loggable_address",
    "send_error",
]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
) -> None:
    """Send a complete JSON error response from raw ASGI (before the framework sees it)."""
    body = error_payload(code, message)
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _content_coded(value: bytes) -> bool:
    """Whether a ``Content-Encoding`` value names a coding other than ``identity``."""
    return any(coding.strip().lower() not in (b"", b"identity") for coding in value.split(b","))


class BodyLimitMiddleware:
    """Refuse a request body over ``max_bytes`` with 413, before anything parses it, and
    one sent with a content coding (``Content-Encoding: gzip`` ...) with 415.

    A declared ``Content-Length`` over the limit is refused without reading the body; a
    body without one (chunked transfer) is counted as it arrives and refused as soon as it
    passes the limit. Bodies within the limit are buffered (they are small) and replayed
    to the application. The server decodes no content coding: a coded body was read as
    if it were the JSON itself (RFC 9110 15.5.16: 415, with ``Accept-Encoding: identity``).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, send: Send) -> Awaitable[None]:
        return send_error(
            send,
            413,
            "payload_too_large",
            f"the request body is larger than {self.max_bytes:,} bytes",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = value
            elif name == b"content-encoding" and _content_coded(value):
                await send_error(
                    send,
                    415,
                    "unsupported_media_type",
                    "the server does not decode content codings; send the body "
                    "without Content-Encoding (or as identity)",
                    headers={"Accept-Encoding": "identity"},
                )
                return
        if declared is not None:
            if not declared.isdigit():
                await send_error(send, 400, "bad_request", "Content-Length is not a number")
                return
            if int(declared) > self.max_bytes:
                await self._too_large(send)
                return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: wait for the disconnect

        await self.app(scope, replay, send)


class RateLimiter:
    """A token bucket per key: ``per_minute`` tokens a minute, holding at most ``burst``.

    Thread-safe. :meth:`acquire` takes a token, or says how long until one is available.
    """

    #: buckets kept before idle (full) ones are dropped
    MAX_KEYS = 10_000

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float | None:
        """None when a request may go ahead; otherwise the seconds until it may."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self.MAX_KEYS:
                    self._prune(now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, (tokens, then) in self._buckets.items()
            if tokens + (now - then) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]

    @staticmethod
    def retry_after(seconds: float) -> str:
        """The Retry-After header value: whole seconds, at least 1."""
        return str(max(1, math.ceil(seconds)))


def _ip(host: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host or "")
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_bucket(host: str | None) -> str:
    """Whose attempts count together: an IPv4 address, an IPv6 /64 (one host's usual
    share: counting per address would give it 2**64 buckets), any other peer name as is."""
    ip = _ip(host)
    if ip is None:
        return host or "(unknown)"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def loggable_address(host: str | None) -> str:
    """A client address as logged: IPv4 /24, IPv6 /48 (an address is personal data)."""
    ip = _ip(host)
    if ip is None:
        return "a peer without an IP address"
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass
class _Attempts:
    tokens: float
    when: float
    failures: int = 0  # failed attempts since the bucket was last full
    since: float = 0.0  # when the first of them came
    warned: bool = False  # this lockout was logged


class AuthFailureThrottle:
    """Failed API-key attempts per client address, and the keys that recently worked.

    Each address (see :func:`address_bucket`) has a token bucket of ``per_minute``
    tokens refilling at ``per_minute`` a minute; a failed attempt costs one. While the
    bucket is empty the address is locked out: :meth:`refused` gives the seconds to wait,
    unless the key is *known good*: it authenticated, from any address, within
    :attr:`KNOWN_GOOD_TTL` seconds (so valid keys behind the same proxy as a
    misbehaving client keep working; a valid key not seen lately must wait). Only
    SHA-256 digests of keys are held, never keys. One WARNING per address and lockout
    (a lockout ends when the bucket is full again), naming the address truncated.
    Memory is bounded: past :attr:`MAX_ADDRESSES` / :attr:`MAX_KNOWN_GOOD` the least
    recently seen entries are dropped. Thread-safe.
    """

    MAX_ADDRESSES = 10_000
    MAX_KNOWN_GOOD = 10_000
    KNOWN_GOOD_TTL = 300.0

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = per_minute
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._clock = clock
        self._addresses: OrderedDict[str, _Attempts] = OrderedDict()
        self._good: OrderedDict[bytes, float] = OrderedDict()  # key digest -> until when
        self._lock = threading.Lock()

    def _refill(self, state: _Attempts, now: float) -> None:
        state.tokens = min(self.capacity, state.tokens + (now - state.when) * self.rate)
        state.when = now
        if state.tokens >= self.capacity:  # quiet long enough: the lockout is over
            state.failures, state.warned = 0, False

    def refused(self, host: str | None, digest: bytes) -> float | None:
        """Seconds to wait when ``host`` is locked out and the key is not known good."""
        with self._lock:
            now = self._clock()
            state = self._addresses.get(address_bucket(host))
            if state is None:
                return None
            self._refill(state, now)
            if state.tokens >= 1.0 or self._good.get(digest, -math.inf) > now:
                return None
            return (1.0 - state.tokens) / self.rate

    def failed(self, host: str | None, digest: bytes) -> None:
        """Count a failed attempt from ``host`` (the key, if it was known good, no longer is)."""
        bucket = address_bucket(host)
        with self._lock:
            now = self._clock()
            self._good.pop(digest, None)
            state = self._addresses.get(bucket)
            if state is None:
                state = self._addresses[bucket] = _Attempts(self.capacity, now)
                if len(self._addresses) > self.MAX_ADDRESSES:
                    self._addresses.popitem(last=False)
            else:
                self._addresses.move_to_end(bucket)
                self._refill(state, now)
            if state.failures == 0:
                state.since = now
            state.failures += 1
            state.tokens = max(0.0, state.tokens - 1.0)
            if state.tokens >= 1.0 or state.warned:
                return
            state.warned = True
            failures, elapsed = state.failures, now - state.since
            wait = RateLimiter.retry_after((1.0 - state.tokens) / self.rate)
        log.warning(
            "%d failed API-key attempts from %s in the last %.0f s; refusing its "
            "requests for %s s, except with keys that authenticated in the last 5 minutes "
            "(auth_failure_limit: %d a minute)",
            failures,
            loggable_address(host),
            elapsed,
            wait,
            self.limit,
        )

    def succeeded(self, digest: bytes) -> None:
        """The key authenticated: known good for KNOWN_GOOD_TTL seconds."""
        with self._lock:
            self._good[digest] = self._clock() + self.KNOWN_GOOD_TTL
            self._good.move_to_end(digest)
            if len(self._good) > self.MAX_KNOWN_GOOD:
                self._good.popitem(last=False)
