"""Admin: webhook endpoints (with their health), deliveries and attempts."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from trades.admin import display
from trades.admin.common import ReadOnlyAdminMixin, may_change
from trades.forms import WebhookEndpointForm
from trades.models import (
    DeliveryStatus,
    EndpointHealth,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from trades.selectors.serializers import delivered_ms
from trades.services import webhooks

logger = logging.getLogger(__name__)

# --- Webhooks ----------------------------------------------------------------------------------


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = [
        "name",
        "format",
        "url",
        "health_label",
        "allow_private",
        "profile_list",
        "rate_limit_per_minute",
        "pending_deliveries",
        "dead_deliveries",
    ]
    list_filter = ["format", "active"]
    search_fields = ["name", "url"]
    filter_horizontal = ["profiles"]
    fieldsets = [
        (None, {"fields": ["name", "url", "format", "profiles"]}),
        (
            "Health (written by the delivery workers on every attempt)",
            {"fields": ["health_label", "last_success_at", "consecutive_failures", "failing_since", "last_error"]},
        ),
        ("Delivery", {"fields": ["active", "disabled_reason", "allow_private", "rate_limit_per_minute"]}),
        ("Calm alerts", {"fields": ["cooldown_minutes", "escalate_premium", "digest_minutes"]}),
        ("Signing", {"fields": ["secret_field"]}),
        ("Changes", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = [
        "health_label",
        "last_success_at",
        "consecutive_failures",
        "failing_since",
        "last_error",
        "secret_field",
        "created_at",
        "updated_at",
    ]
    actions = ["send_test_event", "regenerate_secret"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related("profiles")
            .annotate(
                pending_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
                dead_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.DEAD)),
            )
        )

    @admin.display(description="health", ordering="consecutive_failures")
    def health_label(self, endpoint: WebhookEndpoint) -> str:
        return _health_html(endpoint)

    @admin.display(description="profiles")
    def profile_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(sorted(profile.name for profile in endpoint.profiles.all())) or "every profile"

    @admin.display(description="pending", ordering="pending_count")
    def pending_deliveries(self, endpoint: WebhookEndpoint) -> str:
        return _deliveries_link(endpoint, DeliveryStatus.PENDING, endpoint.pending_count)  # type: ignore[attr-defined]

    @admin.display(description="dead", ordering="dead_count")
    def dead_deliveries(self, endpoint: WebhookEndpoint) -> str:
        return _deliveries_link(endpoint, DeliveryStatus.DEAD, endpoint.dead_count)  # type: ignore[attr-defined]

    @admin.display(description="secret")
    def secret_field(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.pk is None:
            return "generated when the endpoint is saved"
        # A link to a confirmation page, not a submit button: the first button of the change form
        # is the one Enter presses.
        url = reverse("admin:trades_webhookendpoint_regenerate_secret", args=[endpoint.pk])
        return format_html('<code>{}</code><br><a href="{}">Regenerate…</a>', endpoint.secret, url)

    def get_urls(self) -> list[URLPattern]:
        regenerate = path(
            "<path:object_id>/regenerate-secret/",
            self.admin_site.admin_view(self.regenerate_secret_view),
            name="trades_webhookendpoint_regenerate_secret",
        )
        return [regenerate, *super().get_urls()]

    def regenerate_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        endpoint = self.get_object(request, object_id)
        if endpoint is None:
            raise Http404(f"no webhook endpoint with id {object_id!r}")
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        change_url = reverse("admin:trades_webhookendpoint_change", args=[endpoint.pk])
        if request.method == "POST":
            _regenerate_secrets(self, request, [endpoint])
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Regenerate the secret of {endpoint}",
            "opts": self.opts,
            "endpoint": endpoint,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/trades/webhookendpoint/regenerate_secret.html", context)

    @admin.action(description="Send test event")
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.order_by("name"):
            try:
                outcome = webhooks.send_test_event(endpoint)
            except Exception as exc:  # one endpoint's failure must not hide the others' outcomes
                logger.exception("test event to webhook endpoint %s failed", endpoint.name)
                self.message_user(request, f"{endpoint.name}: failed: {exc}", messages.ERROR)
            else:
                self.message_user(request, outcome, messages.INFO)

    @admin.action(description="Regenerate secret (the receivers must be given the new one)", permissions=["change"])
    def regenerate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        _regenerate_secrets(self, request, queryset.order_by("name"))


def _regenerate_secrets(
    model_admin: admin.ModelAdmin, request: HttpRequest, endpoints: Iterable[WebhookEndpoint]
) -> None:
    names = webhooks.regenerate_secrets(endpoints)
    model_admin.message_user(
        request,
        f"New secret for {', '.join(names)}: give it to the receiver; the old one no longer signs.",
        messages.WARNING,
    )


# Each health's verdict: green good, red bad, grey nothing to judge.
HEALTH_VERDICT = {
    EndpointHealth.HEALTHY: display.GOOD,
    EndpointHealth.FAILING: display.BAD,
    EndpointHealth.NEVER_USED: display.NEUTRAL,
    EndpointHealth.DISABLED: display.NEUTRAL,
}


def _health_html(endpoint: WebhookEndpoint) -> str:
    return display.verdict(HEALTH_VERDICT[endpoint.health], endpoint.health_summary())


def _deliveries_link(endpoint: WebhookEndpoint, status: str, count: int) -> str:
    if not count:
        return "0"
    query = urlencode({"endpoint__id__exact": endpoint.pk, "status__exact": status})
    return format_html('<a href="{}?{}">{}</a>', reverse("admin:trades_webhookdelivery_changelist"), query, count)


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ["attempted_at", "status_code", "duration_ms", "response_excerpt", "error"]
    readonly_fields = ["attempted_at", "status_code", "duration_ms", "response_excerpt", "error"]
    extra = 0


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # The webhook id is searchable and on each delivery's page; the list fits a 1366 px screen.
    list_display = [
        "created_at",
        "endpoint",
        "trade__symbol",
        "status",
        "attempts",
        "last_status_code",
        "outcome",
    ]
    list_filter = ["status", "endpoint"]
    list_select_related = ["endpoint", "trade", "order"]
    search_fields = ["webhook_id", "trade__symbol"]
    date_hierarchy = "created_at"
    inlines = [WebhookAttemptInline]
    actions = ["resend"]
    show_full_result_count = False  # the table can be large; skip the second COUNT(*)

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return may_change(self, request)

    @admin.display(description="delivered / next try")
    def outcome(self, delivery: WebhookDelivery) -> str:
        if delivery.delivered_at is not None:
            late = delivered_ms(delivery)
            after = "" if late is None else f", {late:,} ms after the print"
            return f"delivered {display.new_york_time(delivery.delivered_at)}{after}"
        if delivery.status == DeliveryStatus.DEAD:
            return "no more tries"
        return f"next {display.new_york_time(delivery.next_attempt_at)}"

    @admin.action(description="Resend selected deliveries", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued = webhooks.resend(queryset)
        self.message_user(request, f"{queued} {'delivery' if queued == 1 else 'deliveries'} queued to be sent again.")


class AnsweredFilter(admin.SimpleListFilter):
    title = "HTTP answer"
    parameter_name = "answered"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "got a status code"), ("no", "no answer (connection error, timeout, refused)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[WebhookAttempt]) -> QuerySet[WebhookAttempt]:
        if self.value() == "yes":
            return queryset.filter(status_code__isnull=False)
        if self.value() == "no":
            return queryset.filter(status_code__isnull=True)
        return queryset


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["attempted_at", "delivery", "delivery__endpoint", "status_code", "duration_ms", "error"]
    list_filter = [AnsweredFilter, "delivery__endpoint"]
    list_select_related = ["delivery__endpoint"]
    search_fields = ["delivery__webhook_id"]
    date_hierarchy = "attempted_at"
    show_full_result_count = False  # the table can be large; skip the second COUNT(*)
