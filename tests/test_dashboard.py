"""The compliance dashboard, in process: every page's content against the store, sign-in,
tenants, errors, escaping and the absence of personal data.

The registry (tests/dashboard_helpers.py) is real: the demo pipeline on UCI Adult, two
policy runs of a gate with a waiver, decisions through the decision service.
"""

from __future__ import annotations

import html
import io
import re
import uuid

import pytest
from api_helpers import assert_error
from dashboard_helpers import CANARY_SUBJECT, HOSTILE, MODEL, build_registry, make_app
from markupsafe import escape

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

HTML = {"Accept": "text/html"}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def registry(request, tmp_path_factory, adult_files, adult_test):
    """The same world on a SQLite file and on a fresh PostgreSQL database."""
    folder = tmp_path_factory.mktemp("dashboard")
    if request.param == "sqlite":
        reg = build_registry(folder, adult_files, adult_test)
        yield reg
        reg.store.close()
        return
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(request.getfixturevalue("pg_url"))
    name = f"t_dash_{uuid.uuid4().hex}"
    admin = {"host": base.host, "port": base.port, "user": base.username, "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    reg = build_registry(folder, adult_files, adult_test, db_url=url)
    try:
        yield reg
    finally:
        reg.store.close()
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def client(registry):
    with TestClient(make_app(registry), follow_redirects=False) as c:
        yield c


def auth(registry, role: str = "read") -> dict[str, str]:
    return {"Authorization": f"Bearer {registry.keys[role]}", **HTML}


def get(client, registry, path: str, role: str = "read"):
    resp = client.get(path, headers=auth(registry, role))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    return resp.text


def text_of(page: str) -> str:
    """The page's visible text, tags dropped and entities decoded, whitespace collapsed."""
    page = re.sub(r"<svg.*?</svg>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def g4(value: float) -> str:
    return f"{value:.4g}"


# -- pages against the store ---------------------------------------------------------------


def test_inventory_shows_every_version_with_its_latest_verdict(client, registry):
    page = get(client, registry, "/dashboard/")
    store = registry.store
    records = store.list_model_versions()
    assert [f"{r.name}@{r.version}" for r in records] == ["credit@1", "hostile@1"]
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", page, flags=re.S)
    assert len(rows) == len(records)
    latest = store.latest_run(records[0].ref)
    assert latest.run_id == registry.runs[1].run_id  # the second run is the latest
    credit = text_of(rows[0])
    assert f"credit@1 {records[0].metadata.owner} high {latest.result.status.value}" in credit
    waived = [c for c in latest.result.checks if c.waiver]
    assert [c.rule_id for c in waived] == ["four-fifths-sex"]
    assert f"four-fifths-sex (until {waived[0].waiver.expires.isoformat()})" in credit
    assert f'href="/dashboard/runs/{latest.run_id}"' in rows[0]
    assert latest.result.finished_at.strftime("%Y-%m-%d %H:%M UTC") in credit
    assert "not evaluated" in text_of(rows[1])  # the hostile model has no run
    assert "2 of 2 model versions shown" in text_of(page)


def test_inventory_filters_and_sorts(client, registry):
    page = get(client, registry, "/dashboard/?verdict=NONE")
    assert "hostile@1" in page and "credit@1" not in page
    page = get(client, registry, "/dashboard/?q=CREDIT-RISK")  # owner, case-insensitive
    assert "credit@1" in page and "hostile@1" not in page
    page = get(client, registry, "/dashboard/?sort=name&order=desc")
    assert page.index("hostile@1") < page.index("credit@1")
    assert 'aria-sort="descending"' in page
    page = get(client, registry, "/dashboard/?sort=verdict")  # WARN before not evaluated
    assert page.index("credit@1") < page.index("hostile@1")
    resp = client.get("/dashboard/?sort=nope", headers=auth(registry) | {"Accept": "*/*"})
    assert_error(resp, 422, "invalid_request", fields={"sort"})


def test_model_page_shows_trends_fairness_lineage_runs_and_events(client, registry):
    page = get(client, registry, f"/dashboard/models/{MODEL}/versions/1")
    text = text_of(page)
    store = registry.store
    first, second = (o.result for o in registry.runs)
    for a, b in zip(first.checks, second.checks, strict=True):
        assert a.rule_id == b.rule_id
        label = f"Trend of rule {a.rule_id} over 2 runs: from {g4(a.value)} to {g4(b.value)}"
        assert html.escape(label, quote=True) in page
        row = f"{b.rule_id} {b.check_id} {g4(b.value)} {b.bound if b.bound else '—'} "
        assert row + b.status.value in text
    # fairness bars: one bar per group, its selection rate from the latest run's evidence
    fair = next(c for c in second.checks if c.rule_id == "four-fifths-sex")
    for group in fair.evidence.groups:
        rate = group.metrics.get(fair.evidence.metric, next(iter(group.metrics.values())))
        assert f"{' / '.join(group.group)} {g4(rate)}" in page  # the chart's aria-label
    # lineage: the training data and its parent, as a graph and a list
    lineage = store.lineage(store.get_model_version(registry.runs[0].result.model).training_data)
    assert [str(d.ref) for d in lineage] == ["adult-train@1", "adult-raw@1"]
    assert 'class="lineage"' in page
    assert "adult-train@1 : 3,000 rows" in text and "derived from adult-raw@1" in text
    assert "Evaluation data: adult-test@1 (1,000 rows)" in text
    for outcome in registry.runs:
        assert f'href="/dashboard/runs/{outcome.run_id}"' in page
        assert f"#{outcome.anchor.sequence}" in text
    registered = next(e for e in store.audit_events() if e.event_type == "model.registered")
    assert f"#{registered.sequence}" in text and "model.registered" in text
    assert f'/dashboard/models/{MODEL}/versions/1/card.html"' in page
    assert f'/dashboard/models/{MODEL}/versions/1/card.pdf"' in page


def test_run_page_lists_every_check_with_value_bound_and_evidence(client, registry):
    outcome = registry.runs[0]
    page = get(client, registry, f"/dashboard/runs/{outcome.run_id}")
    text = text_of(page)
    result = outcome.result
    assert f"Policy run {outcome.run_id}: {result.status.value}" in text
    assert result.policy_digest in text and result.policy_path in text
    assert f"{result.n_rows:,} rows" in text
    for check in result.checks:
        row = (
            f"{check.rule_id} {check.check_id} {check.severity} {check.status.value} "
            f"{g4(check.value)}"
        )
        assert row in text
        if check.bound is not None:
            assert str(check.bound) in text
    fair = next(c for c in result.checks if c.rule_id == "four-fifths-sex")
    assert f"Waived by {fair.waiver.approver} until 2999-12-31" in text
    for group in fair.evidence.groups:
        assert f"{' / '.join(group.group)} {group.count:,}" in text
    accuracy = next(c for c in result.checks if c.rule_id == "accuracy")
    for name, value in accuracy.evidence.values.items():
        if value is not None:
            assert f"{name} {g4(value)}" in text
    assert f"audit event #{outcome.anchor.sequence} {outcome.anchor.hash[:16]}" in text


def test_decisions_page_counts_the_tenants_decisions_without_personal_data(client, registry):
    page = get(client, registry, "/dashboard/decisions")
    text = text_of(page)
    mine, theirs = registry.decisions["acme"], registry.decisions["globex"]
    reliable = sum(d.explanation.reliable for d in mine)
    assert f"{len(mine)} decisions; {reliable} with a reliable explanation" in text
    day = mine[0].created_at.date().isoformat()
    assert f"{day} {len(mine)} {reliable}" in text  # the daily table
    for d in mine:
        assert d.decision_id in page
        assert f"{d.decision_id} {MODEL}@1" in text
    assert "pseudonymised" in text  # the first decision had a subject id
    assert theirs[0].decision_id not in page  # another tenant's
    # no personal data: no subject id, no feature value, no outcome or score
    assert CANARY_SUBJECT not in page
    for d in mine:
        assert d.explanation.outcome not in text
        for feature in ("occupation", "native-country", "marital-status"):
            assert str(d.features[feature]) not in text
    other = get(client, registry, "/dashboard/decisions", role="globex")
    assert theirs[0].decision_id in other
    assert all(d.decision_id not in other for d in mine)


def test_audit_page_shows_the_chain_status_and_recent_events(client, registry):
    page = get(client, registry, "/dashboard/audit")
    text = text_of(page)
    report = registry.store.verify_chain()
    assert report.ok
    assert f"Intact: all {report.events:,} events verify" in text
    assert f"Head sequence #{report.head_sequence}" in text and report.head_hash in text
    # counts per type; the tenants' event types (decisions, subjects, API keys) as one
    # total, so that no tenant learns how often another erases or answers access requests
    counts: dict[str, int] = {}
    for event in registry.store.audit_events():
        kind = event.event_type
        if kind.startswith(("decision.", "subject.", "api_key.")):
            kind = "decision.*, subject.*, api_key.* (all tenants)"
        counts[kind] = counts.get(kind, 0) + 1
    assert counts["decision.*, subject.*, api_key.* (all tenants)"] >= 2
    for kind, n in counts.items():
        assert f"{kind} {n:,}" in text
    assert "decision.recorded" not in text.split("Recent events")[0]
    # another tenant's event is listed by its sequence alone: not what it names, nor its
    # type, time or the key that wrote it
    theirs = registry.decisions["globex"][0]
    assert theirs.decision_id not in page
    event = registry.store.audit_events(after=theirs.audit_sequence - 1, limit=1)[0]
    row = _event_row(page, theirs.audit_sequence)
    assert row == '<td colspan="4">(another tenant\'s record)</td>'
    assert event.actor and event.timestamp  # (what the row leaves out)
    # the other tenant sees its own event in full, and the first tenant's by sequence
    other = get(client, registry, "/dashboard/audit?limit=1000", role="globex")
    mine = registry.decisions["acme"][0]
    own = _event_row(other, theirs.audit_sequence)
    assert "<code>decision.recorded</code>" in own and f"<td>{event.actor}</td>" in own
    assert f"decision:{theirs.decision_id}" in own
    assert (
        _event_row(other, mine.audit_sequence) == '<td colspan="4">(another tenant\'s record)</td>'
    )


def _event_row(page: str, sequence: int) -> str:
    """The cells of the audit page's row of event ``sequence``."""
    found = re.search(rf"<tr><th scope=\"row\">#{sequence}</th>(.*?)</tr>", page, re.S)
    assert found is not None, f"no row #{sequence}"
    return found.group(1).strip()


def test_a_tampered_log_shows_as_broken(registry):
    """One payload changed in the database behind govkit's back, then put back."""
    from sqlalchemy import create_engine, text

    from govkit.dashboard import DashboardData

    engine = create_engine(registry.db_url)
    change = "UPDATE govkit_audit_events SET payload = replace(payload, :a, :b) WHERE sequence = 1"
    try:
        with engine.begin() as conn:
            assert conn.execute(text(change), {"a": "adult", "b": "adulT"}).rowcount == 1
        chain = DashboardData(registry.store).audit(None, limit=5).chain
        assert not chain.ok and chain.first_bad_sequence == 1
    finally:
        with engine.begin() as conn:
            conn.execute(text(change), {"a": "adulT", "b": "adult"})
        engine.dispose()
    assert DashboardData(registry.store).audit(None, limit=5).chain.ok


# -- cards ---------------------------------------------------------------------------------


def test_card_links_serve_the_model_card(client, registry):
    events_before = len(registry.store.audit_events())
    resp = client.get(f"/dashboard/models/{MODEL}/versions/1/card.html", headers=auth(registry))
    assert resp.status_code == 200
    assert "default-src 'none'" in resp.headers["content-security-policy"]
    card = text_of(resp.text)
    assert f"{MODEL}" in card and "dashboard-gate" in card
    assert str(registry.runs[1].anchor.sequence) in card  # the latest run's audit anchor
    pdf = client.get(f"/dashboard/models/{MODEL}/versions/1/card.pdf", headers=auth(registry))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-type"] == "application/pdf"
    # a tagged PDF, like the pages: a screen reader gets its structure and the figures' text
    from pypdf import PdfReader

    root = PdfReader(io.BytesIO(pdf.content)).trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"]) and "/StructTreeRoot" in root
    assert len(registry.store.audit_events()) == events_before  # read-only: nothing logged


# -- authentication ------------------------------------------------------------------------


def test_pages_need_a_read_key_when_keys_exist(client, registry):
    for path in ("/dashboard/", f"/dashboard/models/{MODEL}/versions/1", "/dashboard/audit",
                 "/dashboard/decisions", f"/dashboard/runs/{registry.runs[0].run_id}",
                 f"/dashboard/models/{MODEL}/versions/1/card.html"):  # fmt: skip
        resp = client.get(path)
        assert_error(resp, 401, "unauthenticated")
        browser = client.get(path, headers=HTML)
        assert browser.status_code == 303
        assert browser.headers["location"].startswith("/dashboard/login?next=%2Fdashboard%2F")
    resp = client.get("/dashboard/", headers={"Authorization": f"Bearer {registry.keys['decide']}"})
    assert_error(resp, 403, "forbidden")
    resp = client.get("/dashboard/", headers={"X-API-Key": "gk_nope_nope"})
    assert_error(resp, 401, "unauthenticated")


def test_sign_in_sets_a_strict_http_only_session_cookie(registry):
    with TestClient(make_app(registry), follow_redirects=False) as c:
        page = c.get("/dashboard/login?next=/dashboard/audit", headers=HTML)
        assert page.status_code == 200 and 'name="key"' in page.text
        bad = c.post("/dashboard/login", data={"key": "gk_wrong_key", "next": "/dashboard/"})
        assert bad.status_code == 401 and "Sign-in failed" in bad.text
        assert "gk_wrong_key" not in bad.text and "set-cookie" not in bad.headers
        no_read = c.post("/dashboard/login", data={"key": registry.keys["decide"]})
        assert no_read.status_code == 401
        ok = c.post(
            "/dashboard/login", data={"key": registry.keys["read"], "next": "/dashboard/audit"}
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/dashboard/audit"
        cookie = ok.headers["set-cookie"]
        assert cookie.startswith("govkit_session=")
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/dashboard"):
            assert attribute.lower() in cookie.lower()
        assert "secure" not in cookie.lower()  # plain http here
        assert registry.keys["read"] not in cookie  # the key stays on the server
        page = c.get("/dashboard/audit", headers=HTML)
        assert page.status_code == 200 and "Chain status" in page.text
        assert "Tenant acme" in text_of(page.text)
        out = c.post("/dashboard/logout")
        assert out.status_code == 303
        assert c.get("/dashboard/audit", headers=HTML).status_code == 303


def test_sign_in_refuses_other_sites_and_foreign_redirects(client, registry):
    resp = client.post(
        "/dashboard/login",
        data={"key": registry.keys["read"]},
        headers={"Origin": "https://evil.example"},
    )
    assert_error(resp, 403, "forbidden")
    for target in ("https://evil.example/", "//evil.example/x", "/v1/decisions/x", "/\\evil"):
        resp = client.post("/dashboard/login", data={"key": registry.keys["read"], "next": target})
        assert resp.status_code == 303 and resp.headers["location"] == "/dashboard/"


def test_a_revoked_key_ends_the_session(registry):
    _info, token = registry.store.create_api_key(
        tenant="acme", scopes=["read"], name="short-lived", actor="test"
    )
    key_id = token.split("_")[1]
    with TestClient(make_app(registry), follow_redirects=False) as c:
        assert c.post("/dashboard/login", data={"key": token}).status_code == 303
        assert c.get("/dashboard/", headers=HTML).status_code == 200
        registry.store.revoke_api_key(key_id, actor="test")
        c.app.state.govkit.backend._principals.clear()  # the service caches lookups briefly
        resp = c.get("/dashboard/", headers=HTML)
        assert resp.status_code == 303 and "/dashboard/login" in resp.headers["location"]


def test_without_api_keys_the_dashboard_is_open(tmp_path, adult_test):
    from govkit.api import create_app
    from govkit.dashboard import DashboardData
    from govkit.service import DecisionService
    from govkit.store import Store
    from govkit.workflows import register_dataset

    with Store.open(f"sqlite:///{tmp_path / 'open.db'}") as store:
        register_dataset(adult_test.iloc[:50], name="tiny", store=store)
        app = create_app(DecisionService(store), dashboard=DashboardData(store))
        with TestClient(app) as c:
            page = c.get("/dashboard/", headers=HTML)
            assert page.status_code == 200 and "0 of 0 model versions" in text_of(page.text)
            decisions = c.get("/dashboard/decisions", headers=HTML)
            assert "All tenants (no API keys are configured)" in text_of(decisions.text)
            assert c.get("/", follow_redirects=False).headers["location"] == "/dashboard/"


# -- errors, escaping, headers -------------------------------------------------------------


def test_unknown_model_and_run_are_404_in_the_api_error_shape(client, registry):
    headers = {"Authorization": f"Bearer {registry.keys['read']}"}
    error = assert_error(
        client.get(f"/dashboard/models/{MODEL}/versions/9", headers=headers), 404, "not_found"
    )
    assert error["message"] == "no such model version is registered"  # no path value
    error = assert_error(client.get("/dashboard/runs/999", headers=headers), 404, "not_found")
    assert error["message"] == "no such policy run is recorded"
    assert_error(
        client.get("/dashboard/models/nope/versions/1/card.html", headers=headers),
        404,
        "not_found",
    )
    assert_error(client.get("/dashboard/runs/0", headers=headers), 422, "invalid_request")
    page = client.get("/dashboard/runs/999", headers=auth(registry))
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "404: not found" in text_of(page.text)


def test_hostile_metadata_is_escaped(client, registry):
    for path in ("/dashboard/", "/dashboard/models/hostile/versions/1"):
        page = get(client, registry, path)
        assert "<script" not in page and "<img" not in page
        assert str(escape(HOSTILE)) in page


def test_pages_send_a_strict_policy_and_load_only_local_assets(client, registry):
    resp = client.get("/dashboard/", headers=auth(registry))
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'self'" in csp
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["x-frame-options"] == "DENY"
    assert re.findall(r'(?:href|src)="(https?:)?//', resp.text) == []
    assert "<script" not in resp.text and " style=" not in resp.text
    css = client.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "@media print" in css.text and ":focus-visible" in css.text
