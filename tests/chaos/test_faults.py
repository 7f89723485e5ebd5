"""Faults survived: each scenario streams the chaos tape through the real processes, injects one
fault mid-stream, and must end with every hit stored exactly once and every webhook delivered.

The figures (expected, stored, lost, duplicated, time to recover) are printed (`make chaos` shows
them) and appended to $FLOWSITE_CHAOS_REPORT when set. The scenarios marked `chaos_full` run under
`make chaos` only (FLOWSITE_CHAOS=full); the rest run in every `make test` too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.harness import ChaosTape, Figures, Pipeline, run_dir, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

FAULT_AT = 1600  # trades emitted when the fault strikes (40% of the tape)
# 80 hits over 10 s at 400 trades/s (trades 25, 75, 125 …); the batch with the hit just after
# FAULT_AT takes a worker 3 s longer, so a fault then strikes a worker that holds a hit.
TAPE = ChaosTape(trades=4000, hit_every=50, slow_at=FAULT_AT + 25)
MAX_RECOVERY_SECONDS = 120
FULL = os.environ.get("FLOWSITE_CHAOS") == "full"


@pytest.fixture
def pipeline(request: pytest.FixtureRequest) -> Iterator[Callable[..., Pipeline]]:
    started: list[Pipeline] = []

    def start(env: dict[str, str] | None = None, **feed_options: Any) -> Pipeline:
        line = Pipeline(run_dir(request.node.name), TAPE, env=env, **feed_options)
        started.append(line)
        line.start()
        return line

    yield start
    for line in started:
        line.stop()


def report(figures: Figures, line: Pipeline) -> None:
    print(figures.line())
    if path := os.environ.get("FLOWSITE_CHAOS_REPORT"):
        with Path(path).open("a") as out:
            out.write(figures.line() + "\n")
    alive = line.alive()
    assert all(alive.values()), f"a process died: {alive}; logs in {line.root}"
    assert (figures.lost, figures.duplicated, figures.spurious) == (0, 0, 0), f"{figures.line()}; logs in {line.root}"
    assert figures.webhooks_lost == 0, f"{figures.line()}; logs in {line.root}"
    assert figures.recovery_seconds < MAX_RECOVERY_SECONDS, figures.line()


def lease_settings(visibility: str) -> dict[str, str]:
    """A visibility timeout, and live workers renewing their leases every 5 s, or three times within
    a shorter one (the settings refuse less)."""
    lease = min(5.0, int(visibility) / 3)
    return {"CELERY_VISIBILITY_TIMEOUT": visibility, "CELERY_UNACKED_LEASE_INTERVAL": str(lease)}


def test_the_whole_worker_sigkilled_mid_stream_and_a_new_one_started(pipeline):
    """Killed while it holds a batch: the batch is back in work once its lease has run out (the
    visibility timeout: 60 s by default, which `make chaos` uses; 10 s in `make test`)."""
    visibility = "60" if FULL else "10"
    line = pipeline(env=lease_settings(visibility))
    line.wait_for_position(FAULT_AT + 100)
    wait_until(line.holds_slow_batch, 10, "a worker to hold the slow batch")
    fault_at, position = time.time(), line.position
    line.kill_workers()
    line.start_worker()
    report(line.figures("worker SIGKILL", fault_at, position, visibility_timeout=visibility), line)


def test_redis_restarted_mid_stream(pipeline):
    """A batch taken as Redis went down (its reply lost) is back once its lease has run out."""
    visibility = "60" if FULL else "10"
    line = pipeline(env=lease_settings(visibility))
    line.wait_for_position(FAULT_AT)
    fault_at, position = time.time(), line.position
    line.restart_redis(down_seconds=3)
    report(line.figures("Redis restart", fault_at, position, visibility_timeout=visibility), line)


def test_a_disconnect_with_trades_missed_is_filled_over_rest(pipeline):
    """The feed drops the socket (1006) and 300 trades, 6 of them hits, go by unsent."""
    line = pipeline(disconnect_after=FAULT_AT, disconnect_code=1006, gap_trades=300)
    line.wait_for_position(FAULT_AT)
    fault_at, position = time.time(), line.position
    figures = line.figures("gap filled over REST", fault_at, position)
    gaps = line.postgres.query("SELECT status, recovered FROM trades_streamgap")
    figures.notes["gaps"] = ", ".join(f"{status} ({recovered} hits recovered)" for status, recovered in gaps)
    report(figures, line)
    assert line.feed is not None and line.feed.stats.trades_skipped >= 300
    assert sum(recovered for _status, recovered in gaps) >= 6  # the hits sent while away came over REST
    rows = line.postgres.query("SELECT count(*) FROM trades_optiontrade WHERE source = 'gap'")
    assert rows[0][0] >= 6


@pytest.mark.chaos_full
def test_postgres_restarted_mid_stream(pipeline):
    line = pipeline()
    line.wait_for_position(FAULT_AT)
    fault_at, position = time.time(), line.position
    line.restart_postgres(down_seconds=3)
    report(line.figures("PostgreSQL restart", fault_at, position), line)


@pytest.mark.chaos_full
@pytest.mark.parametrize(
    ("code", "name"), [(1000, "clean close 1000"), (1006, "abrupt close 1006"), (1011, "error close 1011")]
)
def test_the_feed_drops_the_websocket(pipeline, code, name):
    line = pipeline(disconnect_after=FAULT_AT, disconnect_code=code)
    line.wait_for_position(FAULT_AT)
    fault_at, position = time.time(), line.position
    report(line.figures(f"WebSocket {name}", fault_at, position), line)


@pytest.mark.chaos_full
def test_stream_sigtermed_and_started_again(pipeline):
    line = pipeline()
    line.wait_for_position(FAULT_AT)
    fault_at, position = time.time(), line.position
    exit_code = line.restart_stream(down_seconds=2)
    figures = line.figures("stream SIGTERM, restart", fault_at, position, exit_code=exit_code)
    report(figures, line)
    assert exit_code == 0
    first_log = (line.root / "stream-1.log").read_text()
    assert "Traceback" not in first_log, first_log[-3000:]
