"""HTTP mechanics of the API with a stand-in backend: error shapes, limits, spec, settings.

The stand-in (:class:`_Raising`) authenticates one key and raises what it is told: it
exists to show how each backend exception, an exception outside any handler, a failing
readiness probe or a missing extra reach the client. The feature itself is proven
against the real DecisionService in test_api.py, test_api_http.py and
test_api_reliability.py.
"""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("fastapi")

from api_helpers import CANARY, DECIDE, assert_error  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from govkit.api import ERROR_CODES, ApiSettings, create_app  # noqa: E402


class _Raising:
    """A stand-in backend for HTTP mechanics only (the error shape of each backend exception).

    Not a model of the real service: it authenticates one key and raises what it is told.
    The feature itself is proven against the real DecisionService in test_api.py.
    """

    def __init__(self, exc: BaseException | None = None) -> None:
        self.exc = exc

    def authenticate(self, token, *, wait=True):
        from govkit.decisions import ApiPrincipal

        if token != "good":
            return None
        return ApiPrincipal(key_id="k", tenant="t", scopes=frozenset({"decide", "read", "admin"}))

    def _raise(self, *args, **kwargs):
        raise self.exc

    decide = get_decision = letter = erase_subject = _raise

    def ready(self):
        self._raise()


def _backend_errors():
    from govkit.exceptions import (
        ErasedError,
        InputError,
        IntegrityError,
        InvalidFieldsError,
        MissingDependencyError,
        ModelUnavailableError,
        NotFoundError,
        RenderError,
        StoreError,
    )

    return [
        (
            InvalidFieldsError("bad", problems=(("features.x", f"got {CANARY}"),)),
            422,
            "invalid_features",
        ),
        (InputError(f"cannot use {CANARY} here"), 422, "invalid_input"),
        (ErasedError("erased dec_1"), 410, "erased"),
        (NotFoundError("no such thing in /var/lib/db"), 404, "not_found"),
        (RenderError("weasyprint timed out on /tmp/x"), 503, "unavailable"),
        (StoreError("database sqlite:////secret/path locked"), 503, "unavailable"),
        (
            # built from the registry and the file system, never from a request: logged
            ModelUnavailableError("model m@1 cannot be served: /var/lib/m.skops: not found"),
            503,
            "model_unavailable",
        ),
        (
            MissingDependencyError("install it with: pip install 'govkit[x]'"),
            501,
            "not_implemented",
        ),
        (IntegrityError(f"digest mismatch {CANARY}"), 500, "internal_error"),
        (RuntimeError(f"boom {CANARY}"), 500, "internal_error"),
        (KeyError(CANARY), 500, "internal_error"),
    ]


@pytest.mark.parametrize("exc,status,code", _backend_errors(), ids=lambda v: type(v).__name__)
def test_backend_exceptions_map_to_statuses_without_leaking(exc, status, code, caplog):
    caplog.set_level(logging.DEBUG)
    app = create_app(_Raising(exc))
    with TestClient(app) as c:
        resp = c.post(
            DECIDE,
            json={"features": {"income": CANARY}},
            headers={"Authorization": "Bearer good"},
        )
    error = assert_error(resp, status, code)
    for leak in ("/var/lib", "/tmp/x", "/secret/path", "boom"):
        assert leak not in resp.text
    if status == 503:
        assert resp.headers["retry-after"] == ("60" if code == "model_unavailable" else "5")
    if code == "not_implemented":
        assert "pip install 'govkit[x]'" in error["message"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert CANARY not in logged
    if status == 500:
        assert type(exc).__name__ in logged
    if code == "model_unavailable":  # the operator learns which model and why
        assert "model m@1 cannot be served: /var/lib/m.skops: not found" in logged


def test_an_exception_outside_any_handler_is_a_logged_generic_500(caplog):
    """A route that raises a plain exception (stand-in router): the catch-all's 500 shape."""
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/explode")
    def explode():
        raise ValueError(CANARY)

    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(_Raising(), routers=[router])) as c:
        resp = c.get("/explode")
    assert_error(resp, 500, "internal_error")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ValueError" in logged and "/explode" in logged
    assert CANARY not in logged


def test_a_failing_readiness_probe_is_503():
    with TestClient(create_app(_Raising(RuntimeError(CANARY)))) as c:
        error = assert_error(c.get("/readyz"), 503, "not_ready")
    assert "RuntimeError" in error["message"]


def test_missing_fastapi_names_the_extra(monkeypatch):
    import sys

    from govkit.exceptions import MissingDependencyError

    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'govkit\[api\]'"):
        create_app(_Raising())


def test_openapi_declares_every_status_each_operation_can_send():
    app = create_app(_Raising())
    spec = app.openapi()
    common = {"401", "403", "413", "422", "429", "500", "501", "503"}
    expected = {
        ("/v1/models/{name}/versions/{version}/decisions", "post"): common | {"201", "404", "415"},
        ("/v1/decisions/{decision_id}", "get"): common | {"200", "404", "410"},
        ("/v1/models/{name}/aliases/{alias}/decisions", "post"): common | {"201", "404", "415"},
        ("/v1/decisions/{decision_id}/outcome", "post"): common | {"200", "404", "410", "415"},
        ("/v1/subjects/{subject_id}", "delete"): common | {"200", "404"},
        ("/v1/erasures", "post"): common | {"200", "404", "415"},
        ("/v1/subject-access", "post"): common | {"200", "404", "415"},
        ("/healthz", "get"): {"200", "500"},
        ("/readyz", "get"): {"200", "500", "503"},
    }
    found = {
        (p, m): set(op["responses"]) for p, ops in spec["paths"].items() for m, op in ops.items()
    }
    assert found == expected
    for (path, method), statuses in found.items():
        op = spec["paths"][path][method]
        for status in statuses - {"200", "201"}:
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
        assert ("security" in op) is path.startswith("/v1/")
    letter = spec["paths"]["/v1/decisions/{decision_id}"]["get"]["responses"]["200"]["content"]
    assert set(letter) == {"application/json", "text/html", "application/pdf"}
    body = spec["paths"]["/v1/models/{name}/versions/{version}/decisions"]["post"]["requestBody"]
    assert set(body["content"]["application/json"]["schema"]["properties"]) == {
        "features",
        "subject_id",
        "counterfactual",
    }


def test_error_codes_are_documented_once_per_meaning():
    statuses = {code: entry.status for code, entry in ERROR_CODES.items()}
    assert statuses["invalid_features"] == statuses["invalid_request"] == 422
    assert all(entry.meaning.endswith(".") for entry in ERROR_CODES.values())
    from govkit.api._errors import _BY_STATUS

    for status, code in _BY_STATUS.items():
        assert ERROR_CODES[code].status == status


def test_docs_can_be_switched_off():
    with TestClient(create_app(_Raising(), settings=ApiSettings(docs=False))) as c:
        assert_error(c.get("/openapi.json"), 404, "not_found")
        assert_error(c.get("/docs"), 404, "not_found")
    with TestClient(create_app(_Raising())) as c:
        assert c.get("/openapi.json").json()["info"]["title"] == "govkit decision API"
        assert "swagger" in c.get("/docs").text.lower()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"max_body_bytes": 0}, "max_body_bytes must be a whole number >= 2; got 0"),
        ({"max_features": True}, "max_features must be a whole number >= 1; got True"),
        ({"threads": 0}, "threads must be a whole number >= 1"),
        ({"rate_limit": 0}, "rate_limit must be a whole number >= 1 or None"),
        ({"rate_burst": 5}, "rate_burst needs rate_limit"),
    ],
)
def test_settings_are_checked(kwargs, message):
    from govkit.exceptions import InputError

    with pytest.raises(InputError, match=message):
        ApiSettings(**kwargs)


def test_token_bucket_refills_at_the_rate_and_is_thread_safe():
    import threading

    from govkit.api._limits import RateLimiter

    now = [0.0]
    limiter = RateLimiter(60, burst=3, clock=lambda: now[0])  # one token a second
    assert [limiter.acquire("k") for _ in range(3)] == [None, None, None]
    wait = limiter.acquire("k")
    assert wait == pytest.approx(1.0)
    assert limiter.retry_after(wait) == "1"
    assert limiter.acquire("other") is None
    now[0] = 0.5
    assert limiter.acquire("k") == pytest.approx(0.5)
    now[0] = 1.0
    assert limiter.acquire("k") is None
    # 32 threads race for a bucket of 10 at a frozen clock: exactly 10 get through
    racing = RateLimiter(600, burst=10, clock=lambda: 0.0)
    results: list[float | None] = []
    lock = threading.Lock()

    def take():
        got = racing.acquire("shared")
        with lock:
            results.append(got)

    threads = [threading.Thread(target=take) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(None) == 10
