"""Who may read the API and the MCP server. Open while no key is set: neither ``API_TOKEN`` nor
a per-user token (admin → API tokens). Once one is, a request needs ``Authorization: Bearer
<key>`` with ``API_TOKEN`` or a user's token, or comes from a signed-in user's browser (the
flow board)."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from trades.selectors import api_tokens


class TokenOrSignedIn(HttpBearer):
    def __call__(self, request: HttpRequest) -> Any:
        if is_open():
            return "open"
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return holder_of(token)


def is_open() -> bool:
    return not settings.API_TOKEN and not api_tokens.any_issued()


def holder_of(key: str) -> Any:
    """Who ``key`` lets in: "shared" for API_TOKEN, a user for their token, None for nobody."""
    # compare_digest: the time taken does not tell how much of a guess was right.
    if settings.API_TOKEN and hmac.compare_digest(key.strip().encode(), settings.API_TOKEN.encode()):
        return "shared"
    return api_tokens.holder_of(key) if key.strip() else None


def authorization_allowed(header: str) -> bool:
    """The same rule on an ``Authorization`` header's value, for the MCP server over HTTP (an ASGI
    app, not a Django view; call it from a thread, it reads the database)."""
    if is_open():
        return True
    scheme, _, key = header.partition(" ")
    return scheme.lower() == "bearer" and holder_of(key) is not None
