"""Admin: what the workers and the listener read live (watchlists, filter profiles, subscriptions)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import csrf_protect_m
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Upper
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from trades.admin.common import LiveConfigAdminMixin, age_text
from trades.forms import FilterProfileForm, WatchlistForm
from trades.models import (
    FilterProfile,
    OptionCondition,
    Subscription,
    Underlying,
    WatchedTicker,
    Watchlist,
)
from trades.selectors.backtest import DEFAULT_DAYS, backtest, backtest_lines, last_days, profile_of
from trades.selectors.flow_rules import condition_groups, excluded_codes

BACKTEST = "_backtest"  # the profile form's "Backtest these settings" button


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
        "judges",
        "watchlist",
        "min_premium",
        "min_size",
        "dte_window",
        "size_gt_open_interest",
        "strike_band",
    ]
    list_editable = ["enabled"]
    list_filter = ["enabled", "judges", "size_gt_open_interest", "watchlist"]
    list_select_related = ["watchlist"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["watchlist"]
    fieldsets = [
        (
            None,
            {
                "fields": ["name", "description", "enabled", "judges", "watchlist"],
                "description": "A trade (or, for a profile that judges orders, an order) on the watchlist is a hit "
                "when it passes every rule below that is set; an empty bound is off. Workers re-read the profiles "
                "every 2 s, so a save applies within 5 s.",
            },
        ),
        ("Premium and size", {"fields": ["min_premium", "min_size"]}),
        (
            "Orders",
            {
                "fields": [
                    "order_types",
                    ("golden_only", "iso_only", "repeated_hits_only"),
                    "aggressors",
                    "sentiments",
                    ("opening", "min_vol_oi"),
                    ("min_strike_multiple", "min_strike_share", "min_share_of_daily_premium"),
                ],
                "description": "Only for a profile that judges orders (FLOW.md): prints of one order — a sweep "
                "across exchanges, a split, a block — are grouped first, and premium and size above are the "
                "order's totals. Aggressor, sentiment and golden need the NBBO at the order's first print (one "
                "quote look-up per candidate order); where no quote is known they are UNKNOWN and such rules fail.",
            },
        ),
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

    @csrf_protect_m
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = {"backtest_days": DEFAULT_DAYS, **(extra_context or {})}
        if request.method == "POST" and BACKTEST in request.POST:
            return self.backtest_view(request, object_id, form_url, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def backtest_view(
        self, request: HttpRequest, object_id: str | None, form_url: str, extra_context: dict[str, Any]
    ) -> HttpResponse:
        """The form as posted, validated and never saved, with the backtest of its settings over the
        last DEFAULT_DAYS days above it (the add form's too: the watchlist, a required field, is saved)."""
        obj = self.profile_to_change(request, object_id)
        subtitle = str(obj) if obj else None  # before the form writes the posted values on it
        fieldsets = self.get_fieldsets(request, obj)
        form_class = self.get_form(request, obj, change=obj is not None, fields=flatten_fieldsets(fieldsets))
        form = form_class(request.POST, request.FILES, instance=obj)
        report = None
        if form.is_valid():  # the posted values are now on form.instance, unsaved
            report = "\n".join(backtest_lines(backtest(profile_of(form.instance), *last_days(DEFAULT_DAYS))))
        admin_form = helpers.AdminForm(
            form,
            list(fieldsets),  # type: ignore[arg-type]  # django-stubs types the two fieldsets apart
            self.get_prepopulated_fields(request, obj),
            self.get_readonly_fields(request, obj),
            model_admin=self,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{'Change' if obj else 'Add'} {self.opts.verbose_name}",
            "subtitle": subtitle,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            "backtest": report,
            **extra_context,
        }
        return self.render_change_form(
            request, context, add=obj is None, change=obj is not None, obj=obj, form_url=form_url
        )

    def profile_to_change(self, request: HttpRequest, object_id: str | None) -> FilterProfile | None:
        """The profile of the change form (None on the add form), if this user may change (or add) it."""
        obj = None if object_id is None else self.get_object(request, unquote(object_id))
        if object_id is not None and obj is None:
            raise Http404(f"No filter profile with id {object_id!r}.")
        if not (self.has_change_permission(request, obj) if obj else self.has_add_permission(request)):
            raise PermissionDenied
        return obj


@admin.register(Subscription)
class SubscriptionAdmin(LiveConfigAdminMixin, admin.ModelAdmin):
    saved_message = "Saved: the listener subscribes within 10 s (it re-reads the subscriptions every 5 s)."
    list_display = ["channel", "enabled"]
    list_editable = ["enabled"]
    list_filter = ["enabled"]
    search_fields = ["channel"]
