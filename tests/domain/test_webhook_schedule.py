"""The webhook retry schedule (trades.domain.webhooks), without a database.

Checked against Standard Webhooks' example schedule (spec/standard-webhooks.md,
"Deliverability and reliability"): immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
20 h, 24 h — 75:35:05 since the start.
"""

import math
import random

import pytest

from trades.domain.webhooks import (
    JITTER,
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER_SECONDS,
    SCHEDULE,
    SCHEDULE_TOTAL_SECONDS,
    next_delay,
    retry_delay,
)

HOUR = 3600


def wait(attempts_made: int, rng: random.Random) -> float:
    delay = next_delay(attempts_made, rng)
    assert delay is not None
    return delay


def test_the_schedule_is_the_specs_example_and_spans_about_three_days():
    assert SCHEDULE == (5, 300, 1800, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR)
    assert MAX_ATTEMPTS == 10
    assert SCHEDULE_TOTAL_SECONDS == 75 * HOUR + 35 * 60 + 5  # 75:35:05, as the spec's table says
    assert 3 * 24 * HOUR <= SCHEDULE_TOTAL_SECONDS <= 3.5 * 24 * HOUR


def test_without_jitter_the_waits_are_the_schedule():
    class Middle(random.Random):
        def uniform(self, a, b):
            return (a + b) / 2

    waits = [wait(n, Middle()) for n in range(1, MAX_ATTEMPTS)]
    assert waits == pytest.approx(list(SCHEDULE))
    assert sum(waits) == pytest.approx(SCHEDULE_TOTAL_SECONDS)


def test_jitter_stays_within_twenty_percent_and_does_vary():
    rng = random.Random(7)
    for attempts_made in range(1, MAX_ATTEMPTS):
        base = SCHEDULE[attempts_made - 1]
        waits = [wait(attempts_made, rng) for _ in range(500)]
        assert all(base * (1 - JITTER) <= one <= base * (1 + JITTER) for one in waits)
        assert len(set(waits)) > 400  # jittered, not constant
        assert min(waits) < base * 0.85 and max(waits) > base * 1.15  # the whole band is used


def test_the_same_seed_gives_the_same_waits():
    first = [next_delay(n, random.Random(42)) for n in range(1, MAX_ATTEMPTS)]
    again = [next_delay(n, random.Random(42)) for n in range(1, MAX_ATTEMPTS)]
    assert first == again


def test_none_after_the_last_attempt():
    assert next_delay(MAX_ATTEMPTS - 1) is not None
    assert next_delay(MAX_ATTEMPTS) is None
    assert next_delay(MAX_ATTEMPTS + 5) is None
    assert next_delay(0) == 0.0  # nothing tried yet: go now
    with pytest.raises(ValueError):
        next_delay(-1)


def test_the_whole_run_of_jittered_waits_is_about_three_days():
    rng = random.Random(1)
    total = 0.0
    attempts = 1
    while (delay := next_delay(attempts, rng)) is not None:
        total += delay
        attempts += 1
    assert attempts == MAX_ATTEMPTS
    assert SCHEDULE_TOTAL_SECONDS * 0.8 <= total <= SCHEDULE_TOTAL_SECONDS * 1.2


def test_retry_after_is_honoured_when_longer_than_the_schedule():
    rng = random.Random(3)
    assert retry_delay(1, 120.0, rng) == 120.0  # 5 s scheduled, the server asked for 2 min
    assert retry_delay(1, 90.5, rng) == 90.5


def test_a_shorter_retry_after_does_not_shorten_the_schedule():
    delay = retry_delay(3, 1.5, random.Random(3))  # 30 min scheduled
    assert delay is not None and delay >= 1800 * (1 - JITTER)


def test_retry_after_is_capped():
    assert retry_delay(1, 10 * 24 * HOUR, random.Random(3)) == MAX_RETRY_AFTER_SECONDS
    # the last wait (24 h ± 20%) may be above the cap: the schedule still wins then
    delay = retry_delay(MAX_ATTEMPTS - 1, 10 * 24 * HOUR, random.Random(3))
    assert delay is not None and delay >= MAX_RETRY_AFTER_SECONDS


@pytest.mark.parametrize("nonsense", [None, 0.0, -5.0, math.nan, math.inf])
def test_no_or_nonsense_retry_after_leaves_the_schedule(nonsense):
    assert retry_delay(2, nonsense, random.Random(9)) == next_delay(2, random.Random(9))


def test_retry_after_never_buys_an_attempt_beyond_the_last():
    assert retry_delay(MAX_ATTEMPTS, 60.0, random.Random(1)) is None
    assert retry_delay(MAX_ATTEMPTS, None) is None
