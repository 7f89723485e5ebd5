"""Admin: the read-only "Stream status" page (the listener's StreamStatus row)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from trades.admin import display
from trades.admin.common import ReadOnlyAdminMixin
from trades.domain.calendar import utc_datetime
from trades.domain.formatting import new_york_time
from trades.models import StreamGap, StreamStatus
from trades.selectors.health import age_seconds, listener_is_stale
from trades.services import dead_letters


@admin.register(StreamStatus)
class StreamStatusAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    fieldsets = [
        ("Heartbeat", {"fields": ["heartbeat", "heartbeat_at", "updated_at"]}),
        ("Connection", {"fields": ["connection", "connected_since", "last_frame_at", "url", "subscriptions_list"]}),
        (
            "Throughput",
            {
                "fields": [
                    "frames_rate",
                    "trades_rate",
                    "messages_published_count",
                    "trades_buffered_count",
                    "trades_dropped_count",
                ]
            },
        ),
        ("Polygon status frames (latest last)", {"fields": ["recent_statuses_table"]}),
        ("Kept for later", {"fields": ["last_event", "gaps_summary", "dead_letters_waiting"]}),
    ]
    readonly_fields = [
        "heartbeat",
        "heartbeat_at",
        "updated_at",
        "connection",
        "connected_since",
        "last_frame_at",
        "url",
        "subscriptions_list",
        "frames_rate",
        "trades_rate",
        "messages_published_count",
        "trades_buffered_count",
        "trades_dropped_count",
        "recent_statuses_table",
        "last_event",
        "gaps_summary",
        "dead_letters_waiting",
    ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """One row: go straight to it."""
        if StreamStatus.objects.filter(pk=StreamStatus.SINGLETON_PK).exists():
            return HttpResponseRedirect(reverse("admin:trades_streamstatus_change", args=[StreamStatus.SINGLETON_PK]))
        messages.warning(request, "No listener has reported yet (start it with `manage.py stream`).")
        return super().changelist_view(request, extra_context)

    @admin.display(description="Heartbeat")
    def heartbeat(self, obj: StreamStatus) -> SafeString:
        """Stale after HEALTH_LISTENER_MAX_AGE_SECONDS: /healthz then reports the listener as down."""
        age = age_seconds(obj.heartbeat_at)
        limit = f"stale after {settings.HEALTH_LISTENER_MAX_AGE_SECONDS:g} s"
        if age is None:
            return display.verdict(display.BAD, "never: no listener has reported")
        if listener_is_stale(obj):
            return display.verdict(display.BAD, f"stale: last heartbeat {age:.0f} s ago ({limit})")
        return display.verdict(display.GOOD, f"live: last heartbeat {age:.0f} s ago ({limit})")

    @admin.display(description="Connected")
    def connection(self, obj: StreamStatus) -> SafeString:
        if obj.connected:
            return display.verdict(display.GOOD, "connected")
        since = f" since {display.new_york_time(obj.disconnected_since)}" if obj.disconnected_since else ""
        outage = f": {obj.outage}" if obj.outage else ""
        return display.verdict(display.BAD, f"not connected{since}{outage}")

    @admin.display(description="Frames per second")
    def frames_rate(self, obj: StreamStatus) -> str:
        return f"{obj.frames_per_second:,.1f}"

    @admin.display(description="Trades per second")
    def trades_rate(self, obj: StreamStatus) -> str:
        return f"{obj.trades_per_second:,.1f}"

    @admin.display(description="Messages published")
    def messages_published_count(self, obj: StreamStatus) -> str:
        return display.count(obj.messages_published)

    @admin.display(description="Trades buffered")
    def trades_buffered_count(self, obj: StreamStatus) -> str:
        return display.count(obj.trades_buffered)

    @admin.display(description="Trades dropped")
    def trades_dropped_count(self, obj: StreamStatus) -> SafeString:
        verdict = display.BAD if obj.trades_dropped else display.GOOD
        return display.verdict(verdict, display.count(obj.trades_dropped))

    @admin.display(description="Subscriptions")
    def subscriptions_list(self, obj: StreamStatus) -> str:
        return ", ".join(str(channel) for channel in obj.subscriptions or []) or "—"

    @admin.display(description="Recent statuses")
    def recent_statuses_table(self, obj: StreamStatus) -> str:
        rows = [row for row in obj.recent_statuses or [] if isinstance(row, dict)]
        if not rows:
            return "—"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((row.get("time", ""), row.get("status", ""), row.get("message", "")) for row in rows),
        )
        return format_html("<table><tr><th>Time</th><th>Status</th><th>Message</th></tr>{}</table>", body)

    @admin.display(description="Newest trade seen")
    def last_event(self, obj: StreamStatus) -> str:
        if obj.last_event_ms is None:
            return "—"
        return f"{new_york_time(utc_datetime(obj.last_event_ms))} (a restart fills the gap from here)"

    @admin.display(description="Gaps filled over REST")
    def gaps_summary(self, obj: StreamStatus) -> str:
        counts = dict(StreamGap.objects.values_list("status").annotate(count=Count("id")).order_by())
        recovered = StreamGap.objects.aggregate(total=Sum("recovered"))["total"] or 0
        if not counts:
            return "none"
        states = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        link = reverse("admin:trades_streamgap_changelist")
        return format_html('<a href="{}">{}</a>; {} hits recovered', link, states, recovered)

    @admin.display(description="Dead letters waiting")
    def dead_letters_waiting(self, obj: StreamStatus) -> str:
        waiting = dead_letters.waiting_count()
        link = reverse("admin:trades_deadletter_changelist") + "?status__exact=dead"
        return format_html('<a href="{}">{}</a>', link, waiting)
