"""The HTTP API in-process (FastAPI's TestClient) against the real DecisionService.

Every status code path of issue #6's API: 201/200 decisions and letters, 401/403 keys
and scopes, 404 other tenants, 410 erased subjects, 413/415/422 bad input, 429 rate
limit, 503 not ready. Each error body is checked for the one shape and for canary
values that must never come back. The same paths over real HTTP: test_api_http.py.
"""

from __future__ import annotations

import io
import json
import logging
import math

import pytest

pytest.importorskip("fastapi")

from api_helpers import (  # noqa: E402
    CANARY,
    CANARY_SUBJECT,
    DECIDE,
    FEATURES,
    MODEL,
    assert_error,
    build_world,
    decision_events,
)
from fastapi.testclient import TestClient  # noqa: E402

from govkit.api import ApiSettings, create_app  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("api"))
    yield w
    w.store.close()


@pytest.fixture(scope="module")
def client(world):
    with TestClient(create_app(world.service)) as c:
        yield c


def decide(client, world, row=None, *, role="decide", **extra):
    payload = {"features": row if row is not None else world.row(0), **extra}
    return client.post(DECIDE, json=payload, headers=world.auth(role))


# -- decisions --------------------------------------------------------------------------


def test_decision_is_predicted_explained_and_recorded(client, world):
    import pandas as pd

    row = world.row(3)
    resp = decide(client, world, row)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert resp.headers["location"] == f"/v1/decisions/{body['decision_id']}"
    assert resp.headers["cache-control"] == "no-store"
    frame = pd.DataFrame([row])[FEATURES]
    # the model's own numbers (LightGBM), not the explainer's
    proba = world.model.predict_proba(frame)[0, 1]
    contrib = world.model.predict(frame, pred_contrib=True)[0]
    assert body["score"] == pytest.approx(proba, abs=1e-9)
    assert body["prediction"] == int(world.model.predict(frame)[0])
    assert body["outcome"] == ("approved" if proba >= 0.5 else "declined")
    assert body["favourable"] is bool(proba >= 0.5)
    assert body["model"] == {"name": MODEL, "version": 1}
    assert body["tenant"] == "acme"
    assert body["features"] == row
    assert set(body["attributions"]) == set(FEATURES)
    # attributions add up to the model output in their space (LightGBM's TreeSHAP)
    total = body["base_value"] + sum(body["attributions"].values())
    if body["output_space"] == "log_odds":
        assert [body["attributions"][f] for f in FEATURES] == pytest.approx(contrib[:-1], abs=1e-6)
        assert total == pytest.approx(math.log(proba / (1 - proba)), abs=1e-6)
    else:
        assert total == pytest.approx(proba, abs=1e-6)
    assert body["reliable"] is True
    assert body["additivity_error"] < 1e-6
    # principal reasons: the (at most 3, DecisionSpec.reasons) largest pushes towards the
    # outcome, first; then factors that weighed the other way
    reasons = body["reasons"]
    assert [r["rank"] for r in reasons] == list(range(1, len(reasons) + 1))
    attributions = body["attributions"]
    lowered = not body["favourable"]
    towards = [f for f in FEATURES if (attributions[f] < 0) == lowered and attributions[f] != 0]
    towards.sort(key=lambda f: -abs(attributions[f]))
    principal = [r for r in reasons if r["towards_outcome"]]
    assert [r["feature"] for r in principal] == towards[:3]
    assert reasons[: len(principal)] == principal
    for reason in reasons:
        assert reason["contribution"] == pytest.approx(attributions[reason["feature"]])
        assert reason["effect"] == ("raised" if attributions[reason["feature"]] > 0 else "lowered")
        assert reason["text"]
    assert body["links"]["letter_pdf"] == f"/v1/decisions/{body['decision_id']}?format=pdf"
    # recorded: the audit event at the returned sequence names this decision
    event = world.store.audit_events(after=body["audit_sequence"] - 1, limit=1)[0]
    assert event.sequence == body["audit_sequence"]
    assert event.event_type == "decision.recorded"
    assert event.payload["decision_id"] == body["decision_id"]


def test_huge_finite_feature_values_are_decided_and_worded(client, world):
    # any finite JSON number is accepted; reasons write huge ones in scientific notation
    # (Babel failed on them beyond 28 digits: a 500)
    huge = (1e300, -1.7976931348623157e308, 1e25, 2e28)
    row = dict(zip(FEATURES, huge, strict=True))
    resp = decide(client, world, row)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["features"] == row
    texts = {reason["feature"]: reason["text"] for reason in body["reasons"]}
    shown = {"income": "(€1E300)", "age": "(-1.798E308 years)", "debt": "(€1E25)"}
    shown["years_employed"] = "(2E28 years)"
    assert len(texts) >= 3
    for feature, text in texts.items():
        assert shown[feature] in text
    letter = client.get(body["links"]["letter_html"], headers=world.auth("read"))
    assert letter.status_code == 200


def test_whole_numbers_take_the_full_64_bit_range_everywhere(client, world):
    """One int64 range (govkit.records.INT64_MIN/MAX) for the API's parse, its schema,
    the service's int64 columns and the store's outcomes: -(2**63) was refused by the API
    (a symmetric bound) while the service and the store took it; 2**63 is refused by all."""
    row = {**world.row(0), "age": -(2**63)}
    made = decide(client, world, row)
    assert made.status_code == 201, made.text
    assert made.json()["features"]["age"] == -(2**63)
    beyond = decide(client, world, {**world.row(0), "age": 2**63})
    error = assert_error(beyond, 422, "invalid_request", fields={"features.age"})
    assert "beyond 64 bits" in error["details"][0]["problem"]
    outcome = f"/v1/decisions/{made.json()['decision_id']}/outcome"
    for value, status in [(-(2**63), 200), (2**63 - 1, 200), (2**63, 422), (-(2**63) - 1, 422)]:
        resp = client.post(outcome, json={"outcome": value}, headers=world.auth("decide"))
        assert resp.status_code == status, (value, resp.text)


def test_recorded_decision_reads_back_as_json(client, world):
    made = decide(client, world, world.row(5)).json()
    resp = client.get(f"/v1/decisions/{made['decision_id']}", headers=world.auth("read"))
    assert resp.status_code == 200
    assert resp.json() == made


def test_letters_as_html_and_pdf(client, world):
    from pypdf import PdfReader

    made = decide(client, world, world.row(7)).json()
    url = f"/v1/decisions/{made['decision_id']}"
    html = client.get(url, params={"format": "html"}, headers=world.auth("read"))
    assert html.status_code == 200
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert made["decision_id"] in html.text
    assert "appeals@example.com" in html.text
    pdf = client.get(url, params={"format": "pdf"}, headers=world.auth("read"))
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert made["decision_id"] in text


def test_x_api_key_header_authenticates(client, world):
    resp = client.post(
        DECIDE, json={"features": world.row(1)}, headers={"X-API-Key": world.keys["decide"]}
    )
    assert resp.status_code == 201


def test_not_found_names_what_was_looked_for_never_the_path_values(client, world):
    """A 404 says what kind of thing is missing; the name, version, alias or decision id
    sent in the path never comes back (client logs keep error bodies)."""
    unknown = "zz-unknown-9753"
    for method, path, message in [
        ("POST", f"/v1/models/{unknown}/versions/97531/decisions",
         "no such model version is registered"),
        ("POST", f"/v1/models/{MODEL}/versions/97531/decisions",
         "no such model version is registered"),
        ("POST", f"/v1/models/{unknown}/aliases/zz-alias-8642/decisions",
         "no such model or alias is registered"),
        ("GET", f"/v1/decisions/dec_{unknown}", "no such decision in your tenant"),
        ("GET", f"/v1/decisions/dec_{unknown}?format=html", "no such decision in your tenant"),
        ("POST", f"/v1/decisions/dec_{unknown}/outcome", "no such decision in your tenant"),
    ]:  # fmt: skip
        body = {"outcome": 1} if path.endswith("/outcome") else {"features": world.row(0)}
        resp = client.request(
            method, path, json=body if method == "POST" else None, headers=world.auth("all")
        )
        error = assert_error(resp, 404, "not_found")
        assert error["message"] == message, path
        for sent in (unknown, "97531", "zz-alias-8642", MODEL):
            assert sent not in resp.text, (path, sent)


# -- keys, scopes, tenants ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers,invalid",
    [
        ({}, False),
        ({"Authorization": "Bearer gk_nope_nope"}, True),
        ({"X-API-Key": "not-a-key"}, True),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, True),
        ({"Authorization": "Bearer " + "x" * 5000}, True),
    ],
    ids=["none", "unknown-bearer", "unknown-x-api-key", "basic", "huge"],
)
def test_missing_or_unknown_key_is_401_with_a_challenge(client, world, headers, invalid):
    resp = client.post(DECIDE, json={"features": world.row(0)}, headers=headers)
    assert_error(resp, 401, "unauthenticated")
    challenge = resp.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is invalid


def test_revoked_key_is_401(client, world):
    info, token = world.store.create_api_key(
        tenant="acme", scopes=["read"], name="short-lived", actor="test"
    )
    world.store.revoke_api_key(info.key_id, actor="test")
    resp = client.get("/v1/decisions/dec_x", headers={"Authorization": f"Bearer {token}"})
    assert_error(resp, 401, "unauthenticated")


@pytest.mark.parametrize(
    "role,method,path,allowed",
    [
        ("read", "POST", DECIDE, False),
        ("admin", "POST", DECIDE, False),
        ("admin", "GET", "/v1/decisions/dec_missing", False),
        ("decide", "DELETE", "/v1/subjects/someone", False),
        ("read", "DELETE", "/v1/subjects/someone", False),
        ("read", "GET", "/v1/decisions/dec_missing", True),
        ("admin", "DELETE", "/v1/subjects/someone", True),
        ("decide", "POST", "/v1/erasures", False),
        ("read", "POST", "/v1/erasures", False),
        ("admin", "POST", "/v1/erasures", True),
        ("decide", "POST", "/v1/subject-access", False),
        ("read", "POST", "/v1/subject-access", False),
        ("admin", "POST", "/v1/subject-access", True),
    ],
)
def test_each_operation_needs_its_scope(client, world, role, method, path, allowed):
    kwargs = {"json": {"features": world.row(0)}} if method == "POST" else {}
    if path in ("/v1/erasures", "/v1/subject-access"):
        kwargs = {"json": {"subject_id": "someone"}}
    resp = client.request(method, path, headers=world.auth(role), **kwargs)
    if allowed:
        assert resp.status_code == 404  # past the scope check: nothing there
    else:
        error = assert_error(resp, 403, "forbidden")
        assert "scope" in error["message"]


def test_a_key_sees_only_its_tenants_decisions(client, world):
    made = decide(client, world, world.row(2), subject_id="tenant-test-subject").json()
    url = f"/v1/decisions/{made['decision_id']}"
    for fmt in ("json", "html", "pdf"):
        theirs = client.get(url, params={"format": fmt}, headers=world.auth("other"))
        missing = client.get(
            "/v1/decisions/dec_000000000000000000000000",
            params={"format": fmt},
            headers=world.auth("other"),
        )
        assert_error(theirs, 404, "not_found")
        assert_error(missing, 404, "not_found")
    # another tenant's admin cannot erase this tenant's subject either
    erase = client.delete("/v1/subjects/tenant-test-subject", headers=world.auth("other"))
    assert_error(erase, 404, "not_found")
    assert client.get(url, headers=world.auth("read")).status_code == 200


def test_erasing_a_subject_makes_their_decisions_gone_and_the_chain_verifies(client, world):
    mine = [decide(client, world, world.row(i), subject_id=CANARY_SUBJECT).json() for i in (10, 11)]
    other = decide(client, world, world.row(12), subject_id="someone-else").json()
    resp = client.delete(f"/v1/subjects/{CANARY_SUBJECT}", headers=world.auth("admin"))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"subject_erased": True, "decisions_erased": 2}
    for made in mine:
        for fmt in ("json", "html", "pdf"):
            gone = client.get(
                f"/v1/decisions/{made['decision_id']}",
                params={"format": fmt},
                headers=world.auth("read"),
            )
            assert_error(gone, 410, "erased")
    kept = client.get(f"/v1/decisions/{other['decision_id']}", headers=world.auth("read"))
    assert kept.status_code == 200
    again = client.delete(f"/v1/subjects/{CANARY_SUBJECT}", headers=world.auth("admin"))
    assert_error(again, 404, "not_found")
    report = world.store.verify_chain()
    assert report.ok, report.problem
    events = world.store.audit_events()
    assert any(e.event_type == "subject.erased" for e in events)
    assert CANARY_SUBJECT not in json.dumps([e.payload for e in events])


def test_erasure_by_post_keeps_the_subject_id_out_of_the_url(client, world):
    subject = "posted-erasure-subject"
    made = [decide(client, world, world.row(i), subject_id=subject).json() for i in (13, 14)]
    other = client.post("/v1/erasures", json={"subject_id": subject}, headers=world.auth("other"))
    assert_error(other, 404, "not_found")  # another tenant's admin cannot
    resp = client.post("/v1/erasures", json={"subject_id": subject}, headers=world.auth("admin"))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"subject_erased": True, "decisions_erased": 2}
    for decision in made:
        gone = client.get(f"/v1/decisions/{decision['decision_id']}", headers=world.auth("read"))
        assert_error(gone, 410, "erased")
    again = client.post("/v1/erasures", json={"subject_id": subject}, headers=world.auth("admin"))
    assert_error(again, 404, "not_found")
    assert world.store.verify_chain().ok


def test_a_subject_access_request_gives_every_decision_about_them(client, world):
    subject = "access-request-subject"
    made = [decide(client, world, world.row(i), subject_id=subject).json() for i in (15, 16)]
    decide(client, world, world.row(17), subject_id="someone-else")
    observed = client.post(
        f"/v1/decisions/{made[0]['decision_id']}/outcome",
        json={"outcome": 1},
        headers=world.auth("decide"),
    )
    assert observed.status_code == 200, observed.text
    before = len(world.store.audit_events())
    resp = client.post(
        "/v1/subject-access", json={"subject_id": subject}, headers=world.auth("admin")
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["count"] == 2
    assert [d["decision_id"] for d in body["decisions"]] == [
        d["decision_id"] for d in sorted(made, key=lambda d: d["created_at"], reverse=True)
    ]
    for given in body["decisions"]:  # each as GET /v1/decisions/{id} gives it, and its outcome
        outcome = given.pop("observed_outcome")
        assert outcome == (1 if given["decision_id"] == made[0]["decision_id"] else None)
        one = client.get(given["links"]["self"], headers=world.auth("read"))
        assert one.status_code == 200 and one.json() == given
    assert {d["features"]["age"] for d in body["decisions"]} == {
        world.row(i)["age"] for i in (15, 16)
    }
    # the disclosure is in the audit log, the subject id is not
    events = world.store.audit_events()
    assert len(events) == before + 1
    accessed = events[-1]
    assert accessed.event_type == "subject.accessed" and accessed.payload["decisions"] == 2
    assert accessed.actor == world.service.authenticate(world.keys["admin"]).key_id
    assert subject not in json.dumps([e.payload for e in events])
    assert world.store.verify_chain().ok
    # another tenant's admin finds nobody; nor does anyone after erasure
    other = client.post(
        "/v1/subject-access", json={"subject_id": subject}, headers=world.auth("other")
    )
    assert_error(other, 404, "not_found")
    assert subject not in other.text
    erased = client.post("/v1/erasures", json={"subject_id": subject}, headers=world.auth("admin"))
    assert erased.status_code == 200
    gone = client.post(
        "/v1/subject-access", json={"subject_id": subject}, headers=world.auth("admin")
    )
    assert_error(gone, 404, "not_found")


@pytest.mark.parametrize("path", ["/v1/erasures", "/v1/subject-access"])
@pytest.mark.parametrize(
    "body,content_type,status,code,field",
    [
        (b'{"subject_id": ""}', "application/json", 422, "invalid_request", "subject_id"),
        (b"{}", "application/json", 422, "invalid_request", "subject_id"),
        (b'{"subject_id": 17}', "application/json", 422, "invalid_request", "subject_id"),
        (b'{"subject_id": "x", "extra": 1}', "application/json", 422, "invalid_request", "extra"),
        (
            b'{"subject_id": "' + b"x" * 300 + b'"}',
            "application/json",
            422,
            "invalid_request",
            None,
        ),
        (b"subject_id=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type", None),
        (b'{"subject_id": ', "application/json", 422, "invalid_request", "body"),
        # json keeps the last of a repeated key: which subject would be erased?
        (
            b'{"subject_id": "xxxxxxxxxxa", "subject_id": "xxxxxxxxxxb"}',
            "application/json",
            422,
            "invalid_request",
            "subject_id",
        ),
    ],
)
def test_a_bad_subject_body_is_refused_without_echoing_it(
    client, world, path, body, content_type, status, code, field
):
    resp = client.post(
        path,
        content=body,
        headers={**world.auth("admin"), "Content-Type": content_type},
    )
    error = assert_error(resp, status, code)
    if field is not None:
        assert field in {d["field"] for d in error["details"]}, error
    if field == "extra":
        details = {d["field"]: d["problem"] for d in error["details"]}
        assert details["extra"] == "unknown field; expected only: subject_id"
    assert "xxxxxxxxxx" not in resp.text


# -- bad input --------------------------------------------------------------------------


def _row(world, **changes):
    row = world.row(0)
    for key, value in changes.items():
        if value is _DROP:
            row.pop(key)
        else:
            row[key] = value
    return row


_DROP = object()


@pytest.mark.parametrize(
    "case,code,fields",
    [
        ("missing", "invalid_features", {"features.debt"}),
        ("extra", "invalid_features", {"features.postcode"}),
        ("string-for-number", "invalid_features", {"features.income"}),
        ("bool-for-number", "invalid_features", {"features.age"}),
        ("null", "invalid_features", {"features.debt"}),
        ("nested-object", "invalid_request", {"features.income"}),
        ("array", "invalid_request", {"features.income"}),
        ("too-large-float", "invalid_request", {"features.income"}),
        ("features-not-object", "invalid_request", {"features"}),
        ("unknown-top-level", "invalid_request", {"applicant"}),
        ("subject-not-string", "invalid_request", {"subject_id"}),
        ("counterfactual-not-bool", "invalid_request", {"counterfactual"}),
        ("empty-subject", "invalid_request", {"subject_id"}),
    ],
)
def test_bad_features_are_422_naming_the_field_never_the_value(client, world, case, code, fields):
    payload = {
        "missing": lambda: {"features": _row(world, debt=_DROP)},
        "extra": lambda: {"features": _row(world, postcode=CANARY)},
        "string-for-number": lambda: {"features": _row(world, income=CANARY)},
        "bool-for-number": lambda: {"features": _row(world, age=True)},
        "null": lambda: {"features": _row(world, debt=None)},
        "nested-object": lambda: {"features": _row(world, income={"amount": CANARY})},
        "array": lambda: {"features": _row(world, income=[CANARY])},
        "too-large-float": lambda: None,
        "features-not-object": lambda: {"features": [CANARY]},
        "unknown-top-level": lambda: {"features": world.row(0), "applicant": CANARY},
        "subject-not-string": lambda: {"features": world.row(0), "subject_id": 12345678},
        "counterfactual-not-bool": lambda: {"features": world.row(0), "counterfactual": CANARY},
        "empty-subject": lambda: {"features": world.row(0), "subject_id": ""},
    }[case]()
    if payload is None:  # 1e400 parses to infinity in Python's json
        content = json.dumps({"features": world.row(0)}).replace(
            str(world.row(0)["income"]), "1e400"
        )
        resp = client.post(
            DECIDE,
            content=content,
            headers={**world.auth("decide"), "Content-Type": "application/json"},
        )
    else:
        resp = client.post(DECIDE, json=payload, headers=world.auth("decide"))
    assert_error(resp, 422, code, fields=fields)
    assert "12345678" not in resp.text


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_tokens_are_refused(client, world, token):
    body = json.dumps({"features": world.row(0)})
    body = body.replace(str(world.row(0)["debt"]), token)
    assert token in body
    resp = client.post(
        DECIDE, content=body, headers={**world.auth("decide"), "Content-Type": "application/json"}
    )
    error = assert_error(resp, 422, "invalid_request", fields={"body"})
    assert token in error["details"][0]["problem"]


@pytest.mark.parametrize(
    "content,problem",
    [
        (b"", "expected a JSON object"),
        (b"[1, 2]", "expected an object, got an array"),
        (b'{"features": {', "Expecting"),
        (b"\xff\xfe\x00", "not valid"),
        (b"[" * 20000 + b"]" * 20000, "nested too deeply"),
    ],
    ids=["empty", "array", "truncated", "not-utf8", "deep"],
)
def test_unparseable_bodies_are_422(client, world, content, problem):
    resp = client.post(
        DECIDE,
        content=content,
        headers={**world.auth("decide"), "Content-Type": "application/json"},
    )
    error = assert_error(resp, 422, "invalid_request", fields={"body"})
    assert problem in error["details"][0]["problem"]


@pytest.mark.parametrize(
    "template,field",
    [
        ('{"features": {%s, "age": 99}}', "features.age"),
        ('{"features": {%s}, "subject_id": "a", "subject_id": "b"}', "subject_id"),
        ('{"features": {%s}, "features": {%s}}', "features"),
        ('{"features": {%s, "home": {"a": 1, "a": 2}}}', "features.home.a"),
    ],
    ids=["feature", "subject", "features", "nested"],
)
def test_a_repeated_key_is_422_naming_its_path(client, world, template, field):
    """json keeps the last of a repeated key, silently: the model would see one value and a
    reviewer reading the request another. Refused, naming the key's path."""
    before = len(decision_events(world.store))
    row = json.dumps(world.row(0))[1:-1]
    content = template.replace("%s", row)
    resp = client.post(
        DECIDE,
        content=content.encode(),
        headers={**world.auth("decide"), "Content-Type": "application/json"},
    )
    error = assert_error(resp, 422, "invalid_request", fields={field})
    assert error["message"] == "the request body repeats a key"
    assert error["details"][0]["problem"] == "given more than once; send each key once"
    outcome = client.post(
        "/v1/decisions/dec_x/outcome",
        content=b'{"outcome": 1, "outcome": 0}',
        headers={**world.auth("decide"), "Content-Type": "application/json"},
    )
    assert_error(outcome, 422, "invalid_request", fields={"outcome"})
    assert len(decision_events(world.store)) == before


def test_a_category_the_model_never_saw_is_422_naming_the_field(tmp_path, adult_files, adult_test):
    """The demo's one-hot encoder ignores unknown categories (the person was scored as if
    the field were blank, and the explanation said reliable): refused before the model, the
    field named with the categories it learned (the model's, not a person's)."""
    from conftest import EXAMPLES, HGB_TYPE
    from demo import FEATURES_CAT, FEATURES_NUM

    from govkit.service import DecisionService
    from govkit.store import Store
    from govkit.workflows import register_model

    with Store.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        register_model(
            adult_files["model"], name="adult", store=store, metadata=EXAMPLES / "meta.yaml",
            trusted_types=[HGB_TYPE], actor="test",
        )  # fmt: skip
        _, token = store.create_api_key(tenant="acme", scopes=["decide"], name="t", actor="t")
        service = DecisionService(store, trusted_types=[HGB_TYPE])
        row = adult_test[FEATURES_CAT + FEATURES_NUM].iloc[0]
        features = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        url, auth = "/v1/models/adult/versions/1/decisions", {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(service)) as c:
            assert c.post(url, json={"features": features}, headers=auth).status_code == 201
            for field, value, hint in [
                ("workclass", CANARY, ""),
                ("workclass", "Astronaut", ""),
                # a part of a category: the categories are still named whole, not redacted
                ("marital-status", "Married", ' (did you mean "Never-married"?)'),
            ]:
                sent = {"features": {**features, field: value}}
                resp = c.post(url, json=sent, headers=auth)
                error = assert_error(resp, 422, "invalid_features", fields={f"features.{field}"})
                problem = error["details"][0]["problem"]
                assert problem.startswith("not a category the model was trained on; expected one")
                assert problem.endswith(hint or '"Without-pay"'), problem
                assert "redacted" not in problem and f'"{value}"' not in resp.text
        assert [e.event_type for e in store.audit_events()].count("decision.recorded") == 1


def test_too_many_features_is_422_before_the_model_sees_them(world):
    app = create_app(world.service, settings=ApiSettings(max_features=5))
    with TestClient(app) as c:
        features = {f"f{i}": CANARY for i in range(6)}
        resp = c.post(DECIDE, json={"features": features}, headers=world.auth("decide"))
    error = assert_error(resp, 422, "invalid_request", fields={"features"})
    assert "at most 5 features" in error["details"][0]["problem"]


def test_non_json_content_type_is_415(client, world):
    resp = client.post(
        DECIDE,
        content=json.dumps({"features": world.row(0)}),
        headers={**world.auth("decide"), "Content-Type": "text/plain"},
    )
    assert_error(resp, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type,accepted",
    [
        ("application/json; charset=latin-1", False),
        ("application/json; charset=ISO-8859-1", False),
        ("application/json;charset=utf-16", False),
        ("application/json; charset=utf-8", True),
        ("Application/JSON; Charset=UTF-8", True),
        ('application/json; charset="utf-8"', True),
    ],
)
def test_a_charset_other_than_utf8_is_415(client, world, content_type, accepted):
    """The body is read as UTF-8 whatever the charset says: another is refused, not
    misread (an ISO-8859-1 'é' was decoded as invalid UTF-8 or as other letters)."""
    resp = client.post(
        DECIDE,
        content=json.dumps({"features": world.row(0)}),
        headers={**world.auth("decide"), "Content-Type": content_type},
    )
    if accepted:
        assert resp.status_code == 201, resp.text
        return
    error = assert_error(resp, 415, "unsupported_media_type")
    assert error["message"] == (
        "send the request body as UTF-8 JSON: Content-Type: application/json or "
        "application/json; charset=utf-8"
    )
    for path, body in [("/v1/erasures", {"subject_id": "x"}), ("/v1/subject-access", {})]:
        resp = client.post(
            path, content=json.dumps(body), headers={**world.auth("admin"), "Content-Type":
                                                     content_type},
        )  # fmt: skip
        assert_error(resp, 415, "unsupported_media_type")


@pytest.mark.parametrize("coding", ["gzip", "GZIP", "br", "deflate", "identity, gzip", "x-y"])
def test_a_content_coded_body_is_415_not_read_as_raw(client, world, coding):
    """The server decodes no content coding: a gzip body was parsed as if it were the JSON.
    Refused before anything reads it, with Accept-Encoding: identity (RFC 9110 15.5.16)."""
    import gzip

    before = len(decision_events(world.store))
    raw = json.dumps({"features": world.row(0)}).encode()
    for content in (gzip.compress(raw), raw):
        resp = client.post(
            DECIDE,
            content=content,
            headers={
                **world.auth("decide"),
                "Content-Type": "application/json",
                "Content-Encoding": coding,
            },
        )
        error = assert_error(resp, 415, "unsupported_media_type")
        assert error["message"] == (
            "the server does not decode content codings; send the body without "
            "Content-Encoding (or as identity)"
        )
        assert resp.headers["accept-encoding"] == "identity"
        assert coding.lower() not in resp.text.lower()
    assert len(decision_events(world.store)) == before
    resp = client.post(
        DECIDE,
        content=raw,
        headers={
            **world.auth("decide"),
            "Content-Type": "application/json",
            "Content-Encoding": "Identity",
        },
    )
    assert resp.status_code == 201, resp.text


def test_a_lone_surrogate_is_named_as_not_unicode_text(client, world):
    r"""JSON can write "\ud800", which is no Unicode text: a feature name holding one was
    said to be too long, a value holding one was taken."""
    not_text = "not valid Unicode text (a lone surrogate escape such as \\ud800)"
    row = json.dumps(world.row(0))[1:-1]
    for content, field, problem in [
        ('{"features": {%s, "\\ud800": 1}}', "features.\\ud800", f"the feature name is {not_text}"),
        ('{"features": {%s, "a\\udc00b": 1}}', "features.a\\udc00b",
         f"the feature name is {not_text}"),
        ('{"features": {%s, "home": "x\\ud800"}}', "features.home",
         f"expected a string, a finite number, a boolean or null; got a string that is {not_text}"),
        ('{"features": {%s}, "subject_id": "\\udfff"}', "subject_id", not_text),
    ]:  # fmt: skip
        resp = client.post(
            DECIDE,
            content=(content % row).encode(),
            headers={**world.auth("decide"), "Content-Type": "application/json"},
        )
        error = assert_error(resp, 422, "invalid_request", fields={field})
        assert error["details"][0]["problem"] == problem
        assert "characters" not in resp.text


def test_feature_integers_are_bounded_to_64_bits_in_the_openapi_schema():
    spec = create_app(None).openapi()
    body = spec["paths"]["/v1/models/{name}/versions/{version}/decisions"]["post"]
    features = body["requestBody"]["content"]["application/json"]["schema"]["properties"][
        "features"
    ]
    integers = [s for s in features["additionalProperties"]["anyOf"] if s["type"] == "integer"]
    assert integers == [
        {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
    ]


def test_oversized_body_is_413(client, world):
    features = {**world.row(0), "padding": CANARY * 10_000}
    resp = client.post(DECIDE, json={"features": features}, headers=world.auth("decide"))
    error = assert_error(resp, 413, "payload_too_large")
    assert "65,536 bytes" in error["message"]


@pytest.mark.parametrize(
    "path,field",
    [
        ("/v1/models/-bad/versions/1/decisions", "name"),
        (f"/v1/models/{MODEL}/versions/0/decisions", "version"),
        (f"/v1/models/{MODEL}/versions/one/decisions", "version"),
        (f"/v1/models/{MODEL}/versions/99999999999999999999/decisions", "version"),
    ],
)
def test_malformed_path_parameters_are_422(client, world, path, field):
    resp = client.post(path, json={"features": world.row(0)}, headers=world.auth("decide"))
    assert_error(resp, 422, "invalid_request", fields={field})


def test_malformed_decision_id_and_format_are_422(client, world):
    for bad in ("-leading-dash", "x" * 65, "a%20b"):
        resp = client.get(f"/v1/decisions/{bad}", headers=world.auth("read"))
        assert_error(resp, 422, "invalid_request", fields={"decision_id"})
    bad_fmt = client.get(
        "/v1/decisions/dec_x", params={"format": "docx"}, headers=world.auth("read")
    )
    assert_error(bad_fmt, 422, "invalid_request", fields={"format"})


def test_unknown_routes_and_methods_have_the_error_shape(client, world):
    missing = client.get(f"/v2/{CANARY_SUBJECT}", headers=world.auth("read"))
    assert_error(missing, 404, "not_found")
    wrong = client.put("/healthz")
    error = assert_error(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "GET, HEAD"
    assert error["message"] == "this route does not accept the method; Allow names those it does"
    # a method no route knows, as an ASGI server that passes it on (h11) hands it over;
    # uvicorn's C parser (httptools) refuses it itself (400 text/plain: README says so)
    wrong = client.request("FOO", "/healthz")
    assert_error(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "GET, HEAD" and "FOO" not in wrong.text
    wrong = client.get(DECIDE, headers=world.auth("decide"))
    assert_error(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "POST"


def test_head_answers_as_get_without_the_body(client, world):
    # RFC 9110 9.3.2; monitors and load balancers probe with HEAD (FastAPI answers 405)
    made = decide(client, world, world.row(6)).json()
    read = world.auth("read")
    paths = ["/healthz", "/readyz", "/openapi.json", "/docs", made["links"]["self"]]
    paths += [made["links"]["letter_html"], made["links"]["letter_pdf"]]
    for path in paths:
        got, head = client.get(path, headers=read), client.head(path, headers=read)
        assert (head.status_code, got.status_code) == (200, 200), path
        assert head.content == b"" and got.content, path
        for name in ("content-type", "content-length", "cache-control"):
            assert head.headers[name] == got.headers[name], (path, name)
        assert int(head.headers["content-length"]) == len(got.content)
    # errors too: the same status and headers, no body
    assert client.head(made["links"]["self"]).status_code == 401
    assert client.head(f"/v2/{CANARY_SUBJECT}").status_code == 404
    refused = client.head(DECIDE, headers=world.auth("decide"))  # a POST route
    assert (refused.status_code, refused.headers["allow"], refused.content) == (405, "POST", b"")


def test_a_trailing_slash_is_404_not_a_redirect(client, world):
    # Starlette would answer 307 with a Location built from the Host header, which a
    # client following it resends the body to
    made = decide(client, world, world.row(7)).json()
    for method, path in [("GET", made["links"]["self"] + "/"), ("POST", DECIDE + "/")]:
        resp = client.request(
            method,
            path,
            json={"features": world.row(7)},
            headers={**world.auth("admin"), "Host": "evil.example"},
            follow_redirects=False,
        )
        assert_error(resp, 404, "not_found")
        assert "location" not in resp.headers


def test_every_response_has_the_default_headers(client, world):
    for path in ["/healthz", "/readyz", "/openapi.json", f"/v2/{CANARY_SUBJECT}"]:
        resp = client.get(path)
        assert resp.headers["x-content-type-options"] == "nosniff", path
        assert resp.headers["cache-control"] in ("no-store", "no-cache"), path
    assert client.get("/healthz").headers["cache-control"] == "no-store"


# -- rate limit, health ------------------------------------------------------------------


def test_rate_limit_is_per_key_with_retry_after(world):
    app = create_app(world.service, settings=ApiSettings(rate_limit=2))
    with TestClient(app) as c:
        first = [c.get("/v1/decisions/dec_none", headers=world.auth("read")) for _ in range(2)]
        assert [r.status_code for r in first] == [404, 404]
        over = c.get("/v1/decisions/dec_none", headers=world.auth("read"))
        error = assert_error(over, 429, "rate_limited")
        assert int(over.headers["retry-after"]) >= 1
        assert "2 requests a minute" in error["message"]
        # another key has its own bucket; an unknown key is not limited but refused
        assert c.get("/v1/decisions/dec_none", headers=world.auth("decide")).status_code == 404
        for _ in range(3):
            refused = c.get("/v1/decisions/dec_none", headers={"X-API-Key": "gk_x_y"})
            assert_error(refused, 401, "unauthenticated")


def test_health_and_readiness(client, world):
    from govkit.service import DecisionService
    from govkit.store import Store

    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    closed = Store.open(world.db_url)
    closed.close()
    with TestClient(create_app(DecisionService(closed))) as c:
        assert c.get("/healthz").status_code == 200
        error = assert_error(c.get("/readyz"), 503, "not_ready")
        assert error["message"].startswith("not ready: ")


# -- privacy of logs ------------------------------------------------------------------------


def test_no_personal_value_reaches_the_logs(client, world, caplog):
    caplog.set_level(logging.DEBUG)
    decide(client, world, _row(world, income=CANARY))
    decide(client, world, _row(world, postcode=CANARY))
    decide(client, world, _row(world, income={"x": CANARY}))
    decide(client, world, world.row(0), subject_id=CANARY_SUBJECT)
    client.delete(f"/v1/subjects/{CANARY_SUBJECT}", headers=world.auth("admin"))
    client.delete(f"/v1/subjects/{CANARY_SUBJECT}", headers=world.auth("admin"))
    client.get(f"/nope/{CANARY_SUBJECT}")
    server_side = ("govkit", "uvicorn", "fastapi", "starlette")  # not the test's own client
    for record in caplog.records:
        if not record.name.startswith(server_side):
            continue
        text = record.getMessage()
        assert CANARY not in text and CANARY_SUBJECT not in text, text


def test_decisions_are_counted_in_the_audit_log(client, world):
    before = len(decision_events(world.store))
    for i in range(3):
        assert decide(client, world, world.row(20 + i)).status_code == 201
    assert len(decision_events(world.store)) == before + 3
    assert world.store.verify_chain().ok


def test_importing_the_api_package_loads_no_web_framework(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, govkit.api; "
        "print(','.join(m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert out.stdout.strip() == "" and out.stderr == ""
