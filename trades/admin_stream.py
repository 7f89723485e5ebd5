"""Admin: the read-only "Stream status" page (the listener's StreamStatus row)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from trades.models import StreamStatus
from trades.services.health import age_seconds, listener_is_stale


@admin.register(StreamStatus)
class StreamStatusAdmin(admin.ModelAdmin):
    fieldsets = [
        ("Heartbeat", {"fields": ["heartbeat", "stale", "heartbeat_at", "updated_at"]}),
        ("Connection", {"fields": ["connected", "connected_since", "last_frame_at", "url", "subscriptions_list"]}),
        (
            "Throughput",
            {
                "fields": [
                    "frames_per_second",
                    "trades_per_second",
                    "messages_published",
                    "trades_buffered",
                    "trades_dropped",
                ]
            },
        ),
        ("Polygon status frames (latest last)", {"fields": ["recent_statuses_table"]}),
    ]
    readonly_fields = [
        "heartbeat",
        "stale",
        "heartbeat_at",
        "updated_at",
        "connected",
        "connected_since",
        "last_frame_at",
        "url",
        "subscriptions_list",
        "frames_per_second",
        "trades_per_second",
        "messages_published",
        "trades_buffered",
        "trades_dropped",
        "recent_statuses_table",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: StreamStatus | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: StreamStatus | None = None) -> bool:
        return False  # view only: the listener writes the row

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """One row: go straight to it."""
        if StreamStatus.objects.filter(pk=StreamStatus.SINGLETON_PK).exists():
            return HttpResponseRedirect(reverse("admin:trades_streamstatus_change", args=[StreamStatus.SINGLETON_PK]))
        messages.warning(request, "No listener has reported yet (start it with `manage.py stream`).")
        return super().changelist_view(request, extra_context)

    @admin.display(description="Heartbeat")
    def heartbeat(self, obj: StreamStatus) -> str:
        age = age_seconds(obj.heartbeat_at)
        if age is None:
            return "never"
        return f"heartbeat {age:.0f} s ago (stale after {settings.HEALTH_LISTENER_MAX_AGE_SECONDS:g} s)"

    @admin.display(description="Stale", boolean=True)
    def stale(self, obj: StreamStatus) -> bool:
        """Older than HEALTH_LISTENER_MAX_AGE_SECONDS: /healthz reports the listener as down."""
        return listener_is_stale(obj)

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
