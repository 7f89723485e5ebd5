"""Per-user API keys: made at random, kept only as their SHA-256 (a stolen database holds no key)."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "fs_"  # tells a flowsite key apart in a config file or a secret scanner


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.strip().encode()).hexdigest()
