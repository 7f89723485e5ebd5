"""Admin for history: the backfill's units (its checkpoints: each one's progress and figures) and
the day bars outcomes are measured by."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse

from trades.admin import display
from trades.admin.common import ReadOnlyAdminMixin, may_change
from trades.models import BackfillUnit, DailyBar, UnitStatus
from trades.services import backfill


@admin.register(BackfillUnit)
class BackfillUnitAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """One row per unit: an underlying's trading day over REST, or a day's flat file."""

    list_display = [
        "day",
        "what",
        "source",
        "status",
        "attempts",
        "calls",
        "contracts",
        "trades",
        "hits",
        "orders",
        "stored",
        "rejected",
        "notes",
        "error",
        "finished_at",
    ]
    list_filter = ["status", "source", "underlying"]
    date_hierarchy = "day"
    readonly_fields = [field.name for field in BackfillUnit._meta.fields]
    actions = ["queue_again"]

    @admin.display(description="underlyings", ordering="underlying")
    def what(self, unit: BackfillUnit) -> str:
        return unit.underlying or ", ".join(unit.tickers)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Above the list: how far the backfill has come, over every unit."""
        totals = BackfillUnit.objects.aggregate(
            units=Count("pk"),
            done=Count("pk", filter=Q(status=UnitStatus.DONE)),
            failed=Count("pk", filter=Q(status=UnitStatus.FAILED)),
            refused=Count("pk", filter=Q(status=UnitStatus.NOT_ENTITLED)),
            trades=Sum("trades"),
            hits=Sum("hits"),
            orders=Sum("orders"),
        )
        summary = (
            f"{display.count(totals['done'])} of {display.count(totals['units'])} units done, "
            f"{display.count(totals['failed'])} failed, {display.count(totals['refused'])} not entitled; "
            f"{display.count(totals['trades'] or 0)} trades judged, {display.count(totals['hits'] or 0)} print hits, "
            f"{display.count(totals['orders'] or 0)} order hits"
        )
        return super().changelist_view(request, {**(extra_context or {}), "title": f"Backfill: {summary}"})

    def has_queue_again_permission(self, request: HttpRequest) -> bool:
        return may_change(self, request)

    @admin.action(description="Queue selected units again (failed or refused ones too)", permissions=["queue_again"])
    def queue_again(self, request: HttpRequest, queryset: QuerySet[BackfillUnit]) -> None:
        ids = list(queryset.exclude(status=UnitStatus.RUNNING).values_list("pk", flat=True))
        BackfillUnit.objects.filter(pk__in=ids).update(status=UnitStatus.PENDING, error="")
        backfill.queue(ids)
        self.message_user(request, f"{len(ids)} units queued; the workers of queue 'backfill' do them.")


@admin.register(DailyBar)
class DailyBarAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["ticker", "day", "open", "high", "low", "close", "volume", "updated_at"]
    list_filter = ["ticker"]
    date_hierarchy = "day"
    readonly_fields = [field.name for field in DailyBar._meta.fields]
