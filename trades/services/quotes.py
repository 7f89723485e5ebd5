"""The NBBO at an order's first print, over REST, for the orders that can become hits.

One look-up per order (``/v3/quotes/{contract}``, newest at or before the print, one result):
counted with its time in the `quote-lookups` usage counter. A plan without quotes (Polygon
answers 401/403) is remembered for QUOTES_REFUSED_RETRY_SECONDS, a failure or a timeout is
counted: either way the order's side is UNKNOWN, never a guess. The look-up waits at most
QUOTE_READ_TIMEOUT and is not retried: a late quote is worth less than a timely alert.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db.models import F

from trades.domain.side import Quote
from trades.models import UsageCounter
from trades.polygon_rest import loaders
from trades.polygon_rest.client import AccessRefused, rest_client

logger = logging.getLogger(__name__)

QUOTE_LOOKUPS = "quote-lookups"
_refused_until = 0.0


def nbbo_at(symbol: str, ts_ns: int) -> Quote | None:
    """The NBBO in force at ``ts_ns``, or None (no key, no quotes in the plan, none found, a failure)."""
    global _refused_until
    if not settings.POLYGON_API_KEY or not settings.ORDER_QUOTES or time.monotonic() < _refused_until:
        return None
    started = time.monotonic()
    failed = False
    try:
        client = rest_client(read_timeout=settings.QUOTE_READ_TIMEOUT, retries=0)
        return loaders.load_quote(client, symbol, ts_ns)
    except AccessRefused as exc:
        failed = True
        _refused_until = time.monotonic() + settings.QUOTES_REFUSED_RETRY_SECONDS
        logger.warning("quotes refused (%s): sides are UNKNOWN for %.0f s", exc, settings.QUOTES_REFUSED_RETRY_SECONDS)
    except Exception as exc:
        failed = True
        logger.warning("quote look-up for %s failed: %s: %s", symbol, type(exc).__name__, exc)
    finally:
        _count(time.monotonic() - started, failed)
    return None


def _count(seconds: float, failed: bool) -> None:
    counter, _ = UsageCounter.objects.get_or_create(name=QUOTE_LOOKUPS)
    UsageCounter.objects.filter(pk=counter.pk).update(
        calls=F("calls") + 1, failures=F("failures") + int(failed), seconds=F("seconds") + seconds
    )
