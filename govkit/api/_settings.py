"""The knobs of the HTTP API (serialisable configuration, apart from the app itself)."""

from __future__ import annotations

from dataclasses import dataclass

from govkit.exceptions import InputError

__all__ = ["ApiSettings"]


@dataclass(frozen=True, kw_only=True)
class ApiSettings:
    """Limits and switches of :func:`govkit.api.create_app`.

    - ``max_body_bytes``: a request body larger than this is refused with 413 before it
      is parsed (chunked bodies are counted as they arrive).
    - ``max_features``: a decision request with more features is refused with 422.
    - ``rate_limit``: requests per minute per API key (a token bucket holding
      ``rate_burst`` requests, default ``rate_limit``); ``None`` turns limiting off.
      Over the limit: 429 with ``Retry-After``.
    - ``auth_failure_limit``: failed API-key attempts (an unknown or revoked key) per
      minute per client address (a token bucket holding as many); ``None`` turns it off.
      Past it, the address's requests get 429 with ``Retry-After`` without their key
      being looked up, unless the key authenticated recently (from anywhere), so valid
      keys behind the same proxy keep working. The address is the connection's peer, or
      what ``govkit serve --forwarded-allow-ips`` trusts a proxy to say; IPv6 addresses
      count per /64.
    - ``threads``: worker threads for the backend's blocking calls (prediction,
      explanation, audit append, letter rendering); requests beyond wait their turn.
    - ``decide_inline``: make a decision on the event loop's thread when nothing in it
      waits (the API key and the model version are in memory, the explainer takes no
      lock and may not search for a counterfactual, the SQLite store's write lock is
      free), which saves two thread switches and keeps decisions from contending for
      the GIL; the rest of a decision that would wait (a model to load, a lock another
      writer holds, a PostgreSQL store's round trips) goes on in a worker thread.
      ``False``: every decision goes to a worker thread, as other requests do.
    - ``docs``: serve the OpenAPI spec at ``/openapi.json`` and its viewer at ``/docs``.
    """

    max_body_bytes: int = 64 * 1024
    max_features: int = 256
    rate_limit: int | None = None
    rate_burst: int | None = None
    auth_failure_limit: int | None = 30
    threads: int = 32
    decide_inline: bool = True
    docs: bool = True

    def __post_init__(self) -> None:
        for name, minimum in (("max_body_bytes", 2), ("max_features", 1), ("threads", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise InputError(
                    f"ApiSettings.{name} must be a whole number >= {minimum}; got {value!r}"
                )
        for name in ("rate_limit", "rate_burst", "auth_failure_limit"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise InputError(
                    f"ApiSettings.{name} must be a whole number >= 1 or None (off); got {value!r}"
                )
        if self.rate_burst is not None and self.rate_limit is None:
            raise InputError("ApiSettings.rate_burst needs rate_limit (requests per minute)")
