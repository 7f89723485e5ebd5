"""Polygon's REST client, made safe for unattended refreshes.

polygon-api-client 1.16.3 (its last release) has traps this module closes:

- ``connect_timeout`` and ``read_timeout`` are stored but never applied: a server that stops
  answering holds the caller forever. The timeouts go into the pool manager's
  ``connection_pool_kw`` before the first request, so every connection pool gets them.
- Its own retry policy (a 0.1 s backoff factor, 413 and 499 retried, Retry-After
  honoured up to urllib3's six hours) is replaced: ours retries GET on 429 and every 5xx with
  exponential backoff, honours ``Retry-After`` up to a minute, stops retrying a call a minute
  after its first failure, tries a failed or dropped connection only once more and a read timeout
  not at all, and after the last try urllib3 raises ``MaxRetryError``.
- A non-200 answer raises ``BadResponse`` with the body alone: no HTTP status, so a wrong key
  looked like any other refusal (and a body that is not UTF-8 raised UnicodeDecodeError). Ours
  raises ``PolygonRefused`` (a BadResponse) naming the status and the path; 401 and 403 raise
  ``AccessRefused`` with what to do about it, because every other call would be refused alike.
- Nothing stops a caller from paying the timeouts and retries again on every call while the API
  is down. Ours has a circuit breaker per API address (trades/polygon_rest/breaker.py): once
  BREAKER_FAILURES calls in a row got no answer, or they took BREAKER_FAILING_SECONDS, calls fail
  at once with ``ApiUnreachable`` for BREAKER_COOLDOWN_SECONDS.
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
import re
import time
from collections.abc import Iterator
from http import HTTPStatus
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from polygon import RESTClient
from polygon.exceptions import BadResponse
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from trades.polygon_rest.breaker import CircuitBreaker

# Backoff between tries: 0 s, then 1, 2, 4, ... seconds, at most BACKOFF_MAX_SECONDS.
BACKOFF_FACTOR = 0.5
BACKOFF_MAX_SECONDS = 30.0
# A Retry-After longer than this is cut short, so a server's hint cannot park a worker for hours.
RETRY_AFTER_MAX_SECONDS = 60
RETRY_STATUSES = frozenset({429, *range(500, 600)})
# One call's retries end this long after its first failure, whatever Retry-After says.
RETRY_BUDGET_SECONDS = 60.0
# Once this many calls in a row got no answer, or they took this long, the API is left alone for
# the cooldown (see breaker.py).
BREAKER_FAILURES = 3
BREAKER_FAILING_SECONDS = 20.0
BREAKER_COOLDOWN_SECONDS = 30.0
# What to do when Polygon refuses the key (401) or the plan (403).
ACCESS_HINTS = {
    401: "check POLYGON_API_KEY (a Massive/Polygon key with options access)",
    403: "your plan does not include this endpoint / options data",
}
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


class PolygonRefused(BadResponse):
    """Polygon answered a 4xx other than 429 (that one is retried): asking again will not help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class AccessRefused(PolygonRefused):
    """401 or 403: the key or the plan is refused, so every other call would be refused alike."""


class Pace(Protocol):
    """What paces a client's calls (trades/services/pacing.py): a wait before each, and a pause for
    everyone when Polygon answers 429 with Retry-After."""

    def before_call(self) -> None: ...

    def pause(self, seconds: float) -> None: ...


class GuardedRESTClient(RESTClient):
    """polygon's RESTClient whose requests go through a circuit breaker, whose refusals say their
    HTTP status, and whose decoder and paginator refuse what the stock ones would silently drop or
    choke on."""

    def __init__(self, *, breaker: CircuitBreaker, pace: Pace | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.breaker = breaker
        self.pace = pace
        self.calls = 0  # requests sent (each page, each retry left to urllib3 counted once)

    def _decode(self, resp: Any) -> Any:
        return decode_response(resp.data)

    def _get(
        self,
        path: str,
        params: dict | None = None,
        result_key: str | None = None,
        deserializer: Any = None,
        raw: bool = False,
        options: Any = None,
    ) -> Any:
        response = self._request(path, params, options)
        if raw:
            return response
        # What the stock _get does with an answer, minus its `return []` for a body that is no JSON.
        found = self._decode(response)
        if result_key:
            if result_key not in found:
                return []
            found = found[result_key]
        if deserializer:
            found = [deserializer(item) for item in found] if isinstance(found, list) else deserializer(found)
        return found

    def _request(self, path: str, params: dict | None, options: Any) -> Any:
        """GET path: the 200 answer, else PolygonRefused, MaxRetryError (after the retries) or
        ApiUnreachable (not tried: the breaker is open)."""
        self.breaker.check()
        if self.pace is not None:
            self.pace.before_call()
        self.calls += 1
        headers = self._concat_headers(options.headers if options is not None else None)
        started = time.monotonic()
        try:
            response = self.client.request("GET", self.BASE + path, fields=params, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            self.breaker.record_failure(describe_failure(exc), time.monotonic() - started)
            raise
        self.breaker.record_answer()
        if response.status != 200:
            raise refusal(response.status, urlsplit(path).path, response.data)
        return response

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


def refusal(status: int, path: str, body: bytes) -> PolygonRefused:
    """The error for a non-200 answer that is not retried: its status, what Polygon said, and for
    401/403 what to do about it."""
    answered = f"Polygon answered {status} {_reason_phrase(status)}"
    said = what_polygon_said(body)
    if status in ACCESS_HINTS:
        return AccessRefused(f"{answered} to GET {path} ({said!r}): {ACCESS_HINTS[status]}", status)
    return PolygonRefused(f"{answered} to GET {path}: {said}", status)


def what_polygon_said(body: bytes) -> str:
    """The message of an error body (Polygon's ``message`` or ``error``), else the body's start."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        message = data.get("message") or data.get("error") or data.get("status")
        if isinstance(message, str) and message:
            body = message.encode()
    return " ".join(body.decode("utf-8", "replace").split())[:200]


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def describe_failure(exc: urllib3.exceptions.HTTPError) -> str:
    """Why a call got no answer, in words an operator can act on."""
    reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    if isinstance(reason, NameResolutionError):
        return "cannot resolve the host name: check POLYGON_REST_URL and DNS"
    if isinstance(reason, NewConnectionError):  # before ConnectTimeoutError: urllib3 derives it from that
        cause = reason.__cause__
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        return f"cannot connect: {cause or reason}"
    if isinstance(reason, ConnectTimeoutError):
        return f"no connection within POLYGON_REST_CONNECT_TIMEOUT{_timeout_in(reason)}"
    if isinstance(reason, ReadTimeoutError):
        return f"no answer within POLYGON_REST_READ_TIMEOUT{_timeout_in(reason)}"
    if isinstance(reason, ResponseError):
        return str(reason)  # "too many 503 error responses"
    if isinstance(reason, ProtocolError):
        return f"the connection broke: {reason.args[-1] if reason.args else reason}"
    return f"{type(reason).__name__}: {reason}"


def _timeout_in(error: Exception) -> str:
    """ " (2.0 s)" from urllib3's "... (connect timeout=2.0)", or nothing."""
    found = re.search(r"timeout=([0-9.]+)", str(error))
    return f" ({found[1]} s)" if found else ""


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


class BoundedRetry(Retry):
    """urllib3's Retry, whose retries of one call end RETRY_BUDGET_SECONDS after its first failure
    (a wait is cut to what is left): a Retry-After storm cannot hold a caller for many minutes."""

    def __init__(
        self, *args: Any, first_failure_at: float | None = None, pace: Pace | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.first_failure_at = first_failure_at
        self.pace = pace

    def new(self, **kw: Any) -> BoundedRetry:
        # urllib3 calls new() for each failure: the first one starts the clock.
        started = self.first_failure_at if self.first_failure_at is not None else time.monotonic()
        return super().new(first_failure_at=started, pace=self.pace, **kw)

    def time_left(self) -> float:
        if self.first_failure_at is None:
            return RETRY_BUDGET_SECONDS
        return max(0.0, RETRY_BUDGET_SECONDS - (time.monotonic() - self.first_failure_at))

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self.time_left() == 0

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> BoundedRetry:
        if isinstance(error, ReadTimeoutError) and self.read:
            # A server that let the whole read timeout pass will hardly answer sooner the next time;
            # a dropped connection (the other read error) is still tried once more.
            return self.new(read=0).increment(method, url, response, error, _pool, _stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_backoff_time(self) -> float:
        return min(super().get_backoff_time(), self.time_left())

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        if wait is not None and self.pace is not None:
            self.pace.pause(wait)  # every process sharing the pace waits, not this call alone
        return None if wait is None else min(wait, self.time_left())


def retry_policy(total: int, pace: Pace | None = None) -> Retry:
    return BoundedRetry(
        pace=pace,
        total=total,
        # A failed connection or a dropped one is tried once more (a blip, a stale keep-alive
        # connection), a read timeout not at all (see increment): a server that hangs costs one
        # read timeout, and an API that is down is the circuit breaker's business, not each call's.
        connect=min(total, 1),
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


_breakers: dict[str, CircuitBreaker] = {}


def breaker_for(base_url: str) -> CircuitBreaker:
    """The circuit breaker of one API address, shared by every client of this process (so a
    worker's next task knows the API is down, too)."""
    if base_url not in _breakers:
        _breakers[base_url] = CircuitBreaker(
            f"Polygon's REST API at {base_url}",
            max_failures=BREAKER_FAILURES,
            max_failing_seconds=BREAKER_FAILING_SECONDS,
            cooldown=BREAKER_COOLDOWN_SECONDS,
        )
    return _breakers[base_url]


def rest_client(
    *, read_timeout: float | None = None, retries: int | None = None, pace: Pace | None = None
) -> GuardedRESTClient:
    """A REST client for settings.POLYGON_REST_URL with timeouts, retries and a circuit breaker
    (the settings' timeout and retries unless given: a quote look-up in the hot path waits less);
    ``pace``: what paces its calls (a backfill's, shared by every worker)."""
    if not settings.POLYGON_API_KEY:
        raise ImproperlyConfigured("POLYGON_API_KEY is not set: the reference data needs Polygon's REST API")
    base = settings.POLYGON_REST_URL.rstrip("/")
    read_timeout = settings.POLYGON_REST_READ_TIMEOUT if read_timeout is None else read_timeout
    retries = settings.POLYGON_REST_RETRIES if retries is None else retries
    client = GuardedRESTClient(
        api_key=settings.POLYGON_API_KEY,  # explicit: the default was read from the environment at import
        base=base,
        connect_timeout=settings.POLYGON_REST_CONNECT_TIMEOUT,
        read_timeout=read_timeout,
        retries=retries,
        breaker=breaker_for(base),
        pace=pace,
    )
    # The client stores its timeouts and never applies them. No pool exists yet, so every pool
    # the manager creates from here on gets these.
    pool_kw = client.client.connection_pool_kw
    pool_kw["timeout"] = urllib3.Timeout(connect=settings.POLYGON_REST_CONNECT_TIMEOUT, read=read_timeout)
    pool_kw["retries"] = retry_policy(retries, pace)
    return client
