"""Pages for people. ``/``: what is running, the latest hits for staff and the way to the flow board.
``/board/``: the flow board, for any signed-in user; its pages read the JSON API from the browser
(trades/static/trades/board/), so these views only serve the page."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from trades.admin import display
from trades.domain.formatting import contract_name
from trades.models import OptionTrade
from trades.selectors import hits
from trades.selectors.health import check_health

RECENT_HITS = 20


@never_cache
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The health checks for anyone (as /healthz), the latest hits for staff (as the admin)."""
    report = check_health()
    context = {
        **admin.site.each_context(request),
        "title": "What is running",
        "healthy": report.healthy,
        "checks": [(name, check["ok"], _check_text(check)) for name, check in report.checks.items()],
    }
    if request.user.is_active and request.user.is_staff:
        context["hits_today"] = hits.hits_today_count()
        context["hits"] = [_hit_row(trade) for trade in hits.latest_trades(limit=RECENT_HITS)]
    return TemplateResponse(request, "trades/home.html", context)


def _check_text(check: dict) -> str:
    return str(check.get("error") or check.get("warning") or "")


def _hit_row(trade: OptionTrade) -> dict[str, str]:
    return {
        "time": display.new_york_time(trade.traded_at),
        "contract": contract_name(trade.symbol),
        "symbol": trade.symbol,
        "size": display.count(trade.size),
        "premium": display.money(trade.premium),
        "dte": str(trade.dte),
        "profiles": ", ".join(sorted(profile.name for profile in trade.profiles.all())),
    }


@never_cache
@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    """The flow board: the day's summary and the live table of order hits, filtered."""
    return TemplateResponse(request, "trades/board/flow.html", {"title": "Flow board"})


@never_cache
@login_required
@require_GET
def ticker_board(request: HttpRequest, ticker: str) -> HttpResponse:
    """One underlying: its strike heatmap and premium over a day, and its past alerts."""
    if ticker != ticker.upper():  # one address per ticker, so bookmarks and links agree
        query = request.GET.urlencode()
        return HttpResponseRedirect(resolve_url("board-ticker", ticker=ticker.upper()) + (f"?{query}" if query else ""))
    return TemplateResponse(request, "trades/board/ticker.html", {"title": ticker, "ticker": ticker})
