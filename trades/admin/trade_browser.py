"""Admin: the trade browser (read-only) and its CSV export."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.safestring import SafeString

from trades.admin import display
from trades.admin.common import ReadOnlyAdminMixin
from trades.models import (
    OptionTrade,
    TradeMatch,
)
from trades.selectors.serializers import TRADE_FIELDS, serialize_trade


class TradeMatchInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TradeMatch
    fields = ["profile"]
    extra = 0
    verbose_name = "matched profile"


class SideFilter(admin.SimpleListFilter):
    title = "side"
    parameter_name = "side"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("C", "CALL"), ("P", "PUT")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OptionTrade]) -> QuerySet[OptionTrade]:
        return queryset.filter(right=self.value()) if self.value() in ("C", "P") else queryset


class _Echo:
    """A file that hands back what is written to it: csv.writer rows, streamed one by one."""

    def write(self, value: str) -> str:
        return value


# The API's fields, in its order; lists are joined with ";".
CSV_FIELDS = TRADE_FIELDS


def trades_csv_rows(queryset: QuerySet[OptionTrade]) -> Iterator[str]:
    """The header, then one CSV line per trade; reads the trades in chunks, profiles prefetched."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_FIELDS)
    for trade in queryset.prefetch_related("profiles").iterator(chunk_size=2000):
        row = serialize_trade(trade)
        yield writer.writerow([_cell(value) for value in row.values()])


def _cell(value: object) -> object:
    """A list as a;b;c, a dict (the latency) as k=v;k=v, None inside either as nothing."""
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    if isinstance(value, dict):
        return ";".join(f"{key}={'' if item is None else item}" for key, item in value.items())
    return value


@admin.register(OptionTrade)
class OptionTradeAdmin(display.HitColumns, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The trade browser. Read-only: hits are written by the ingest workers only."""

    # Narrow enough for a 1366 px screen: the contract's name carries its side, strike and expiry.
    list_display = [
        "time",
        "contract",
        "days_to_expiry",
        "size_count",
        "price_dollars",
        "premium_dollars",
        "oi",
        "spot_dollars",
        "profile_list",
        "reference_data",
        "latency",
    ]
    list_display_links = ["time", "contract"]
    list_filter = ["underlying", SideFilter, "profiles", "source", "stale_reference"]
    search_fields = ["symbol"]
    date_hierarchy = "traded_at"
    inlines = [TradeMatchInline]
    actions = ["export_csv"]
    show_full_result_count = False  # the table can be large; skip the second COUNT(*)

    def get_queryset(self, request: HttpRequest) -> QuerySet[OptionTrade]:
        return super().get_queryset(request).prefetch_related("profiles")

    @admin.display(description="price", ordering="price")
    def price_dollars(self, trade: OptionTrade) -> str:
        return display.money(trade.price, 2)

    @admin.display(description="OI", ordering="open_interest")
    def oi(self, trade: OptionTrade) -> str:
        return display.count(trade.open_interest)

    @admin.display(description="spot", ordering="spot")
    def spot_dollars(self, trade: OptionTrade) -> str:
        return display.money(trade.spot, 2)

    @admin.display(description="reference data", ordering="stale_reference")
    def reference_data(self, trade: OptionTrade) -> SafeString:
        if trade.stale_reference:
            return display.verdict(display.BAD, "stale")
        return display.verdict(display.GOOD, "fresh")

    @admin.display(description="profiles")
    def profile_list(self, trade: OptionTrade) -> str:
        return ", ".join(sorted(profile.name for profile in trade.profiles.all()))

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[OptionTrade]) -> StreamingHttpResponse:
        response = StreamingHttpResponse(trades_csv_rows(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="trades-{timezone.now():%Y%m%d-%H%M%S}.csv"'
        return response
