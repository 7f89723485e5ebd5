"""Admin: reference data loaded from Polygon (underlyings, conditions, exchanges, contracts)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.safestring import SafeString

from trades.admin import display
from trades.admin.common import ReadOnlyAdminMixin, age_text
from trades.domain.formatting import strike
from trades.models import (
    OptionCondition,
    OptionContract,
    OptionExchange,
    Underlying,
)


@admin.register(Underlying)
class UnderlyingAdmin(admin.ModelAdmin):
    list_display = ["ticker", "spot_dollars", "spot_age", "strikes", "strikes_age", "open_interest_age"]
    search_fields = ["ticker"]

    @admin.display(description="spot", ordering="spot")
    def spot_dollars(self, underlying: Underlying) -> str:
        return display.money(underlying.spot, 2)

    @admin.display(description="listed strikes", ordering="strike_min")
    def strikes(self, underlying: Underlying) -> str:
        if underlying.strike_min is None or underlying.strike_max is None:
            return display.NOTHING
        return f"{strike(underlying.strike_min)}–{strike(underlying.strike_max)}"

    @admin.display(description="spot read", ordering="spot_updated_at")
    def spot_age(self, underlying: Underlying) -> str:
        return age_text(underlying.spot_updated_at, timezone.now())

    @admin.display(description="strikes read", ordering="strikes_updated_at")
    def strikes_age(self, underlying: Underlying) -> str:
        return age_text(underlying.strikes_updated_at, timezone.now())

    @admin.display(description="open interest read", ordering="open_interest_updated_at")
    def open_interest_age(self, underlying: Underlying) -> str:
        return age_text(underlying.open_interest_updated_at, timezone.now())


class LoadedFromPolygonAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: rows come from Polygon (manage.py refresh_reference, beat) and are replaced on
    every refresh, so an edit here would not last. Browse and search only."""


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
        "contract",
        "underlying",
        "expiry",
        "shares_per_contract",
        "open_interest_count",
        "open_interest_at",
    ]
    list_display_links = ["contract"]
    list_filter = ["underlying", "right", "expiry"]
    search_fields = ["symbol", "=underlying"]
    date_hierarchy = "expiry"
    show_full_result_count = False  # the table can be large; skip the second COUNT(*)

    @admin.display(description="contract", ordering="symbol")
    def contract(self, option: OptionContract) -> SafeString:
        return display.contract(option.symbol)

    @admin.display(description="open interest", ordering="open_interest")
    def open_interest_count(self, option: OptionContract) -> str:
        return display.count(option.open_interest)

    @admin.display(description="open interest read", ordering="open_interest_updated_at")
    def open_interest_at(self, option: OptionContract) -> str:
        return display.new_york_time(option.open_interest_updated_at)
