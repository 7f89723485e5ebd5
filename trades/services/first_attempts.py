"""A few threads in each worker process that make webhook deliveries' first attempts.

The worker that stores a hit sends its alert itself, right after the commit, instead of queuing
a task for the webhooks' worker: that hop (publish, broker, claim) was most of the time from a
hit stored to its webhook. It must never hold up judging: the sends run on
WEBHOOK_FIRST_ATTEMPT_THREADS threads beside the task, and what they cannot take at once goes
through the webhooks queue as before. A process that dies mid-send leaves its deliveries claimed
until their lease runs out; beat's sweeper then queues them (services/webhooks.py).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

T = TypeVar("T")

WAITING_PER_THREAD = 2  # deliveries that may wait for a busy thread: beyond, they go to the webhooks queue

Job = tuple[Callable[[Any], object], Any] | None  # an attempt and its delivery; None: the thread that takes it ends


class FirstAttempts:
    """This process's threads for first attempts, started as they are needed (afresh in a forked
    child, which inherits none)."""

    def __init__(self) -> None:
        self._start_afresh()
        os.register_at_fork(after_in_child=self._start_afresh)

    def _start_afresh(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._in_flight = 0

    def enabled(self) -> bool:
        return settings.WEBHOOK_FIRST_ATTEMPT_THREADS > 0

    def submit(self, deliveries: list[T], attempt: Callable[[T], object]) -> list[T]:
        """Run ``attempt`` for each delivery on a thread; return those there was no room for."""
        threads = settings.WEBHOOK_FIRST_ATTEMPT_THREADS
        with self._lock:
            room = max(0, threads * (1 + WAITING_PER_THREAD) - self._in_flight)
            taken, refused = deliveries[:room], deliveries[room:]
            self._in_flight += len(taken)
            while len(self._threads) < min(threads, self._in_flight):
                thread = threading.Thread(target=self._work, name="first-attempt", daemon=True)
                thread.start()
                self._threads.append(thread)
        for delivery in taken:
            self._jobs.put((attempt, delivery))
        return refused

    def stop(self) -> None:
        """Let the threads finish the attempts taken, and end them with their database connections.
        (A process that exits without this leaves its attempts to their leases.)"""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()

    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                self._run(*job)
        finally:
            connections.close_all()

    def _run(self, attempt: Callable[[Any], object], delivery: Any) -> None:
        close_old_connections()  # as Celery does before a task: this thread's connection may be stale
        try:
            attempt(delivery)
        except Exception:
            logger.exception(
                "The first attempt of webhook delivery %s failed; it is sent again once its lease runs out", delivery
            )
        finally:
            with self._lock:
                self._in_flight -= 1


FIRST_ATTEMPTS = FirstAttempts()
