"""Backfill workers share one pace of REST calls (a row in the database), and a 429's Retry-After
holds every one of them."""

import time

import pytest

from trades.models import RestPace
from trades.services.pacing import SharedPace

pytestmark = pytest.mark.django_db

API = "http://polygon.test"


def test_workers_sharing_a_pace_take_turns_at_its_rate():
    first, second = SharedPace(API, per_minute=1200), SharedPace(API, per_minute=1200)  # 20 a second
    started = time.monotonic()
    for _ in range(10):
        first.before_call()
        second.before_call()
    elapsed = time.monotonic() - started
    assert elapsed >= 19 / 20 * 0.95  # 20 calls, one every 50 ms, whoever makes them
    assert first.waited > 0 and second.waited > 0


def test_a_pause_holds_every_worker_even_without_a_rate_limit():
    asked, other = SharedPace(API, per_minute=0), SharedPace(API, per_minute=0)
    asked.pause(0.5)
    started = time.monotonic()
    other.before_call()
    assert time.monotonic() - started >= 0.45
    assert RestPace.objects.get(api=API).next_at > 0


def test_without_a_limit_or_a_pause_a_call_does_not_wait():
    pace = SharedPace(API, per_minute=0)
    for _ in range(50):
        pace.before_call()
    assert pace.waited == 0
