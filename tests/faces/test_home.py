"""The landing page at ``/``: health for anyone, the latest hits for staff, in New York time, and
the way to the flow board; the board's sign-in for any active user (tests/faces/test_browser_board.py
drives the board itself)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.factories import nvda_hit

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
BOARD_LINK = re.compile(r'<a [^>]*href="/board/"[^>]*>Open the flow board')


@pytest.fixture
def trader_client(client: Client) -> Client:
    """A signed-in user who is not staff."""
    client.force_login(get_user_model().objects.create_user("trader"))
    return client


def test_anyone_gets_the_health_checks_and_a_way_in(client: Client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for check in ("database", "broker", "listener", "queues", "webhooks", "dead_letters", "gaps"):
        assert f'class="check-{check}"' in page, check
    # No listener has reported in the tests: the page says so rather than looking all good.
    assert "Something needs attention." in page
    assert f'<a href="{LOGIN}?next=/board/">Log in</a> to open the flow board' in page
    assert 'id="hits"' not in page


def test_staff_see_the_latest_hits_by_name_in_new_york_time(admin_client: Client):
    nvda_hit(1)
    page = admin_client.get("/").content.decode()
    assert "Latest hits (1 today)" in page
    assert "NVDA 20 Jun 25 150 Call" in page and "O:NVDA250620C00150000" in page
    assert "$105,000" in page and "500" in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T", page)
    assert BOARD_LINK.search(page)


def test_a_signed_in_user_is_shown_the_way_to_the_board(trader_client: Client):
    page = trader_client.get("/").content.decode()
    assert BOARD_LINK.search(page)
    assert 'id="hits"' not in page  # the latest hits stay for staff
    assert 'class="check-database"' in page


def test_the_admin_view_site_link_leads_here(admin_client: Client):
    index = admin_client.get("/admin/").content.decode()
    assert 'href="/">View site</a>' in index
    assert "Control room" in index and "Django administration" not in index


def test_the_board_wants_a_signed_in_user(client: Client):
    for path in ("/board/", "/board/NVDA/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == f"{LOGIN}?next={path}"


def test_any_active_user_signs_in_to_the_board_and_out(client: Client):
    get_user_model().objects.create_user("trader", password="a-long-test-password-9")
    form = client.get(LOGIN)
    assert form.status_code == 200 and 'name="username"' in form.text and "static/trades/board/board.css" in form.text
    wrong = client.post(LOGIN, {"username": "trader", "password": "wrong"})
    assert wrong.status_code == 200 and 'role="alert"' in wrong.text

    signed_in = client.post(LOGIN, {"username": "trader", "password": "a-long-test-password-9"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/board/"
    board = client.get("/board/")
    assert board.status_code == 200 and 'id="flow"' in board.text and 'data-flow-url="/api/flow"' in board.text
    assert client.get(LOGIN)["Location"] == "/board/"  # signed in already

    signed_out = client.post("/accounts/logout/")
    assert signed_out.status_code == 302 and signed_out["Location"] == LOGIN
    assert client.get("/board/").status_code == 302


def test_a_ticker_page_has_one_address_per_ticker(trader_client: Client):
    assert trader_client.get("/board/nvda/?day=2026-12-02")["Location"] == "/board/NVDA/?day=2026-12-02"
    page = trader_client.get("/board/NVDA/")
    assert page.status_code == 200
    assert 'data-concentration-url="/api/concentration/NVDA"' in page.text
    assert "trades/vendor/uplot/uPlot.iife.min.js" in page.text
    assert trader_client.get("/board/not a ticker/").status_code == 404
