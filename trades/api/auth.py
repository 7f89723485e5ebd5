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
        return token if token_matches(token) else None


def token_matches(token: str) -> bool:
    # compare_digest: the time taken does not tell how much of a guess was right.
    return hmac.compare_digest(token.strip().encode(), settings.API_TOKEN.encode())


def authorization_allowed(header: str) -> bool:
    """The same rule on an ``Authorization`` header's value, for the MCP server over HTTP (an ASGI
    app, not a Django view): anyone while ``API_TOKEN`` is unset, else ``Bearer <API_TOKEN>``."""
    if not settings.API_TOKEN:
        return True
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and token_matches(token)
