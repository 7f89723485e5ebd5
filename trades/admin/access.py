"""Who may read the API and the MCP server besides the shared API_TOKEN: per-user tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from trades.models import ApiToken
from trades.services.api_tokens import issue


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "created_at")
    list_filter = ("user",)
    fields = ("user", "name")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        return ("user",) if obj is not None else ()  # a key stays its holder's

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key = issue(obj)
        messages.warning(
            request,
            f"The key of “{obj.name}” for {obj.user}: {key} — copy it now, it is not shown again. "
            "Send it as 'Authorization: Bearer <key>'; delete this token to revoke it.",
        )
