"""The landing page at ``/``: health for anyone, the latest hits for staff, in New York time."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.factories import nvda_hit

pytestmark = pytest.mark.django_db


def test_anyone_gets_the_health_checks_and_a_way_in(client: Client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for check in ("database", "broker", "listener", "queues", "webhooks", "dead_letters", "gaps"):
        assert f'class="check-{check}"' in page, check
    # No listener has reported in the tests: the page says so rather than looking all good.
    assert "Something needs attention." in page
    assert "Log in</a> to see the latest hits" in page
    assert 'id="hits"' not in page


def test_staff_see_the_latest_hits_by_name_in_new_york_time(admin_client: Client):
    nvda_hit(1)
    page = admin_client.get("/").content.decode()
    assert "Latest hits (1 today)" in page
    assert "NVDA 20 Jun 25 150 Call" in page and "O:NVDA250620C00150000" in page
    assert "$105,000" in page and "500" in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T", page)


def test_the_admin_view_site_link_leads_here(admin_client: Client):
    index = admin_client.get("/admin/").content.decode()
    assert 'href="/">View site</a>' in index
    assert "Control room" in index and "Django administration" not in index
