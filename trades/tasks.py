"""Celery tasks: thin wrappers that hand their input to a service."""

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import urllib3
from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from trades import queues
from trades.domain.calendar import is_market_open
from trades.services import (
    backfill,
    dead_letters,
    followups,
    gaps,
    ingest,
    insights,
    orders,
    outcomes,
    reference_data,
    webhooks,
)
from trades.services.reference_data import ReferenceUnavailable
from trades.services.rejections import DatabaseAway

logger = logging.getLogger(__name__)


@shared_task(name=queues.INGEST_BATCH, bind=True, max_retries=None)
def ingest_batch(
    self: Task, frames: list[str], source: str = "live", received_at: float | None = None
) -> dict[str, Any]:
    """Judge a batch of raw Polygon frames and store the hits. Returns the batch's counts.

    received_at: when the listener had the batch's first frame (seconds since the epoch)."""
    arrived = ingest.received_time(received_at)
    return run_batch(self, frames, source, lambda: ingest.ingest_frames(frames, source, arrived).as_dict())


# --- A batch is never dropped ---------------------------------------------------------------------


def run_batch(
    task: Task, frames: list[Any], source: str, work: Callable[[], dict[str, Any]], retry_seconds: float = 1.0
) -> dict[str, Any]:
    """Run a batch's work; a failure is retried, then kept as a dead letter, never dropped.

    The database being away is the one failure that waits in the broker, as long as it takes.
    Anything else is retried (BATCH_MAX_ATTEMPTS in all, with backoff from `retry_seconds`),
    each failure recorded on the batch's DeadLetter row; then the row is marked dead and the
    message acknowledged. A batch the broker hands out again (its worker died) counts as failed.
    """
    batch = dead_letters.Batch(str(task.request.id), str(task.name), frames, source)
    redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
    if redelivered:
        letter = _note_failure(task, batch, dead_letters.REDELIVERED, retry_seconds)
        if letter.attempts >= settings.BATCH_MAX_ATTEMPTS:
            dead_letters.give_up(letter)
            return {"dead_letter": letter.pk}
    try:
        result = work()
    except DatabaseAway as exc:
        if not dead_letters.database_answers():
            raise task.retry(exc=exc, countdown=_backoff(task, 1.0, cap=30.0)) from exc
        failure: Exception = exc
    except Exception as exc:
        failure = exc
    else:
        if redelivered or task.request.retries:
            dead_letters.forget(batch.task_id)
        return result
    letter = _note_failure(task, batch, failure, retry_seconds)
    if letter.attempts < settings.BATCH_MAX_ATTEMPTS:
        countdown = _backoff(task, retry_seconds, cap=120.0)
        logger.warning(
            "Batch %s failed (attempt %d of %d): %s; retrying in %.0f s",
            batch.task_id,
            letter.attempts,
            settings.BATCH_MAX_ATTEMPTS,
            letter.error,
            countdown,
        )
        raise task.retry(exc=failure, countdown=countdown) from failure
    dead_letters.give_up(letter)
    return {"dead_letter": letter.pk}


def _note_failure(
    task: Task, batch: dead_letters.Batch, failure: Exception | str, retry_seconds: float
) -> dead_letters.DeadLetter:
    try:
        return dead_letters.note_failure(batch, failure)
    except Exception as exc:  # the database went away meanwhile: the batch waits in the broker
        raise task.retry(exc=exc, countdown=_backoff(task, retry_seconds, cap=30.0)) from exc


def _backoff(task: Task, base: float, cap: float) -> float:
    return min(cap, base * 2 ** min(int(task.request.retries or 0), 16))


# --- Reference data (queue "reference") ----------------------------------------------------------
# Beat calls the refreshes without tickers: they enqueue one task per watched underlying, so a long
# chain (SPX is ~80 pages of 250) stays inside its time limit, and a failure retries only its own
# underlying. Each underlying is swapped in one transaction, so a retry or a kill never leaves half.

# A long chain (SPX is ~80 pages) with REST retries takes minutes; the worker's lease keeps the
# message from being handed out again meanwhile (flowsite/redis_transport.py).
_REFERENCE_TIME_LIMIT = 240
_REFERENCE_TASK: dict[str, Any] = {
    "soft_time_limit": _REFERENCE_TIME_LIMIT - 20,
    "time_limit": _REFERENCE_TIME_LIMIT,
    # Network errors, 429/5xx after the client's own retries, bad pages, underlyings not tried while
    # the client's circuit breaker holds the API for unreachable, the database away: try again later
    # with backoff (10, 20, 40 ... s, capped well under the visibility timeout), then give up. Polygon
    # refusing the key or the plan (401/403) stops a refresh at once and is reported, not retried.
    "autoretry_for": (urllib3.exceptions.HTTPError, ReferenceUnavailable, OperationalError, InterfaceError),
    "retry_backoff": 10,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 5,
}
_FAN_OUT_EXPIRES = 3600  # a fanned-out refresh still queued after an hour is stale: the next one is due


@shared_task(name=queues.REFRESH_CONDITIONS, **_REFERENCE_TASK)
def refresh_conditions() -> dict[str, Any]:
    """Polygon's options conditions and exchanges."""
    report = reference_data.refresh_conditions()
    report.raise_if_transient()
    return report.as_dict()


@shared_task(name=queues.REFRESH_CONTRACTS, **_REFERENCE_TASK)
def refresh_contracts(tickers: list[str] | None = None) -> dict[str, Any]:
    """The listed contracts and strike range of these underlyings (None: every watched one, one task
    each, after dropping expired contracts)."""
    if tickers is None:
        reference_data.delete_expired_contracts()
        return _fan_out(refresh_contracts, reference_data.watched_underlyings(), _FAN_OUT_EXPIRES)
    report = reference_data.refresh_contracts(tickers)
    report.raise_if_transient()
    return report.as_dict()


@shared_task(name=queues.REFRESH_OPEN_INTEREST, **_REFERENCE_TASK)
def refresh_open_interest(tickers: list[str] | None = None) -> dict[str, Any]:
    """Open interest (and spot) from the chain snapshots (None: every watched underlying, one task each)."""
    if tickers is None:
        return _fan_out(refresh_open_interest, reference_data.watched_underlyings(), _FAN_OUT_EXPIRES)
    report = reference_data.refresh_open_interest(tickers)
    followups.confirm_open_interest(tickers)  # the opening orders this morning's open interest can judge
    report.raise_if_transient()
    return report.as_dict()


@shared_task(
    name=queues.REFRESH_SPOT,
    soft_time_limit=_REFERENCE_TASK["soft_time_limit"],
    time_limit=_REFERENCE_TASK["time_limit"],
)
def refresh_spot(tickers: list[str] | None = None) -> dict[str, Any]:
    """Spot prices while the market is open (None: every watched underlying, one task each). Not
    retried: the next refresh is SPOT_REFRESH_SECONDS away, and a queued one expires by then."""
    if tickers is None:
        if not is_market_open(timezone.now()):
            return {"skipped": "market closed"}
        return _fan_out(refresh_spot, reference_data.watched_underlyings(), settings.SPOT_REFRESH_SECONDS)
    return reference_data.refresh_spot(tickers).as_dict()


@shared_task(
    name=queues.RESOLVE_CONTRACTS,
    bind=True,
    rate_limit=settings.REFERENCE_ON_DEMAND_RATE,
    soft_time_limit=_REFERENCE_TASK["soft_time_limit"],
    time_limit=_REFERENCE_TASK["time_limit"],
    max_retries=None,
)
def resolve_contracts(self: Task, frames: list[str], source: str = "live") -> dict[str, Any]:
    """Look up the unknown contracts of these frames' candidate trades, then judge the frames again,
    so the first large print on a new contract is not lost for want of its open interest. The
    frames carry candidate hits, so a failure is retried (REST may be down a while), then kept."""

    def resolve() -> dict[str, Any]:
        outcome = reference_data.resolve_frames(frames, source)
        outcome.resolved.raise_if_transient()  # after judging what could be judged; a retry adds the rest
        return {
            "resolved": outcome.resolved.as_dict(),
            "ingest": outcome.ingest.as_dict() if outcome.ingest is not None else None,
        }

    return run_batch(self, frames, source, resolve, retry_seconds=10.0)


@shared_task(
    name=queues.FILL_GAP,
    bind=True,
    max_retries=6,
    soft_time_limit=_REFERENCE_TASK["soft_time_limit"],
    time_limit=_REFERENCE_TASK["time_limit"],
)
def fill_gap(self: Task, gap_id: int) -> dict[str, Any]:
    """Fetch what traded while the listener was away and judge it. Failures are retried with
    backoff (REST may be down a while), then the gap is marked failed; it can be filled again."""
    try:
        fill = gaps.fill_gap(gap_id)
    except Exception as exc:
        return _retry_or_give_up(self, exc, lambda error: gaps.note_fill_failed(gap_id, error))
    return {"skipped": True} if fill is None else asdict(fill)


def _retry_or_give_up(task: Task, exc: Exception, give_up: Callable[[str], None]) -> dict[str, Any]:
    """Retry a REST-bound task with backoff (10 s, doubling, at most 5 min); after its last retry,
    record the failure where it can be seen and tried again (``give_up``) and end."""
    if task.request.retries >= (task.max_retries or 0):
        give_up(f"{type(exc).__name__}: {exc}")
        return {"failed": str(exc)}
    raise task.retry(exc=exc, countdown=_backoff(task, 10.0, cap=300.0)) from exc


# A unit reads a day of one underlying (hundreds of REST calls): minutes, well under the lease that
# keeps its message from being handed out again meanwhile (flowsite/redis_transport.py).
_BACKFILL_TIME_LIMIT = 1800


@shared_task(
    name=queues.BACKFILL_UNIT,
    bind=True,
    max_retries=5,
    soft_time_limit=_BACKFILL_TIME_LIMIT - 60,
    time_limit=_BACKFILL_TIME_LIMIT,
)
def backfill_unit(self: Task, unit_id: int) -> dict[str, Any]:
    """One backfill unit: an underlying's trading day, read over REST and judged. Failures (REST
    down after the client's own retries, the database away) are retried with backoff, then the
    unit is marked failed; the next backfill of the same days runs it again."""
    try:
        report = backfill.run_unit(unit_id)
    except Exception as exc:
        return _retry_or_give_up(self, exc, lambda error: backfill.note_failed(unit_id, error))
    return {"skipped": True} if report is None else report.as_dict()


@shared_task(name=queues.REFRESH_DIVIDENDS, **_REFERENCE_TASK)
def refresh_dividends() -> dict[str, Any]:
    """The watched underlyings' ex-dividend dates (their dividend trades are held back, not alerted)."""
    report = reference_data.refresh_dividends(reference_data.watched_underlyings())
    report.raise_if_transient()
    return report.as_dict()


@shared_task(name=queues.REFRESH_OUTCOMES, **_REFERENCE_TASK)
def refresh_outcomes() -> dict[str, Any]:
    """After the close: the day bars of the underlyings with orders still to measure, then their
    outcomes; then the insights of the orders stored without one (a backfill's that was not followed)."""
    report = outcomes.refresh().as_dict()
    return report | {"described": insights.describe_missing()}


@shared_task(name=queues.SWEEP_GAPS)
def sweep_gaps() -> int:
    """Queue the fills of gaps that are still pending."""
    return gaps.sweep_gaps()


def _fan_out(task: Any, tickers: list[str], expires: float) -> dict[str, Any]:
    for ticker in tickers:
        task.apply_async(args=[[ticker]], expires=expires)
    return {"enqueued": tickers}


# --- Orders -----------------------------------------------------------------------------------------


@shared_task(name=queues.CLOSE_ORDERS)
def close_orders() -> dict[str, Any]:
    """Beat's tick: close the orders that are due while the feed is quiet; judge lost candidates.
    Not retried: the next tick is a second away."""
    return orders.close_due().as_dict()


@shared_task(name=queues.JUDGE_ORDERS, soft_time_limit=60, time_limit=90)
def judge_orders(order_ids: list[int]) -> dict[str, Any]:
    """Look up the quotes of candidate orders and make them hits or drop them. Not retried: beat's
    tick judges again what is still waiting after a while."""
    return orders.judge_candidates(order_ids).as_dict()


@shared_task(name=queues.PURGE_KEPT_PRINTS)
def purge_kept_prints() -> dict[str, int]:
    """Drop old kept prints (but those of stored orders) and volume counts."""
    return orders.purge()


@shared_task(name=queues.DELIVER_WEBHOOK)
def deliver_webhook(delivery_id: int) -> str:
    """Send one webhook delivery (if it is due) and record the attempt."""
    return webhooks.deliver(delivery_id)


@shared_task(name=queues.SWEEP_WEBHOOKS)
def sweep_webhooks() -> int:
    """Queue the deliveries that are due, and those a dead worker left claimed."""
    return webhooks.sweep()


@shared_task(name=queues.SEND_DIGESTS)
def send_digests() -> int:
    """One digest per endpoint that takes digests and whose period is up."""
    return webhooks.send_digests()
