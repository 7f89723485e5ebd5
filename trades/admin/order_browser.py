"""Admin: the order browser (read-only): order hits of the profiles that judge orders, their prints,
and what the quote look-ups cost."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from trades.admin import display
from trades.admin.common import ReadOnlyAdminMixin
from trades.domain.calendar import utc_datetime
from trades.domain.formatting import new_york_time, order_kind
from trades.domain.outcomes import HORIZONS, signed, versus_market
from trades.models import KeptPrint, Order, OrderMatch, OrderState, UsageCounter


class OrderMatchInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderMatch
    fields = ["profile"]
    extra = 0
    verbose_name = "matched profile"


class StateFilter(admin.SimpleListFilter):
    """Hits by default; orders judging, suppressed ones (noise, with their reasons) and withdrawn
    ones (a print cancelled), on request."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            (OrderState.JUDGING, "judging"),
            (OrderState.SUPPRESSED, "suppressed"),
            (OrderState.WITHDRAWN, "withdrawn"),
            ("all", "all"),
        ]

    def choices(self, changelist):  # type: ignore[no-untyped-def]
        everything = changelist.get_query_string(remove=[self.parameter_name])
        yield {"selected": self.value() is None, "query_string": everything, "display": "hits"}
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() == "all":
            return queryset
        return queryset.filter(state=self.value() or OrderState.HIT)


@admin.register(Order)
class OrderAdmin(display.HitColumns, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Orders that passed a profile: a sweep of twenty prints is one row."""

    list_display = [
        "time",
        "kind",
        "contract",
        "days_to_expiry",
        "size_count",
        "vwap_dollars",
        "premium_dollars",
        "print_count",
        "exchange_count",
        "aggressor",
        "sentiment",
        "opening",
        "vol_oi",
        "next_day",
        "noise",
        "latency",
    ]
    list_display_links = ["time", "kind"]
    list_filter = [
        StateFilter,
        "type",
        "golden",
        "iso",
        "aggressor",
        "sentiment",
        "opening",
        "repeated_hits",
        "noise",
        "underlying",
        "profiles",
        "source",
    ]
    search_fields = ["symbol", "order_id"]
    date_hierarchy = "traded_at"
    inlines = [OrderMatchInline]
    readonly_fields = ["insight", "fills", "what_the_stock_did_next", "would_have_matched"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).select_related("outcome").prefetch_related("profiles")

    @admin.display(description="next day")
    def next_day(self, order: Order) -> str:
        """The underlying's move the session after the order, as the order bet it (+: it was right)."""
        found = getattr(order, "outcome", None)
        return display.NOTHING if found is None else display.percent(signed(found.move_1d, order.sentiment))

    @admin.display(description="what the stock did next")
    def what_the_stock_did_next(self, order: Order) -> str:
        found = getattr(order, "outcome", None)
        if found is None:
            return "no direction, or not measured yet"
        lines = [f"from {display.money(found.spot0, 2)} at the order (SPY {display.money(found.market0, 2)})"]
        for days in HORIZONS:
            stock, market = getattr(found, f"move_{days}d"), getattr(found, f"market_{days}d")
            if stock is None:
                lines.append(f"after {days} days: pending (that session has not closed)")
                continue
            lines.append(
                f"after {days} days: {display.percent(stock)}, as the order bet "
                f"{display.percent(signed(stock, order.sentiment))}, versus SPY "
                f"{display.percent(versus_market(stock, market, order.sentiment))}"
            )
        return "\n".join(lines)

    @admin.display(description="profiles it would have matched")
    def would_have_matched(self, order: Order) -> str:
        """A suppressed order's: the profiles that would have alerted it (a hit's are its matches)."""
        return ", ".join(order.candidate_profile_names()) or display.NOTHING

    @admin.display(description="order", ordering="type")
    def kind(self, order: Order) -> str:
        return order_kind(order.type, order.golden, order.subtype)

    @admin.display(description="VWAP", ordering="vwap")
    def vwap_dollars(self, order: Order) -> str:
        return display.money(order.vwap, 2)

    @admin.display(description="prints", ordering="prints")
    def print_count(self, order: Order) -> int:
        return order.prints

    @admin.display(description="exchanges")
    def exchange_count(self, order: Order) -> int:
        return len(order.exchanges)

    @admin.display(description="prints of the order")
    def fills(self, order: Order) -> str:
        rows = KeptPrint.objects.filter(order_id=order.order_id).order_by("ts_ns", "sequence")
        return "\n".join(
            f"{new_york_time(utc_datetime(row.ts_ns // 1_000_000), 'milliseconds')}"
            f"  {display.count(row.size)} @ {display.money(row.price, 2)}"
            f"  exchange {row.exchange}  conditions {row.conditions}" + ("  (cancelled)" if row.cancelled else "")
            for row in rows
        )


@admin.register(UsageCounter)
class UsageCounterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Paid calls: quote look-ups for orders (one per candidate order)."""

    list_display = ["name", "calls", "failures", "average", "updated_at"]

    @admin.display(description="average wait")
    def average(self, counter: UsageCounter) -> str:
        return "—" if not counter.calls else f"{1000 * counter.seconds / counter.calls:.0f} ms"
