"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against uvicorn.

Signs in, clicks inventory -> model version -> policy run -> model card, checks the
content, that Tab reaches the skip link and the main links with a visible focus, that
the console stays free of errors and that no request leaves 127.0.0.1. Screenshots
(desktop, phone, print) go to build/test-artifacts/dashboard/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from api_helpers import serve
from browser_helpers import watched_page
from dashboard_helpers import MODEL, build_registry, make_app

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "build" / "test-artifacts" / "dashboard"


@pytest.fixture(scope="module")
def site(tmp_path_factory, adult_files, adult_test):
    registry = build_registry(tmp_path_factory.mktemp("dash-browser"), adult_files, adult_test)
    with serve(make_app(registry)) as base:
        yield registry, base
    registry.store.close()


def test_click_through_inventory_model_run_and_card(browser, site):
    registry, base = site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    watched = watched_page(browser)
    page, errors, hosts = watched.page, watched.errors, watched.hosts

    page.goto(f"{base}/dashboard/")
    assert page.url.startswith(f"{base}/dashboard/login")  # sent to sign in
    page.get_by_label("API key").fill(registry.keys["read"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/dashboard/")
    assert page.get_by_role("heading", level=1).inner_text() == "Model inventory"
    row = page.locator("tbody tr", has=page.get_by_role("link", name=f"{MODEL}@1"))
    latest = registry.store.latest_run(registry.runs[0].result.model)
    assert latest.result.status.value in row.inner_text()
    assert "four-fifths-sex (until 2999-12-31)" in row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "inventory.png"), full_page=True)

    # keyboard: the first Tab reaches the skip link, further Tabs the navigation and the model
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # a visible focus indicator
    reached = []
    for _ in range(25):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    for name in ("Inventory", "Decisions", "Audit log", f"{MODEL}@1"):
        assert name in reached, reached
    page.keyboard.press("Shift+Tab")

    page.get_by_role("link", name=f"{MODEL}@1").click()
    page.wait_for_url(f"**/dashboard/models/{MODEL}/versions/1")
    assert page.get_by_role("heading", level=1).inner_text() == f"{MODEL}@1"
    assert page.locator("svg.trend").count() == len(latest.result.checks)
    assert page.locator("svg.bars rect").count() >= 2  # one bar per sex
    page.screenshot(path=str(ARTIFACTS / "model.png"), full_page=True)

    page.get_by_role("link", name=f"Run {latest.run_id}", exact=True).click()
    page.wait_for_url(f"**/dashboard/runs/{latest.run_id}")
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == f"Policy run {latest.run_id}: {latest.result.status.value}"
    checks = page.locator("table.checks tbody tr")
    assert checks.count() == len(latest.result.checks)
    assert latest.result.policy_digest in page.content()
    page.screenshot(path=str(ARTIFACTS / "run.png"), full_page=True)

    page.get_by_role("link", name="HTML").first.click()
    page.wait_for_url(f"**/dashboard/models/{MODEL}/versions/1/card.html")
    assert MODEL in page.title() or MODEL in page.inner_text("body")
    assert "dashboard-gate" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "card.png"))

    for path in ("/dashboard/decisions", "/dashboard/audit"):
        page.goto(f"{base}{path}")
        assert page.locator("main h1").count() == 1
        page.screenshot(path=str(ARTIFACTS / f"{path.rsplit('/', 1)[1]}.png"), full_page=True)
    assert "Intact" in page.inner_text("main")
    page.emulate_media(media="print")
    page.screenshot(path=str(ARTIFACTS / "audit-print.png"), full_page=True)
    assert page.locator("header nav").is_hidden()  # the print stylesheet drops navigation
    page.context.close()

    assert errors == []
    assert hosts == {"127.0.0.1"}


def test_pages_fit_a_phone(browser, site):
    registry, base = site
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.set_extra_http_headers({"Authorization": f"Bearer {registry.keys['read']}"})
    for path in ("/dashboard/", f"/dashboard/models/{MODEL}/versions/1"):
        page.goto(f"{base}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 1, f"{path} scrolls sideways ({width}px)"
    page.screenshot(path=str(ARTIFACTS / "model-phone.png"), full_page=True)
    context.close()
