"""The flow board in a real browser: headless Chromium (Debian's, driven by Playwright) against the
live server, with a trading day of order hits, strike counts and outcomes stored.

A trader who is not signed in is sent to the sign-in page and lands on the board after it; the
board lists the hits with their insight sentences, narrows them by a filter without a reload (and
asks the API again), shows a hit stored while it is open within two seconds (server-sent events),
and fits a 390 px phone. A ticker's page draws its strike heatmap (unusual cells marked, colours by
premium), its premium over the day (uPlot's canvas) and its past alerts with their outcomes.
Nothing is requested from any host but the live server. The API wants a token here, so the pages
read it with the session cookie alone.

One browser for the module; screenshots go to artifacts/, and with FLOWSITE_SCREENSHOTS=1 to
docs/screenshots/ too (the README shows those). Chromium: tests/browser.py.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils import timezone

from tests import processes
from tests.browser import PNG_SIGNATURE, chromium
from tests.factories import ns_at, only_profile, stored_order
from trades.models import FilterProfile, Order, OrderOutcome, VolumeCount

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

USER, PASSWORD = "trader", "a-long-test-password-9"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LIVE_WITHIN_MS = 2000
GREEN = "rgb(63, 185, 80)"  # board.css: --bull
SCREENSHOTS = {
    "board": processes.ROOT / "artifacts" / "board.png",
    "heatmap": processes.ROOT / "artifacts" / "heatmap.png",
}
DOCS_SCREENSHOTS = processes.ROOT / "docs" / "screenshots"


# The trading day shown: the last weekday up to today, New York.
def trading_day() -> date:
    day = timezone.localdate()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


DAY = trading_day()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@dataclass
class Seen:
    """What the browser did besides what a test looks at: every URL it asked for, every script error."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def elsewhere(self) -> list[str]:
        """The requests for another host than the server's."""
        return [
            url for url in self.requests if urlsplit(url).scheme != "data" and urlsplit(url).hostname not in LOCAL_HOSTS
        ]


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def page(browser: Any, seen: Seen, settings: Any) -> Iterator[Any]:
    settings.API_TOKEN = "a-token-the-browser-does-not-know"  # the pages must read with the session alone
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    context.on("request", lambda request: seen.requests.append(request.url))
    opened = context.new_page()
    opened.on("pageerror", lambda error: seen.errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()  # ends the event stream: the server's thread lets its connection go
        connections.close_all()


@pytest.fixture
def trader(db: None) -> Any:
    """An ordinary active user: no staff flag needed for the board."""
    return get_user_model().objects.create_user(USER, "trader@example.com", PASSWORD)


@pytest.fixture
def trading_floor(db: None) -> dict[str, Order]:
    """A day of order hits on ten names, NVDA's strike counts (that day and six before) and its
    earlier alerts with their outcomes: what the screenshots show."""
    sweeps = only_profile("sweeps", ["NVDA", "AAPL", "TSLA", "SPY", "QQQ"], judges="orders")
    store_counts()
    for days_back, row, moves in PAST_NVDA:
        past_alert(sweeps, days_back, row, moves)
    return {key: hit(sweeps, key, row) for key, row in TODAY_HITS.items()}


def visible_rows(page: Any) -> int:
    return int(page.locator("#flow tbody.hit:not([hidden])").count())


def test_the_board_lists_streams_and_filters_hits(live_server, page, seen, trader, trading_floor):
    started = time.monotonic()
    # Not signed in: the sign-in page, then the board.
    page.goto(live_server.url + "/board/")
    assert urlsplit(page.url).path == "/accounts/login/" and "next=/board/" in page.url
    page.fill("#id_username", USER)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/board/")
    rows = page.locator("#flow tbody.hit")
    rows.first.wait_for()
    stored = len(TODAY_HITS) + len(PAST_NVDA)
    assert rows.count() == stored

    # The known hit: its ticker (a link to its page), premium, sentiment and insight sentence.
    nvda = page.locator(f'#flow tbody[data-order-id="{trading_floor["nvda-150c"].order_id}"]')
    figures = nvda.locator("tr.figures").inner_text()
    assert "NVDA" in figures and "$2.4M" in figures and "SWEEP" in figures and "Bullish" in figures
    assert nvda.locator("a", has_text="NVDA").get_attribute("href") == "/board/NVDA/"
    assert nvda.locator("tr.insight").inner_text() == trading_floor["nvda-150c"].insight
    assert nvda.get_attribute("data-sentiment") == "BULLISH"
    assert nvda.locator(".sentiment").evaluate("sentiment => getComputedStyle(sentiment).color") == GREEN
    page.wait_for_selector("#summary a.chip:has-text('NVDA')")  # the day's strip

    # A hit stored while the board is open comes in over the stream, at the top.
    page.wait_for_selector("#live[data-state=open]")
    stored_at = time.monotonic()
    live_key, live_row = LIVE_HIT
    live = hit(FilterProfile.objects.get(), live_key, live_row, judged_at=timezone.now())
    page.wait_for_selector(f'#flow tbody[data-order-id="{live.order_id}"]', timeout=LIVE_WITHIN_MS)
    arrived_ms = (time.monotonic() - stored_at) * 1000
    assert rows.first.get_attribute("data-order-id") == live.order_id
    assert "AMD" in rows.first.inner_text() and "$1.2M" in rows.first.inner_text()

    # A filter narrows the rows at once, asks the API again, and keeps the address bookmarkable.
    page.evaluate("window.sameDocument = true")
    with page.expect_response(lambda response: "/api/flow?" in response.url and "sentiment=BEARISH" in response.url):
        page.select_option("select[name=sentiment]", "BEARISH")
    bearish = sum(row.sentiment == "BEARISH" for row in [*TODAY_HITS.values(), *(row for _, row, _ in PAST_NVDA)])
    assert (
        visible_rows(page) == page.locator("#flow tbody.hit[data-sentiment=BEARISH]:not([hidden])").count() == bearish
    )
    page.fill("input[name=ticker]", "nvda")
    page.fill("input[name=min_premium]", "700000")
    page.wait_for_function("document.querySelectorAll('#flow tbody.hit:not([hidden])').length === 1")
    assert "$130 P" in page.locator("#flow tbody.hit:not([hidden])").inner_text()
    assert urlsplit(page.url).query == "ticker=NVDA&sentiment=BEARISH&min_premium=700000"
    assert page.evaluate("window.sameDocument") is True  # no reload
    with page.expect_response(lambda response: response.url.endswith("/api/flow?limit=50")):
        page.click("button[type=reset]")
    page.wait_for_function(f"document.querySelectorAll('#flow tbody.hit').length === {stored + 1}")
    assert visible_rows(page) == stored + 1 and urlsplit(page.url).query == ""

    page.wait_for_selector("#summary a.chip:has-text('AMD'):has-text('2 hits')")  # the strip follows the stream
    save_screenshot(page, "board")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the board scrolls sideways"
    premium = rows.first.locator(".premium").bounding_box()  # a hit's figures fit the phone's width
    assert premium is not None and premium["x"] + premium["width"] <= PHONE["width"]
    assert rows.first.locator("tr.insight").is_visible()

    assert seen.elsewhere() == [] and seen.errors == []
    print(f"board: the hit showed {arrived_ms:.0f} ms after it was stored; {time.monotonic() - started:.1f} s in all")


def test_a_tickers_page_draws_its_heatmap_premium_and_past_alerts(
    live_server, page, seen, client, trader, trading_floor
):
    client.force_login(trader)
    session = {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}
    page.context.add_cookies([session])
    page.goto(live_server.url + "/board/nvda/")  # any case: one address per ticker
    assert urlsplit(page.url).path == "/board/NVDA/"
    page.wait_for_selector("#heatmap table.heatmap")
    assert page.input_value("#day") == DAY.isoformat()  # the day of the newest alert

    # The heatmap: calls and puts, coloured by premium, unusual cells outlined and marked, hits marked.
    assert page.locator("#heatmap h3").all_inner_texts() == ["Calls", "Puts"]
    assert page.locator("#heatmap td.cell:not(.none)").count() >= 40
    colours = page.eval_on_selector_all(
        "#heatmap td.cell:not(.none)", "cells => cells.map(cell => cell.style.backgroundColor)"
    )
    assert len(set(colours)) >= 10
    unusual = page.locator("#heatmap td.cell.unusual")
    assert unusual.count() >= 2 and unusual.first.locator(".unusual-marker").inner_text() == "◆"
    assert page.eval_on_selector("#heatmap td.cell.unusual", "cell => getComputedStyle(cell).outlineStyle") == "solid"
    marked = page.locator("#heatmap td.cell.has-hits.unusual").first.get_attribute("title") or ""
    assert marked.startswith("NVDA $150 calls") and "usual $" in marked and "× its usual day" in marked
    assert "2 order hits" in marked

    # Premium over the day: uPlot drew its lines on a canvas.
    page.wait_for_selector("#premium canvas")
    drawn = page.eval_on_selector(
        "#premium canvas",
        """canvas => {
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted += 1;
            return {width: canvas.width, painted};
        }""",
    )
    assert drawn["width"] > 300 and drawn["painted"] > 1000, drawn
    assert "Net (calls − puts)" in page.inner_text("#premium")

    # Past alerts of NVDA with what the stock did next.
    alerts = page.locator("#alerts tbody.hit")
    assert alerts.count() == sum(row.ticker == "NVDA" for row in TODAY_HITS.values()) + len(PAST_NVDA)
    oldest = alerts.last.locator(".outcome")
    assert oldest.inner_text().split() == ["0d", "+0.9%", "1d", "+2.3%", "3d", "+4.1%", "5d", "+3.8%"]
    assert oldest.locator(".right").count() == 4
    assert "3d pending" in alerts.nth(3).locator(".outcome").inner_text()
    save_screenshot(page, "heatmap")

    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "the ticker page scrolls sideways"
    )

    # Another day: the picker draws that day and keeps it in the address.
    earlier = DAY - timedelta(days=30)
    page.fill("#day", earlier.isoformat())
    page.wait_for_selector(f"#heatmap p:has-text('No NVDA trades counted on {earlier.isoformat()}')")
    assert urlsplit(page.url).query == f"day={earlier.isoformat()}"

    assert seen.elsewhere() == [] and seen.errors == []


def save_screenshot(page: Any, name: str) -> None:
    path = SCREENSHOTS[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    if os.environ.get("FLOWSITE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)


class Row(NamedTuple):
    """One order hit of the scene: ``expiry`` counts Fridays from its day (0: the nearest)."""

    ticker: str
    strike: int
    right: str
    expiry: int
    kind: str
    sentiment: str
    aggressor: str
    size: int
    premium: int
    clock: str  # New York
    opening: bool | None
    golden: bool = False


# The day's hits; their insight sentences go on with SAYS after "<contract> (<DTE>, <direction>): ".
TODAY_HITS = {
    "iwm-220p": Row("IWM", 220, "P", 0, "BLOCK", "BEARISH", "BUY", 1_500, 330_000, "09:47:12", True),
    "amd-160c": Row("AMD", 160, "C", 1, "SWEEP", "BULLISH", "BUY", 1_800, 450_000, "10:05:41", True),
    "nvda-150c": Row("NVDA", 150, "C", 1, "SWEEP", "BULLISH", "BUY", 4_000, 2_440_000, "10:42:17", True, True),
    "tsla-240p": Row("TSLA", 240, "P", 1, "BLOCK", "BEARISH", "BUY", 2_000, 1_100_000, "11:05:03", True),
    "spy-600p": Row("SPY", 600, "P", 0, "SWEEP", "BEARISH", "BUY", 5_400, 860_000, "11:31:55", False),
    "aapl-195c": Row("AAPL", 195, "C", 1, "SPLIT", "BULLISH", "BUY", 1_200, 410_000, "12:02:30", True),
    "msft-430c": Row("MSFT", 430, "C", 3, "SWEEP", "BEARISH", "SELL", 900, 655_000, "12:47:09", False),
    "amzn-210c": Row("AMZN", 210, "C", 1, "SWEEP", "BULLISH", "BUY", 3_100, 1_300_000, "13:15:44", True, True),
    "meta-600p": Row("META", 600, "P", 2, "BLOCK", "BEARISH", "BUY", 650, 520_000, "13:40:21", True),
    "qqq-510p": Row("QQQ", 510, "P", 0, "SWEEP", "BEARISH", "BUY", 9_500, 1_900_000, "14:10:08", True, True),
    "nvda-130p": Row("NVDA", 130, "P", 0, "SWEEP", "BEARISH", "BUY", 2_600, 780_000, "14:22:36", True),
    "aapl-200c": Row("AAPL", 200, "C", 2, "BLOCK", "NEUTRAL", "NEUTRAL", 1_000, 300_000, "14:55:00", None),
    "googl-175c": Row("GOOGL", 175, "C", 3, "SWEEP", "BULLISH", "BUY", 700, 350_000, "15:12:19", True),
    "nvda-150c-again": Row("NVDA", 150, "C", 1, "SWEEP", "BULLISH", "BUY", 1_700, 1_050_000, "15:31:02", True),
    "spy-590p": Row("SPY", 590, "P", 1, "SPLIT", "BULLISH", "SELL", 2_200, 275_000, "15:44:27", False),
}
LIVE_HIT = ("amd-live", Row("AMD", 170, "C", 2, "SWEEP", "BULLISH", "BUY", 2_400, 1_200_000, "15:58:30", True))
# NVDA's alerts of earlier days: weekdays back, the hit, its moves 0, 1, 3 and 5 trading days after.
PAST_NVDA = [
    (2, Row("NVDA", 145, "C", 1, "SWEEP", "BULLISH", "BUY", 2_000, 900_000, "11:12:40", True), ("0.004", "0.017")),
    (
        6,
        Row("NVDA", 135, "P", 1, "BLOCK", "BEARISH", "BUY", 1_500, 600_000, "14:03:11", True),
        ("-0.006", "0.011", "0.024", "0.031"),
    ),
    (
        9,
        Row("NVDA", 140, "C", 2, "SWEEP", "BULLISH", "BUY", 3_300, 1_400_000, "10:21:05", True, True),
        ("0.009", "0.023", "0.041", "0.038"),
    ),
]
UNUSUAL = "this strike's usual — unusual concentration."
SAYS = {
    "iwm-220p": f"$330K premium in the last 30 minutes (22% of IWM's), 3.4× {UNUSUAL} No similar alert before.",
    "amd-160c": (
        "$450K premium in the last 30 minutes (31% of AMD's), 2.1× this strike's usual. Last time ({ago8}) the "
        "stock moved +1.4% next day; of 6 similar alerts since {ago60}, 4 rose next day (67%, 95% CI 30–90%) — too "
        "few to say."
    ),
    "nvda-150c": (
        f"$2.4M premium in the last 30 minutes (41% of NVDA's), 8.2× {UNUSUAL} Last time ({{ago8}}) the stock moved "
        "+1.8% next day; of 14 similar alerts since {ago60}, 9 rose next day (64%, 95% CI 39–84%)."
    ),
    "tsla-240p": (
        f"$1.1M premium in the last 30 minutes (18% of TSLA's), 5.6× {UNUSUAL} Last time ({{ago3}}) the stock moved "
        "-2.2% next day; of 11 similar alerts since {ago60}, 6 fell next day (55%, 95% CI 28–79%)."
    ),
    "spy-600p": (
        "$860K premium in the last 30 minutes (6% of SPY's), 1.7× this strike's usual. Last time ({ago1}) the stock "
        "moved -0.4% next day; of 38 similar alerts since {ago60}, 20 fell next day (53%, 95% CI 37–68%)."
    ),
    "aapl-195c": (
        f"$410K premium in the last 30 minutes (27% of AAPL's), 3.9× {UNUSUAL} Last time ({{ago8}}) the stock moved "
        "+0.6% next day; of 9 similar alerts since {ago60}, 5 rose next day (56%, 95% CI 27–81%) — too few to say."
    ),
    "msft-430c": (
        "$655K premium in the last 30 minutes (35% of MSFT's), 2.6× this strike's usual. No similar alert before."
    ),
    "amzn-210c": (
        f"$1.3M premium in the last 30 minutes (44% of AMZN's), 100×+ {UNUSUAL} Last time ({{ago3}}) the stock moved "
        "+2.9% next day; of 12 similar alerts since {ago60}, 8 rose next day (67%, 95% CI 39–86%)."
    ),
    "meta-600p": f"$520K premium in the last 30 minutes (29% of META's), 4.4× {UNUSUAL} No similar alert before.",
    "qqq-510p": (
        f"$1.9M premium in the last 30 minutes (12% of QQQ's), 6.3× {UNUSUAL} Last time ({{ago1}}) the stock moved "
        "-0.8% next day; of 21 similar alerts since {ago60}, 12 fell next day (57%, 95% CI 37–76%)."
    ),
    "nvda-130p": (
        f"$780K premium in the last 30 minutes (19% of NVDA's), 5.1× {UNUSUAL} Last time ({{ago3}}) the stock moved "
        "-1.1% next day; of 7 similar alerts since {ago60}, 3 fell next day (43%, 95% CI 16–75%) — too few to say."
    ),
    "aapl-200c": "$300K premium in the last 30 minutes (15% of AAPL's), 1.9× this strike's usual.",
    "googl-175c": f"$350K premium in the last 30 minutes (24% of GOOGL's), 3.2× {UNUSUAL} No similar alert before.",
    "nvda-150c-again": (
        f"$1.1M premium in the last 30 minutes (38% of NVDA's), 11× {UNUSUAL} Last time ({{ago8}}) the stock moved "
        "+1.8% next day; of 15 similar alerts since {ago60}, 10 rose next day (67%, 95% CI 42–85%)."
    ),
    "spy-590p": "$275K premium in the last 30 minutes (4% of SPY's), 1.2× this strike's usual.",
    "amd-live": f"$1.2M premium in the last 30 minutes (52% of AMD's), 9.4× {UNUSUAL} No similar alert before.",
    "nvda-past-2": f"$900K premium in the last 30 minutes (33% of NVDA's), 4.8× {UNUSUAL}",
    "nvda-past-6": f"$600K premium in the last 30 minutes (21% of NVDA's), 3.1× {UNUSUAL}",
    "nvda-past-9": f"$1.4M premium in the last 30 minutes (45% of NVDA's), 12× {UNUSUAL} No similar alert before.",
}


def contract(ticker: str, strike: int, right: str, expiry: date) -> str:
    return f"O:{ticker}{expiry:%y%m%d}{right}{strike * 1000:08d}"


def at(day: date, clock: str) -> int:
    hour, minute, second = (int(part) for part in clock.split(":"))
    return ns_at(day, hour, minute) + second * 1_000_000_000


def month_day(day: date) -> str:
    return f"{day:%b} {day.day}"


def weekdays_back(count: int, since: date = DAY) -> date:
    day = since
    while count:
        day -= timedelta(days=1)
        count -= day.weekday() < 5
    return day


def fridays_from(day: date) -> list[date]:
    """The expiries of the scene: the next four Fridays (``day`` itself when it is one)."""
    return [day + timedelta(days=(4 - day.weekday()) % 7 + 7 * week) for week in range(4)]


def hit(profile: FilterProfile, key: str, row: Row, day: date = DAY, judged_at: datetime | None = None) -> Order:
    """Store one order hit as the closer would, its insight sentence included."""
    expiry = fridays_from(day)[row.expiry]
    dte = (expiry - day).days
    first_ns = at(day, row.clock)
    sign = {"BULLISH": 1, "BEARISH": -1}.get(row.sentiment, 0)
    dates = {f"ago{n}": month_day(weekdays_back(n, day)) for n in (1, 3, 8, 60)}
    what = f"{row.ticker} ${row.strike} {'calls' if row.right == 'C' else 'puts'} {expiry.month}/{expiry.day}"
    exchanges = [300, 302, 304, 307, 309][: 5 if row.kind == "SWEEP" else 1]
    return stored_order(
        key,
        day,
        profile,
        first_ts_ns=first_ns,
        last_ts_ns=first_ns + 180_000_000,
        symbol=contract(row.ticker, row.strike, row.right, expiry),
        underlying=row.ticker,
        expiry=expiry,
        right=row.right,
        strike=Decimal(row.strike),
        type=row.kind,
        prints=len(exchanges) * 3,
        exchanges=exchanges,
        iso=row.kind == "SWEEP",
        golden=row.golden,
        size=row.size,
        premium=Decimal(row.premium),
        vwap=Decimal(row.premium) / row.size / 100,
        dte=dte,
        aggressor=row.aggressor,
        sentiment=row.sentiment,
        signed_premium=Decimal(sign * row.premium),
        opening=row.opening,
        open_interest=row.size // 2,
        vol_oi=Decimal("2.40") if row.opening else Decimal("0.60"),
        insight=f"{what} ({dte} DTE, {row.sentiment.lower()}): {SAYS[key].format(**dates)}",
        judged_at=judged_at or timezone.now() - timedelta(hours=1),
    )


def past_alert(profile: FilterProfile, days_back: int, row: Row, moves: tuple[str, ...]) -> None:
    """An earlier alert and what the stock did after it (horizons not closed yet: pending)."""
    order = hit(profile, f"nvda-past-{days_back}", row, day=weekdays_back(days_back))
    move = [Decimal(each) for each in moves] + [None] * (4 - len(moves))
    market = [Decimal("0.002") * (i + 1) for i in range(len(moves))] + [None] * (4 - len(moves))
    OrderOutcome.objects.create(
        order=order,
        spot0=Decimal(140),
        **{f"move_{days}d": move[i] for i, days in enumerate((0, 1, 3, 5))},
        **{f"market_{days}d": market[i] for i, days in enumerate((0, 1, 3, 5))},
        complete=len(moves) == 4,
    )


def store_counts() -> None:
    """NVDA's option premium per contract and minute: the day (through its minutes, for the chart)
    and six days before (its usual day); three contracts far above their usual, two with order hits."""
    rng = random.Random(7)
    spot, strikes = 141, range(120, 165, 5)
    expiries = fridays_from(DAY)
    open_minute = ns_at(DAY, 9, 30) // 60_000_000_000
    rows = []
    for expiry_index, expiry in enumerate(expiries):
        for strike in strikes:
            for right in "CP":
                if expiry_index == 3 and abs(strike - spot) > 15:
                    continue  # far from the money, far out: not traded
                symbol = contract("NVDA", strike, right, expiry)
                usual = 900_000 * 0.55 ** (abs(strike - spot) / 5) * 0.7**expiry_index
                boost = {("C", 150, 1): 9.0, ("P", 130, 0): 5.5, ("C", 145, 2): 4.0}.get(
                    (right, strike, expiry_index), 1
                )
                today = usual * boost * rng.uniform(0.6, 1.6)
                for minute in sorted(rng.sample(range(390), 25)):
                    cents = int(today * 100 / 25 * rng.uniform(0.5, 1.5))
                    rows.append(count_row(symbol, DAY, open_minute + minute, cents))
                for days_back in range(1, 7):
                    past = weekdays_back(days_back)
                    past_minute = ns_at(past, 10, 30) // 60_000_000_000
                    rows.append(count_row(symbol, past, past_minute, int(usual * 100 * rng.uniform(0.8, 1.2))))
    VolumeCount.objects.bulk_create(rows)


def count_row(symbol: str, day: date, minute: int, cents: int) -> VolumeCount:
    return VolumeCount(
        symbol=symbol, underlying="NVDA", trade_date=day, minute=minute, volume=max(cents // 50_000, 1), premium=cents
    )
