"""Closing orders while prints stream in, whatever the batching: one algorithm, any store.

Prints of one sweep arrive in different batches, handled by different workers, in any order
within the allowed lateness. Every kept print goes into a store (`MemoryPrints`: the order
closer's book in production, a tape, the property tests); `close_orders` then finds which orders
are final. An order is final when a later print of its contract broke its run, or when the
watermark (the latest event time seen − GAP_MS − LATENESS_MS) has passed its last print.

A print that arrives after the orders around it were closed (later than the lateness allows),
and a cancel of a print that is already in an order, reopen the contract's orders from there and
group it again: the stored orders are always `orders.group` of the stored prints, so a stream,
a replay and a backfill of the same prints end with the same orders and ids. An order that
was reopened and does not come back (its print was cancelled) is reported as gone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from trades.domain.noise import PACKAGE_MS
from trades.domain.orders import (
    GAP_MS,
    LATENESS_MS,
    NS_PER_MS,
    Order,
    Print,
    PrintClass,
    Run,
    cancelled_prints,
    is_groupable,
    match_cancels,
    run_of,
    runs,
    sorted_prints,
)

END_OF_TIME_NS = 2**63 - 1
MOMENT_NS = PACKAGE_MS * NS_PER_MS  # prints are indexed by moments this long: a package's legs are near


def watermark(latest_event_ns: int) -> int:
    """Every print before this event time has arrived, and no open order can still grow."""
    return latest_event_ns - (GAP_MS + LATENESS_MS) * NS_PER_MS


class PrintStore(Protocol):
    """Where kept prints live and which order each belongs to (per contract)."""

    def add(self, prints: Sequence[Print]) -> list[Print]:
        """Store the prints not stored yet (idempotent); return those."""

    def cancel_groups(self, new: Sequence[Print]) -> list[list[Print]]:
        """The prints and cancels of each (contract, price, size) that holds a cancel and that the
        new prints belong to: a cancel takes back a print of its own group."""

    def is_cancelled(self, item: Print) -> bool: ...

    def set_cancelled(self, item: Print, cancelled: bool) -> None:
        """Take a print back (it leaves the open prints) or give it back."""

    def order_of(self, item: Print) -> str | None:
        """The id of the closed order a print belongs to, if it is in one."""

    def open_prints(self, symbols: Iterable[str]) -> dict[str, list[Print]]:
        """Each contract's prints in no closed order (cancelled prints and cancels left out)."""

    def frontiers(self, since: dict[str, int]) -> dict[str, int]:
        """Each contract's last print in a closed run (groupable prints only), where it is at or
        after ``since[contract]``."""

    def reopen(self, symbol: str, from_ns: int) -> set[str]:
        """Take every closed order of the contract with a print at or after ``from_ns`` apart
        again; return their ids."""

    def close(self, runs: Sequence[Run]) -> None:
        """Record these orders as closed, their prints as theirs."""


@dataclass
class Closed:
    """What one call of `close_orders` decided."""

    runs: list[Run] = field(default_factory=list)  # orders newly closed (or closed again after a reopen)
    reopened: set[str] = field(default_factory=set)  # ids of orders taken apart
    reopened_in: set[str] = field(default_factory=set)  # their contracts

    @property
    def gone(self) -> set[str]:
        """Orders that were reopened and did not close again with the same id."""
        if not self.reopened:
            return set()
        return self.reopened - {run.id for run in self.runs if run.symbol in self.reopened_in}


def close_orders(store: PrintStore, symbols: Iterable[str], mark_ns: int, new: Sequence[Print] = ()) -> Closed:
    """Settle the cancels the new prints touch, reopen what late prints and cancels change, and
    close what is final. ``new``: the prints just added; ``symbols``: the contracts to close."""
    symbols = sorted(set(symbols) | {item.symbol for item in new})
    closed = Closed()
    for group in store.cancel_groups(new):
        if reopened := _settle_cancels(store, group):
            closed.reopened |= reopened
            closed.reopened_in.add(group[0].symbol)
    open_prints = store.open_prints(symbols)
    frontiers = store.frontiers(_earliest_joinable(open_prints))
    for symbol in symbols:
        prints = open_prints.get(symbol, [])
        frontier = frontiers.get(symbol)
        late = [item.ts_ns for item in prints if is_groupable(item) and _may_join(item, frontier)]
        if late:
            closed.reopened |= store.reopen(symbol, _reopen_from(min(late)))
            closed.reopened_in.add(symbol)
            prints = store.open_prints([symbol]).get(symbol, [])
        closed.runs += [run_of(run) for run in final_runs(prints, mark_ns)]
    store.close(closed.runs)
    return closed


def _settle_cancels(store: PrintStore, group: list[Print]) -> set[str]:
    """Which prints of one (contract, price, size) its cancels take back is a function of the
    group's sorted prints alone; when the answer changes (a print or a cancel came late), the
    orders it touches are reopened."""
    reopened: set[str] = set()
    gone = cancelled_prints(sorted_prints(group))
    for item in group:
        if item.kind is PrintClass.CANCEL or (item in gone) == store.is_cancelled(item):
            continue
        store.set_cancelled(item, item in gone)
        if store.order_of(item) is not None:
            reopened |= store.reopen(item.symbol, _reopen_from(item.ts_ns))
    return reopened


def _earliest_joinable(open_prints: dict[str, list[Print]]) -> dict[str, int]:
    """Per contract, how far back a closed run could end and still be joined by an open print."""
    since = {}
    for symbol, prints in open_prints.items():
        groupable = [item.ts_ns for item in prints if is_groupable(item)]
        if groupable:
            since[symbol] = min(groupable) - GAP_MS * NS_PER_MS
    return since


def _may_join(item: Print, frontier: int | None) -> bool:
    """Could this open print have joined or bridged a closed run (it came later than the lateness)?"""
    return frontier is not None and item.ts_ns - frontier <= GAP_MS * NS_PER_MS


def _reopen_from(ts_ns: int) -> int:
    # A print added or taken away at ts changes at most the run it is in or next to (its last print
    # within GAP_MS before ts) and, through the span limit, every run after it.
    return ts_ns - GAP_MS * NS_PER_MS


def final_runs(open_prints: Sequence[Print], mark_ns: int) -> list[list[Print]]:
    """The runs of a contract's open prints that are final: each run a later print broke, the last
    run once the watermark has passed its last print, each ungroupable print once passed."""
    ordered = sorted_prints(open_prints)
    cut = runs([item for item in ordered if is_groupable(item)])
    final = [run for index, run in enumerate(cut) if index < len(cut) - 1 or run[-1].ts_ns < mark_ns]
    final += [[item] for item in ordered if not is_groupable(item) and item.ts_ns < mark_ns]
    return final


class MemoryPrints:
    """A PrintStore in memory: for a tape, a test, or anything that fits in one process."""

    def __init__(self) -> None:
        self.prints: dict[str, list[Print]] = defaultdict(list)
        self.unclosed: dict[str, set[Print]] = defaultdict(set)  # open prints, pending cancels
        self.closed_in: dict[Print, Run] = {}  # the closed order each print is in
        self.runs: dict[str, dict[Print, Run]] = defaultdict(dict)  # closed orders, by contract, then first print
        self._frontiers: dict[str, int] = {}
        self.cancelled: set[Print] = set()
        self._seen: set[Print] = set()
        self._cancels: dict[str, set[tuple]] = {}  # per contract, the (price, size) of its cancels
        self.moments: dict[int, set[Print]] = defaultdict(set)  # every contract's prints, by MOMENT_NS

    def add(self, prints: Sequence[Print]) -> list[Print]:
        new = []
        seen, by_contract, unclosed, moments = self._seen, self.prints, self.unclosed, self.moments
        for item in prints:
            kind = item.kind
            if item in seen or kind is PrintClass.COMPRESSION:
                continue
            seen.add(item)
            by_contract[item.symbol].append(item)
            moments[item.ts_ns // MOMENT_NS].add(item)
            if kind is PrintClass.CANCEL:
                self._cancels.setdefault(item.symbol, set()).add((item.price, item.size))
            else:
                unclosed[item.symbol].add(item)
            new.append(item)
        return new

    def cancel_groups(self, new: Sequence[Print]) -> list[list[Print]]:
        touched = {
            (item.symbol, item.price, item.size)
            for item in new
            if item.symbol in self._cancels and (item.price, item.size) in self._cancels[item.symbol]
        }
        return [  # size first: an int compares for a fraction of a Decimal's cost
            [item for item in self.prints[symbol] if item.size == size and item.price == price]
            for symbol, price, size in sorted(touched)
        ]

    def is_cancelled(self, item: Print) -> bool:
        return item in self.cancelled

    def set_cancelled(self, item: Print, cancelled: bool) -> None:
        if cancelled:
            self.cancelled.add(item)
            self.unclosed[item.symbol].discard(item)
        else:
            self.cancelled.discard(item)
            self.unclosed[item.symbol].add(item)

    def order_of(self, item: Print) -> str | None:
        run = self.closed_in.get(item)
        return None if run is None else run.id

    def open_prints(self, symbols: Iterable[str]) -> dict[str, list[Print]]:
        return {symbol: list(self.unclosed.get(symbol, ())) for symbol in symbols}

    def cancels_without_print(self, cancels: Iterable[Print]) -> list[Print]:
        """Of these cancels, those that take back no print the store holds (theirs came earlier
        than what it remembers, or was never kept)."""
        found = []
        for symbol, price, size in sorted({(item.symbol, item.price, item.size) for item in cancels}):
            group = [item for item in self.prints.get(symbol, ()) if item.size == size and item.price == price]
            found += [item for item in match_cancels(sorted_prints(group))[1] if item in cancels]
        return found

    def due(self, mark_ns: int) -> set[str]:
        """Contracts with an open print the watermark has passed."""
        return {symbol for symbol, prints in self.unclosed.items() if any(item.ts_ns < mark_ns for item in prints)}

    def prune(self, before_ns: int) -> list[Print]:
        """Forget the closed orders that ended before ``before_ns`` with their prints, and the cancels
        and cancelled prints before it; return the prints forgotten. A print that comes later than
        that groups only with what is left (no store keeps a day in memory). Only the moments before
        ``before_ns`` and the contracts with a print forgotten are walked: pruning often is cheap."""
        forgotten = [item for item in self._older_than(before_ns) if self._ended_before(item, before_ns)]
        gone = set(forgotten)
        for symbol in {item.symbol for item in forgotten}:
            keep = [item for item in self.prints[symbol] if item not in gone]
            runs = self.runs.get(symbol, {})
            for first in [first for first, run in runs.items() if run.last_ts_ns < before_ns]:
                del runs[first]
            if keep:
                self.prints[symbol] = keep
            else:
                for index in (self.prints, self.runs, self.unclosed):
                    index.pop(symbol, None)
        self._forget(forgotten)
        return forgotten

    def _older_than(self, before_ns: int) -> list[Print]:
        last_moment = before_ns // MOMENT_NS  # may hold prints on both sides of before_ns
        return [item for key, moment in self.moments.items() if key <= last_moment for item in moment]

    def _ended_before(self, item: Print, before_ns: int) -> bool:
        run = self.closed_in.get(item)
        if run is not None:
            return run.last_ts_ns < before_ns
        return item.ts_ns < before_ns and item not in self.unclosed.get(item.symbol, ())

    def near(self, ts_ns: int) -> list[Print]:
        """The prints of any contract within MOMENT_NS of ``ts_ns`` (and a little more)."""
        moment = ts_ns // MOMENT_NS
        return [item for key in (moment - 1, moment, moment + 1) for item in self.moments.get(key, ())]

    def _forget(self, prints: list[Print]) -> None:
        with_cancels = set()
        for item in prints:
            moment = self.moments.get(item.ts_ns // MOMENT_NS)
            if moment is not None:
                moment.discard(item)
                if not moment:
                    del self.moments[item.ts_ns // MOMENT_NS]
            self.closed_in.pop(item, None)
            self.cancelled.discard(item)
            self._seen.discard(item)
            if item.kind is PrintClass.CANCEL:
                with_cancels.add(item.symbol)
        for symbol in with_cancels:
            left = {(item.price, item.size) for item in self.prints.get(symbol, ()) if item.kind is PrintClass.CANCEL}
            if left:
                self._cancels[symbol] = left
            else:
                self._cancels.pop(symbol, None)

    def frontiers(self, since: dict[str, int]) -> dict[str, int]:
        return {
            symbol: self._frontiers[symbol]
            for symbol, earliest in since.items()
            if self._frontiers.get(symbol, earliest - 1) >= earliest
        }

    def reopen(self, symbol: str, from_ns: int) -> set[str]:
        runs = self.runs[symbol]
        taken_apart = [run for run in runs.values() if run.last_ts_ns >= from_ns]
        for run in taken_apart:
            del runs[run.prints[0]]
            for item in run.prints:
                del self.closed_in[item]
                if item not in self.cancelled:
                    self.unclosed[symbol].add(item)
        ends = [run.last_ts_ns for run in runs.values() if run.groupable]
        self._frontiers.pop(symbol, None)
        if ends:
            self._frontiers[symbol] = max(ends)
        return {run.id for run in taken_apart}

    def close(self, runs: Sequence[Run]) -> None:
        for run in runs:
            symbol = run.symbol
            self.runs[symbol][run.prints[0]] = run
            unclosed = self.unclosed[symbol]
            for item in run.prints:
                self.closed_in[item] = run
                unclosed.discard(item)
            if run.groupable:
                self._frontiers[run.symbol] = max(run.last_ts_ns, self._frontiers.get(run.symbol, 0))

    def all_orders(self) -> list[Order]:
        runs = sorted((run for by_id in self.runs.values() for run in by_id.values()), key=_first_key)
        return [run.order() for run in runs]


def _first_key(run: Run) -> tuple:
    return (run.symbol, run.prints[0].key)
