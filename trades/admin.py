"""Django admin: tune profiles, watchlists and subscriptions live; browse contracts and hits."""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from trades.models import (
    FilterProfile,
    OptionCondition,
    OptionContract,
    OptionExchange,
    OptionTrade,
    Subscription,
    TradeMatch,
    Underlying,
    WatchedTicker,
    Watchlist,
)
from trades.services.flow_rules import condition_groups, excluded_codes


class WatchedTickerInline(admin.TabularInline):
    model = WatchedTicker
    extra = 3


@admin.register(Watchlist)
class WatchlistAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "ticker_list", "updated_at"]
    search_fields = ["name", "tickers__symbol"]
    inlines = [WatchedTickerInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Watchlist]:
        return super().get_queryset(request).prefetch_related("tickers")

    @admin.display(description="tickers")
    def ticker_list(self, watchlist: Watchlist) -> str:
        return ", ".join(watchlist.symbols)


@admin.register(FilterProfile)
class FilterProfileAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "enabled",
        "watchlist",
        "min_premium",
        "min_size",
        "dte_window",
        "size_gt_open_interest",
        "strike_band",
    ]
    list_editable = ["enabled"]
    list_filter = ["enabled", "size_gt_open_interest", "watchlist"]
    list_select_related = ["watchlist"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["watchlist"]
    fieldsets = [
        (None, {"fields": ["name", "description", "enabled", "watchlist"]}),
        ("Rules (an empty bound is off)", {"fields": ["min_premium", "min_size", ("min_dte", "max_dte")]}),
        ("Reference rules", {"fields": ["size_gt_open_interest", "strike_band"]}),
        ("Conditions", {"fields": ["exclude_categories", "exclude_conditions", "excluded_condition_names"]}),
    ]
    readonly_fields = ["excluded_condition_names"]

    @admin.display(description="excluded conditions, by name")
    def excluded_condition_names(self, profile: FilterProfile) -> str:
        codes = sorted(excluded_codes(profile, condition_groups()))
        if not codes:
            return "none"
        names = dict(OptionCondition.objects.filter(code__in=codes).values_list("code", "name"))
        return "; ".join(f"{code} {names.get(code, '(not in the loaded conditions list)')}" for code in codes)

    @admin.display(description="DTE")
    def dte_window(self, profile: FilterProfile) -> str:
        if profile.min_dte is None and profile.max_dte is None:
            return "any"
        low = "" if profile.min_dte is None else profile.min_dte
        high = "" if profile.max_dte is None else profile.max_dte
        return f"{low}–{high}"


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["channel", "enabled"]
    list_editable = ["enabled"]
    list_filter = ["enabled"]
    search_fields = ["channel"]


def age_text(then: datetime | None, now: datetime) -> str:
    """How long ago, the way a person says it: "never", "42 s", "3 min", "5 h", "2 d"."""
    if then is None:
        return "never"
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


@admin.register(Underlying)
class UnderlyingAdmin(admin.ModelAdmin):
    list_display = ["ticker", "spot", "spot_age", "strike_min", "strike_max", "strikes_age", "open_interest_age"]
    search_fields = ["ticker"]

    @admin.display(description="spot read", ordering="spot_updated_at")
    def spot_age(self, underlying: Underlying) -> str:
        return age_text(underlying.spot_updated_at, timezone.now())

    @admin.display(description="strikes read", ordering="strikes_updated_at")
    def strikes_age(self, underlying: Underlying) -> str:
        return age_text(underlying.strikes_updated_at, timezone.now())

    @admin.display(description="open interest read", ordering="open_interest_updated_at")
    def open_interest_age(self, underlying: Underlying) -> str:
        return age_text(underlying.open_interest_updated_at, timezone.now())


class LoadedFromPolygonAdmin(admin.ModelAdmin):
    """Read-mostly: rows come from Polygon (manage.py refresh_reference, beat) and are replaced on
    every refresh, so an edit here would not last. Browse and search only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OptionCondition)
class OptionConditionAdmin(LoadedFromPolygonAdmin):
    list_display = ["code", "name", "abbreviation", "category", "updated_at"]
    list_filter = ["category"]
    search_fields = ["=code", "name", "abbreviation"]


@admin.register(OptionExchange)
class OptionExchangeAdmin(LoadedFromPolygonAdmin):
    list_display = ["id", "name", "acronym", "mic", "updated_at"]
    search_fields = ["=id", "name", "acronym", "mic"]


@admin.register(OptionContract)
class OptionContractAdmin(admin.ModelAdmin):
    list_display = [
        "symbol",
        "underlying",
        "expiry",
        "right",
        "strike",
        "shares_per_contract",
        "open_interest",
        "open_interest_updated_at",
    ]
    list_filter = ["underlying", "right", "expiry"]
    search_fields = ["symbol", "=underlying"]
    date_hierarchy = "expiry"
    show_full_result_count = False  # the table can be large; skip the second COUNT(*)


class TradeMatchInline(admin.TabularInline):
    model = TradeMatch
    fields = ["profile"]
    extra = 0
    verbose_name = "matched profile"

    def has_add_permission(self, request: HttpRequest, obj: OptionTrade | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OptionTrade | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OptionTrade | None = None) -> bool:
        return False


@admin.register(OptionTrade)
class OptionTradeAdmin(admin.ModelAdmin):
    """Read-only: hits are written by the ingest workers only."""

    list_display = [
        "traded_at",
        "symbol",
        "side",
        "strike",
        "expiry",
        "dte",
        "size",
        "premium",
        "open_interest",
        "spot",
        "source",
        "profile_list",
    ]
    list_filter = ["underlying", "right", "source", "profiles"]
    search_fields = ["symbol"]
    date_hierarchy = "traded_at"
    inlines = [TradeMatchInline]
    show_full_result_count = False  # the table can be large; skip the second COUNT(*)

    def get_queryset(self, request: HttpRequest) -> QuerySet[OptionTrade]:
        return super().get_queryset(request).prefetch_related("profiles")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OptionTrade | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OptionTrade | None = None) -> bool:
        return False

    @admin.display(description="side", ordering="right")
    def side(self, trade: OptionTrade) -> str:
        return trade.get_right_display().upper()

    @admin.display(description="profiles")
    def profile_list(self, trade: OptionTrade) -> str:
        return ", ".join(sorted(profile.name for profile in trade.profiles.all()))
