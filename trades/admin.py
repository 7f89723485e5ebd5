"""Django admin: tune profiles, watchlists, subscriptions and webhook endpoints live; browse
contracts, hits and webhook deliveries."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import URLValidator
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from trades.models import (
    DeliveryStatus,
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
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from trades.services.flow_rules import condition_groups, excluded_codes

logger = logging.getLogger(__name__)


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


# --- Webhooks ----------------------------------------------------------------------------------

REGENERATE_SECRET_PAGE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block content %}
<p>A new secret for <strong>{{ endpoint }}</strong> replaces the current one at once: every delivery,
retries included, is signed with it from then on, so the receiver must be given the new one.</p>
<form method="post">{% csrf_token %}
<input type="submit" value="Regenerate the secret">
<a href="{{ change_url }}" class="button cancel-link">Cancel</a>
</form>
{% endblock %}"""
)


class WebhookEndpointForm(forms.ModelForm):
    # http(s) only, as config as code insists; the model's URLField would also take ftp://.
    url = forms.URLField(
        max_length=500, assume_scheme="https", validators=[URLValidator(schemes=["http", "https"])], label="URL"
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "format", "profiles", "active", "allow_private", "rate_limit_per_minute"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = [
        "name",
        "format",
        "url",
        "active",
        "allow_private",
        "profile_list",
        "rate_limit_per_minute",
        "disabled_reason",
        "pending_deliveries",
        "dead_deliveries",
    ]
    list_filter = ["format", "active"]
    search_fields = ["name", "url"]
    filter_horizontal = ["profiles"]
    fieldsets = [
        (None, {"fields": ["name", "url", "format", "profiles"]}),
        ("Delivery", {"fields": ["active", "disabled_reason", "allow_private", "rate_limit_per_minute"]}),
        ("Signing", {"fields": ["secret_field"]}),
        ("Changes", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = ["secret_field", "created_at", "updated_at"]
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
        return TemplateResponse(request, REGENERATE_SECRET_PAGE, context)

    @admin.action(description="Send test event")
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        from trades.services.webhooks import send_test_event

        for endpoint in queryset.order_by("name"):
            try:
                outcome = send_test_event(endpoint)
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
    from trades.webhooks.signing import generate_secret

    names = []
    for endpoint in endpoints:
        endpoint.secret = generate_secret()
        endpoint.save(update_fields=["secret", "updated_at"])
        names.append(endpoint.name)
    model_admin.message_user(
        request,
        f"New secret for {', '.join(names)}: give it to the receiver; the old one no longer signs.",
        messages.WARNING,
    )


def _deliveries_link(endpoint: WebhookEndpoint, status: str, count: int) -> str:
    if not count:
        return "0"
    query = urlencode({"endpoint__id__exact": endpoint.pk, "status__exact": status})
    return format_html('<a href="{}?{}">{}</a>', reverse("admin:trades_webhookdelivery_changelist"), query, count)


class ReadOnlyAdminMixin:
    """Rows written by the workers only: browse, never add, edit or delete."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ["attempted_at", "status_code", "duration_ms", "response_excerpt", "error"]
    readonly_fields = ["attempted_at", "status_code", "duration_ms", "response_excerpt", "error"]
    extra = 0


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "webhook_id",
        "endpoint",
        "trade__symbol",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "endpoint"]
    list_select_related = ["endpoint", "trade"]
    search_fields = ["webhook_id", "trade__symbol"]
    date_hierarchy = "created_at"
    inlines = [WebhookAttemptInline]
    actions = ["resend"]
    show_full_result_count = False  # the table can be large; skip the second COUNT(*)

    def has_resend_permission(self, request: HttpRequest) -> bool:
        # The page is read-only for everyone; sending again takes the right to change deliveries.
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Resend selected deliveries", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        from trades.services.webhooks import resend

        queued = resend(queryset)
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
