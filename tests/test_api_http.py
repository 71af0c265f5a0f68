"""The HTTP API over real HTTP: uvicorn on a loopback port, driven with httpx.

What only a real server shows: bodies refused by size before they are read (with and
without Content-Length), headers on the wire (WWW-Authenticate, Allow, Retry-After,
Location, content types), letters as bytes, keep-alive after an error, requests in
parallel. The backend is the real DecisionService over a SQLite file.
"""

from __future__ import annotations

import io
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from api_helpers import CANARY, CANARY_SUBJECT, MODEL, build_world, serve  # noqa: E402

from govkit.api import ERROR_CODES, ApiSettings, create_app  # noqa: E402

DECIDE = f"/v1/models/{MODEL}/versions/1/decisions"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("api-http"))
    yield w
    w.store.close()


@pytest.fixture(scope="module")
def base_url(world):
    settings = ApiSettings(max_body_bytes=16 * 1024)
    with serve(create_app(world.service, settings=settings)) as url:
        yield url


@pytest.fixture
def http(base_url):
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


def check_error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and ERROR_CODES[code].status == status
    assert CANARY not in resp.text and CANARY_SUBJECT not in resp.text
    return body["error"]


def test_decide_then_read_json_html_and_pdf(http, world):
    from pypdf import PdfReader

    made = http.post(DECIDE, json={"features": world.row(4)}, headers=world.auth("decide"))
    assert made.status_code == 201
    decision = made.json()
    assert made.headers["location"] == decision["links"]["self"]
    read = http.get(decision["links"]["self"], headers=world.auth("read"))
    assert read.status_code == 200 and read.json() == decision
    html = http.get(decision["links"]["letter_html"], headers=world.auth("read"))
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert decision["decision_id"] in html.text
    pdf = http.get(decision["links"]["letter_pdf"], headers=world.auth("read"))
    assert pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    assert decision["decision_id"] in "".join(p.extract_text() for p in reader.pages)
    assert world.store.verify_chain().ok


def test_auth_errors_on_the_wire(http, world):
    missing = http.get("/v1/decisions/dec_x")
    check_error(missing, 401, "unauthenticated")
    assert missing.headers["www-authenticate"] == 'Bearer realm="govkit"'
    unknown = http.get("/v1/decisions/dec_x", headers={"Authorization": "Bearer gk_a_b"})
    check_error(unknown, 401, "unauthenticated")
    assert 'error="invalid_token"' in unknown.headers["www-authenticate"]
    check_error(http.get("/v1/decisions/dec_x", headers=world.auth("admin")), 403, "forbidden")
    check_error(http.get("/v1/decisions/dec_x", headers=world.auth("read")), 404, "not_found")


def test_oversized_body_with_content_length_is_413_and_the_server_goes_on(http, world):
    body = json.dumps({"features": {**world.row(0), "pad": CANARY * 4000}}).encode()
    assert len(body) > 16 * 1024
    resp = http.post(
        DECIDE, content=body, headers={**world.auth("decide"), "Content-Type": "application/json"}
    )
    check_error(resp, 413, "payload_too_large")
    assert http.get("/healthz").status_code == 200


def test_oversized_chunked_body_is_413_without_reading_it_all(base_url, world):
    """No Content-Length: the server counts chunks and stops at the limit."""
    sent = {"chunks": 0}

    def chunks():
        for _ in range(2000):  # 2000 x 1 KiB = 2 MiB, far over 16 KiB
            sent["chunks"] += 1
            yield b" " * 1024

    with httpx.Client(base_url=base_url, timeout=30) as client:
        try:
            resp = client.post(
                DECIDE,
                content=chunks(),
                headers={**world.auth("decide"), "Content-Type": "application/json"},
            )
        except httpx.HTTPError:  # the server may close before the client has sent everything
            resp = None
        if resp is not None:
            assert "content-length" not in resp.request.headers
            assert resp.request.headers["transfer-encoding"] == "chunked"
            check_error(resp, 413, "payload_too_large")
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.get("/healthz").status_code == 200


def test_chunked_body_under_the_limit_is_accepted(http, world):
    body = json.dumps({"features": world.row(6)}).encode()
    resp = http.post(
        DECIDE,
        content=iter([body[:10], body[10:]]),
        headers={**world.auth("decide"), "Content-Type": "application/json"},
    )
    assert resp.request.headers["transfer-encoding"] == "chunked"
    assert resp.status_code == 201, resp.text


def test_raw_socket_content_length_lie_is_refused_before_reading(base_url, world):
    """Content-Length of 10 MB with no body sent: answered at once, nothing waited for."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            (
                f"POST {DECIDE} HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {world.keys['decide']}\r\n"
                "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
            ).encode()
        )
        received = b""
        while b"\r\n\r\n" not in received or not received.endswith(b"}}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.decode("latin-1").partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413 ")
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_bad_input_over_http(http, world):
    headers = {**world.auth("decide"), "Content-Type": "application/json"}
    nan = json.dumps({"features": world.row(0)}).replace(str(world.row(0)["age"]), "NaN")
    check_error(http.post(DECIDE, content=nan, headers=headers), 422, "invalid_request")
    wrong = {"features": {**world.row(0), "income": CANARY}}
    error = check_error(
        http.post(DECIDE, json=wrong, headers=world.auth("decide")), 422, "invalid_features"
    )
    assert error["details"] == [
        {"field": "features.income", "problem": error["details"][0]["problem"]}
    ]
    plain = {**world.auth("decide"), "Content-Type": "text/plain"}
    check_error(http.post(DECIDE, content=b"{}", headers=plain), 415, "unsupported_media_type")
    check_error(http.get(f"/nowhere/{CANARY_SUBJECT}"), 404, "not_found")
    wrong_method = http.patch("/readyz")
    check_error(wrong_method, 405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "GET, HEAD"


def test_erase_then_gone_over_http(http, world):
    subject = "http-subject-1"
    made = http.post(
        DECIDE,
        json={"features": world.row(8), "subject_id": subject},
        headers=world.auth("decide"),
    ).json()
    assert made["has_subject"] is True
    erased = http.delete(f"/v1/subjects/{subject}", headers=world.auth("admin"))
    assert erased.json() == {"subject_erased": True, "decisions_erased": 1}
    gone = http.get(made["links"]["self"], headers=world.auth("read"))
    check_error(gone, 410, "erased")
    check_error(http.get(made["links"]["letter_pdf"], headers=world.auth("read")), 410, "erased")
    report = world.store.verify_chain()
    assert report.ok, report.problem


def test_subject_ids_with_slashes_and_unicode_round_trip(http, world):
    subject = "ü/ß 42"
    made = http.post(
        DECIDE, json={"features": world.row(9), "subject_id": subject}, headers=world.auth("decide")
    )
    assert made.status_code == 201
    erased = http.delete(f"/v1/subjects/{quote(subject, safe='')}", headers=world.auth("admin"))
    assert erased.status_code == 200, erased.text
    assert erased.json()["decisions_erased"] == 1


def test_rate_limit_on_the_wire(world):
    with serve(create_app(world.service, settings=ApiSettings(rate_limit=3))) as url:
        with httpx.Client(base_url=url) as client:
            statuses = [
                client.get("/v1/decisions/dec_none", headers=world.auth("read")).status_code
                for _ in range(3)
            ]
            assert statuses == [404, 404, 404]
            over = client.get("/v1/decisions/dec_none", headers=world.auth("read"))
            check_error(over, 429, "rate_limited")
            assert int(over.headers["retry-after"]) >= 1
            # the limit is per key
            other = client.get("/v1/decisions/dec_none", headers=world.auth("decide"))
            assert other.status_code == 404


def test_parallel_decisions_are_all_recorded(base_url, world):
    def one(i: int) -> str:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            resp = client.post(
                DECIDE, json={"features": world.row(i)}, headers=world.auth("decide")
            )
            assert resp.status_code == 201, resp.text
            return resp.json()["decision_id"]

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(one, range(40, 64)))
    assert len(set(ids)) == 24
    recorded = {
        e.payload["decision_id"]
        for e in world.store.audit_events()
        if e.event_type == "decision.recorded"
    }
    assert set(ids) <= recorded
    assert world.store.verify_chain().ok


def test_health_endpoints_on_the_wire(http):
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}
    spec = http.get("/openapi.json").json()
    assert "/v1/decisions/{decision_id}" in spec["paths"]
    # HEAD through uvicorn: GET's status and length, no body, the connection still usable
    for path in ("/healthz", "/openapi.json"):
        head = http.head(path)
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(http.get(path).content)
        assert head.headers["cache-control"] == "no-store"
    assert http.get("/healthz").json() == {"status": "ok"}


class _Gate:
    """A stand-in backend for one HTTP mechanic only: how many backend calls run at once.

    Each decide() waits at a barrier of 16: it passes only if 16 calls are in flight
    together, i.e. the server runs 16 blocking backend calls in parallel without
    blocking its event loop (which keeps answering /healthz meanwhile).
    """

    def __init__(self, parties: int) -> None:
        import threading

        self.barrier = threading.Barrier(parties, timeout=30)

    def authenticate(self, token, *, wait=True):
        from govkit.decisions import ApiPrincipal

        return ApiPrincipal(key_id="k", tenant="t", scopes=frozenset({"decide"}))

    def decide(self, principal, model, version, features, *, wait=True, **kwargs):
        from functools import partial

        from govkit.exceptions import NotFoundError, WouldWait

        if not wait:  # it blocks, so it says so: the API finishes it in a worker thread
            raise WouldWait(partial(self.decide, principal, model, version, features))
        self.barrier.wait()  # BrokenBarrierError (-> 500) if fewer run at once
        raise NotFoundError("no model")

    def ready(self):
        return None


def test_sixteen_blocking_backend_calls_run_at_once_and_the_loop_stays_free():
    gate = _Gate(16)
    with serve(create_app(gate)) as url:

        def one(_: int) -> int:
            with httpx.Client(base_url=url, timeout=60) as client:
                return client.post(
                    DECIDE, json={"features": {"a": 1}}, headers={"X-API-Key": "k"}
                ).status_code

        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(one, i) for i in range(16)]
            with httpx.Client(base_url=url, timeout=10) as probe:
                assert probe.get("/healthz").status_code == 200  # while 15+ calls block
            statuses = [f.result() for f in futures]
    assert statuses == [404] * 16
