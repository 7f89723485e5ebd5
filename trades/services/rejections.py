"""Input that was not judged: counted by reason, logged with the item, kept in the Rejection table.

A worker may see millions of bad items (a feed gone wrong), so the log is rate-limited per
process: a burst of lines, then one line saying how many were not logged. The counts are never
limited: each batch adds its own to the table, where admin shows them with the last example.
"""

from __future__ import annotations

import logging
import reprlib
import time
from collections import Counter
from dataclasses import dataclass, field

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from trades.domain.rules import InvalidTrade
from trades.models import Rejection

logger = logging.getLogger("trades.rejections")

# Reasons of the ingest itself; a malformed trade's reason is its InvalidTrade.reason (bad_price …).
BAD_BATCH = "bad_batch"  # the task's argument is not a list of frames
BAD_JSON = "bad_json"
NOT_AN_ARRAY = "not_an_array"
NO_EVENT_TYPE = "no_event_type"
UNEXPECTED_ERROR = "unexpected_error"  # an exception nobody foresaw, about this item alone
NOT_STORABLE = "not_storable"  # the database refused this one row

# The one failure that is about the whole batch, not an item: the task retries it.
DatabaseAway = (OperationalError, InterfaceError)

_ITEM_REPR = reprlib.Repr()
_ITEM_REPR.maxlevel, _ITEM_REPR.maxlist, _ITEM_REPR.maxdict = 4, 20, 20
_ITEM_REPR.maxstring, _ITEM_REPR.maxother = 300, 100


def shorten(item: object) -> str:
    """The item for a log line or the table: bounded in length and depth, whatever it is."""
    return _ITEM_REPR.repr(item)[:500]


class LogBudget:
    """At most `burst` lines per `window` seconds; the next allowed line reports how many were held back."""

    def __init__(self, burst: int, window: float) -> None:
        self.burst = burst
        self.window = window
        self._window_start = -window
        self._used = 0
        self.held_back = 0

    def allow(self) -> bool:
        now = time.monotonic()
        if now - self._window_start >= self.window:
            self._window_start, self._used = now, 0
        if self._used < self.burst:
            self._used += 1
            return True
        self.held_back += 1
        return False

    def take_held_back(self) -> int:
        held, self.held_back = self.held_back, 0
        return held


_log_budget = LogBudget(burst=20, window=10.0)


@dataclass
class Rejections:
    """The rejections of one batch."""

    counts: Counter[str] = field(default_factory=Counter)
    last: dict[str, tuple[str, str]] = field(default_factory=dict)  # reason → (message, example)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, reason: str, message: str, item: object) -> None:
        example = self._count(reason, message, item)
        if _log_budget.allow():
            logger.warning("rejected (%s): %s: %s%s", reason, message, example, _held_back_note())

    def add_error(self, exc: Exception, item: object, reason: str = UNEXPECTED_ERROR) -> None:
        """An exception nobody foresaw, about one item: that item is rejected, with the traceback."""
        message = f"{type(exc).__name__}: {exc}"
        example = self._count(reason, message, item)
        if _log_budget.allow():
            logger.error("rejected (%s): %s: %s%s", reason, message, example, _held_back_note(), exc_info=exc)

    def _count(self, reason: str, message: str, item: object) -> str:
        """Count the rejection and keep it as its reason's last example; returns the item, shortened."""
        self.counts[reason] += 1
        example = shorten(item)
        self.last[reason] = (message[:300], example)
        return example

    def reject(self, exc: Exception, item: object, reason: str = UNEXPECTED_ERROR) -> None:
        """Reject the item an exception was about (InvalidTrade with its own reason), unless the
        exception is the database being away: that is the whole batch's problem, raised again."""
        if isinstance(exc, DatabaseAway):
            raise exc
        if isinstance(exc, InvalidTrade):
            self.add(exc.reason, str(exc), item)
        else:
            self.add_error(exc, item, reason)

    def record(self) -> None:
        """Add this batch's counts to the Rejection table."""
        if not self.counts:
            return
        now = timezone.now()
        with transaction.atomic():
            for reason, count in sorted(self.counts.items()):
                message, example = self.last[reason]
                changes = {"last_seen_at": now, "message": message, "example": example}
                Rejection.objects.get_or_create(reason=reason, defaults={"first_seen_at": now, **changes})
                Rejection.objects.filter(reason=reason).update(count=F("count") + count, **changes)


def _held_back_note() -> str:
    held = _log_budget.take_held_back()
    return f" ({held} more rejections were not logged)" if held else ""
