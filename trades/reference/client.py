"""Polygon's REST client, made safe for unattended refreshes.

polygon-api-client 1.16.3 (its last release) has four traps this module closes:

- ``connect_timeout`` and ``read_timeout`` are stored but never applied: a server that stops
  answering holds the caller forever. The timeouts go into the pool manager's
  ``connection_pool_kw`` before the first request, so every connection pool gets them.
- Its own retry policy (a 0.1 s backoff factor, 413 and 499 retried, Retry-After
  honoured up to urllib3's six hours) is replaced: ours retries GET on 429 and every 5xx with
  exponential backoff, honours ``Retry-After`` up to a minute, tries a read timeout only once
  more, and after the last try urllib3 raises ``MaxRetryError``. Any other non-200 answer
  raises polygon's ``BadResponse``.
- A page that is not JSON ends the paginator silently (``return []``), so a proxy's HTML error
  page in the middle of a listing looks like the end of the list. Our decoder raises instead.
- ``"greeks": null`` (or any null or non-object where the models expect an object) makes the
  models' ``from_dict`` raise ``TypeError`` inside the paginator, losing the whole listing for
  one odd contract. Our decoder drops such values (and turns non-object items into empty ones,
  which the loaders count as malformed), so one bad item costs one item.
"""

from __future__ import annotations

from typing import Any

import orjson
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from polygon import RESTClient
from urllib3.util.retry import Retry

# Backoff between tries: 0 s, then 1, 2, 4, ... seconds, at most BACKOFF_MAX_SECONDS.
BACKOFF_FACTOR = 0.5
BACKOFF_MAX_SECONDS = 30.0
# A Retry-After longer than this is cut short, so a server's hint cannot park a worker for hours.
RETRY_AFTER_MAX_SECONDS = 60
RETRY_STATUSES = frozenset({429, *range(500, 600)})

# Fields the client's models build objects from: a null or non-object there breaks from_dict.
_OBJECT_FIELDS = frozenset(
    {
        "day",
        "details",
        "greeks",
        "last_quote",
        "last_trade",
        "underlying_asset",
        "sip_mapping",
        "update_rules",
        "consolidated",
        "market_center",
    }
)
_LIST_OF_OBJECT_FIELDS = frozenset({"additional_underlyings"})


class ReferenceDataError(Exception):
    """Polygon answered 200 with something that is not a usable response.

    Deliberately not a ValueError: the client's paginator swallows ValueError as "end of list".
    """


class GuardedRESTClient(RESTClient):
    """polygon's RESTClient whose decoder refuses what the stock one would silently drop."""

    def _decode(self, resp: Any) -> Any:
        return decode_response(resp.data)


def decode_response(body: bytes) -> dict[str, Any]:
    """Parse one response body; raise ReferenceDataError if it is not a JSON object or says ERROR."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ReferenceDataError(f"response is not JSON ({exc}): {body[:200]!r}") from None
    if not isinstance(data, dict):
        raise ReferenceDataError(f"response is not a JSON object: {body[:200]!r}")
    if data.get("status") == "ERROR":
        raise ReferenceDataError(f"Polygon answered ERROR: {data.get('error') or data.get('message')}")
    results = data.get("results")
    if isinstance(results, list):
        data["results"] = [_defused(item) for item in results]
    elif isinstance(results, dict):
        data["results"] = _defused(results)
    return data


def _defused(item: object) -> dict[str, Any]:
    """The item with every value the client's models cannot build an object from removed."""
    if not isinstance(item, dict):
        return {}  # becomes a record with every field None, which the loaders count as malformed
    for key in _OBJECT_FIELDS & item.keys():
        value = item[key]
        if isinstance(value, dict):
            item[key] = _defused(value)
        else:
            del item[key]
    for key in _LIST_OF_OBJECT_FIELDS & item.keys():
        value = item[key]
        if isinstance(value, list):
            item[key] = [entry for entry in value if isinstance(entry, dict)]
        else:
            del item[key]
    return item


def retry_policy(total: int) -> Retry:
    return Retry(
        total=total,
        connect=total,
        # A read error or timeout is tried once more (a dropped keep-alive connection is the
        # usual cause); a server that hangs costs at most two read timeouts, not `total` of them.
        read=min(total, 1),
        status=total,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=BACKOFF_FACTOR,
        backoff_max=BACKOFF_MAX_SECONDS,
        respect_retry_after_header=True,
        retry_after_max=RETRY_AFTER_MAX_SECONDS,
        raise_on_status=True,  # MaxRetryError after the last try, never a 5xx handed back
    )


def rest_client() -> RESTClient:
    """A REST client for settings.POLYGON_REST_URL with timeouts and retries that apply."""
    if not settings.POLYGON_API_KEY:
        raise ImproperlyConfigured("POLYGON_API_KEY is not set: the reference data needs Polygon's REST API")
    client = GuardedRESTClient(
        api_key=settings.POLYGON_API_KEY,  # explicit: the default was read from the environment at import
        base=settings.POLYGON_REST_URL.rstrip("/"),
        connect_timeout=settings.POLYGON_REST_CONNECT_TIMEOUT,
        read_timeout=settings.POLYGON_REST_READ_TIMEOUT,
        retries=settings.POLYGON_REST_RETRIES,
    )
    # No pool exists yet, so every pool the manager creates from here on gets these.
    pool_kw = client.client.connection_pool_kw
    pool_kw["timeout"] = urllib3.Timeout(
        connect=settings.POLYGON_REST_CONNECT_TIMEOUT, read=settings.POLYGON_REST_READ_TIMEOUT
    )
    pool_kw["retries"] = retry_policy(settings.POLYGON_REST_RETRIES)
    return client
