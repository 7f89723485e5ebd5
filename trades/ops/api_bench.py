"""How fast the API answers on a big history: one million stored order hits (by default), 90 days
of 60 names, the query mix a board and a script send, each query timed through the whole Django
view (parameters, SQL, serializing) in this process. Printed, never asserted.

The rows are written by PostgreSQL itself (``generate_series``, a fixed seed): a million through the
ORM would take longer than the measurement. Each order has its profile matches and, for most, an
outcome; prints are left out (a page reads its orders' prints by an index on the order id, the
same few rows however big the table).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

from django.db import connection
from django.test import Client, override_settings

from trades.domain.cursor import Cursor
from trades.models import FilterProfile, Order

TICKERS = (
    "SPY",
    "QQQ",
    "IWM",
    "NVDA",
    "TSLA",
    "AAPL",
    "AMZN",
    "META",
    "MSFT",
    "GOOGL",
    "AMD",
    "NFLX",
    "AVGO",
    "SMCI",
    "PLTR",
    "COIN",
    "MSTR",
    "BA",
    "DIS",
    "JPM",
    "BAC",
    "XOM",
    "CVX",
    "WMT",
    "COST",
    "HD",
    "NKE",
    "SBUX",
    "UBER",
    "ABNB",
    "SHOP",
    "SNOW",
    "CRM",
    "ORCL",
    "INTC",
    "MU",
    "QCOM",
    "TXN",
    "ARM",
    "TSM",
    "BABA",
    "PDD",
    "JD",
    "NIO",
    "F",
    "GM",
    "RIVN",
    "LCID",
    "SOFI",
    "HOOD",
    "PYPL",
    "SQ",
    "V",
    "MA",
    "GS",
    "MS",
    "C",
    "WFC",
    "KO",
    "PEP",
)
DAYS = 90
FIRST_DAY = date(2026, 8, 3)
REPEATS = 20  # each query, after one warm-up
GOAL_MS = 100.0


def fill(orders: int, say: Callable[[str], None]) -> None:
    """``orders`` order hits over DAYS days, ids rising with time as live ones do; their matches and outcomes."""
    profiles = list(FilterProfile.objects.order_by("id").values_list("id", flat=True)[:3])
    if len(profiles) < 3:
        raise RuntimeError("the bench database needs the three shipped presets")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(_ORDERS_SQL, {"n": orders, "days": DAYS, "first": FIRST_DAY, "tickers": list(TICKERS)})
        say(f"  {orders:,} orders written in {time.monotonic() - started:.1f} s")
        cursor.execute(_MATCHES_SQL, {"a": profiles[0], "b": profiles[1], "c": profiles[2]})
        cursor.execute(_OUTCOMES_SQL.replace("%%", "%"))  # no parameters: no escaping
        # As a database at rest is: vacuumed and analysed, the writes checkpointed (else autovacuum
        # and the checkpointer take the machine in the middle of the measurement).
        cursor.execute("VACUUM (ANALYZE) trades_order, trades_ordermatch, trades_orderoutcome")
        cursor.execute("CHECKPOINT")
    say(f"  with matches and outcomes, vacuumed and analysed: {time.monotonic() - started:.1f} s")


# One row per g: a New York session minute of day g*DAYS/n, a name (the first ones busier), a
# premium log-uniform from $50K to $10M, and flags at the rates a live day shows.
_ORDERS_SQL = """
INSERT INTO trades_order (
    order_id, state, noise, noise_detail, symbol, underlying, expiry, "right", strike, type, subtype,
    prints, size, premium, vwap, dte, first_ts_ns, last_ts_ns, traded_at, exchanges, conditions,
    price_path, iso, golden, repeated_hits, buy_size, sell_size, neutral_size, aggressor, sentiment,
    signed_premium, open_interest, volume_before, opening, opening_strict, vol_oi, spot, insight,
    insight_facts, candidate_profiles, source, received_at, judged_at
)
SELECT
    'bench' || lpad(g::text, 15, '0'), 'hit', '', '',
    'O:' || u || to_char(day + dte, 'YYMMDD') || cp || lpad((strike * 1000)::bigint::text, 8, '0'),
    u, day + dte, cp, strike, kind, '',
    prints, size, premium, premium / size / 100, dte, ts, ts + prints * 40000000, to_timestamp(ts / 1e9),
    '[]', '[]', 'FLAT', kind = 'SWEEP', kind = 'SWEEP' AND r3 < 0.08, r4 < 0.05,
    0, 0, size, 'BUY', sentiment,
    CASE sentiment WHEN 'BULLISH' THEN premium WHEN 'BEARISH' THEN -premium ELSE 0 END,
    oi, oi / 2, r5 < 0.3, r5 < 0.1, round((size::numeric / greatest(oi, 1)), 2), 100,
    u || ' $' || strike || ' ' || CASE cp WHEN 'C' THEN 'calls' ELSE 'puts' END || ': a benchmark order.',
    jsonb_build_object('concentration', jsonb_build_object('unusual', r6 < 0.05)), '[]', 'live',
    to_timestamp(ts / 1e9), to_timestamp(ts / 1e9)
FROM (
    SELECT
        g, u, day, cp, kind, sentiment, dte, strike, prints, size, r3, r4, r5, r6, oi,
        round((exp(ln(50000) + random() * ln(200)))::numeric, 2) AS premium,
        (extract(epoch FROM (day + time '09:30') AT TIME ZONE 'America/New_York')::bigint
            + floor(random() * 23400)::bigint) * 1000000000 + g %% 1000000000 AS ts
    FROM (
        SELECT
            g,
            (%(tickers)s::text[])[1 + floor(power(random(), 2) * 60)::int] AS u,
            %(first)s::date + (g::bigint * %(days)s / %(n)s)::int AS day,
            CASE WHEN random() < 0.6 THEN 'C' ELSE 'P' END AS cp,
            (ARRAY['SWEEP', 'SWEEP', 'BLOCK', 'SPLIT', 'SINGLE'])[1 + floor(random() * 5)::int] AS kind,
            (ARRAY['BULLISH', 'BEARISH', 'NEUTRAL'])[1 + floor(random() * 3)::int] AS sentiment,
            floor(power(random(), 2) * 60)::int AS dte,
            (20 + floor(random() * 180)) * 2.5 AS strike,
            1 + floor(random() * 30)::int AS prints,
            100 + floor(random() * 5000)::int AS size,
            random() AS r3, random() AS r4, random() AS r5, random() AS r6,
            floor(random() * 20000)::int AS oi
        FROM generate_series(1, %(n)s) AS g
    ) raw
) shaped
"""
_MATCHES_SQL = """
INSERT INTO trades_ordermatch (order_id, profile_id)
SELECT id, CASE id %% 3 WHEN 0 THEN %(a)s WHEN 1 THEN %(b)s ELSE %(c)s END FROM trades_order
UNION ALL
SELECT id, %(a)s FROM trades_order WHERE id %% 7 = 1 AND id %% 3 <> 0
"""
_OUTCOMES_SQL = """
INSERT INTO trades_orderoutcome (order_id, spot0, move_0d, move_1d, market_1d, complete, updated_at)
SELECT id, 100, 0, round((random() - 0.5)::numeric / 10, 6), 0, false, now() FROM trades_order WHERE id %% 10 < 7
"""


def queries() -> dict[str, str]:
    """The mix: the board's first page and its filters, deep pages, one order, the day's views."""
    newest = Order.objects.order_by("-first_ts_ns", "-id").values_list("first_ts_ns", "id", "order_id")
    ts, pk, order_id = newest[500]
    _, deep_pk, _ = newest[200_000] if newest.count() > 200_000 else newest[500]
    deep = Order.objects.get(pk=deep_pk)
    profile = FilterProfile.objects.order_by("id").values_list("name", flat=True)[1]
    day = FIRST_DAY + timedelta(days=DAYS - 1)
    return {
        "newest 50": "/api/flow?limit=50",
        "ticker": "/api/flow?ticker=NVDA",
        "ticker+type+sentiment": "/api/flow?ticker=TSLA&type=sweep&sentiment=bullish",
        "three tickers": "/api/flow?ticker=AAPL,MSFT,AMZN",
        "a rare ticker": "/api/flow?ticker=PEP",
        "min premium $5M": "/api/flow?min_premium=5000000",
        "puts 0-7 DTE": "/api/flow?side=put&dte_max=7",
        "opening + golden": "/api/flow?opening=true&rule=golden",
        "unusual": "/api/flow?rule=unusual",
        "above OI, one ticker": "/api/flow?rule=above_oi&ticker=AMD",
        "profile": f"/api/flow?profile={profile}",
        "one day, one ticker": f"/api/flow?ticker=AAPL&since={day}&until={day + timedelta(days=1)}",
        "page after 500": f"/api/flow?cursor={Cursor(ts, pk).encode()}",
        "page after 200,000": f"/api/flow?cursor={Cursor(deep.first_ts_ns, deep.id).encode()}",
        "deep page, filtered": f"/api/flow?ticker=NVDA&cursor={Cursor(deep.first_ts_ns, deep.id).encode()}",
        "one order": f"/api/orders/{order_id}",
        "its analogs": f"/api/orders/{order_id}/analogs",
        "day summary": f"/api/summary?day={day}",
        "premium over the day": f"/api/premium/NVDA?day={day}",
        "heatmap": f"/api/concentration/NVDA?day={day}",
        "legacy orders": "/api/pulse/orders?limit=50",
    }


@override_settings(ALLOWED_HOSTS=["testserver"])  # the test client's host name
def measure(say: Callable[[str], None]) -> list[float]:
    client = Client()
    every: list[float] = []
    say(f"  {'query':<24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  rows")
    for name, url in queries().items():
        response = client.get(url, secure=True)  # production settings redirect http
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.content[:200]!r}")
        rows = len(response.json().get("results", [])) if "results" in response.json() else 1
        times = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            client.get(url, secure=True)
            times.append((time.perf_counter() - started) * 1000)
        every += times
        say(f"  {name:<24} {statistics.median(times):8.1f} {_p95(times):8.1f} {max(times):8.1f}  {rows}")
    return every


def run(orders: int, say: Callable[[str], None]) -> None:
    say(f"API on {orders:,} stored order hits ({DAYS} days, {len(TICKERS)} names)")
    fill(orders, say)
    every = measure(say)
    p95 = _p95(every)
    verdict = "within" if p95 < GOAL_MS else "OVER"
    say(f"  all queries: p50 {statistics.median(every):.1f} ms, p95 {p95:.1f} ms ({verdict} the {GOAL_MS:.0f} ms goal)")


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[18] if len(times) >= 2 else times[0]
