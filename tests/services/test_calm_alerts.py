"""Calm alerts and follow-ups against a real receiver and real PostgreSQL: per endpoint, a cooldown
per contract (one alert, one update, one escalation), a digest every N minutes, and the next
morning's open interest confirming or refuting an opening order."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import AAPL_195C, only_profile, stored_order
from tests.receiver import Receiver
from trades.domain.calendar import NEW_YORK
from trades.domain.webhooks import ORDER_ESCALATED, ORDER_UPDATE, calm_event
from trades.models import DeliveryStatus, FilterProfile, OptionContract, Order, WebhookDelivery, WebhookEndpoint
from trades.services import followups, webhooks

pytestmark = pytest.mark.usefixtures("first_attempts_queued")

DAY = date(2026, 11, 20)


@pytest.fixture
def sweeps(db) -> FilterProfile:
    return only_profile("sweeps", ["AAPL"], judges="orders", min_premium=Decimal(50_000))


def endpoint(receiver: Receiver, name: str, **fields: object) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        name=name,
        url=receiver.url,  # type: ignore[attr-defined]
        secret=receiver.secret,
        allow_private=True,
        **fields,  # type: ignore[arg-type]
    )


def hit(order: Order, profile: FilterProfile) -> None:
    """What judging does for a new hit: its deliveries, as the endpoints want them."""
    webhooks.create_deliveries({order.pk: {profile.pk}}, orders=True)


def deliveries(to: WebhookEndpoint) -> list[tuple[str, str, str]]:
    rows = WebhookDelivery.objects.filter(endpoint=to).order_by("pk")
    return [(row.order.order_id if row.order else "", row.event, row.status) for row in rows]


def deliver_all() -> None:
    for pk in WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).order_by("pk").values_list("pk", flat=True):
        webhooks.deliver(pk)


def test_calm_event_rules() -> None:
    assert calm_event([], 1.0, None) == "order.flagged"
    assert calm_event(["order.flagged"], 1.0, None) == ORDER_UPDATE
    assert calm_event(["order.flagged", ORDER_UPDATE], 1.0, None) is None
    assert calm_event(["order.flagged", ORDER_UPDATE], 5.0, 5.0) == ORDER_ESCALATED
    assert calm_event(["order.flagged", ORDER_ESCALATED], 9.0, 5.0) is None  # one escalation, no update after it


def test_a_cooldown_sends_one_alert_an_update_and_an_escalation_per_contract(sweeps, receiver):
    calm = endpoint(receiver, "calm", cooldown_minutes=30, escalate_premium=Decimal(1_000_000))
    everything = endpoint(receiver, "everything")
    for number in range(5):  # five $300K hits on one contract
        hit(stored_order(f"o{number}", DAY, sweeps, first_ts_ns=number), sweeps)
    other = stored_order("other", DAY, sweeps, symbol="O:AAPL261204C00200000", first_ts_ns=9)
    hit(other, sweeps)

    assert deliveries(calm) == [
        ("o0", "", "pending"),  # the alert
        ("o1", ORDER_UPDATE, "pending"),
        ("o2", "", "calmed"),  # $900K in the cooldown: below the second threshold
        ("o3", ORDER_ESCALATED, "pending"),  # $1.2M
        ("o4", "", "calmed"),
        ("other", "", "pending"),  # another contract: its own alert
    ]
    assert [status for *_, status in deliveries(everything)] == ["pending"] * 6

    deliver_all()
    types = sorted(request.json()["type"] for request in receiver.requests)
    assert types == sorted(["order.flagged"] * 8 + [ORDER_UPDATE, ORDER_ESCALATED])
    assert all(request.signature_ok for request in receiver.requests)

    WebhookDelivery.objects.filter(endpoint=calm).update(created_at=timezone.now() - timedelta(minutes=31))
    hit(stored_order("later", DAY, sweeps, first_ts_ns=20), sweeps)  # the cooldown is over: an alert again
    assert deliveries(calm)[-1] == ("later", "", "pending")


def test_a_digest_endpoint_gets_one_message_listing_its_hits_per_period(sweeps, receiver):
    digest = endpoint(receiver, "digest", digest_minutes=15, format="discord")
    for number in range(3):
        hit(stored_order(f"o{number}", DAY, sweeps, first_ts_ns=number, insight=f"insight {number}"), sweeps)
    assert {status for *_, status in deliveries(digest)} == {"held"}

    assert webhooks.send_digests() == 1
    deliver_all()
    (request,) = receiver.requests
    content = request.json()["content"]
    assert content.startswith("📋 flowsite digest: 3 hits\n💰 Smart Money: SWEEP O:AAPL261204C00195000 $300,000")
    assert content.count("\n") == 3
    made = WebhookDelivery.objects.get(event="order.digest")
    assert made.status == "delivered" and sorted(made.bundled.values_list("status", flat=True)) == ["bundled"] * 3

    hit(stored_order("o3", DAY, sweeps, first_ts_ns=3), sweeps)
    assert webhooks.send_digests() == 0  # the period is not up: it waits
    assert webhooks.send_digests(now=timezone.now() + timedelta(minutes=16)) == 1


def test_the_next_mornings_open_interest_confirms_or_refutes_an_opening_order(sweeps, receiver):
    desk = endpoint(receiver, "desk", format="slack")
    confirmed = stored_order("up", DAY, sweeps, opening=True, open_interest=1_000, size=500)
    refuted = stored_order(
        "flat", DAY, sweeps, opening=True, open_interest=2_000, size=500, symbol="O:AAPL261204C00200000"
    )
    not_opening = stored_order("closing", DAY, sweeps, opening=False, open_interest=10, symbol="O:AAPL261204C00205000")
    for order in (confirmed, refuted, not_opening):
        hit(order, sweeps)
    deliver_all()
    next_morning = datetime(2026, 11, 23, 8, 0, tzinfo=NEW_YORK)  # Monday
    for symbol, interest in ((AAPL_195C, 1_300), ("O:AAPL261204C00200000", 2_100), ("O:AAPL261204C00205000", 900)):
        OptionContract.objects.create(
            symbol=symbol,
            root="AAPL",
            underlying="AAPL",
            expiry=date(2026, 12, 4),
            right="C",
            strike=Decimal(symbol[-8:]) / 1000,
            open_interest=interest,
            open_interest_updated_at=next_morning
            if symbol != AAPL_195C
            else datetime(2026, 11, 20, 8, tzinfo=NEW_YORK),
        )
    assert followups.confirm_open_interest(now=next_morning) == 1  # 195C's was read before the order's day: waits
    OptionContract.objects.filter(symbol=AAPL_195C).update(open_interest_updated_at=next_morning)
    assert followups.confirm_open_interest(now=next_morning) == 1

    confirmed.refresh_from_db()
    refuted.refresh_from_db()
    assert (confirmed.open_interest_next, confirmed.oi_confirmed) == (1_300, True)  # +300 ≥ 500 / 2
    assert (refuted.open_interest_next, refuted.oi_confirmed) == (2_100, False)  # +100 < 250
    assert deliveries(desk)[3:] == [("flat", "order.oi_refuted", "pending"), ("up", "order.oi_confirmed", "pending")]
    deliver_all()
    texts = [request.json()["text"] for request in receiver.requests[3:]]
    assert texts[0].startswith("❌ Next morning's open interest does not confirm the opening: 2,000 → 2,100 (+100)")
    assert texts[1].startswith("✅ Next morning's open interest confirms the opening: 1,000 → 1,300 (+300)")
    assert followups.confirm_open_interest(now=next_morning) == 0  # each once
