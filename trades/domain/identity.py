"""One trade, one key, whichever way it arrived.

The WebSocket gives a print its SIP time in ms and a sequence number; REST gives the time in ns
and no sequence; a live batch may be delivered twice, and a gap filled over REST overlaps what
the socket saw. A print is therefore known by its `print_key` (contract, SIP millisecond, and a
digest of exchange, price, size and conditions), and a stored trade by its `trade_key`: the
print key and its place among byte-identical prints, which are separate trades.

`place_prints` decides, for a batch of hits and the stored trades that share their print keys,
which hits are already stored, which are new and at which place. It is the same answer however
the prints were batched, except that identical prints arriving out of order may swap places
(they differ in nothing but the sequence number).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field


def print_key(
    symbol: str, sip_timestamp: int, exchange: int, price: float, size: int, conditions: Iterable[int]
) -> str:
    details = f"{exchange}/{price:.4f}/{size}/{','.join(map(str, sorted(conditions)))}"
    digest = hashlib.blake2b(details.encode(), digest_size=8).hexdigest()
    return f"{symbol}@{sip_timestamp}/{digest}"


def trade_key(print_key: str, occurrence: int) -> str:
    """A stored trade's natural key: its print key and its place among identical prints (0, 1 …)."""
    return f"{print_key}#{occurrence}"


@dataclass(frozen=True, slots=True)
class IncomingPrint:
    print_key: str
    sequence: int | None  # None: from REST


@dataclass(frozen=True, slots=True)
class StoredPrint:
    print_key: str
    occurrence: int
    sequence: int | None


@dataclass
class Placement:
    new: dict[int, int] = field(default_factory=dict)  # incoming index → occurrence of its new row
    stored: dict[int, StoredPrint] = field(default_factory=dict)  # incoming index → the row it already is
    claims: dict[int, StoredPrint] = field(default_factory=dict)  # rows without a sequence that now get one
    # An incoming print that repeats an earlier one of the batch (the same sequence number) is in none.


def place_prints(incoming: Sequence[IncomingPrint], stored: Iterable[StoredPrint]) -> Placement:
    """Match each incoming print to a stored trade, or give it the next free place.

    A print with a sequence number is the stored trade with the same number, else takes a stored
    trade that has none (REST stored it first), else is new. A print without one (REST) takes the
    stored trades in order of place, then is new. Within a batch, a sequence number seen twice is
    one print.
    """
    placement = Placement()
    stored_by_key: dict[str, list[StoredPrint]] = defaultdict(list)
    for row in stored:
        stored_by_key[row.print_key].append(row)
    for key, indexes in _group(incoming).items():
        _place_group([incoming[i] for i in indexes], indexes, sorted(stored_by_key[key], key=_place), placement)
    return placement


def _group(incoming: Sequence[IncomingPrint]) -> dict[str, list[int]]:
    """The incoming indexes by print key, a repeated sequence number left out."""
    groups: dict[str, list[int]] = defaultdict(list)
    seen: set[tuple[str, int]] = set()
    for index, item in enumerate(incoming):
        if item.sequence is not None:
            if (item.print_key, item.sequence) in seen:
                continue
            seen.add((item.print_key, item.sequence))
        groups[item.print_key].append(index)
    return groups


def _place_group(items: list[IncomingPrint], indexes: list[int], rows: list[StoredPrint], placement: Placement) -> None:
    by_sequence = {row.sequence: row for row in rows if row.sequence is not None}
    unused = list(rows)
    unmatched: list[tuple[int, IncomingPrint]] = []
    for index, item in zip(indexes, items, strict=True):
        row = by_sequence.get(item.sequence) if item.sequence is not None else None
        if row is not None:
            placement.stored[index] = row
            unused.remove(row)
        else:
            unmatched.append((index, item))
    next_place = max((row.occurrence for row in rows), default=-1) + 1
    for index, item in sorted(unmatched, key=lambda pair: _arrival(pair[1])):
        # A REST print may be any stored trade; a sequenced one only a trade REST stored first.
        row = _take_first(unused, _any if item.sequence is None else _unsequenced)
        if row is None:
            placement.new[index] = next_place
            next_place += 1
            continue
        placement.stored[index] = row
        if item.sequence is not None:
            placement.claims[index] = row


def _take_first(unused: list[StoredPrint], may_be: Callable[[StoredPrint], bool]) -> StoredPrint | None:
    for row in unused:
        if may_be(row):
            unused.remove(row)
            return row
    return None


def _any(row: StoredPrint) -> bool:
    return True


def _unsequenced(row: StoredPrint) -> bool:
    return row.sequence is None


def _place(row: StoredPrint) -> int:
    return row.occurrence


def _arrival(item: IncomingPrint) -> tuple[bool, int]:
    # Sequenced prints in sequence order, then REST prints in the order they came.
    return (item.sequence is None, item.sequence or 0)
