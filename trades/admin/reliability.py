"""Admin for what reliability leaves behind: dead letters (replayable), rejected input by reason,
and the gaps the listener had (filled over REST)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from trades.admin.common import ReadOnlyAdminMixin, may_change
from trades.domain.calendar import utc_datetime
from trades.models import DeadLetter, DeadLetterStatus, GapStatus, Rejection, StreamGap
from trades.services import dead_letters


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["last_failed_at", "task_name", "status", "attempts", "frame_count", "error", "replayed_at"]
    list_filter = ["status", "task_name"]
    search_fields = ["task_id", "error"]
    readonly_fields = [
        "task_id",
        "task_name",
        "source",
        "status",
        "attempts",
        "first_failed_at",
        "last_failed_at",
        "error",
        "traceback",
        "frames",
        "replayed_at",
        "replay_report",
    ]
    actions = ["replay"]

    @admin.display(description="frames")
    def frame_count(self, letter: DeadLetter) -> int:
        return len(letter.frames) if isinstance(letter.frames, list) else 0

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return may_change(self, request)

    @admin.action(description="Replay selected batches through the current code", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        replayed = 0
        for letter in queryset.exclude(status=DeadLetterStatus.RETRYING):
            try:
                dead_letters.replay(letter)
            except Exception as exc:
                self.message_user(request, f"Dead letter {letter.pk} still fails: {exc}", messages.ERROR)
                continue
            replayed += 1
        self.message_user(request, f"{replayed} replayed; hits already stored were not stored twice.")


@admin.register(Rejection)
class RejectionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["reason", "count", "last_seen_at", "message", "example"]
    readonly_fields = ["reason", "count", "first_seen_at", "last_seen_at", "message", "example"]


@admin.register(StreamGap)
class StreamGapAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "started",
        "ended",
        "seconds",
        "status",
        "underlyings",
        "contracts",
        "trades_fetched",
        "hits",
        "recovered",
        "error",
    ]
    list_filter = ["status"]
    readonly_fields = [field.name for field in StreamGap._meta.fields]
    actions = ["fill_again"]

    @admin.display(description="from", ordering="started_ms")
    def started(self, gap: StreamGap) -> str:
        return f"{utc_datetime(gap.started_ms):%Y-%m-%d %H:%M:%S.%f}"[:-3]

    @admin.display(description="to")
    def ended(self, gap: StreamGap) -> str:
        return f"{utc_datetime(gap.ended_ms):%Y-%m-%d %H:%M:%S.%f}"[:-3]

    @admin.display(description="seconds")
    def seconds(self, gap: StreamGap) -> str:
        return f"{gap.seconds:,.1f}"

    def has_fill_again_permission(self, request: HttpRequest) -> bool:
        return may_change(self, request)

    @admin.action(description="Fill selected gaps again over REST", permissions=["fill_again"])
    def fill_again(self, request: HttpRequest, queryset: QuerySet[StreamGap]) -> None:
        from trades.tasks import fill_gap

        gaps = list(queryset.exclude(status=GapStatus.TOO_LONG))
        for gap in gaps:
            fill_gap.delay(gap.pk)
        self.message_user(request, f"{len(gaps)} gaps queued to be filled; the workers of queue 'reference' do it.")
