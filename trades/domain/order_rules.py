"""Profiles that judge orders (FLOW.md, "Rules on orders and windows").

An order is judged twice: first on everything known when it closes (watchlist, the order's total
premium and size, days to expiry, conditions, type, ISO, opening, volume / open interest, repeated
hits, open interest and strike band), then, for those that pass, on what its quote tells (golden,
aggressor, sentiment): a quote is one paid look-up, spent only on orders that can still be hits.
"""

from __future__ import annotations

from dataclasses import dataclass

from trades.domain.insights import Concentration
from trades.domain.occ import OptionSymbol
from trades.domain.orders import Opening, Order
from trades.domain.rules import WILDCARD, Profile, Reference, size_and_strike_pass
from trades.domain.side import Aggressor

OPENING = "opening"
STRICTLY_OPENING = "strict"


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """An order with what its judging needs besides its prints."""

    order: Order
    option: OptionSymbol
    underlying: str
    dte: int
    opening: Opening
    repeated_hits: bool


def passes_before_side(facts: OrderFacts, profile: Profile, reference: Reference) -> bool:
    return passes_order_rules(facts, profile) and passes_context_rules(facts, profile, reference)


def passes_order_rules(facts: OrderFacts, profile: Profile) -> bool:
    """The rules that need only the order: watchlist, totals, days to expiry, conditions, type,
    ISO, repeated hits."""
    return looks_like_a_bet(facts, profile) and passes_kind_rules(facts, profile)


def passes_kind_rules(facts: OrderFacts, profile: Profile) -> bool:
    """The order's conditions, type, ISO and repeated hits (for an order that looks like a bet)."""
    order = facts.order
    if profile.exclude_conditions.intersection(order.conditions):
        return False
    if profile.order_types and not _type_wanted(order, profile.order_types):
        return False
    return not ((profile.iso_only and not order.iso) or (profile.repeated_hits_only and not facts.repeated_hits))


def looks_like_a_bet(facts: OrderFacts, profile: Profile) -> bool:
    """The profile's watchlist, totals and days to expiry: what an order held back as noise (a
    spread's leg, a roll) would have had to pass to be alerted."""
    order = facts.order
    if not profile.judges_orders or not (facts.underlying in profile.tickers or WILDCARD in profile.tickers):
        return False
    if profile.min_size is not None and order.size < profile.min_size:
        return False
    if profile.min_premium is not None and order.premium < profile.min_premium - 0.005:
        return False
    return not (
        (profile.min_dte is not None and facts.dte < profile.min_dte)
        or (profile.max_dte is not None and facts.dte > profile.max_dte)
    )


def passes_context_rules(facts: OrderFacts, profile: Profile, reference: Reference) -> bool:
    """The rules that need the day's volume and the reference data: opening, volume / open
    interest, size above open interest, strike band. Unknown data fails them."""
    if not _opening_passes(facts.opening, profile):
        return False
    return not profile.needs_reference or size_and_strike_pass(
        facts.order.size, facts.option.strike_float, profile, reference
    )


def _type_wanted(order: Order, wanted: frozenset[str]) -> bool:
    # A golden sweep is a sweep; "GOLDEN" is not a type of its own here (golden_only says it).
    return order.type.value in wanted


def _opening_passes(opening: Opening, profile: Profile) -> bool:
    if profile.opening == OPENING and opening.opening is not True:
        return False
    if profile.opening == STRICTLY_OPENING and opening.opening_strict is not True:
        return False
    return profile.min_vol_oi is None or (opening.vol_oi is not None and opening.vol_oi >= profile.min_vol_oi)


def needs_history(profile: Profile) -> bool:
    """The profile has rules on the order's flow history: judged once that history is stored."""
    rules = (profile.min_strike_multiple, profile.min_strike_share, profile.min_share_of_daily_premium)
    return any(rule is not None for rule in rules)


def passes_history_rules(profile: Profile, found: Concentration, premium: float) -> bool:
    """Unusual for its strike (a multiple of its usual, or premium where there was none), a share of
    its underlying's premium, and a share of the underlying's average daily premium; without five
    days of history the multiple and the daily share fail."""
    cents = premium * 100
    if profile.min_strike_multiple is not None:
        multiple = found.multiple
        if not found.enough_history or found.strike <= 0:
            return False
        if multiple is not None and multiple < profile.min_strike_multiple:
            return False
    if profile.min_strike_share is not None and (found.share is None or found.share < profile.min_strike_share):
        return False
    if profile.min_share_of_daily_premium is not None:
        usual = found.daily_usual
        if not found.enough_history or not usual or cents < profile.min_share_of_daily_premium * usual:
            return False
    return True


def needs_side(profile: Profile) -> bool:
    return profile.golden_only or bool(profile.aggressors) or bool(profile.sentiments)


def passes_side(order: Order, profile: Profile) -> bool:
    """The rules that need the quote; an order whose side is unknown fails any of them."""
    if profile.golden_only and not order.golden:
        return False
    if profile.aggressors and order.aggressor.value not in profile.aggressors:
        return False
    return not profile.sentiments or (
        order.aggressor not in (Aggressor.UNKNOWN, Aggressor.NONE) and order.sentiment.value in profile.sentiments
    )
