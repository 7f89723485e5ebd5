"""Property-based tests of the flat-file parser: whatever a row holds, it is a trade event the
ingest can judge or a counted skip, never an exception; a real trade's row is read exactly."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trades.domain.rules import parse_trade
from trades.polygon_rest.flatfiles import gzipped_lines, trade_events
from trades.polygon_rest.loaders import LoadIssues

COLUMNS = ["ticker", "conditions", "correction", "exchange", "participant_timestamp", "price", "sip_timestamp", "size"]
anything = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "inf", "-1", "1e3", "209,219", "209,,", " 5 ", "0x10", "١٢"]),
)


def csv_text(header: list[str], rows: list[list[str]]) -> Iterator[str]:
    """The rows as a gzipped flat file, read back as the backfill reads one."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return gzipped_lines(io.BytesIO(gzip.compress(text.getvalue().encode())))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(anything, min_size=0, max_size=10), max_size=8))
def test_any_line_is_an_event_or_a_counted_skip(rows):
    issues = LoadIssues()
    events = list(trade_events(csv_text(COLUMNS, rows), issues))
    lines = [line for line in list(csv_text(COLUMNS, rows))[1:] if line.strip("\r\n")]  # a blank line is no row
    assert len(events) + issues.skipped == len(lines)
    for event in events:
        assert orjson.loads(orjson.dumps(event)) == event  # fits a task message as it is
        assert set(event) <= {"ev", "sym", "x", "p", "s", "t", "c"}


trades = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(["O:AAPL261120C00230000", "O:SPXW261120P05900000", "O:NVDA261218C00140000"]),
        "conditions": st.lists(st.sampled_from([209, 219, 227, 232, 201]), max_size=3),
        "exchange": st.integers(min_value=300, max_value=330),
        "price": st.decimals(min_value="0.01", max_value="9999.99", places=2).map(float),
        "size": st.integers(min_value=1, max_value=100_000),
        "sip_ns": st.integers(min_value=1_600_000_000_000_000_000, max_value=1_790_000_000_000_000_000),  # unexpired
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(trades, min_size=1, max_size=5), st.booleans())
def test_a_trade_row_reads_as_the_websocket_would_send_it(found, with_participant_time):
    header = [name for name in COLUMNS if with_participant_time or name != "participant_timestamp"]
    rows = []
    for trade in found:
        values = {
            "ticker": trade["symbol"],
            "conditions": ",".join(map(str, trade["conditions"])),
            "correction": "0",
            "exchange": str(trade["exchange"]),
            "participant_timestamp": str(trade["sip_ns"] - 1000),
            "price": repr(trade["price"]),
            "sip_timestamp": str(trade["sip_ns"]),
            "size": str(trade["size"]),
        }
        rows.append([values[name] for name in header])
    issues = LoadIssues()

    events = list(trade_events(csv_text(header, rows), issues))

    assert issues.skipped == 0
    for event, trade in zip(events, found, strict=True):
        parsed = parse_trade(event, {})  # the ingest's parser takes it
        assert (parsed.symbol, parsed.exchange, parsed.price, parsed.size) == (
            trade["symbol"],
            trade["exchange"],
            trade["price"],
            trade["size"],
        )
        assert parsed.sip_timestamp == trade["sip_ns"] // 1_000_000
        assert list(parsed.conditions) == trade["conditions"]
        assert parsed.sequence is None


def test_a_file_without_a_needed_column_is_refused_by_name():
    with pytest.raises(ValueError, match="sip_timestamp"):
        list(trade_events(csv_text(["ticker", "price", "size", "exchange"], [["O:X", "1", "1", "300"]]), LoadIssues()))
