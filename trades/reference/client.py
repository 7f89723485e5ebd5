"""Polygon's REST client, made safe for unattended refreshes.

polygon-api-client 1.16.3 (its last release) has traps this module closes:

- ``connect_timeout`` and ``read_timeout`` are stored but never applied: a server that stops
  answering holds the caller forever. The timeouts go into the pool manager's
  ``connection_pool_kw`` before the first request, so every connection pool gets them.
- Its own retry policy (a 0.1 s backoff factor, 413 and 499 retried, Retry-After
  honoured up to urllib3's six hours) is replaced: ours retries GET on 429 and every 5xx with
  exponential backoff, honours ``Retry-After`` up to a minute, tries a read timeout only once
  more, and after the last try urllib3 raises ``MaxRetryError``. Any other non-200 answer
  raises polygon's ``BadResponse`` (also when its body is not UTF-8, which made the stock client
  raise UnicodeDecodeError).
- A page that is not JSON ends the paginator silently (``return []``), so a proxy's HTML error
  page in the middle of a listing looks like the end of the list. Our decoder raises instead.
  A page whose ``results`` is not a list, or whose ``next_url`` is not a URL, made the stock
  paginator raise AttributeError or TypeError; ours raises ReferenceDataError, and refuses a
  ``next_url`` it has already followed (a server paging in a loop would hold a worker forever).
- ``"greeks": null`` (or any null or non-object where the models expect an object) makes the
  models' ``from_dict`` raise ``TypeError`` inside the paginator, losing the whole listing for
  one odd contract. Our decoder drops such values (and turns non-object items into empty ones,
  which the loaders count as malformed), so one bad item costs one item. For the same reason a
  page with ``NaN``, ``Infinity`` or a number beyond a double in some item is read (the loaders
  refuse those values), not refused whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import orjson
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from polygon import RESTClient
from polygon.exceptions import BadResponse
from urllib3.util.retry import Retry

# Backoff between tries: 0 s, then 1, 2, 4, ... seconds, at most BACKOFF_MAX_SECONDS.
BACKOFF_FACTOR = 0.5
BACKOFF_MAX_SECONDS = 30.0
# A Retry-After longer than this is cut short, so a server's hint cannot park a worker for hours.
RETRY_AFTER_MAX_SECONDS = 60
RETRY_STATUSES = frozenset({429, *range(500, 600)})
# A listing longer than this is taken for a server paging in circles (SPX's chain is ~80 pages).
MAX_PAGES = 1000
# The models build objects from an item's fields and from their fields, never deeper.
_MODEL_DEPTH = 2

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
    """polygon's RESTClient whose decoder and paginator refuse what the stock ones would silently
    drop or choke on."""

    def _decode(self, resp: Any) -> Any:
        return decode_response(resp.data)

    def _get(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._get(*args, **kwargs)
        except UnicodeDecodeError as exc:  # the stock client decodes a refusal's body as UTF-8 for BadResponse
            raise BadResponse(exc.object.decode("utf-8", "replace")) from None

    def _paginate_iter(
        self, path: str, params: dict, deserializer: Any, result_key: str = "results", options: Any = None
    ) -> Iterator[Any]:
        followed: set[str] = set()
        for _ in range(MAX_PAGES):
            resp = self._get(path=path, params=params, result_key=result_key, raw=True, options=options)
            page = self._decode(resp)
            if result_key not in page:
                return  # the stock paginator's end of a listing; the services refuse an empty one
            items = page[result_key]
            if not isinstance(items, list):
                raise ReferenceDataError(f"a page's {result_key} is not a list: {items!r:.200}")
            yield from (deserializer(item) for item in items)
            if not self.pagination or "next_url" not in page:
                return
            path, params = _next_page(page["next_url"], followed), {}
        raise ReferenceDataError(f"the listing goes on beyond {MAX_PAGES} pages")


def _next_page(next_url: object, followed: set[str]) -> str:
    """next_url's path and query (pagination goes on against our base), unless it is no URL or a loop."""
    if not isinstance(next_url, str) or not next_url:
        raise ReferenceDataError(f"next_url is not a URL: {next_url!r:.200}")
    parts = urlsplit(next_url)
    if not parts.path.startswith("/"):
        raise ReferenceDataError(f"next_url has no path to follow: {next_url!r:.200}")
    path = f"{parts.path}?{parts.query}" if parts.query else parts.path
    if path in followed:
        raise ReferenceDataError(f"pagination loops: {next_url!r:.200} was already followed")
    followed.add(path)
    return path


def decode_response(body: bytes) -> dict[str, Any]:
    """Parse one response body; raise ReferenceDataError if it is not a JSON object, says ERROR, or
    its ``results`` is neither a list nor an object."""
    data = _parsed_json(body)
    if not isinstance(data, dict):
        raise ReferenceDataError(f"response is not a JSON object: {body[:200]!r}")
    if data.get("status") == "ERROR":
        raise ReferenceDataError(f"Polygon answered ERROR: {data.get('error') or data.get('message')!s:.300}")
    if "results" in data:
        data["results"] = _defused_results(data["results"])
    return data


def _parsed_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        problem = exc
    try:
        # orjson refuses NaN, Infinity and numbers beyond a double; the standard library reads them,
        # so that such a value in one item costs that item (the loaders refuse it), not the page.
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ReferenceDataError(f"response is not JSON ({problem}): {body[:200]!r}") from None


def _defused_results(results: object) -> list[dict[str, Any]] | dict[str, Any]:
    if isinstance(results, list):
        return [_defused(item) for item in results]
    if isinstance(results, dict):
        return _defused(results)
    raise ReferenceDataError(f"results is neither a list nor an object: {results!r:.200}")


def _defused(item: object, depth: int = 0) -> dict[str, Any]:
    """The item with every value the client's models cannot build an object from removed."""
    if not isinstance(item, dict):
        return {}  # becomes a record with every field None, which the loaders count as malformed
    if depth == _MODEL_DEPTH:
        return item  # the models build nothing from deeper values (and a deep one must not recurse far)
    for key in _OBJECT_FIELDS & item.keys():
        value = item[key]
        if isinstance(value, dict):
            item[key] = _defused(value, depth + 1)
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
