"""Per-user API tokens: whose a key is, and whether any was issued."""

from __future__ import annotations

from django.contrib.auth.models import User

from trades.domain.api_keys import key_hash
from trades.models import ApiToken


def holder_of(key: str) -> User | None:
    """The active user whose token ``key`` is (None: no such token)."""
    token = ApiToken.objects.filter(key_hash=key_hash(key), user__is_active=True).select_related("user").first()
    return None if token is None else token.user


def any_issued() -> bool:
    return ApiToken.objects.exists()
