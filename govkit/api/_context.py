"""What every request handler reaches through ``request.app.state.govkit``.

The backend, the settings, the rate limiter, the throttle of failed API-key attempts,
and the worker-thread limiter for the backend's blocking calls (one per event loop: a
limiter belongs to the loop it was made in, and a test client may start several loops
over an app's life).
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from govkit.api._backend import DecisionBackend
from govkit.api._limits import AuthFailureThrottle, RateLimiter
from govkit.api._settings import ApiSettings

__all__ = ["AppContext", "context", "run_blocking"]

T = TypeVar("T")


@dataclass
class AppContext:
    backend: DecisionBackend
    settings: ApiSettings
    rate_limiter: RateLimiter | None = None
    auth_throttle: AuthFailureThrottle | None = None
    _limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def thread_limiter(self) -> Any:
        """This event loop's limiter of worker threads (ApiSettings.threads)."""
        import anyio

        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = anyio.CapacityLimiter(self.settings.threads)
            self._limiters[loop] = limiter
        return limiter


def context(request: Any) -> AppContext:
    """The app's context from a request."""
    app_context: AppContext = request.app.state.govkit  # set by build_app
    return app_context


async def run_blocking(request: Any, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking backend call in a worker thread, keeping the event loop free."""
    import anyio.to_thread

    ctx = context(request)
    call = functools.partial(fn, *args, **kwargs) if kwargs else functools.partial(fn, *args)
    return await anyio.to_thread.run_sync(call, limiter=ctx.thread_limiter())
