"""The fuzz run: mutated frames of every kind of bad input, interleaved with known hits, through the
real listener, Redis, worker and PostgreSQL. Every known hit is stored exactly once, nothing else
is, every process is still up, and the rejections are counted by reason.

`make chaos` plays 100,000 mutated frames; `make test` plays 10,000.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.chaos.fuzz import FuzzTape
from tests.chaos.harness import Pipeline, run_dir

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

FULL = os.environ.get("FLOWSITE_CHAOS") == "full"
FRAMES, HITS = (100_000, 923) if FULL else (10_000, 92)


def test_a_fuzzed_stream_stores_exactly_the_known_hits_and_no_process_dies():
    tape = FuzzTape(frames=FRAMES, hits=HITS)
    line = Pipeline(run_dir("fuzz"), tape, rate=0)  # type: ignore[arg-type]
    started = time.time()
    try:
        line.start()
        figures = line.figures("fuzz", started, 0, frames=f"{FRAMES:,}")
        figures.recovery = "all stored and delivered in"
        rejections = line.postgres.query("SELECT reason, count FROM trades_rejection ORDER BY count DESC")
        alive = line.alive()
    finally:
        line.stop()
    by_reason = ", ".join(f"{reason} {count:,}" for reason, count in rejections)
    print(f"{figures.line()}\nFUZZ rejected by reason: {by_reason}")
    if path := os.environ.get("FLOWSITE_CHAOS_REPORT"):
        with Path(path).open("a") as out:
            out.write(f"{figures.line()}\nFUZZ rejected by reason: {by_reason}\n")
    assert all(alive.values()), alive
    assert (figures.stored, figures.lost, figures.duplicated, figures.spurious) == (HITS, 0, 0, 0), figures.line()
    assert figures.webhooks_lost == 0, figures.line()
    reasons = dict(rejections)
    for reason in ("bad_json", "not_an_array", "no_event_type", "bad_symbol", "bad_price", "bad_size", "bad_timestamp"):
        assert reasons.get(reason, 0) > 0, f"the tape exercises {reason}: {reasons}"
    assert "unexpected_error" not in reasons, reasons
