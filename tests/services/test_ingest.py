"""The worker's service against real PostgreSQL: what a batch stores, and what it refuses."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.conf import settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from kombu import Connection, Queue

from tests.factories import frame
from trades.models import FilterProfile, OptionContract, OptionTrade, Underlying, WatchedTicker, Watchlist
from trades.selectors import flow_rules
from trades.services.ingest import ingest_frames, received_time
from trades.tasks import ingest_batch

NY = ZoneInfo("America/New_York")
T0 = int(datetime(2025, 12, 5, 10, 30, tzinfo=NY).timestamp() * 1000)


def trade(sym="O:AAPL251220C00190000", p=6.0, s=100, q=1, **extra):
    return {"ev": "T", "sym": sym, "x": 302, "p": p, "s": s, "c": [209], "t": T0 + q, "q": q, **extra}


@pytest.fixture(autouse=True)
def fresh_rules():
    flow_rules.forget_flow_rules()
    yield
    flow_rules.forget_flow_rules()


@pytest.fixture
def only_smart_money(db):
    """Only the shipped MAG7 preset: premium ≥ $50K, 0–30 DTE."""
    FilterProfile.objects.exclude(name="mag7-smart-money").update(enabled=False)


def stored_prints() -> set[tuple[str, int | None]]:
    return set(OptionTrade.objects.values_list("symbol", "sequence"))


def test_a_batch_stores_exactly_its_hits_and_counts_the_rest(only_smart_money):
    frames = [
        '[{"ev":"status","status":"connected","message":"Connected Successfully"}]',
        frame(
            trade(q=1),  # hit: $60K, 15 DTE
            trade(q=2, p=4.0),  # $40K: under the threshold
            trade(q=3, sym="O:XYZ251220C00190000"),  # not on the watchlist
            trade(q=4, c=[201]),  # cancelled
            trade(q=5, s=0),  # malformed: zero size
            trade(q=6, sym="O:AAPL251128C00190000"),  # expired before the trade
            {"ev": "T", "sym": "O:AAPL251220C00190000", "q": 7},  # malformed: fields missing
            "not an event",  # malformed item
            {"ev": "Q", "sym": "O:AAPL251220C00190000"},  # a quote on a shared channel
            trade(q=8, sym="O:MSFT260102P00400000", p=10.0, s=60),  # hit: $60K put, 28 DTE
        ),
        "{not json",  # malformed frame
    ]
    report = ingest_frames(frames)
    assert stored_prints() == {("O:AAPL251220C00190000", 1), ("O:MSFT260102P00400000", 8)}
    assert report.as_dict() == {
        "trades": 8,
        "status": 1,
        "ignored": 1,
        "rejected": 5,
        "candidates": 2,
        "hits": 2,
        "stored": 2,
        "unresolved": 0,
        "rejections": {"bad_size": 1, "expired_contract": 1, "bad_price": 1, "no_event_type": 1, "bad_json": 1},
        "kept": None,  # no profile judges orders
    }
    msft = OptionTrade.objects.get(sequence=8)
    assert (msft.underlying, msft.right, msft.strike, msft.premium, msft.dte) == ("MSFT", "P", 400, 60_000, 28)
    assert list(msft.profiles.values_list("name", flat=True)) == ["mag7-smart-money"]


def test_a_redelivered_batch_stores_nothing_twice(only_smart_money):
    frames = [frame(trade(q=1), trade(q=1), trade(q=2))]
    first, second = ingest_frames(frames), ingest_frames(frames)
    assert (first.stored, second.stored, second.hits) == (2, 0, 3)  # hits counts prints
    assert OptionTrade.objects.count() == 2
    assert OptionTrade.objects.get(sequence=1).profiles.count() == 1


def test_a_hit_keeps_when_the_listener_had_it_and_when_it_was_stored(only_smart_money):
    listener_had_it = timezone.now() - timedelta(seconds=0.5)
    kwargs = {"source": "live", "received_at": listener_had_it.timestamp()}
    ingest_batch.apply(args=([frame(trade(q=1))],), kwargs=kwargs)
    hit = OptionTrade.objects.get()
    assert abs(hit.received_at - listener_had_it) < timedelta(milliseconds=1)
    assert hit.stored_at is not None and hit.received_at < hit.stored_at <= timezone.now()


def test_without_the_listeners_time_a_hit_says_when_the_worker_had_it(only_smart_money):
    before = timezone.now()
    ingest_batch.apply(args=([frame(trade(q=1))],), kwargs={"source": "live"})
    hit = OptionTrade.objects.get()
    assert hit.stored_at is not None and before <= hit.received_at <= hit.stored_at


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.lists(st.integers())))
def test_a_messages_received_at_is_a_time_or_nothing(value):
    """Whatever a message carries (a replayed or hand-made one), the batch is never refused for it."""
    parsed = received_time(value)
    assert parsed is None or (parsed.tzinfo is not None and value > 0)


def test_a_hit_is_logged_as_smart_money(only_smart_money, caplog):
    caplog.set_level("INFO", logger="trades.services.ingest")
    ingest_frames([frame(trade(q=1, p=8.5))])
    assert "💰 Smart Money: O:AAPL251220C00190000 $85,000 premium, 15 DTE [mag7-smart-money]" in caplog.text


def test_rejected_items_are_logged_with_the_item(only_smart_money, caplog):
    ingest_frames([frame(trade(q=1, s=-5))])
    assert "size 's' must be a positive integer up to 10000000, got -5" in caplog.text
    assert "O:AAPL251220C00190000" in caplog.text


@pytest.mark.django_db
def test_reference_rules_use_open_interest_spot_and_the_contracts_multiplier():
    FilterProfile.objects.update(enabled=False)
    watchlist = Watchlist.objects.create(name="amc")
    WatchedTicker.objects.create(watchlist=watchlist, symbol="AMC")
    FilterProfile.objects.create(
        name="amc-oi-band",
        watchlist=watchlist,
        min_premium=5_000,
        size_gt_open_interest=True,
        strike_band=Decimal("0.4"),
    )
    Underlying.objects.create(ticker="AMC", spot=5, strike_min=1, strike_max=21)  # band [1, 9]
    for strike, open_interest in [(5, 99), (9, 99), (10, 99), (6, 100)]:
        OptionContract.objects.create(
            symbol=f"O:AMC1260116C{strike * 1000:08d}",
            root="AMC1",
            underlying="AMC",
            expiry="2026-01-16",
            right="C",
            strike=strike,
            shares_per_contract=10,  # an adjusted contract
            open_interest=open_interest,
        )
    batch = [
        trade(sym="O:AMC1260116C00005000", p=5.0, s=100, q=1),  # $5,000 at ×10; 100 > 99; in band
        trade(sym="O:AMC1260116C00009000", p=5.0, s=100, q=2),  # band edge 9: inclusive
        trade(sym="O:AMC1260116C00010000", p=5.0, s=100, q=3),  # outside the band
        trade(sym="O:AMC1260116C00006000", p=5.0, s=100, q=4),  # 100 is not > 100
        trade(sym="O:AMC1260116C00007000", p=5.0, s=100, q=5),  # unknown contract: open interest unknown
    ]
    ingest_frames([frame(*batch)])
    hits = OptionTrade.objects.order_by("sequence")
    assert [t.sequence for t in hits] == [1, 2]
    assert [(t.underlying, t.shares_per_contract, t.premium, t.open_interest, t.spot) for t in hits] == [
        ("AMC", 10, 5000, 99, 5),
        ("AMC", 10, 5000, 99, 5),
    ]


def test_a_threshold_change_reaches_the_worker_within_the_ttl(only_smart_money, settings):
    settings.FLOW_CONFIG_TTL_SECONDS = 0  # the default is 2 s; here every batch re-reads
    ingest_frames([frame(trade(q=1, p=4.0))])
    assert OptionTrade.objects.count() == 0
    FilterProfile.objects.filter(name="mag7-smart-money").update(min_premium=40_000)
    ingest_frames([frame(trade(q=1, p=4.0))])
    assert stored_prints() == {("O:AAPL251220C00190000", 1)}


def test_an_unknown_source_is_refused(only_smart_money):
    with pytest.raises(ValueError, match="unknown trade source"):
        ingest_frames([], source="somewhere")


def amc_profile(**fields) -> None:
    FilterProfile.objects.update(enabled=False)
    watchlist, _ = Watchlist.objects.get_or_create(name="amc")
    WatchedTicker.objects.get_or_create(watchlist=watchlist, symbol="AMC")
    FilterProfile.objects.create(name="amc-oi", watchlist=watchlist, min_premium=5_000, **fields)


def amc_contract(read_at, open_interest=99) -> None:
    OptionContract.objects.create(
        symbol="O:AMC260116C00005000",
        root="AMC",
        underlying="AMC",
        expiry="2026-01-16",
        right="C",
        strike=5,
        open_interest=open_interest,
        open_interest_updated_at=read_at,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("hours_old", "stale"), [(1, False), (37, True)])
def test_a_hit_judged_on_old_open_interest_is_marked_stale(hours_old, stale, settings):
    settings.OPEN_INTEREST_MAX_AGE_SECONDS = 36 * 3600
    amc_profile(size_gt_open_interest=True)
    amc_contract(read_at=timezone.now() - timedelta(hours=hours_old))
    ingest_frames([frame(trade(sym="O:AMC260116C00005000", p=5.0, s=100, q=1))])
    assert OptionTrade.objects.get().stale_reference is stale


@pytest.mark.django_db
def test_unknown_contracts_are_sent_once_per_batch_to_be_looked_up_and_judged_again():
    amc_profile(size_gt_open_interest=True)
    batch = [
        trade(sym="O:AMC260116C00007000", p=5.0, s=100, q=1),  # unknown contract: open interest unknown
        trade(sym="O:AMC260116C00008000", p=5.0, s=100, q=2),  # unknown too
        trade(sym="O:AMC260116C00008000", p=0.4, s=100, q=3),  # $4,000: too small for any profile, not sent
    ]
    with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        queue = Queue("reference", no_declare=True)(conn.default_channel)
        queue.purge()
        report = ingest_frames([frame(*batch)], source="replay")
        assert (report.hits, report.unresolved) == (0, 2)
        message = queue.get(no_ack=True)
        assert message is not None and queue.get(no_ack=True) is None  # one message for the batch
    assert message.headers["task"] == "trades.resolve_contracts"
    (frames,), kwargs, _ = message.decode()
    assert kwargs == {"source": "replay"}
    assert [(e["sym"], e["q"], e["p"], e["s"]) for e in orjson.loads(frames[0])] == [
        ("O:AMC260116C00007000", 1, 5.0, 100),
        ("O:AMC260116C00008000", 2, 5.0, 100),
    ]


@pytest.mark.django_db
def test_judging_again_does_not_ask_again():
    amc_profile(size_gt_open_interest=True)
    report = ingest_frames([frame(trade(sym="O:AMC260116C00007000", p=5.0, s=100, q=1))], resolve_unknown=False)
    assert report.unresolved == 0


@pytest.mark.django_db
def test_excluded_condition_groups_come_from_the_live_list_once_loaded(only_smart_money):
    from trades.models import OptionCondition

    ingest_frames([frame(trade(q=1, c=[299]))])  # 299: not in the static sets
    assert stored_prints() == {("O:AAPL251220C00190000", 1)}
    OptionCondition.objects.create(code=299, name="Canceled Somehow", category="cancelled")
    flow_rules.forget_flow_rules()
    ingest_frames([frame(trade(q=2, c=[299]), trade(q=3, c=[201]))])  # 201 is no longer in any loaded group
    assert stored_prints() == {("O:AAPL251220C00190000", 1), ("O:AAPL251220C00190000", 3)}
