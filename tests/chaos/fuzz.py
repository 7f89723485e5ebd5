"""A fuzz tape: mutated frames of every kind of bad input, interleaved with known hits.

Every mutation makes its item invalid (or its frame unreadable), so whatever the pipeline stores
beyond the known hits is a spurious hit, and any known hit missing was lost to a neighbour.
Seeded: the same tape every run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.chaos.harness import CONTRACTS, T0, reference_universe

Event = dict[str, Any]

_BAD_SYMBOLS: list[Any] = [
    "O:AAPL",
    "",
    "AAPL251219C00190000",
    "O:ÄAPL251219C00190000",
    "O:🚀251219C00190000",
    "O:AAPL251219X00190000",
    "O:aapl251219c00190000",
    "O:TOOLONGROOT251219C00190000",
    "O:AAPL251219C0019000A",
    "O:" + "A" * 200,
    "\u0000",
    None,
    42,
    ["O:AAPL251219C00190000"],
]
# Each makes a valid print invalid, whatever its price and size.
FIELD_MUTATIONS: list[Callable[[Event, random.Random], None]] = [
    lambda e, r: e.update(p=r.choice(["6.0", None, -1.5, 0, 1e9, [6.0], {"p": 6}, True])),
    lambda e, r: e.update(s=r.choice(["100", 0, -5, 1.5, 2**40, None, False, [100]])),
    lambda e, r: e.update(t=r.choice([T0 * 1000, T0 * 1_000_000, str(T0), -1, 0, None, 2**63])),
    lambda e, r: e.update(x=r.choice([-1, 2**31, "CBOE", None, 3.5])),
    lambda e, r: e.update(q=r.choice([-1, "7", 2**64, 1.5, [1]])),
    lambda e, r: e.update(c=r.choice(["209", [209, "x"], [None], [-1], [2**33], {"c": 1}, [[209]]])),
    lambda e, r: e.update(sym=r.choice(_BAD_SYMBOLS)),
    lambda e, r: e.pop(r.choice(["sym", "p", "s", "t", "x"])),
    lambda e, r: e.update(sym=str(e.get("sym")).replace("251219", r.choice(["251340", "250230", "25121", "2512199"]))),
]
# Whole frames that are not a JSON array of events (or not JSON at all).
BAD_FRAMES = [
    '{"ev":"T","sym":"O:AAPL251219C00190000","p":6.0,"s":100}',
    "null",
    "42",
    '"a string"',
    "[NaN]",
    "[1e999]",
    '[{"ev":"T","p":Infinity}]',
    "[[[[[[[[[[]]]]]]]]]]",
    "[1, 2, 3]",
    '["T", "status"]',
    "not json at all",
    "[{",
    '[{"ev": null}]',
    '[{"ev": ["T"]}]',
    '[{"ev": "T", "sym": "O:AAPL251219C00190000", "p": 6.0, "s": 100, "t": "soon"}]',
    "\u00e9\u00e8\u4e2d\u6587",
    "[" + "[" * 2000 + "]" * 2000 + "]",
]


def base_event(index: int, rng: random.Random) -> Event:
    """A valid print of noise: under the profile's $50,000 whatever it is multiplied by."""
    return {
        "ev": "T",
        "sym": rng.choice(CONTRACTS),
        "x": 302,
        "p": rng.choice([0.05, 0.5, 1.25]),
        "s": rng.choice([1, 5, 10]),
        "c": [209],
        "t": T0 + index,
        "q": 10_000_000 + index,
    }


def mutated_event(index: int, rng: random.Random, hits: list[Event]) -> Any:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice([None, 1, "T", [], [1, 2], True, {"ev": "status"}, {"no": "ev"}])
    event = dict(rng.choice(hits)) if roll < 0.35 and hits else base_event(index, rng)  # copies of hits too
    for mutate in rng.sample(FIELD_MUTATIONS, rng.randint(1, 2)):
        mutate(event, rng)
    return event


def mutated_frame(index: int, rng: random.Random, hits: list[Event]) -> str:
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(BAD_FRAMES)
    events = [mutated_event(index * 10 + k, rng, hits) for k in range(rng.randint(1, 5))]
    text = json.dumps(events)
    if roll < 0.15:  # truncated
        return text[: rng.randint(1, max(1, len(text) - 1))]
    return text


def hit_event(index: int, rng: random.Random) -> Event:
    return {
        "ev": "T",
        "sym": rng.choice(CONTRACTS),
        "x": 302,
        "p": 6.0,
        "s": 100,
        "c": [209],
        "t": T0 + 5_000_000 + index,  # never the time of a noise print
        "q": index + 1,
    }


def write_fuzz_tape(path: Path, *, frames: int, hits: int, seed: int = 20261202) -> list[Event]:
    """The tape, one frame per line; returns the known hits (valid, one frame of one to three each)."""
    rng = random.Random(seed)
    known = [hit_event(index, rng) for index in range(hits)]
    hit_at = sorted(rng.sample(range(frames), len(known)))
    with path.open("w", encoding="utf-8") as tape:
        hit_index = 0
        for index in range(frames):
            while hit_index < len(hit_at) and hit_at[hit_index] == index:
                tape.write(json.dumps([base_event(index, rng), known[hit_index]]) + "\n")
                hit_index += 1
            line = mutated_frame(index, rng, known[:hit_index])
            tape.write(line.replace("\n", " ") + "\n")
    return known


class FuzzTape:
    """The fuzz tape as the chaos pipeline plays it: `frames` mutated frames around `hits` known hits."""

    def __init__(self, frames: int, hits: int) -> None:
        self.frames = frames
        self.hit_count = hits
        self._known: list[Event] = []

    def write(self, folder: Path) -> tuple[Path, Path]:
        tape = folder / "fuzz.tape"
        self._known = write_fuzz_tape(tape, frames=self.frames, hits=self.hit_count)
        reference = folder / "fuzz-reference.json"
        reference.write_text(json.dumps(reference_universe()))
        return tape, reference

    def hits(self) -> set[tuple[str, int]]:
        return {(event["sym"], event["t"]) for event in self._known}
