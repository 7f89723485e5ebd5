"""What several admin pages share: read-only pages, live-config messages, ages, the right to act."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest


class LiveConfigAdminMixin:
    """After a save, say when the running processes pick the change up."""

    saved_message = "Saved: workers apply it within 5 s (they re-read the profiles and watchlists every 2 s)."

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        # Once per request: a list-editable save calls save_model once per changed row.
        if not getattr(request, "_live_config_announced", False):
            request._live_config_announced = True  # type: ignore[attr-defined]
            messages.info(request, self.saved_message)


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
