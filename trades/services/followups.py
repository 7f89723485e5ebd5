"""Follow-ups of opening orders: the next morning's open interest confirms or refutes them
(FLOW.md, "Opening inference": oi_confirmed = opening and oi_next − oi_prev ≥ S/2), and every
endpoint that was sent the order gets `order.oi_confirmed` or `order.oi_refuted`.

Run after each underlying's open interest is read (the morning refresh): an order is checked once
its contract's open interest has been read on a later New York day than the order's.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from trades.domain.calendar import NEW_YORK, new_york_date
from trades.domain.orders import NS_PER_MS, oi_confirmed
from trades.domain.webhooks import ORDER_OI_CONFIRMED, ORDER_OI_REFUTED
from trades.models import OptionContract, Order, OrderState
from trades.services import webhooks

logger = logging.getLogger(__name__)

LOOK_BACK_DAYS = 7  # opening orders this recent still wait for their next open interest


def confirm_open_interest(tickers: list[str] | None = None, now: datetime | None = None) -> int:
    """Check the opening orders (of ``tickers``, or all) whose next open interest is known now;
    store it and send the follow-ups. Returns how many orders were checked."""
    now = now or timezone.now()
    today = now.astimezone(NEW_YORK).date()
    waiting = Order.objects.filter(
        state=OrderState.HIT,
        opening=True,
        oi_confirmed__isnull=True,
        open_interest__isnull=False,
        traded_at__gte=datetime.combine(today - timedelta(days=LOOK_BACK_DAYS), time(), tzinfo=NEW_YORK),
        traded_at__lt=datetime.combine(today, time(), tzinfo=NEW_YORK),
    )
    if tickers is not None:
        waiting = waiting.filter(underlying__in=tickers)
    orders = list(waiting)
    read = OptionContract.objects.filter(symbol__in={order.symbol for order in orders}, open_interest__isnull=False)
    latest = {
        symbol: (interest, at.astimezone(NEW_YORK).date())
        for symbol, interest, at in read.values_list("symbol", "open_interest", "open_interest_updated_at")
        if at is not None
    }
    checked, events = [], {}
    for order in orders:
        interest, read_on = latest.get(order.symbol, (None, None))
        if interest is None or read_on is None or read_on <= new_york_date(order.first_ts_ns // NS_PER_MS):
            continue
        order.open_interest_next = interest
        order.oi_confirmed = oi_confirmed(order.opening, order.size, order.open_interest, interest)
        checked.append(order)
        events[order.pk] = ORDER_OI_CONFIRMED if order.oi_confirmed else ORDER_OI_REFUTED
    with transaction.atomic():
        Order.objects.bulk_update(checked, ["open_interest_next", "oi_confirmed"])
        webhooks.create_follow_ups(events)
    if checked:
        confirmed = sum(bool(order.oi_confirmed) for order in checked)
        logger.info("Open interest: %d opening orders checked, %d confirmed", len(checked), confirmed)
    return len(checked)
