"""API keys: who is calling (401), not too often (429), may they (403).

The key travels as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``. The backend
looks it up (keys are stored hashed); the key's scopes must include the operation's
(``decide``, ``read`` or ``admin``; no scope implies another).

Failed attempts are throttled per client address (``ApiSettings.auth_failure_limit``,
:class:`govkit.api._limits.AuthFailureThrottle`): past the limit, a key from that
address is refused with 429 before it is looked up, unless it authenticated lately.

A route takes the sent key with the :data:`Credentials` dependency and runs its backend
work through :func:`call_as`: the key lookup, the rate limit, the scope check and the
work happen in one trip to a worker thread (each trip costs two thread switches, which
show on a busy machine), or, for decisions, on the event loop's thread when nothing in
them waits (``inline=True``). :func:`require_scope` is the same as a plain dependency
giving the principal, for routes added next to the API (the dashboard needs ``read``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from govkit.api._context import AppContext, context, run_blocking
from govkit.api._errors import ApiError
from govkit.api._limits import RateLimiter
from govkit.decisions import SCOPES, ApiPrincipal, Scope
from govkit.exceptions import WouldWait

__all__ = [
    "Credentials",
    "SentKey",
    "authorize",
    "call_as",
    "client_host",
    "require_scope",
    "MAX_TOKEN_CHARS",
]

T = TypeVar("T")

MAX_TOKEN_CHARS = 512

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key: `Authorization: Bearer KEY` (create one with `govkit apikey create`)",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="The same API key in an `X-API-Key` header",
)


@dataclass(frozen=True)
class SentKey:
    """The API key a request carries (not yet checked), and the client address it came from."""

    token: str
    client: str | None = None

    def digest(self) -> bytes:
        """The SHA-256 of the key: what the throttle may remember, never the key."""
        return hashlib.sha256(self.token.encode("utf-8", "replace")).digest()

    def __repr__(self) -> str:  # never the secret
        return "SentKey(...)"


def client_host(request: Request) -> str | None:
    """The client's address: the connection's peer, or what a trusted proxy says it is."""
    return request.client.host if request.client is not None else None


def _unauthenticated(message: str, *, invalid: bool) -> ApiError:
    challenge = 'Bearer realm="govkit"' + (', error="invalid_token"' if invalid else "")
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": challenge})


async def _sent_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
) -> SentKey:
    """The key from the headers; 401 at once when there is none (no backend call)."""
    token = bearer.credentials if bearer is not None else api_key
    if token:
        return SentKey(token, client_host(request))
    if request.headers.get("authorization"):
        raise _unauthenticated("the Authorization header must be 'Bearer KEY'", invalid=True)
    raise _unauthenticated(
        "this operation needs an API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
        invalid=False,
    )


#: dependency: the API key sent with the request (declares both schemes in the spec)
Credentials = Annotated[SentKey, Depends(_sent_key)]


def _locked_out(limit: int, wait: float) -> ApiError:
    retry = RateLimiter.retry_after(wait)
    return ApiError(
        429,
        "rate_limited",
        f"too many failed API-key attempts from this client address (the limit is {limit} "
        f"a minute); retry in {retry} s",
        headers={"Retry-After": retry},
    )


def authorize(ctx: AppContext, key: SentKey, scope: Scope, *, wait: bool = True) -> ApiPrincipal:
    """The key's principal, after the throttles and the scope check (blocking: a lookup).

    ``wait=False``: WouldWait (nothing counted yet) when the key must be looked up.
    """
    throttle = ctx.auth_throttle
    digest = key.digest() if throttle is not None else b""
    if throttle is not None:
        locked = throttle.refused(key.client, digest)
        if locked is not None:  # locked out: the key is not even looked up
            raise _locked_out(throttle.limit, locked)
    found = None
    if len(key.token) <= MAX_TOKEN_CHARS:
        found = ctx.backend.authenticate(key.token, wait=wait)
    if found is None:
        if throttle is not None:
            throttle.failed(key.client, digest)
        raise _unauthenticated("the API key is unknown or revoked", invalid=True)
    if throttle is not None:
        throttle.succeeded(digest)
    if ctx.rate_limiter is not None:
        over = ctx.rate_limiter.acquire(found.key_id)
        if over is not None:
            retry = ctx.rate_limiter.retry_after(over)
            raise ApiError(
                429,
                "rate_limited",
                f"this API key is over its limit of {ctx.settings.rate_limit} requests a "
                f"minute; retry in {retry} s",
                headers={"Retry-After": retry},
            )
    if scope not in found.scopes:
        have = ", ".join(sorted(found.scopes)) or "none"
        raise ApiError(403, "forbidden", f"this API key lacks the '{scope}' scope (it has: {have})")
    return found


def _authorized(
    ctx: AppContext,
    key: SentKey,
    scope: Scope,
    work: Callable[..., T],
    args: tuple[Any, ...],
    *,
    wait: bool = True,
) -> T:
    if wait:
        return work(authorize(ctx, key, scope), *args)
    try:
        principal = authorize(ctx, key, scope, wait=False)
    except WouldWait:
        raise WouldWait(partial(_authorized, ctx, key, scope, work, args)) from None
    return work(principal, *args, wait=False)


async def call_as(
    request: Request,
    key: SentKey,
    scope: Scope,
    work: Callable[..., T],
    *args: Any,
    inline: bool = False,
) -> T:
    """``work(principal, *args)`` for the key's principal, if it may: one worker-thread trip.

    ``inline=True`` (for work that takes ``wait``; ``ApiSettings.decide_inline``): first
    on the event loop's thread with ``wait=False``, which saves the trip's two thread
    switches; what raises WouldWait there is finished in a worker thread.
    """
    if scope not in SCOPES:  # pragma: no cover - a programming error
        raise ValueError(f"unknown scope {scope!r}; expected one of {SCOPES}")
    ctx = context(request)
    if inline and ctx.settings.decide_inline:
        try:
            return _authorized(ctx, key, scope, work, args, wait=False)
        except WouldWait as pending:
            result: T = await run_blocking(request, pending.finish)
            return result
    return await run_blocking(request, _authorized, ctx, key, scope, work, args)


def _itself(principal: ApiPrincipal) -> ApiPrincipal:
    return principal


def require_scope(scope: Scope) -> Callable[..., Awaitable[ApiPrincipal]]:
    """A dependency giving the caller's :class:`ApiPrincipal`, after checking ``scope``."""

    async def principal(request: Request, key: Credentials) -> ApiPrincipal:
        return await call_as(request, key, scope, _itself)

    principal.__name__ = f"require_{scope}"
    return principal
