"""The NBBO at an order's first print, over REST, for the orders that can become hits.

One look-up per order (``/v3/quotes/{contract}``, newest at or before the print, one result),
a batch's look-ups QUOTE_CONCURRENCY at a time over kept-alive connections: counted with the time
they took in the `quote-lookups` usage counter. A plan without quotes (Polygon
answers 401/403) is remembered for QUOTES_REFUSED_RETRY_SECONDS, a failure or a timeout is
counted: either way the order's side is UNKNOWN, never a guess. The look-up waits at most
QUOTE_READ_TIMEOUT and is not retried: a late quote is worth less than a timely alert.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db.models import F

from trades.domain.side import Quote
from trades.models import UsageCounter
from trades.polygon_rest import loaders
from trades.polygon_rest.client import AccessRefused, GuardedRESTClient, rest_client

logger = logging.getLogger(__name__)

QUOTE_LOOKUPS = "quote-lookups"
_refused_until = 0.0
_clients: dict[tuple[str, str], GuardedRESTClient] = {}


def nbbo_at_each(moments: list[tuple[str, int]]) -> list[Quote | None]:
    """The NBBO in force at each (contract, ns), or None (no key, no quotes in the plan, none found,
    a failure). Up to QUOTE_CONCURRENCY look-ups at once; counted once for the lot."""
    if not moments or not settings.POLYGON_API_KEY or not settings.ORDER_QUOTES or time.monotonic() < _refused_until:
        return [None] * len(moments)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(settings.QUOTE_CONCURRENCY, len(moments))) as pool:
        looked_up = list(pool.map(_look_up, moments))
    failures = sum(1 for _, failed in looked_up if failed)
    _count(len(moments), failures, time.monotonic() - started)
    return [quote for quote, _ in looked_up]


def _look_up(moment: tuple[str, int]) -> tuple[Quote | None, bool]:
    global _refused_until
    symbol, ts_ns = moment
    try:
        return loaders.load_quote(_client(), symbol, ts_ns), False
    except AccessRefused as exc:
        _refused_until = time.monotonic() + settings.QUOTES_REFUSED_RETRY_SECONDS
        logger.warning("quotes refused (%s): sides are UNKNOWN for %.0f s", exc, settings.QUOTES_REFUSED_RETRY_SECONDS)
    except Exception as exc:
        logger.warning("quote look-up for %s failed: %s: %s", symbol, type(exc).__name__, exc)
    return None, True


def _client() -> GuardedRESTClient:
    """One client per API address and key, kept: its connections stay open between look-ups."""
    key = (settings.POLYGON_REST_URL, settings.POLYGON_API_KEY)
    if key not in _clients:
        client = rest_client(read_timeout=settings.QUOTE_READ_TIMEOUT, retries=0)
        # As many kept-alive connections as look-ups at once (urllib3 keeps one per host by default).
        client.client.connection_pool_kw["maxsize"] = settings.QUOTE_CONCURRENCY
        _clients[key] = client
    return _clients[key]


def _count(calls: int, failures: int, seconds: float) -> None:
    counter, _ = UsageCounter.objects.get_or_create(name=QUOTE_LOOKUPS)
    UsageCounter.objects.filter(pk=counter.pk).update(
        calls=F("calls") + calls, failures=F("failures") + failures, seconds=F("seconds") + seconds
    )
