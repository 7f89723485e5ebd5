"""The admin in a real browser: headless Chromium (Debian's, driven by Playwright) against the live server.

A trader raises a profile's minimum premium, pastes tickers into a watchlist, and a real worker
then judges replayed trades by the new value and tries to deliver the hit to a webhook endpoint
that refuses every connection. On a 1366 px screen: the trade browser shows New York times and
fits without scrolling sideways, the endpoint shows as failing, and ``/`` answers. The trade
browser is saved as a screenshot.

Chromium: tests/browser.py (Debian's, no browser download; a missing one fails the test).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from tests import processes
from tests.browser import PNG_SIGNATURE, chromium
from tests.factories import frame
from trades.models import FilterProfile, OptionTrade, WatchedTicker, Watchlist, WebhookEndpoint
from trades.presets import MAG7

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOT = processes.ROOT / "artifacts" / "trade-browser.png"
NY = ZoneInfo("America/New_York")
USER, PASSWORD = "trader", "a-long-test-password-9"


@pytest.fixture
def page() -> Iterator:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 768})  # the common laptop
        context.set_default_timeout(15_000)
        yield context.new_page()


def nvda_call(premium_thousands: int, sequence: int) -> dict:
    """An NVDA call 14 days out, traded now: $premium_thousands K at 100 contracts."""
    now = timezone.now()
    expiry = (now.astimezone(NY) + timedelta(days=14)).strftime("%y%m%d")
    price = premium_thousands * 1000 / (100 * 100)
    return {
        "ev": "T",
        "sym": f"O:NVDA{expiry}C00150000",
        "x": 302,
        "p": price,
        "s": 100,
        "c": [209],
        "t": int(now.timestamp() * 1000) + sequence,
        "q": sequence,
    }


def test_a_premium_change_in_the_admin_judges_the_next_trades(live_server, page, tmp_path):
    get_user_model().objects.create_superuser(USER, "trader@example.com", PASSWORD)
    # Our own profile, whether or not the shipped presets are there (a flush drops them).
    FilterProfile.objects.all().delete()
    Watchlist.objects.all().delete()
    mag7 = Watchlist.objects.create(name="mag7")
    WatchedTicker.objects.bulk_create(WatchedTicker(watchlist=mag7, symbol=symbol) for symbol in MAG7)
    profile = FilterProfile.objects.create(
        name="mag7-smart-money", watchlist=mag7, min_premium=50_000, min_dte=0, max_dte=30
    )
    chips = Watchlist.objects.create(name="chips")

    def url(name: str, *args: object) -> str:
        return live_server.url + reverse(name, args=args)

    # Log in.
    page.goto(url("admin:login"))
    page.fill("#id_username", USER)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")

    # Raise the minimum premium from $50K to $100K.
    page.goto(url("admin:trades_filterprofile_change", profile.pk))
    assert "Dollars, at least" in page.inner_text("#content-main")  # the units are explained
    page.fill("#id_min_premium", "100000")
    page.click("input[name=_save]")
    assert "Saved: workers apply it within 5 s" in page.inner_text("ul.messagelist")
    profile.refresh_from_db()
    assert profile.min_premium == Decimal("100000.00")

    # Paste tickers into a watchlist; the list shows them.
    page.goto(url("admin:trades_watchlist_change", chips.pk))
    page.fill("#id_add_tickers", "amd, intc\nAVGO  amd")
    page.click("input[name=_save]")
    assert "Added 3 tickers: AMD, INTC, AVGO." in page.inner_text("ul.messagelist")
    row = page.locator("#result_list tr", has_text="chips")
    assert "AMD, AVGO, INTC" in row.inner_text()

    # An endpoint nobody answers: every delivery attempt fails.
    endpoint = WebhookEndpoint.objects.create(
        name="desk", url=f"http://127.0.0.1:{closed_port()}/hook", allow_private=True
    )

    # A worker started after the change reads the new value; a $60K trade no longer passes, $150K does.
    worker = processes.start_worker(tmp_path / "worker.log", queues="ingest,webhooks")
    try:
        from flowsite.celery import app

        batch = [frame(nvda_call(60, sequence=1), nvda_call(150, sequence=2))]
        app.send_task("trades.ingest_batch", args=[batch], kwargs={"source": "replay"}, queue="ingest")
        processes.wait_for(lambda: OptionTrade.objects.exists(), 60, "the $150K trade to be stored")
        processes.wait_for(processes.ingest_queue_idle, 30, "the ingest queue to drain")
        processes.wait_for(lambda: endpoint_failures(endpoint) >= 1, 30, "the first delivery attempt to fail")
    finally:
        processes.stop(worker)
    stored = [(trade.sequence, trade.premium) for trade in OptionTrade.objects.all()]
    assert stored == [(2, Decimal("150000.00"))], (tmp_path / "worker.log").read_text()[-3000:]

    # The trade browser shows it; keep a screenshot.
    page.goto(url("admin:trades_optiontrade_changelist"))
    table = page.inner_text("#result_list")
    for text in ["Call", "$150,000", "mag7-smart-money", "DTE", "OI"]:
        assert text in table
    assert "$60,000" not in table
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T", table), "New York time with its zone"
    assert "NVDA" in table and "150 Call" in table  # the contract by name
    assert sideways_overflow(page) == [], "the trade list scrolls sideways"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.read_bytes()[:8] == PNG_SIGNATURE

    # The endpoint that failed every attempt shows as failing, in red, not as a green "Active".
    page.goto(url("admin:trades_webhookendpoint_changelist"))
    health = page.locator("#result_list tr", has_text="desk").locator(".verdict")
    assert health.inner_text().strip().startswith("Failing since")
    assert "verdict-bad" in (health.get_attribute("class") or "")

    # Every other list page fits too.
    too_wide = {}
    for model in admin.site._registry:
        page.goto(url(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        if overflow := sideways_overflow(page):
            too_wide[model.__name__] = overflow
    assert too_wide == {}

    # The landing page, also where the admin's "View site" leads.
    assert page.locator("#user-tools a", has_text="View site").get_attribute("href") == "/"
    response = page.goto(live_server.url + "/")
    assert response is not None and response.status == 200
    assert "Latest hits (1 today)" in page.inner_text("#content")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366


def sideways_overflow(page) -> list[str]:
    """What scrolls sideways: the page, or the admin's own scrolling box around a list's table."""
    return page.evaluate(
        """() => {
            const wide = [];
            if (document.documentElement.scrollWidth > window.innerWidth) wide.push("page");
            const results = document.querySelector("#changelist .results");
            if (results && results.scrollWidth > results.clientWidth) wide.push("table " + results.scrollWidth);
            return wide;
        }"""
    )


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def endpoint_failures(endpoint: WebhookEndpoint) -> int:
    endpoint.refresh_from_db()
    return endpoint.consecutive_failures
