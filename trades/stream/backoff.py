"""How long to wait before the next connection attempt: exponential, capped, jittered.

Pure (no Django). After n failures in a row the longest wait is base × 2^(n−1), capped:
0.5, 1, 2, 4, 8, 16, 30, 30 … s by default. Each wait is drawn from the upper part of that
ceiling, [ceiling × (1 − jitter), ceiling]: spread enough that restarted listeners do not knock
in step, yet growing steadily. (Full jitter, [0, ceiling], suits many clients contending for one
server; with one listener per account it only made the waits jump about: 0.1 s, then 25 s,
then 2 s.)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

RECONNECT_BASE_SECONDS = 0.5
RECONNECT_CAP_SECONDS = 30.0
RECONNECT_JITTER = 0.5  # a wait is drawn from [ceiling × (1 − jitter), ceiling]


def backoff_ceiling(
    failures: int, *, base: float = RECONNECT_BASE_SECONDS, cap: float = RECONNECT_CAP_SECONDS
) -> float:
    """The longest wait after `failures` failures in a row (1 → base, doubling up to cap)."""
    doublings = min(max(failures - 1, 0), 64)  # 2^64 × base is far past any cap
    return min(cap, base * 2.0**doublings)


def backoff_delay(
    failures: int,
    *,
    base: float = RECONNECT_BASE_SECONDS,
    cap: float = RECONNECT_CAP_SECONDS,
    jitter: float = RECONNECT_JITTER,
    uniform: Callable[[], float] = random.random,
) -> float:
    """The wait after `failures` failures in a row; `uniform()` gives a number in [0, 1)."""
    ceiling = backoff_ceiling(failures, base=base, cap=cap)
    return ceiling * (1.0 - jitter * uniform())


@dataclass
class Backoff:
    """Counts failures in a row and hands out the next wait; `reset()` after a healthy spell."""

    base: float = RECONNECT_BASE_SECONDS
    cap: float = RECONNECT_CAP_SECONDS
    jitter: float = RECONNECT_JITTER
    failures: int = 0

    def next_delay(self) -> float:
        self.failures += 1
        return backoff_delay(self.failures, base=self.base, cap=self.cap, jitter=self.jitter)

    def reset(self) -> None:
        self.failures = 0
