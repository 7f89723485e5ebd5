"""Helpers the config-as-code tests share: config entries, the command, the database's state."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command

from trades.models import (
    FilterProfile,
    Subscription,
    WatchedTicker,
    Watchlist,
    WebhookEndpoint,
)


def run(*args: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    options: dict[str, Any] = {"stdout": out}
    if stdin is not None:
        options["stdin"] = io.StringIO(stdin)
    call_command("flowconfig", *args, **options)
    return out.getvalue()


def db_state() -> dict[str, Any]:
    """Everything an import may touch, including the updated_at stamps."""
    return {
        "profiles": list(FilterProfile.objects.order_by("name").values()),
        "watchlists": list(Watchlist.objects.order_by("name").values()),
        "tickers": sorted(WatchedTicker.objects.values_list("watchlist__name", "symbol")),
        "subscriptions": sorted(Subscription.objects.values_list("channel", "enabled")),
        "webhooks": list(WebhookEndpoint.objects.order_by("name").values()),
        "webhook_profiles": sorted(
            WebhookEndpoint.profiles.through.objects.values_list("webhookendpoint__name", "filterprofile__name")
        ),
    }


def profile(**overrides: Any) -> dict[str, Any]:
    spec = {
        "name": "big-puts",
        "enabled": True,
        "tickers": ["spy", "QQQ", "spy"],
        "min_premium": 1234.5,
        "min_size": 10,
        "min_dte": 1,
        "max_dte": 7,
        "size_gt_open_interest": True,
        "strike_band": 0.25,
        "exclude_conditions": [237, 201, 201],
    }
    return spec | overrides


def webhook(**overrides: Any) -> dict[str, Any]:
    spec = {
        "name": "desk",
        "url": "https://hooks.example.com/flow",
        "format": "standard",
        "profiles": ["mag7-smart-money"],
        "active": True,
        "allow_private": False,
        "rate_limit_per_minute": None,
    }
    return spec | overrides
