"""Failed API-key attempts are throttled per client address (ApiSettings.auth_failure_limit).

Against the real DecisionService (SQLite, LightGBM) in-process: bad keys get 401 until
the address's bucket is empty, then 429 with Retry-After *without the key being looked
up* (calls counted on a wrapped backend and on the store); keys that authenticated
lately still work from the locked-out address, a valid key not seen lately waits (the
trade-off: a lockout cannot tell a colleague's new key from a guess); other addresses
are unaffected; the bucket refills (an injected clock, no sleeping); one WARNING per
lockout with the address truncated, never the address or the key. Also: the service's
cache of unknown keys cannot evict the known ones, and `govkit serve` wires its options.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

import pytest

pytest.importorskip("fastapi")

from api_helpers import DECIDE, assert_error, build_world  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from govkit.api import ApiSettings, create_app  # noqa: E402
from govkit.api._limits import AuthFailureThrottle, address_bucket, loggable_address  # noqa: E402

HOST = "203.0.113.9"
OTHER = "198.51.100.7"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("api-throttle"), n_estimators=10)
    yield w
    w.store.close()


class Counting:
    """The real service, with its authenticate calls counted (what the API layer asks)."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.authenticate_calls = 0

    def authenticate(self, token: str, *, wait: bool = True) -> Any:
        self.authenticate_calls += 1
        return self.service.authenticate(token, wait=wait)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store_lookups(world, monkeypatch):
    """Counts the store's API-key lookups (each unknown key below is new: no cache hit)."""
    calls = []
    real = world.store.api_principal

    def counting(token):
        calls.append(1)
        return real(token)

    monkeypatch.setattr(world.store, "api_principal", counting)
    return calls


def make_app(world, limit: int | None = 3, clock: Clock | None = None):
    backend = Counting(world.service)
    app = create_app(backend, settings=ApiSettings(auth_failure_limit=limit))
    if limit is not None and clock is not None:  # the same throttle, on a clock we turn
        app.state.govkit.auth_throttle = AuthFailureThrottle(limit, clock=clock)
    return app, backend


def made_up_key() -> str:
    """A well-formed key nobody issued (the store looks it up: no shortcut for garbage)."""
    return f"gk_{secrets.token_hex(12)}_{secrets.token_urlsafe(32)}"


def bad(client: TestClient):
    token = made_up_key()
    return client.get("/v1/decisions/dec_x", headers={"Authorization": f"Bearer {token}"})


def read(client: TestClient, world, role: str = "read"):
    """An authenticated read: 404 (no such decision in the tenant) proves the key passed."""
    return client.get("/v1/decisions/dec_missing", headers=world.auth(role))


def test_bad_keys_get_401_then_429_without_the_key_being_looked_up(world, store_lookups):
    clock = Clock()
    app, backend = make_app(world, limit=3, clock=clock)
    with TestClient(app, client=(HOST, 50000)) as c:
        for _ in range(3):
            assert_error(bad(c), 401, "unauthenticated")
        assert backend.authenticate_calls == 3 and len(store_lookups) == 3
        for _ in range(5):  # locked out: refused before any lookup
            resp = bad(c)
            error = assert_error(resp, 429, "rate_limited")
            assert resp.headers["retry-after"] == "20"  # 3 a minute: a token every 20 s
            assert "client address" in error["message"] and "3 a minute" in error["message"]
        assert backend.authenticate_calls == 3 and len(store_lookups) == 3
        clock.now += 10
        assert bad(c).headers["retry-after"] == "10"


def test_known_good_keys_pass_a_lockout_and_new_valid_keys_wait(world):
    clock = Clock()
    app, backend = make_app(world, limit=3, clock=clock)
    with TestClient(app, client=(HOST, 50000)) as c:
        # the 'decide' key worked before the lockout (from this address or any other)
        resp = c.post(DECIDE, json={"features": world.row(0)}, headers=world.auth("decide"))
        assert resp.status_code == 201, resp.text
        for _ in range(3):
            bad(c)
        assert_error(bad(c), 429, "rate_limited")
        calls = backend.authenticate_calls
        # a colleague behind the same address with a key that worked lately: still served
        resp = c.post(DECIDE, json={"features": world.row(1)}, headers=world.auth("decide"))
        assert resp.status_code == 201, resp.text
        assert backend.authenticate_calls == calls + 1  # known good, so looked up as usual
        # the trade-off: a valid key not seen lately is refused like a guess, unread
        assert_error(read(c, world), 429, "rate_limited")
        assert backend.authenticate_calls == calls + 1
        clock.now += 20  # one token back: the valid key gets through and is known good
        assert_error(read(c, world), 404, "not_found")
        assert_error(bad(c), 401, "unauthenticated")  # a success cost nothing: one more try
        assert_error(bad(c), 429, "rate_limited")
        assert_error(read(c, world), 404, "not_found")  # 'read' is known good now


def test_other_addresses_are_unaffected(world):
    clock = Clock()
    app, _ = make_app(world, limit=3, clock=clock)
    with (
        TestClient(app, client=(HOST, 50000)) as attacker,
        TestClient(app, client=(OTHER, 50001)) as other,
        TestClient(app, client=("2001:db8:1:2::5", 1)) as v6,
        TestClient(app, client=("2001:db8:1:2::99", 2)) as v6_same_64,
        TestClient(app, client=("2001:db8:1:3::5", 3)) as v6_other_64,
    ):
        for _ in range(3):
            bad(attacker)
        assert_error(bad(attacker), 429, "rate_limited")
        assert_error(bad(other), 401, "unauthenticated")
        assert_error(read(other, world, "admin"), 403, "forbidden")  # a new key, served
        for _ in range(3):
            bad(v6)
        assert_error(bad(v6_same_64), 429, "rate_limited")  # IPv6 counts per /64
        assert_error(bad(v6_other_64), 401, "unauthenticated")


def test_the_bucket_refills_at_the_limit(world):
    clock = Clock()
    app, _ = make_app(world, limit=3, clock=clock)
    with TestClient(app, client=(HOST, 50000)) as c:
        for _ in range(3):
            assert bad(c).status_code == 401
        assert bad(c).status_code == 429
        clock.now += 19.9
        assert bad(c).status_code == 429
        clock.now += 0.1  # 20 s: one attempt
        assert [bad(c).status_code for _ in range(2)] == [401, 429]
        clock.now += 60  # a full minute: the whole burst again
        assert [bad(c).status_code for _ in range(4)] == [401, 401, 401, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(world):
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    app, _ = make_app(world, limit=3)
    proxied = ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.2")  # govkit serve's wiring
    with TestClient(proxied, client=("10.0.0.2", 40000)) as proxy:

        def bad_from(address: str):
            token = made_up_key()
            headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": address}
            return proxy.get("/v1/decisions/dec_x", headers=headers)

        assert [bad_from(HOST).status_code for _ in range(4)] == [401, 401, 401, 429]
        assert bad_from(OTHER).status_code == 401


def test_the_default_limit_is_30_and_none_turns_it_off(world):
    app = create_app(world.service)
    assert app.state.govkit.settings.auth_failure_limit == 30
    with TestClient(app, client=(HOST, 50000)) as c:
        assert [bad(c).status_code for _ in range(31)] == [401] * 30 + [429]
    app, backend = make_app(world, limit=None)
    assert app.state.govkit.auth_throttle is None
    with TestClient(app, client=(HOST, 50000)) as c:
        assert {bad(c).status_code for _ in range(40)} == {401}
    assert backend.authenticate_calls == 40


def test_failed_dashboard_sign_ins_count_too(world):
    from govkit.dashboard import DashboardData

    settings = ApiSettings(auth_failure_limit=2)
    app = create_app(world.service, settings=settings, dashboard=DashboardData(world.store))
    with TestClient(app, client=(HOST, 50000), follow_redirects=False) as c:
        for _ in range(2):
            resp = c.post("/dashboard/login", data={"key": made_up_key()})
            assert resp.status_code == 401
        resp = c.post("/dashboard/login", data={"key": world.keys["read"]})  # new: waits
        assert_error(resp, 429, "rate_limited")
        assert_error(bad(c), 429, "rate_limited")  # the same address on the API


def test_one_warning_per_lockout_without_the_address_or_the_key(world, caplog):
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    app, _ = make_app(world, limit=3, clock=clock)
    tokens = []

    def bad_logged(client):
        token = made_up_key()
        tokens.append(token)
        return client.get("/v1/decisions/dec_x", headers={"Authorization": f"Bearer {token}"})

    with (
        TestClient(app, client=(HOST, 50000)) as c,
        TestClient(app, client=("2001:db8:1:2::5", 1)) as v6,
    ):
        for _ in range(10):
            bad_logged(c)
        clock.now += 20  # one more attempt, still the same lockout
        bad_logged(c)
        bad_logged(c)
        clock.now += 120  # quiet until the bucket is full: the lockout is over
        for _ in range(4):
            bad_logged(c)
        for _ in range(4):
            bad_logged(v6)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.name for r in warnings] == ["govkit.api._limits"] * 3
    first = warnings[0].getMessage()
    assert first.startswith("3 failed API-key attempts from 203.0.113.0/24 in the last 0 s")
    assert "refusing its requests for 20 s, except with keys that authenticated" in first
    assert "2001:db8:1::/48" in warnings[2].getMessage()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert HOST not in logged and "2001:db8:1:2" not in logged
    for token in tokens:
        assert token not in logged
        assert hashlib.sha256(token.encode()).hexdigest() not in logged
        assert hashlib.sha256(token.encode()).hexdigest()[:16] not in logged


@pytest.mark.parametrize(
    "host,bucket,logged",
    [
        ("203.0.113.9", "203.0.113.9", "203.0.113.0/24"),
        ("::ffff:203.0.113.9", "203.0.113.9", "203.0.113.0/24"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", "2001:db8:1::/48"),
        ("testclient", "testclient", "a peer without an IP address"),
        (None, "(unknown)", "a peer without an IP address"),
    ],
)
def test_addresses_are_bucketed_and_truncated_for_logs(host, bucket, logged):
    assert address_bucket(host) == bucket
    assert loggable_address(host) == logged


def test_the_throttle_keeps_memory_bounded(monkeypatch):
    clock = Clock()
    throttle = AuthFailureThrottle(1, clock=clock)
    monkeypatch.setattr(AuthFailureThrottle, "MAX_ADDRESSES", 5)
    monkeypatch.setattr(AuthFailureThrottle, "MAX_KNOWN_GOOD", 3)
    for i in range(8):
        throttle.failed(f"192.0.2.{i}", b"x")
    assert throttle.refused("192.0.2.7", b"x") is not None  # the newest are kept
    assert throttle.refused("192.0.2.0", b"x") is None  # the oldest were dropped
    assert len(throttle._addresses) == 5
    for i in range(5):
        throttle.succeeded(bytes([i]))
    assert list(throttle._good) == [bytes([2]), bytes([3]), bytes([4])]
    # known good expires
    assert throttle.refused("192.0.2.7", bytes([4])) is None
    clock.now += AuthFailureThrottle.KNOWN_GOOD_TTL + 1
    throttle.failed("192.0.2.7", b"y")  # still locked out (one token a minute)
    assert throttle.refused("192.0.2.7", bytes([4])) is not None


@pytest.mark.parametrize(
    "value,found", [(0, "0"), (-1, "-1"), (True, "True"), ("30", "'30'"), (2.5, "2.5")]
)
def test_the_setting_is_checked(value, found):
    import re

    from govkit.exceptions import InputError

    message = "ApiSettings.auth_failure_limit must be a whole number >= 1 or None (off); got "
    with pytest.raises(InputError, match=re.escape(message + found) + "$"):
        ApiSettings(auth_failure_limit=value)


def test_unknown_keys_never_evict_a_valid_keys_cache_entry(world, store_lookups, monkeypatch):
    """10,001 made-up keys (more than the cache holds) and the valid key is still cached."""
    import govkit.service

    monkeypatch.setattr(govkit.service, "PRINCIPAL_TTL", 3600.0)  # no expiry during the test
    service = govkit.service.DecisionService(world.store)
    token = world.keys["read"]
    assert service.authenticate(token).tenant == "acme"
    assert len(store_lookups) == 1
    made_up = [f"gk_{i:024x}_{'A' * 43}" for i in range(10_001)]  # well-formed: real queries
    for key in made_up:
        assert service.authenticate(key) is None
    assert len(store_lookups) == 10_002
    assert service.authenticate(token).tenant == "acme"
    assert len(store_lookups) == 10_002  # from the cache
    assert service.authenticate(made_up[-1]) is None  # the newest unknown: cached
    assert len(store_lookups) == 10_002
    assert service.authenticate(made_up[0]) is None  # the oldest was dropped: asked again
    assert len(store_lookups) == 10_003


def test_govkit_serve_wires_the_options(tmp_path, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from govkit.cli._app import app as cli

    runs: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: runs.append((application, kw)))
    monkeypatch.delenv("GOVKIT_SUBJECT_KEY", raising=False)
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    result = CliRunner().invoke(cli, ["serve", "--db", db])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        cli,
        ["serve", "--db", db, "--auth-failure-limit", "0", "--forwarded-allow-ips", "10.0.0.2"],
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        cli, ["serve", "--db", db, "--auth-failure-limit", "7", "--decide-in-threads"]
    )
    assert result.exit_code == 0, result.output
    (default_app, default), (tuned_app, tuned), (seven_app, _) = runs
    assert default["proxy_headers"] is False  # the peer is the client unless told otherwise
    assert default_app.state.govkit.settings.auth_failure_limit == 30
    assert default_app.state.govkit.settings.decide_inline is True
    assert seven_app.state.govkit.settings.decide_inline is False
    assert tuned["proxy_headers"] is True and tuned["forwarded_allow_ips"] == "10.0.0.2"
    assert tuned_app.state.govkit.auth_throttle is None
    assert seven_app.state.govkit.auth_throttle.limit == 7
    result = CliRunner().invoke(cli, ["serve", "--db", db, "--auth-failure-limit", "-1"])
    assert result.exit_code == 2 and "'--auth-failure-limit'" in result.output
