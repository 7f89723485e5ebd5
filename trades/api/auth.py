"""Who may read the API: anyone while ``API_TOKEN`` is unset; else a request with
``Authorization: Bearer <API_TOKEN>``, or a signed-in user's browser (the flow board)."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer


class TokenOrSignedIn(HttpBearer):
    def __call__(self, request: HttpRequest) -> Any:
        if not settings.API_TOKEN:
            return "open"
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> str | None:
        # compare_digest: the time taken does not tell how much of a guess was right.
        return token if hmac.compare_digest(token.strip().encode(), settings.API_TOKEN.encode()) else None


def allowed(request: HttpRequest) -> bool:
    """The same check, for a page outside the API (the MCP endpoint)."""
    return TokenOrSignedIn()(request) is not None
