"""Webhook delivery: the outbox written with the trades, signed sends, retries, the sweeper.

A delivery row is created in the transaction that stores its trade, so a hit and its
deliveries exist together or not at all. A hit's delivery is born claimed (with a lease) by the
process that stores it, which makes the first attempt right after the commit on one of its
threads (services/first_attempts.py); every other attempt is queued (`trades.deliver_webhook`):
a worker claims it with a lease, sends it. Either way the attempt is recorded with the endpoint's
health, and the delivery is marked delivered, given its next attempt, or declared dead. Waits
longer than WEBHOOK_COUNTDOWN_MAX_SECONDS live in the database: beat's sweeper queues what is
due, and what a dead process left claimed once its lease has run out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from trades import queues
from trades.domain.formatting import duration, new_york_time
from trades.domain.webhooks import (
    MAX_ATTEMPTS,
    ORDER_DIGEST,
    ORDER_ESCALATED,
    ORDER_FLAGGED,
    ORDER_UPDATE,
    TRADE_FLAGGED,
    calm_event,
    is_the_hits_alert,
    retry_delay,
)
from trades.models import DeliveryStatus, OptionTrade, Order, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from trades.selectors.serializers import serialize_order, serialize_trade
from trades.services.first_attempts import FIRST_ATTEMPTS
from trades.webhooks.payloads import build_body
from trades.webhooks.sender import SendResult, send
from trades.webhooks.signing import generate_secret, new_webhook_id, signature_headers

logger = logging.getLogger(__name__)

GONE = 410
SWEEP_BATCH = 1000


# --- the outbox --------------------------------------------------------------------------------


def regenerate_secrets(endpoints: Iterable[WebhookEndpoint]) -> list[str]:
    """A new signing secret for each endpoint, at once: every delivery from now on, retries included,
    is signed with it. The names of the endpoints changed, in the order given."""
    names = []
    for endpoint in endpoints:
        endpoint.secret = generate_secret()
        endpoint.save(update_fields=["secret", "updated_at"])
        names.append(endpoint.name)
    return names


def create_deliveries(
    matched_profiles: dict[int, set[int]],
    *,
    orders: bool = False,
    stored: Mapping[int, OptionTrade | Order] | None = None,
) -> list[int]:
    """One delivery per (active endpoint, new hit) whose profiles the hit matched; for an order, as
    the endpoint wants it: held for its digest, or calmed within its cooldown (see `_calm`).

    Runs inside the transaction that stores the hits (``matched_profiles``: trade id, or order id
    with ``orders``, → profile ids) and queues the deliveries to send once that transaction commits.
    ``stored``: the hits by id as this process stored them, for its first attempts to send without
    reading them again.
    """
    now = timezone.now()
    hit = "order_id" if orders else "trade_id"
    rows = [
        WebhookDelivery(endpoint=endpoint, webhook_id=new_webhook_id(), next_attempt_at=now, **{hit: hit_id})
        for endpoint in WebhookEndpoint.objects.filter(active=True).prefetch_related("profiles")
        for hit_id, profile_ids in sorted(matched_profiles.items())
        if _receives(endpoint, profile_ids)
    ]
    if not rows:
        return []
    if orders:
        _calm(rows, now)
    lease = _lease_from(now) if FIRST_ATTEMPTS.enabled() else None
    for row in rows:
        if lease is not None and row.status == DeliveryStatus.PENDING:  # claimed at birth, sent from here
            row.status, row.lease_until = DeliveryStatus.SENDING, lease
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    if lease is None:
        return _queue_new([row for row in rows if row.status == DeliveryStatus.PENDING])
    claimed = _with_ids([row for row in rows if row.status == DeliveryStatus.SENDING])
    for row in claimed:  # what the attempt sends, at hand (else it is read on the attempt's thread)
        at_hand = (stored or {}).get(row.order_id if orders else row.trade_id)  # type: ignore[arg-type]
        if isinstance(at_hand, Order):
            row.order = at_hand
        elif isinstance(at_hand, OptionTrade):
            row.trade = at_hand
    transaction.on_commit(partial(_attempt_here, claimed, lease), robust=True)
    return [row.pk for row in claimed]


def _with_ids(rows: list[WebhookDelivery]) -> list[WebhookDelivery]:
    """The rows just inserted (without their ids: conflicts were ignored) with their ids."""
    inserted = WebhookDelivery.objects.filter(webhook_id__in=[row.webhook_id for row in rows])
    ids = dict(inserted.values_list("webhook_id", "id"))
    for row in rows:
        row.pk = ids.get(row.webhook_id)
    return [row for row in rows if row.pk is not None]


def _queue_new(rows: list[WebhookDelivery]) -> list[int]:
    ids = [row.pk for row in _with_ids(rows)]
    # robust: a broker that is away must not undo the commit; the sweeper queues them later.
    transaction.on_commit(lambda: enqueue(ids), robust=True)
    return ids


def _calm(rows: list[WebhookDelivery], now: datetime) -> None:
    """Order deliveries as their endpoints want them: held for a digest, or, with a cooldown, per
    contract one alert, one update, and one escalation past the second threshold; the rest calmed
    (stored, not sent). ``rows``: oldest order first."""
    orders = Order.objects.filter(pk__in={row.order_id for row in rows}).only("pk", "symbol", "premium")
    by_pk = {order.pk: order for order in orders}
    histories: dict[tuple[int, str], list[tuple[str, Decimal]]] = {}
    for row in rows:
        assert row.order_id is not None  # order deliveries
        endpoint, order = row.endpoint, by_pk[row.order_id]
        if endpoint.digest_minutes:
            row.status, row.next_attempt_at = DeliveryStatus.HELD, None
            continue
        if not endpoint.cooldown_minutes:
            continue
        key = (endpoint.pk, order.symbol)
        if key not in histories:
            histories[key] = _cooldown_history(endpoint, order.symbol, now)
        history = histories[key]
        premium = sum(premium for _, premium in history) + order.premium
        escalate_at = None if endpoint.escalate_premium is None else float(endpoint.escalate_premium)
        event = calm_event([sent for sent, _ in history if sent != DeliveryStatus.CALMED], float(premium), escalate_at)
        history.append((event or DeliveryStatus.CALMED, order.premium))
        if event is None:
            row.status, row.next_attempt_at = DeliveryStatus.CALMED, None
        elif event != ORDER_FLAGGED:
            row.event = event


_ALERT_EVENTS = ("", ORDER_UPDATE, ORDER_ESCALATED)


def _cooldown_history(endpoint: WebhookEndpoint, symbol: str, now: datetime) -> list[tuple[str, Decimal]]:
    """What the endpoint got for the contract within its cooldown: (the event, or "calmed"; the order's premium)."""
    since = now - timedelta(minutes=endpoint.cooldown_minutes or 0)
    recent = WebhookDelivery.objects.filter(
        endpoint=endpoint, order__symbol=symbol, created_at__gte=since, event__in=_ALERT_EVENTS
    ).order_by("created_at", "pk")
    return [
        (DeliveryStatus.CALMED if status == DeliveryStatus.CALMED else event or ORDER_FLAGGED, premium)
        for event, status, premium in recent.values_list("event", "status", "order__premium")
    ]


def _receives(endpoint: WebhookEndpoint, profile_ids: set[int]) -> bool:
    wanted = {profile.pk for profile in endpoint.profiles.all()}
    return not wanted or bool(wanted & profile_ids)


def enqueue(delivery_ids: Iterable[int], countdown: float | None = None) -> None:
    for delivery_id in delivery_ids:
        current_app.send_task(queues.DELIVER_WEBHOOK, args=[delivery_id], countdown=countdown)


# --- one attempt ---------------------------------------------------------------------------------


def deliver(delivery_id: int) -> str:
    """Claim the delivery, send it once, record what happened. Returns a one-word outcome."""
    delivery = claim(delivery_id)
    if delivery is None:
        return "not-due"  # delivered, dead, not due yet, or another worker holds it
    return _attempt(delivery)


def _attempt_here(deliveries: list[WebhookDelivery], lease: datetime) -> None:
    """After the commit: the first attempts of deliveries born claimed, on this process's threads;
    those there is no room for go to the webhooks queue."""
    if refused := FIRST_ATTEMPTS.submit(deliveries, partial(deliver_claimed, lease=lease)):
        _release([delivery.pk for delivery in refused], lease)


def deliver_claimed(delivery: WebhookDelivery, lease: datetime) -> str:
    """The first attempt of a delivery born claimed with ``lease`` (as this process created it, with
    its endpoint): made if the claim holds for a whole attempt (its sends' time-outs), else left to
    the webhooks queue. No one else takes a delivery before its lease runs out, so it is not read again."""
    attempt_seconds = settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT
    if (lease - timezone.now()).total_seconds() < attempt_seconds:
        _release([delivery.pk], lease)
        return "queued"
    return _attempt(delivery)


def _release(delivery_ids: list[int], lease: datetime) -> None:
    """Give up deliveries claimed with ``lease`` (not attempted): pending again, and queued."""
    held = WebhookDelivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.SENDING, lease_until=lease)
    ids = list(held.values_list("id", flat=True))
    held.update(status=DeliveryStatus.PENDING, lease_until=None)
    transaction.on_commit(lambda: enqueue(ids), robust=True)


def _attempt(delivery: WebhookDelivery) -> str:
    """Send a claimed delivery once and record what happened."""
    endpoint = delivery.endpoint
    if not endpoint.active:
        return _finish_dead(delivery, f"endpoint {endpoint.name} is inactive")
    if wait := rate_limit_wait(endpoint):
        return _postpone(delivery, wait)
    started = timezone.now()
    hit, event_type = _hit_of(delivery)
    body = build_body(endpoint.format, hit, event_type=event_type, timestamp=started)
    try:
        headers = signature_headers(endpoint.secret, delivery.webhook_id, int(started.timestamp()), body)
    except ValueError as exc:  # a secret edited by hand into something that is not whsec_…
        endpoint.record_failure(started, f"cannot sign: {exc}")  # not sent, but failing all the same
        return _finish_dead(delivery, f"cannot sign: {exc}")
    result = send(
        endpoint.url,
        body,
        headers,
        allow_private=endpoint.allow_private,
        connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT,
        read_timeout=settings.WEBHOOK_READ_TIMEOUT,
    )
    with transaction.atomic():  # the attempt, the delivery's new state and the endpoint's health
        _record_attempt(delivery, started, result)
        return _settle(delivery, endpoint, result)


def _hit_of(delivery: WebhookDelivery) -> tuple[dict[str, Any], str]:
    """What the delivery sends: its trade or its order, as the API shows it, or a digest's orders;
    and the event type."""
    if delivery.event == ORDER_DIGEST:
        bundled = delivery.bundled.select_related("order").order_by("order__first_ts_ns", "pk")
        return {"orders": [serialize_order(item.order) for item in bundled if item.order]}, ORDER_DIGEST
    if delivery.order is not None:
        return serialize_order(delivery.order), delivery.event or ORDER_FLAGGED
    assert delivery.trade is not None  # a delivery holds one or the other (delivery_of_one_hit)
    return serialize_trade(delivery.trade), TRADE_FLAGGED


def claimable(now: datetime) -> Q:
    """Due for an attempt, or claimed by a worker whose lease ran out (it died mid-send)."""
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    abandoned = Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
    return due | abandoned


def claim(delivery_id: int) -> WebhookDelivery | None:
    """Take the delivery for one attempt, atomically: of two workers, one gets it."""
    now = timezone.now()
    taken = WebhookDelivery.objects.filter(claimable(now), pk=delivery_id).update(
        status=DeliveryStatus.SENDING, lease_until=_lease_from(now)
    )
    if not taken:
        return None
    return WebhookDelivery.objects.select_related("endpoint", "trade", "order").get(pk=delivery_id)


def _lease_from(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


def rate_limit_wait(endpoint: WebhookEndpoint) -> float:
    """Seconds until the endpoint may be called again under its per-minute limit; 0 if now."""
    limit = endpoint.rate_limit_per_minute
    if not limit:
        return 0.0
    minute_ago = timezone.now() - timedelta(minutes=1)
    recent = WebhookAttempt.objects.filter(delivery__endpoint=endpoint, attempted_at__gt=minute_ago)
    times = list(recent.order_by("-attempted_at").values_list("attempted_at", flat=True)[:limit])
    if len(times) < limit:
        return 0.0
    return max(0.1, (times[-1] - minute_ago).total_seconds())


def _record_attempt(delivery: WebhookDelivery, started: datetime, result: SendResult) -> None:
    WebhookAttempt.objects.create(
        delivery=delivery,
        attempted_at=started,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        response_excerpt=result.response_excerpt[:500],
        error=result.error[:500],
    )
    delivery.attempts += 1
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error[:500]
    if result.ok:
        delivery.endpoint.record_success(started)
    else:
        delivery.endpoint.record_failure(started, result.failure)


def _settle(delivery: WebhookDelivery, endpoint: WebhookEndpoint, result: SendResult) -> str:
    if result.ok:
        delivery.status, delivery.delivered_at, delivery.lease_until = DeliveryStatus.DELIVERED, timezone.now(), None
        delivery.save()
        _note_alerted(delivery)
        logger.debug("webhook %s to %s delivered on attempt %d", delivery.webhook_id, endpoint.name, delivery.attempts)
        return "delivered"
    delay = _next_try_in(delivery, result)
    _log_failed_attempt(delivery, result, delay)
    if result.refused:
        return _finish_dead(delivery, result.error)
    if result.status_code == GONE:
        _disable(endpoint, f"410 Gone on {new_york_time(timezone.now())}: the receiver asked to stop")
        return _finish_dead(delivery, "410 Gone: endpoint disabled")
    if delay is None:
        last = delivery.last_error or f"HTTP {result.status_code}"
        return _finish_dead(delivery, f"{last} (after {delivery.attempts} attempts)")
    return _postpone(delivery, delay)


def _note_alerted(delivery: WebhookDelivery) -> None:
    """The hit's first delivered alert (its latency's last step); later events of an order are not it."""
    if not is_the_hits_alert(delivery.event):
        return
    trade_id, order_id = delivery.trade_id, delivery.order_id
    if trade_id is not None:
        OptionTrade.objects.filter(pk=trade_id, alerted_at=None).update(alerted_at=delivery.delivered_at)
    elif order_id is not None:
        Order.objects.filter(pk=order_id, alerted_at=None).update(alerted_at=delivery.delivered_at)


def _next_try_in(delivery: WebhookDelivery, result: SendResult) -> float | None:
    """Seconds until the next attempt of a failed delivery; None if there is none."""
    if result.refused or result.status_code == GONE:
        return None
    return retry_delay(delivery.attempts, result.retry_after)


def _log_failed_attempt(delivery: WebhookDelivery, result: SendResult, delay: float | None) -> None:
    if delay is None:
        next_try = "no next try: the delivery is dead"
    else:
        at = timezone.now() + timedelta(seconds=delay)
        next_try = f"next try in {duration(delay)} ({new_york_time(at)})"
    hit = delivery.order or delivery.trade
    logger.warning(
        "webhook to endpoint %s failed for %s %s (%s), attempt %d of %d, %s: %s; %s",
        delivery.endpoint.name,
        "order" if delivery.order_id else "trade",
        delivery.order_id or delivery.trade_id,
        hit.symbol if hit else "?",
        delivery.attempts,
        MAX_ATTEMPTS,
        delivery.webhook_id,
        result.failure,
        next_try,
    )


def _postpone(delivery: WebhookDelivery, delay: float) -> str:
    delivery.status, delivery.lease_until = DeliveryStatus.PENDING, None
    delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    delivery.save()
    if delay <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS:
        transaction.on_commit(lambda: enqueue([delivery.pk], countdown=delay), robust=True)
    return "retry"


def _finish_dead(delivery: WebhookDelivery, reason: str) -> str:
    delivery.status, delivery.lease_until, delivery.next_attempt_at = DeliveryStatus.DEAD, None, None
    delivery.last_error = reason[:500]
    delivery.save()
    logger.error("webhook %s to %s is dead: %s", delivery.webhook_id, delivery.endpoint.name, reason)
    return "dead"


def _disable(endpoint: WebhookEndpoint, reason: str) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False, disabled_reason=reason[:300])
    logger.error("webhook endpoint %s disabled: %s", endpoint.name, reason)


# --- digests and follow-ups ------------------------------------------------------------------------


def send_digests(now: datetime | None = None) -> int:
    """For each endpoint that takes digests and holds hits, one `order.digest` delivery listing
    them, at most one per its ``digest_minutes``. Returns how many digests were made."""
    now = now or timezone.now()
    made = 0
    for endpoint in WebhookEndpoint.objects.filter(active=True, digest_minutes__isnull=False):
        last = (
            WebhookDelivery.objects.filter(endpoint=endpoint, event=ORDER_DIGEST)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if last is not None and last > now - timedelta(minutes=endpoint.digest_minutes or 0):
            continue
        with transaction.atomic():
            held = WebhookDelivery.objects.select_for_update(skip_locked=True).filter(
                endpoint=endpoint, status=DeliveryStatus.HELD
            )
            ids = list(held.values_list("pk", flat=True))
            if not ids:
                continue
            digest = WebhookDelivery.objects.create(
                endpoint=endpoint, event=ORDER_DIGEST, webhook_id=new_webhook_id(), next_attempt_at=now
            )
            WebhookDelivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.BUNDLED, digest=digest)
            transaction.on_commit(partial(enqueue, [digest.pk]), robust=True)
        made += 1
    return made


def create_follow_ups(order_events: dict[int, str]) -> list[int]:
    """A follow-up (``order_events``: order id → event type) for every endpoint that was sent the
    order, alone or in a digest; queued once the transaction commits."""
    now = timezone.now()
    sent = WebhookDelivery.objects.filter(
        order_id__in=order_events,
        event__in=_ALERT_EVENTS,
        status__in=[*_SENDING_STATES, DeliveryStatus.BUNDLED],
        endpoint__active=True,
    ).values_list("endpoint_id", "order_id")
    rows = [
        WebhookDelivery(
            endpoint_id=endpoint_id,
            order_id=order_id,
            event=order_events[order_id],
            webhook_id=new_webhook_id(),
            next_attempt_at=now,
        )
        for endpoint_id, order_id in sorted(set(sent))
    ]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return _queue_new(rows)


_SENDING_STATES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DELIVERED)


# --- the sweeper and the operator's actions --------------------------------------------------------


def sweep() -> int:
    """Queue every delivery that is due, or whose worker's lease ran out. Returns how many."""
    due = WebhookDelivery.objects.filter(claimable(timezone.now())).order_by("next_attempt_at")
    ids = list(due.values_list("id", flat=True)[:SWEEP_BATCH])
    enqueue(ids)
    return len(ids)


def resend(deliveries: QuerySet[WebhookDelivery]) -> int:
    """Send the selected deliveries again now, with a fresh retry schedule and the same webhook-id."""
    ids = list(deliveries.values_list("id", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), lease_until=None
    )
    transaction.on_commit(lambda: enqueue(ids), robust=True)
    return len(ids)


def send_test_event(endpoint: WebhookEndpoint) -> str:
    """Send a signed `webhook.test` event now and say how it went (not stored as a delivery)."""
    from trades.webhooks.payloads import test_trade

    now = timezone.now()
    body = build_body(endpoint.format, test_trade(), event_type="webhook.test", timestamp=now)
    webhook_id = new_webhook_id()
    result = send(
        endpoint.url,
        body,
        signature_headers(endpoint.secret, webhook_id, int(now.timestamp()), body),
        allow_private=endpoint.allow_private,
        connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT,
        read_timeout=settings.WEBHOOK_READ_TIMEOUT,
    )
    if result.status_code is not None:
        return f"{endpoint.name}: HTTP {result.status_code} in {result.duration_ms} ms ({webhook_id})"
    return f"{endpoint.name}: failed: {result.error}"
