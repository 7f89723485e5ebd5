"""The filter rules of DESIGN.md, edge by edge, without a database."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from trades.domain.rules import (
    InvalidTrade,
    MaxAges,
    Profile,
    Reference,
    RootInfo,
    is_too_small,
    judged_on_stale_data,
    matching_profiles,
    parse_trade,
    passes_reference_rules,
    passes_trade_rules,
    price_size_floor,
    strike_band,
    trade_event,
)

NY = ZoneInfo("America/New_York")
# 2025-12-05 10:30 New York: 15 days before the 2025-12-20 expiry.
T_DEC_5 = int(datetime(2025, 12, 5, 10, 30, tzinfo=NY).timestamp() * 1000)


def event(**overrides):
    base = {"ev": "T", "sym": "O:AAPL251220C00190000", "x": 302, "p": 5.0, "s": 100, "c": [209], "t": T_DEC_5, "q": 7}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


def trade(roots=None, **overrides):
    return parse_trade(event(**overrides), roots or {})


def profile(**fields):
    fields.setdefault("tickers", frozenset({"AAPL"}))
    return Profile(id=1, name="p", **fields)


def test_parses_every_field_and_derives_the_rest():
    t = trade()
    assert (t.symbol, t.underlying, t.price, t.size, t.exchange, t.conditions, t.sequence) == (
        "O:AAPL251220C00190000",
        "AAPL",
        5.0,
        100,
        302,
        (209,),
        7,
    )
    assert t.premium == 50_000.0  # 5.00 × 100 contracts × 100 shares
    assert t.dte == 15
    assert t.print_key.startswith(f"O:AAPL251220C00190000@{T_DEC_5}/")


def test_premium_uses_the_multiplier_and_exact_cents():
    assert trade(p=0.29).premium == 2900.0  # not 2899.9999999999995
    adjusted = trade(sym="O:AMC1260116C00005000", roots={"AMC1": RootInfo("AMC", 10)})
    assert (adjusted.underlying, adjusted.premium) == ("AMC", 5000.0)


def test_dte_counts_from_the_new_york_date_not_utc():
    late_evening = int(datetime(2025, 12, 19, 22, 0, tzinfo=NY).timestamp() * 1000)  # already the 20th in UTC
    assert trade(t=late_evening).dte == 1


def test_an_alias_root_is_its_underlyings_option():
    assert trade(sym="O:SPXW251219P05800000").underlying == "SPX"


def test_missing_conditions_and_sequence_are_allowed():
    t = trade(c=..., q=...)
    assert (t.conditions, t.sequence) == ((), None)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"sym": "AAPL"}, "O:"),
        ({"sym": ...}, "symbol"),
        ({"p": 0}, "price"),
        ({"p": -1.5}, "price"),
        ({"p": "1.5"}, "price"),
        ({"p": float("nan")}, "price"),
        ({"s": 0}, "size"),
        ({"s": -10}, "size"),
        ({"s": 1.5}, "size"),
        ({"s": True}, "size"),
        ({"s": ...}, "size"),
        ({"t": ...}, "timestamp"),
        ({"x": "CBOE"}, "exchange"),
        ({"q": -1}, "sequence"),
        ({"c": "209"}, "conditions"),
        ({"c": [209, "x"]}, "conditions"),
        ({"sym": "O:AAPL251128C00190000"}, "expired"),
        ({"sym": "O:AAPL"}, "length"),  # once an IndexError that cost its whole batch
        ({"sym": "O:AAPL251220C0019000"}, "right"),  # one strike digit short
        ({"t": T_DEC_5 * 1000}, "timestamp"),  # µs: once a ValueError that cost its whole batch
        ({"t": T_DEC_5 * 1_000_000}, "timestamp"),  # ns
        ({"t": T_DEC_5 // 1000}, "timestamp"),  # seconds: 1970
        ({"s": 2**31}, "size"),  # beyond any print (and the size column)
        ({"x": 2**31}, "exchange"),
        ({"x": -1}, "exchange"),
        ({"q": 2**63}, "sequence"),
        ({"p": 1e8}, "price"),
        ({"p": 0.00001}, "price"),
        ({"p": float("inf")}, "price"),
        ({"c": [2**31]}, "conditions"),
        ({"c": [-1]}, "conditions"),
        ({"p": 9_999_999.0, "s": 9_999_999}, "premium"),
    ],
)
def test_malformed_events_are_rejected_with_a_reason(overrides, reason):
    with pytest.raises(InvalidTrade, match=reason):
        trade(**overrides)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"sym": "O:AAPL"}, "bad_symbol"),
        ({"p": "1"}, "bad_price"),
        ({"s": 0}, "bad_size"),
        ({"t": 1}, "bad_timestamp"),
        ({"x": None}, "bad_exchange"),
        ({"q": "1"}, "bad_sequence"),
        ({"c": [[]]}, "bad_conditions"),
        ({"sym": "O:AAPL251128C00190000"}, "expired_contract"),
        ({"p": 9_999_999.0, "s": 9_999_999}, "implausible_premium"),
    ],
)
def test_each_rejection_names_its_reason_for_counting(overrides, reason):
    with pytest.raises(InvalidTrade) as rejected:
        trade(**overrides)
    assert rejected.value.reason == reason


@pytest.mark.parametrize(
    ("rule", "passing", "failing"),
    [
        ({"min_premium": 50_000}, {"p": 5.0}, {"p": 4.99}),  # premium ≥ min, inclusive
        ({"min_size": 100}, {"s": 100}, {"s": 99}),  # size ≥ min, inclusive
        ({"max_dte": 15}, {"sym": "O:AAPL251220C00190000"}, {"sym": "O:AAPL251221C00190000"}),
        ({"min_dte": 15}, {"sym": "O:AAPL251220C00190000"}, {"sym": "O:AAPL251219C00190000"}),
        ({"exclude_conditions": frozenset({201})}, {"c": [209]}, {"c": [209, 201]}),
    ],
)
def test_trade_rules_edges(rule, passing, failing):
    assert passes_trade_rules(trade(**passing), profile(**rule))
    assert not passes_trade_rules(trade(**failing), profile(**rule))


def test_a_null_bound_is_off():
    tiny = trade(p=0.01, s=1, c=...)
    everything_off = profile(exclude_conditions=frozenset())
    assert passes_trade_rules(tiny, everything_off)


def test_default_profile_excludes_cancelled_and_late_prints():
    default = profile()
    assert not passes_trade_rules(trade(c=[201]), default)
    assert not passes_trade_rules(trade(c=[208]), default)
    assert passes_trade_rules(trade(c=[233]), default)  # multi-leg only when a profile asks


def test_watchlist_matches_the_underlying_and_star_matches_all():
    spx = trade(sym="O:SPXW251219P05800000")
    assert passes_trade_rules(spx, profile(tickers=frozenset({"SPX"})))
    assert not passes_trade_rules(spx, profile(tickers=frozenset({"SPXW"})))
    assert passes_trade_rules(trade(sym="O:ZZZ251220C00010000"), profile(tickers=frozenset({"*"})))


def test_size_above_open_interest_is_strict_and_unknown_fails():
    rule = profile(size_gt_open_interest=True)
    assert passes_reference_rules(trade(s=101), rule, Reference(open_interest=100))
    assert not passes_reference_rules(trade(s=100), rule, Reference(open_interest=100))
    assert not passes_reference_rules(trade(s=101), rule, Reference(open_interest=None))


def test_strike_band_is_centred_on_spot_and_clipped_to_the_listed_range():
    # range [100, 300], fraction 0.40 → half-width 40
    assert strike_band(Reference(spot=190, strike_min=100, strike_max=300), 0.40) == (150, 230)
    assert strike_band(Reference(spot=110, strike_min=100, strike_max=300), 0.40) == (100, 150)
    assert strike_band(Reference(spot=190, strike_min=None, strike_max=300), 0.40) is None


@pytest.mark.parametrize(
    ("strike", "inside"), [("00150000", True), ("00230000", True), ("00149990", False), ("00230010", False)]
)
def test_strike_band_edges_are_inclusive(strike, inside):
    rule = profile(strike_band=0.40)
    reference = Reference(spot=190, strike_min=100, strike_max=300)
    assert passes_reference_rules(trade(sym=f"O:AAPL251220C{strike}"), rule, reference) is inside


def test_strike_band_with_unknown_spot_fails():
    assert not passes_reference_rules(trade(), profile(strike_band=0.40), Reference(strike_min=100, strike_max=300))


def test_a_hit_records_every_profile_it_matched():
    big = profile(min_premium=50_000)
    huge = Profile(id=2, name="huge", tickers=frozenset({"*"}), min_premium=1_000_000)
    with_oi = Profile(id=3, name="oi", tickers=frozenset({"AAPL"}), size_gt_open_interest=True)
    matched = matching_profiles(trade(), [big, huge, with_oi], Reference(open_interest=10))
    assert [p.name for p in matched] == ["p", "oi"]


def test_the_price_size_floor_is_the_smallest_minimum_premium_at_the_largest_multiplier():
    small, big = profile(min_premium=25_000), profile(min_premium=50_000)
    assert price_size_floor([small, big], {}) == pytest.approx(249.99995)
    assert price_size_floor([small, big], {"AMC1": RootInfo("AMC", 1000)}) == pytest.approx(24.999995)
    assert price_size_floor([small, profile()], {}) is None  # a profile without a minimum premium
    assert price_size_floor([], {}) is None


@pytest.mark.parametrize(
    ("price", "size", "too_small"),
    [
        (2.49, 100, True),  # $24,900
        (2.50, 100, False),  # exactly $25,000: could be a hit
        (0, 100, False),  # malformed: left to the full parse, which rejects it
        (1.0, 0, False),
        (1.0, -5, False),
        (1.0, True, False),
        ("1.0", 1, False),
        (None, 1, False),
    ],
)
def test_only_well_formed_prints_are_too_small(price, size, too_small):
    floor = price_size_floor([profile(min_premium=25_000)], {})
    assert floor is not None
    assert is_too_small({"p": price, "s": size}, floor) is too_small


def test_stale_data_counts_only_for_the_rules_a_matched_profile_used():
    limits = MaxAges(open_interest=100, spot=10, strikes=1000)
    old_oi = Reference(open_interest_age=101, spot_age=1, strikes_age=1)
    old_spot = Reference(open_interest_age=1, spot_age=11, strikes_age=1)
    assert judged_on_stale_data([profile(size_gt_open_interest=True)], old_oi, limits)
    assert not judged_on_stale_data([profile(strike_band=0.4)], old_oi, limits)
    assert judged_on_stale_data([profile(strike_band=0.4)], old_spot, limits)
    assert not judged_on_stale_data([profile(min_premium=1)], old_spot, limits)  # no reference rule
    assert not judged_on_stale_data([profile(size_gt_open_interest=True)], Reference(), limits)  # unknown: not old


@pytest.mark.parametrize("overrides", [{}, {"c": ...}, {"q": ...}, {"p": 5}])
def test_trade_event_is_the_inverse_of_parse_trade(overrides):
    parsed = trade(**overrides)
    again = parse_trade(trade_event(parsed), {})
    assert (again.print_key, again.conditions, again.premium, again.trade_date) == (
        parsed.print_key,
        parsed.conditions,
        parsed.premium,
        parsed.trade_date,
    )
