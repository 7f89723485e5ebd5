"""Django admin: tune profiles, watchlists, subscriptions and webhook endpoints live; browse
contracts, hits and webhook deliveries."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import URLValidator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Upper
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from trades import admin_display as display
from trades.domain.formatting import contract_name, strike
from trades.forms import FilterProfileForm, WatchlistForm
from trades.models import (
    DeliveryStatus,
    EndpointHealth,
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
from trades.selectors.flow_rules import condition_groups, excluded_codes
from trades.selectors.serializers import TRADE_FIELDS, serialize_trade
from trades.services import webhooks

logger = logging.getLogger(__name__)

admin.site.site_header = "flowsite"
admin.site.site_title = "flowsite admin"
admin.site.index_title = "Control room"
# "View site" leads to the landing page (trades/views.py).
admin.site.site_url = "/"
# The app list is one click away (Home); without the sidebar, list pages fit a 1366 px screen.
admin.site.enable_nav_sidebar = False


class LiveConfigAdminMixin:
    """After a save, say when the running processes pick the change up."""

    saved_message = "Saved: workers apply it within 5 s (they re-read the profiles and watchlists every 2 s)."

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        # Once per request: a list-editable save calls save_model once per changed row.
        if not getattr(request, "_live_config_announced", False):
            request._live_config_announced = True  # type: ignore[attr-defined]
            messages.info(request, self.saved_message)


class WatchedTickerInline(admin.TabularInline):
    model = WatchedTicker
    extra = 3
    fields = ["symbol", "reference_data"]
    readonly_fields = ["reference_data"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WatchedTicker]:
        # Each ticker's Underlying row, read in the same query (no query per ticker).
        underlying = Underlying.objects.filter(ticker=Upper(OuterRef("symbol")))
        return (
            super()
            .get_queryset(request)
            .annotate(
                ref_ticker=Subquery(underlying.values("ticker")[:1]),
                ref_spot_at=Subquery(underlying.values("spot_updated_at")[:1]),
                ref_strikes_at=Subquery(underlying.values("strikes_updated_at")[:1]),
                ref_open_interest_at=Subquery(underlying.values("open_interest_updated_at")[:1]),
            )
        )

    @admin.display(description="reference data read")
    def reference_data(self, ticker: WatchedTicker) -> str:
        if ticker.pk is None:
            return ""
        if ticker.symbol == "*":
            return "every underlying"
        if getattr(ticker, "ref_ticker", None) is None:
            return "none yet (manage.py refresh_reference loads it)"
        now = timezone.now()
        return (
            f"spot {age_text(ticker.ref_spot_at, now)} ago · "  # type: ignore[attr-defined]
            f"strikes {age_text(ticker.ref_strikes_at, now)} ago · "  # type: ignore[attr-defined]
            f"open interest {age_text(ticker.ref_open_interest_at, now)} ago"  # type: ignore[attr-defined]
        ).replace("never ago", "never")


@admin.register(Watchlist)
class WatchlistAdmin(LiveConfigAdminMixin, admin.ModelAdmin):
    form = WatchlistForm
    list_display = ["name", "description", "ticker_list", "updated_at"]
    search_fields = ["name", "tickers__symbol"]
    fields = ["name", "description", "add_tickers"]
    inlines = [WatchedTickerInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Watchlist]:
        return super().get_queryset(request).prefetch_related("tickers")

    @admin.display(description="tickers")
    def ticker_list(self, watchlist: Watchlist) -> str:
        return ", ".join(watchlist.symbols)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # the inline first: its deletions, then the adds
        from trades.services.watchlists import add_tickers

        wanted = form.cleaned_data.get("add_tickers") or []
        added = add_tickers(form.instance, wanted)
        if added:
            messages.info(request, f"Added {len(added)} ticker{'s' if len(added) != 1 else ''}: {', '.join(added)}.")
        if already := [ticker for ticker in wanted if ticker not in added]:
            messages.info(request, f"Already on the list: {', '.join(already)}.")


@admin.register(FilterProfile)
class FilterProfileAdmin(LiveConfigAdminMixin, admin.ModelAdmin):
    form = FilterProfileForm
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
        (
            None,
            {
                "fields": ["name", "description", "enabled", "watchlist"],
                "description": "A trade on the watchlist is a hit when it passes every rule below that is set; "
                "an empty bound is off. Workers re-read the profiles every 2 s, so a save applies within 5 s.",
            },
        ),
        ("Premium and size", {"fields": ["min_premium", "min_size"]}),
        ("Days to expiry (DTE)", {"fields": [("min_dte", "max_dte")]}),
        (
            "Reference rules",
            {
                "fields": ["size_gt_open_interest", "strike_band"],
                "description": "Judged on reference data read from Polygon (open interest, spot, listed strikes); "
                "a hit judged on data older than its maximum age is flagged stale.",
            },
        ),
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
class SubscriptionAdmin(LiveConfigAdminMixin, admin.ModelAdmin):
    saved_message = "Saved: the listener subscribes within 10 s (it re-reads the subscriptions every 5 s)."
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
        return format_html('{}<br><span class="quiet">{}</span>', contract_name(option.symbol), option.symbol)

    @admin.display(description="open interest", ordering="open_interest")
    def open_interest_count(self, option: OptionContract) -> str:
        return display.count(option.open_interest)

    @admin.display(description="open interest read", ordering="open_interest_updated_at")
    def open_interest_at(self, option: OptionContract) -> str:
        return display.new_york_time(option.open_interest_updated_at)


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
        yield writer.writerow(
            [";".join(str(item) for item in value) if isinstance(value, list) else value for value in row.values()]
        )


@admin.register(OptionTrade)
class OptionTradeAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OptionTrade | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OptionTrade | None = None) -> bool:
        return False

    @admin.display(description="time (New York)", ordering="traded_at")
    def time(self, trade: OptionTrade) -> str:
        return display.new_york_time(trade.traded_at)

    @admin.display(description="contract", ordering="symbol")
    def contract(self, trade: OptionTrade) -> SafeString:
        return format_html('{}<br><span class="quiet">{}</span>', contract_name(trade.symbol), trade.symbol)

    @admin.display(description="DTE", ordering="dte")
    def days_to_expiry(self, trade: OptionTrade) -> int:
        return trade.dte

    @admin.display(description="size", ordering="size")
    def size_count(self, trade: OptionTrade) -> str:
        return display.count(trade.size)

    @admin.display(description="price", ordering="price")
    def price_dollars(self, trade: OptionTrade) -> str:
        return display.money(trade.price, 2)

    @admin.display(description="premium", ordering="premium")
    def premium_dollars(self, trade: OptionTrade) -> str:
        return display.money(trade.premium)

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
        return TemplateResponse(request, REGENERATE_SECRET_PAGE, context)

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


def may_change(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    """An action on a page that is read-only for everyone (resend, replay) takes the right to change its rows."""
    opts = model_admin.opts
    return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


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
    list_select_related = ["endpoint", "trade"]
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
            return f"delivered {display.new_york_time(delivery.delivered_at)}"
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


from trades import admin_reliability, admin_stream  # noqa: E402, F401  (register dead letters, gaps, stream status)
