"""The filter profiles and root map as the workers see them: a snapshot, reloaded every few seconds.

Workers judge millions of trades against a handful of profiles; reading the profiles from
the database once per FLOW_CONFIG_TTL_SECONDS (not per batch) keeps the hot path free of
queries while a change made in admin still reaches every worker within seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from django.db.models import F, Q

from trades.domain import conditions
from trades.domain.formatting import optional_float
from trades.domain.occ import DEFAULT_SHARES_PER_CONTRACT, underlying_for_root
from trades.domain.rules import WILDCARD, Profile, RootInfo, price_size_floor
from trades.models import FilterProfile, Judges, OptionCondition, OptionContract


@dataclass(frozen=True)
class FlowRules:
    profiles: list[Profile]
    roots: dict[str, RootInfo]  # only roots that differ from the defaults (SPXW → SPX, AMC1 × 10)

    @property
    def watches_everything(self) -> bool:
        return any(WILDCARD in profile.tickers for profile in self.profiles)

    @cached_property
    def print_profiles(self) -> list[Profile]:
        """The profiles that judge each print alone."""
        return [profile for profile in self.profiles if not profile.judges_orders]

    @cached_property
    def order_profiles(self) -> list[Profile]:
        return [profile for profile in self.profiles if profile.judges_orders]

    @cached_property
    def order_underlyings(self) -> frozenset[str] | None:
        """The underlyings whose prints are kept for orders: None for every one (a wildcard)."""
        tickers = frozenset(ticker for profile in self.order_profiles for ticker in profile.tickers)
        return None if WILDCARD in tickers else tickers

    def keeps_prints_of(self, underlying: str) -> bool:
        watched = self.order_underlyings
        return bool(self.order_profiles) and (watched is None or underlying in watched)

    def underlying_of(self, root: str) -> str:
        root_info = self.roots.get(root)
        return root_info.underlying if root_info else underlying_for_root(root)

    @cached_property
    def parse_floor(self) -> float | None:
        """The price × size under which a print is neither judged alone nor kept for an order."""
        largest = max([DEFAULT_SHARES_PER_CONTRACT, *(root.shares_per_contract for root in self.roots.values())])
        order_floor = (settings.ORDER_PRINT_MIN_PREMIUM - 0.005) / largest
        prints_floor = self.price_size_floor
        return None if prints_floor is None else min(prints_floor, order_floor)

    @cached_property
    def price_size_floor(self) -> float | None:
        """Under it no print profile can match (None: nothing is too small for them)."""
        if not self.print_profiles:
            return None if not self.profiles else float("inf")
        return price_size_floor(self.print_profiles, self.roots)


def load_flow_rules() -> FlowRules:
    return FlowRules(profiles=_enabled_profiles(), roots=_known_roots())


def _enabled_profiles() -> list[Profile]:
    rows = FilterProfile.objects.filter(enabled=True).select_related("watchlist").prefetch_related("watchlist__tickers")
    groups = condition_groups()
    return [to_domain_profile(row, groups) for row in rows]


def condition_groups() -> dict[str, frozenset[int]]:
    """Each condition group's codes: from Polygon's live list when loaded, else the static sets."""
    loaded: dict[str, set[int]] = {}
    for code, category in OptionCondition.objects.values_list("code", "category"):
        loaded.setdefault(category, set()).add(code)
    if not loaded:
        return dict(conditions.STATIC_GROUPS)
    return {group: frozenset(loaded.get(group, ())) for group in conditions.STATIC_GROUPS}


def excluded_codes(row: FilterProfile, groups: dict[str, frozenset[int]]) -> frozenset[int]:
    """The profile's excluded groups, as codes, with its further codes."""
    codes = {int(code) for code in row.exclude_conditions or ()}
    for group in row.exclude_categories or ():
        codes |= groups.get(group, frozenset())
    return frozenset(codes)


def to_domain_profile(row: FilterProfile, groups: dict[str, frozenset[int]]) -> Profile:
    return Profile(
        id=row.pk,
        name=row.name,
        tickers=frozenset(ticker.symbol.upper() for ticker in row.watchlist.tickers.all()),
        min_premium=optional_float(row.min_premium),
        min_size=row.min_size,
        min_dte=row.min_dte,
        max_dte=row.max_dte,
        size_gt_open_interest=row.size_gt_open_interest,
        strike_band=optional_float(row.strike_band),
        exclude_conditions=excluded_codes(row, groups),
        judges_orders=row.judges == Judges.ORDERS,
        order_types=frozenset(row.order_types or ()),
        golden_only=row.golden_only,
        iso_only=row.iso_only,
        aggressors=frozenset(row.aggressors or ()),
        sentiments=frozenset(row.sentiments or ()),
        opening=row.opening,
        min_vol_oi=optional_float(row.min_vol_oi),
        repeated_hits_only=row.repeated_hits_only,
        min_strike_multiple=optional_float(row.min_strike_multiple),
        min_strike_share=optional_float(row.min_strike_share),
        min_share_of_daily_premium=optional_float(row.min_share_of_daily_premium),
    )


def _known_roots() -> dict[str, RootInfo]:
    unusual = OptionContract.objects.filter(
        ~Q(root=F("underlying")) | ~Q(shares_per_contract=DEFAULT_SHARES_PER_CONTRACT)
    )
    # Without the model's ordering, or DISTINCT would keep one row per contract of these roots.
    rows = unusual.order_by().values_list("root", "underlying", "shares_per_contract").distinct()
    return {root: RootInfo(underlying, shares) for root, underlying, shares in rows}


_cached: tuple[float, FlowRules] | None = None


def current_flow_rules() -> FlowRules:
    """The snapshot, reloaded when older than FLOW_CONFIG_TTL_SECONDS."""
    global _cached
    now = time.monotonic()
    if _cached is None or now - _cached[0] >= settings.FLOW_CONFIG_TTL_SECONDS:
        _cached = (now, load_flow_rules())
    return _cached[1]


def forget_flow_rules() -> None:
    """Drop the snapshot (tests, and after an import in this process)."""
    global _cached
    _cached = None
