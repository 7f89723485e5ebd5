"""The circuit breaker that gives an unreachable API a rest (trades/polygon_rest/breaker.py), on its own
clock: opens after a few failed calls in a row or once they took long, holds calls back for a
cooldown, then lets them through again; any answer closes it."""

from __future__ import annotations

import pytest

from trades.polygon_rest.breaker import ApiUnreachable, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("the API", max_failures=3, max_failing_seconds=20.0, cooldown=30.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int, reason: str = "connection refused", seconds: float = 0.0) -> None:
    for _ in range(times):
        breaker.record_failure(reason, seconds)


def test_a_few_failures_in_a_row_open_it(breaker):
    fail(breaker, 2)
    assert not breaker.is_open
    breaker.check()  # does not raise

    fail(breaker, 1, "no answer", seconds=0.5)

    assert breaker.is_open
    with pytest.raises(ApiUnreachable) as unreachable:
        breaker.check()
    assert str(unreachable.value) == "the API is unreachable: 3 calls in a row failed in 0.5 s, the last: no answer"


def test_failures_that_took_long_open_it_sooner(breaker):
    fail(breaker, 1, "no answer within the read timeout", seconds=20.0)

    assert breaker.is_open
    assert breaker.why_open() == "the API is unreachable: a call failed after 20.0 s: no answer within the read timeout"


def test_an_answer_between_failures_starts_the_count_again(breaker):
    fail(breaker, 2, seconds=9)
    breaker.record_answer()
    fail(breaker, 2, seconds=9)

    assert not breaker.is_open


def test_after_the_cooldown_calls_go_through_and_one_more_failure_opens_it_again(breaker, clock):
    fail(breaker, 3)
    clock.now += 29.9
    assert breaker.is_open

    clock.now += 0.1
    assert not breaker.is_open  # a call may try again

    fail(breaker, 1)
    assert breaker.is_open  # for a whole cooldown from now
    clock.now += 29.9
    assert breaker.is_open


def test_after_the_cooldown_an_answer_closes_it(breaker, clock):
    fail(breaker, 3)
    clock.now += 30
    breaker.record_answer()

    fail(breaker, 2)

    assert not breaker.is_open
