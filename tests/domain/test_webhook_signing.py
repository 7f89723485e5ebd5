"""Standard Webhooks signing, verified with the `standardwebhooks` package (not our code).

Checked against the spec (standard-webhooks/standard-webhooks, spec/standard-webhooks.md,
"Signature scheme" and "Webhook headers"): the signed content is "{msg_id}.{timestamp}.{body}",
HMAC-SHA256 with the base64-decoded part of a ``whsec_`` secret, sent as ``v1,<base64>`` in
``webhook-signature`` next to ``webhook-id`` and ``webhook-timestamp`` (integer Unix seconds);
secrets are 24 to 64 random bytes.
"""

import base64
import hashlib
import hmac
import re
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from trades.webhooks.signing import (
    USER_AGENT,
    check_secret,
    generate_secret,
    new_webhook_id,
    secret_key,
    sign,
    signature_headers,
)

BODY = b'{"type":"trade.flagged","timestamp":"2025-12-05T15:30:00.000Z","data":{"symbol":"O:AAPL251220C00190000"}}'


def headers_now(secret: str, body: bytes = BODY, msg_id: str = "msg_abc") -> dict[str, str]:
    return signature_headers(secret, msg_id, int(time.time()), body)


def test_our_signature_verifies_with_the_reference_library():
    secret = generate_secret()
    headers = headers_now(secret)
    assert Webhook(secret).verify(BODY, headers)["data"]["symbol"] == "O:AAPL251220C00190000"


def test_headers_are_the_specs_and_say_what_the_body_is():
    secret = generate_secret()
    headers = signature_headers(secret, "msg_abc", 1674087231, BODY)
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == "1674087231"
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=", headers["webhook-signature"])
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == USER_AGENT == "flowsite-webhooks/0.1"


def test_a_tampered_body_fails_verification():
    secret = generate_secret()
    headers = headers_now(secret)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"AAPL", b"MSFT"), headers)


def test_a_wrong_secret_fails_verification():
    headers = headers_now(generate_secret())
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_another_id_or_timestamp_fails_verification():
    secret = generate_secret()
    headers = headers_now(secret)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": "msg_other"})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 1)})


def test_the_signature_is_hmac_sha256_of_id_timestamp_body_computed_independently():
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    expected = base64.b64encode(hmac.new(key, b"msg_1.1674087231." + BODY, hashlib.sha256).digest()).decode()
    assert sign(secret, "msg_1", 1674087231, BODY) == f"v1,{expected}"


def test_the_published_test_vector():
    # The vector of the Svix/Standard Webhooks libraries' own tests (e.g. the PHP library's
    # testSignFunctionWorks): this secret, id, timestamp and body sign to exactly this.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    Webhook(secret).verify(body, headers_now(secret, body))


def test_generated_secrets_are_32_random_bytes():
    secrets = {generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(secret_key(secret)) == 32
        check_secret(secret)


@pytest.mark.parametrize("bad", ["whsec_", "whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode()])
def test_check_secret_refuses_what_the_spec_does_not_allow(bad):
    with pytest.raises(ValueError):
        check_secret(bad)


@pytest.mark.parametrize("msg_id", ["", "msg_a.b"])
def test_a_webhook_id_with_a_dot_cannot_be_signed(msg_id):
    # The spec: ids must not contain "." (the signed content is "id.timestamp.body").
    with pytest.raises(ValueError):
        sign(generate_secret(), msg_id, 1674087231, BODY)


def test_webhook_ids_are_unique_url_safe_and_fit_the_column():
    ids = {new_webhook_id() for _ in range(1000)}
    assert len(ids) == 1000
    for webhook_id in ids:
        assert re.fullmatch(r"msg_[A-Za-z0-9_-]+", webhook_id)
        assert len(webhook_id) <= 40  # WebhookDelivery.webhook_id max_length
