"""Standard Webhooks signing (https://www.standardwebhooks.com/, spec/standard-webhooks.md).

A secret is ``whsec_`` + base64 of the key bytes. Each delivery carries three headers:
``webhook-id`` (the same on every retry of one event), ``webhook-timestamp`` (integer Unix
seconds of this attempt) and ``webhook-signature``: ``v1,`` + base64 of
HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}"), over the exact body bytes sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for at least 24 (and at most 64)
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
SIGNATURE_VERSION = "v1"
WEBHOOK_ID_PREFIX = "msg_"
WEBHOOK_ID_MAX_LENGTH = 40  # WebhookDelivery.webhook_id
USER_AGENT = "flowsite-webhooks/0.1"


def generate_secret() -> str:
    """A new endpoint secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret (the prefix is optional, padding too, as in the
    reference libraries). Raises ValueError if the rest is not base64 or is empty."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def check_secret(secret: str) -> None:
    """Raise ValueError unless the secret is one the spec allows (24 to 64 key bytes): for forms."""
    size = len(secret_key(secret))
    if not MIN_SECRET_BYTES <= size <= MAX_SECRET_BYTES:
        raise ValueError(f"a webhook secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, this one {size}")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "msg_id.timestamp.body">``."""
    if not msg_id or "." in msg_id:
        raise ValueError(f"a webhook id is non-empty and has no '.': {msg_id!r}")
    if type(timestamp) is not int or timestamp < 0:
        raise ValueError(f"the webhook timestamp is a non-negative integer (Unix seconds): {timestamp!r}")
    signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one signed delivery attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def new_webhook_id() -> str:
    """``msg_`` + 32 random URL-safe characters (192 bits): 36 characters, no '.'."""
    return WEBHOOK_ID_PREFIX + secrets.token_urlsafe(24)
