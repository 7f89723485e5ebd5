"""When a failed webhook delivery is tried again: the retry schedule, pure.

The schedule is Standard Webhooks' example (spec, "Deliverability and reliability"): the first
attempt at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after each
failure: 10 attempts over 75 h 35 min 5 s (about 3.15 days). Every wait gets ±20% jitter so
that deliveries which failed together do not all come back together.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

# The wait after the n-th failed attempt is SCHEDULE[n - 1] seconds (before jitter).
SCHEDULE: tuple[float, ...] = (
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
)
MAX_ATTEMPTS = len(SCHEDULE) + 1  # the first attempt and one after each wait
SCHEDULE_TOTAL_SECONDS = sum(SCHEDULE)  # 272_105 s = 75 h 35 min 5 s
JITTER = 0.2  # each wait is its scheduled value × a uniform factor in [0.8, 1.2]
# A server's Retry-After is honoured when it asks for more than the schedule, up to this.
MAX_RETRY_AFTER_SECONDS = 24 * 3600

_rng = random.Random()


def next_delay(attempts_made: int, rng: random.Random | None = None) -> float | None:
    """Seconds to wait before the next attempt, after ``attempts_made`` attempts have failed.

    0 when none has been made yet; None when the last allowed attempt has been made.
    """
    if attempts_made < 0:
        raise ValueError(f"attempts_made must be >= 0, got {attempts_made}")
    if attempts_made == 0:
        return 0.0
    if attempts_made >= MAX_ATTEMPTS:
        return None
    factor = (rng or _rng).uniform(1 - JITTER, 1 + JITTER)
    return SCHEDULE[attempts_made - 1] * factor


def retry_delay(attempts_made: int, retry_after: float | None, rng: random.Random | None = None) -> float | None:
    """The schedule's wait, or longer if the server asked for longer (Retry-After, Discord's
    ``retry_after``), capped at MAX_RETRY_AFTER_SECONDS. None once the attempts are used up:
    a Retry-After never buys an attempt beyond MAX_ATTEMPTS.
    """
    delay = next_delay(attempts_made, rng)
    if delay is None:
        return None
    if retry_after is None or not math.isfinite(retry_after) or retry_after <= 0:
        return delay
    return max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))


# --- what an event is --------------------------------------------------------------------------------

TRADE_FLAGGED = "trade.flagged"
ORDER_FLAGGED = "order.flagged"  # a profile that judges orders: one alert per sweep, not one per print
ORDER_UPDATE = "order.update"  # the contract again, within the endpoint's cooldown
ORDER_ESCALATED = "order.escalated"  # the contract's premium in the cooldown passed the endpoint's second threshold
ORDER_OI_CONFIRMED = "order.oi_confirmed"  # the next morning's open interest rose by half the order or more
ORDER_OI_REFUTED = "order.oi_refuted"
ORDER_DIGEST = "order.digest"  # the hits of the endpoint's last digest period, in one message
WEBHOOK_TEST = "webhook.test"
EVENT_TYPES = (
    TRADE_FLAGGED,
    ORDER_FLAGGED,
    ORDER_UPDATE,
    ORDER_ESCALATED,
    ORDER_OI_CONFIRMED,
    ORDER_OI_REFUTED,
    ORDER_DIGEST,
    WEBHOOK_TEST,
)


def is_the_hits_alert(event: str) -> bool:
    """A delivery's event (empty: the hit itself) is the hit's own alert, whose arrival is how late
    the hit was; not a digest's, an update's, an escalation's or a next morning's."""
    return event in ("", TRADE_FLAGGED, ORDER_FLAGGED)


def calm_event(sent: Sequence[str], window_premium: float, escalate_at: float | None) -> str | None:
    """What an endpoint with a cooldown sends for one more hit on a contract, given the events it
    already sent for that contract within the cooldown (``sent``) and the contract's premium in it
    (this hit's included): the first hit is flagged, the next one an update, then nothing, except
    one escalation once that premium reaches ``escalate_at``. None: hold it back (calm)."""
    if ORDER_FLAGGED not in sent:
        return ORDER_FLAGGED
    if escalate_at is not None and window_premium >= escalate_at and ORDER_ESCALATED not in sent:
        return ORDER_ESCALATED
    if ORDER_UPDATE not in sent and ORDER_ESCALATED not in sent:
        return ORDER_UPDATE
    return None
