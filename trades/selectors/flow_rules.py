"""The filter profiles and root map as the workers see them: a snapshot, reloaded every few seconds.

Workers judge millions of trades against a handful of profiles; reading the profiles from
the database once per FLOW_CONFIG_TTL_SECONDS (not per batch) keeps the hot path free of
queries while a change made in admin still reaches every worker within seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q

from trades.domain import conditions
from trades.domain.occ import DEFAULT_SHARES_PER_CONTRACT
from trades.domain.rules import WILDCARD, Profile, RootInfo, price_size_floor
from trades.models import FilterProfile, OptionCondition, OptionContract


@dataclass(frozen=True)
class FlowRules:
    profiles: list[Profile]
    roots: dict[str, RootInfo]  # only roots that differ from the defaults (SPXW → SPX, AMC1 × 10)

    @property
    def watches_everything(self) -> bool:
        return any(WILDCARD in profile.tickers for profile in self.profiles)

    @property
    def price_size_floor(self) -> float | None:
        return price_size_floor(self.profiles, self.roots)


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
    def optional_float(value: object) -> float | None:
        return None if value is None else float(value)  # type: ignore[arg-type]

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
    )


def _known_roots() -> dict[str, RootInfo]:
    unusual = OptionContract.objects.filter(
        ~Q(root=F("underlying")) | ~Q(shares_per_contract=DEFAULT_SHARES_PER_CONTRACT)
    )
    rows = unusual.values_list("root", "underlying", "shares_per_contract").distinct()
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
