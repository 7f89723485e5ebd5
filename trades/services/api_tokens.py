"""Per-user API tokens: issue one (its key returned once)."""

from __future__ import annotations

from trades.domain.api_keys import key_hash, new_key
from trades.models import ApiToken


def issue(token: ApiToken) -> str:
    """Give ``token`` (a new row with its user and name) a fresh key and save it; the key, which
    is not stored, goes back to the caller to show once."""
    key = new_key()
    token.key_hash = key_hash(key)
    token.save()
    return key
