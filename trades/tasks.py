"""Celery tasks: thin wrappers that hand their input to a service."""

from typing import Any

import urllib3
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from trades.domain.calendar import is_market_open
from trades.services import ingest, reference, webhooks
from trades.services.reference import ReferenceUnavailable


@shared_task(
    name="trades.ingest_batch",
    # The database being away is the one failure worth waiting out: the batch stays in the
    # broker and is retried (backoff capped well under the broker's visibility timeout).
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=None,
)
def ingest_batch(frames: list[str], source: str = "live") -> dict[str, int]:
    """Judge a batch of raw Polygon frames and store the hits. Returns the batch's counts."""
    return ingest.ingest_frames(frames, source=source).as_dict()


# --- Reference data (queue "reference") ----------------------------------------------------------
# Beat calls the refreshes without tickers: they enqueue one task per watched underlying, so a long
# chain (SPX is ~80 pages of 250) stays inside its time limit, and a failure retries only its own
# underlying. Each underlying is swapped in one transaction, so a retry or a kill never leaves half.

# Time limits under the broker's visibility timeout (a longer task would be redelivered while it runs).
_VISIBILITY_TIMEOUT = int(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get("visibility_timeout", 300))
_REFERENCE_TIME_LIMIT = max(60, int(_VISIBILITY_TIMEOUT * 0.8))
_REFERENCE_TASK: dict[str, Any] = {
    "soft_time_limit": _REFERENCE_TIME_LIMIT - 20,
    "time_limit": _REFERENCE_TIME_LIMIT,
    # Network errors, 429/5xx after the client's own retries, bad pages, the database away: try again
    # later with backoff (10, 20, 40 ... s, capped well under the visibility timeout), then give up.
    "autoretry_for": (urllib3.exceptions.HTTPError, ReferenceUnavailable, OperationalError, InterfaceError),
    "retry_backoff": 10,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 5,
}
_FAN_OUT_EXPIRES = 3600  # a fanned-out refresh still queued after an hour is stale: the next one is due


@shared_task(name="trades.refresh_conditions", **_REFERENCE_TASK)
def refresh_conditions() -> dict[str, Any]:
    """Polygon's options conditions and exchanges."""
    report = reference.refresh_conditions()
    report.raise_if_transient()
    return report.as_dict()


@shared_task(name="trades.refresh_contracts", **_REFERENCE_TASK)
def refresh_contracts(tickers: list[str] | None = None) -> dict[str, Any]:
    """The listed contracts and strike range of these underlyings (None: every watched one, one task
    each, after dropping expired contracts)."""
    if tickers is None:
        reference.delete_expired_contracts()
        return _fan_out(refresh_contracts, reference.watched_underlyings(), _FAN_OUT_EXPIRES)
    report = reference.refresh_contracts(tickers)
    report.raise_if_transient()
    return report.as_dict()


@shared_task(name="trades.refresh_open_interest", **_REFERENCE_TASK)
def refresh_open_interest(tickers: list[str] | None = None) -> dict[str, Any]:
    """Open interest (and spot) from the chain snapshots (None: every watched underlying, one task each)."""
    if tickers is None:
        return _fan_out(refresh_open_interest, reference.watched_underlyings(), _FAN_OUT_EXPIRES)
    report = reference.refresh_open_interest(tickers)
    report.raise_if_transient()
    return report.as_dict()


@shared_task(
    name="trades.refresh_spot",
    soft_time_limit=_REFERENCE_TASK["soft_time_limit"],
    time_limit=_REFERENCE_TASK["time_limit"],
)
def refresh_spot(tickers: list[str] | None = None) -> dict[str, Any]:
    """Spot prices while the market is open (None: every watched underlying, one task each). Not
    retried: the next refresh is SPOT_REFRESH_SECONDS away, and a queued one expires by then."""
    if tickers is None:
        if not is_market_open(timezone.now()):
            return {"skipped": "market closed"}
        return _fan_out(refresh_spot, reference.watched_underlyings(), settings.SPOT_REFRESH_SECONDS)
    return reference.refresh_spot(tickers).as_dict()


@shared_task(name="trades.resolve_contracts", rate_limit=settings.REFERENCE_ON_DEMAND_RATE, **_REFERENCE_TASK)
def resolve_contracts(frames: list[str], source: str = "live") -> dict[str, Any]:
    """Look up the unknown contracts of these frames' candidate trades, then judge the frames again,
    so the first large print on a new contract is not lost for want of its open interest."""
    outcome = reference.resolve_frames(frames, source)
    outcome.resolved.raise_if_transient()  # after judging what could be judged; a retry adds the rest
    return {
        "resolved": outcome.resolved.as_dict(),
        "ingest": outcome.ingest.as_dict() if outcome.ingest is not None else None,
    }


def _fan_out(task: Any, tickers: list[str], expires: float) -> dict[str, Any]:
    for ticker in tickers:
        task.apply_async(args=[[ticker]], expires=expires)
    return {"enqueued": tickers}


@shared_task(name="trades.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str:
    """Send one webhook delivery (if it is due) and record the attempt."""
    return webhooks.deliver(delivery_id)


@shared_task(name="trades.sweep_webhooks")
def sweep_webhooks() -> int:
    """Queue the deliveries that are due, and those a dead worker left claimed."""
    return webhooks.sweep()
