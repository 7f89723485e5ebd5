"""Per-user API tokens: made in admin, the key shown once and kept only as its hash; a key lets its
holder read the API (and the MCP server) while active; deleting the token revokes it."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from trades.api.auth import authorization_allowed
from trades.domain.api_keys import key_hash
from trades.models import ApiToken

URL = "/api/flow"


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com", "a-long-password-1"))
    return client


def issued_key(admin_client: Client, username: str = "analyst") -> str:
    holder = get_user_model().objects.create_user(username, password="another-long-password-2")
    response = admin_client.post(
        "/admin/trades/apitoken/add/", {"user": holder.pk, "name": "research notebook"}, follow=True
    )
    assert response.status_code == 200
    (message,) = [str(each) for each in response.context["messages"] if "fs_" in str(each)]
    found = re.search(r"(fs_[A-Za-z0-9_-]{40,})", message)
    assert found and "not shown again" in message, message
    return found.group(1)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_users_key_opens_the_api_and_deleting_the_token_closes_it(admin_client: Client, settings):
    settings.API_TOKEN = ""
    client = Client()
    assert client.get(URL).status_code == 200  # no key anywhere: open, as before
    key = issued_key(admin_client)

    token = ApiToken.objects.get()
    assert token.key_hash == key_hash(key) and key not in token.key_hash  # only the hash is kept
    assert client.get(URL).status_code == 401  # a key exists: the API is closed to strangers
    assert client.get(URL, headers=bearer(key)).status_code == 200
    assert client.get(URL, headers=bearer(key + "x")).status_code == 401
    assert authorization_allowed(f"Bearer {key}") and not authorization_allowed("Bearer nope")

    token.delete()
    assert client.get(URL, headers=bearer(key)).status_code == 200  # nothing set any more: open again
    settings.API_TOKEN = "shared-secret"
    assert client.get(URL, headers=bearer(key)).status_code == 401  # revoked
    assert client.get(URL, headers=bearer("shared-secret")).status_code == 200


def test_an_inactive_users_key_is_refused(admin_client: Client, settings):
    settings.API_TOKEN = "shared-secret"
    key = issued_key(admin_client)
    Client().get(URL, headers=bearer(key))
    get_user_model().objects.filter(username="analyst").update(is_active=False)
    assert Client().get(URL, headers=bearer(key)).status_code == 401


def test_a_signed_in_browser_needs_no_key(admin_client: Client, settings):
    settings.API_TOKEN = "shared-secret"
    assert admin_client.get(URL).status_code == 200  # the flow board's fetches
