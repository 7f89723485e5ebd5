"""Django admin: tune profiles, watchlists and subscriptions live; browse contracts and hits."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from trades.models import (
    FilterProfile,
    OptionContract,
    OptionTrade,
    Subscription,
    TradeMatch,
    Underlying,
    WatchedTicker,
    Watchlist,
)


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
        ("Conditions", {"fields": ["exclude_conditions"]}),
    ]

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


@admin.register(Underlying)
class UnderlyingAdmin(admin.ModelAdmin):
    list_display = ["ticker", "spot", "spot_updated_at", "strike_min", "strike_max", "strikes_updated_at"]
    search_fields = ["ticker"]


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
