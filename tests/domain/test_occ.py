from datetime import date
from decimal import Decimal

import pytest

from trades.domain.calendar import new_york_date
from trades.domain.occ import InvalidSymbol, format_occ, parse_occ, underlying_for_root


def test_parses_a_standard_symbol():
    option = parse_occ("O:AAPL251220C00190000")
    assert (option.root, option.expiry, option.right, option.strike) == ("AAPL", date(2025, 12, 20), "C", Decimal(190))
    assert option.side == "CALL"


@pytest.mark.parametrize(
    ("symbol", "root", "strike"),
    [
        ("O:SPXW251219P05800000", "SPXW", Decimal("5800")),
        ("O:BRKB260116C00480000", "BRKB", Decimal("480")),
        ("O:AMC1260116C00005000", "AMC1", Decimal("5")),
        ("O:SPY251219C00512500", "SPY", Decimal("512.5")),
        ("O:F251219P00002125", "F", Decimal("2.125")),
        ("O:GOOGL251219C00150000", "GOOGL", Decimal("150")),
    ],
)
def test_parses_from_the_right_whatever_the_root(symbol, root, strike):
    option = parse_occ(symbol)
    assert option.root == root
    assert option.strike == strike


@pytest.mark.parametrize(
    "symbol",
    [
        "AAPL251220C00190000",  # no O: prefix
        "O:AAPL251220X00190000",  # right is neither C nor P
        "O:AAPL251340C00190000",  # month 13
        "O:AAPL250230C00190000",  # February 30th
        "O:TOOLONG251220C00190000",  # 7-character root
        "O:251220C00190000",  # no root
        "O:aapl251220C00190000",  # lower case
        "O:AAPL2512C00190000",  # short date
        "O:AAPL251220C0019000A",  # strike not numeric
        "",
        12345,
        None,
    ],
)
def test_rejects_what_is_not_an_occ_symbol(symbol):
    with pytest.raises(InvalidSymbol):
        parse_occ(symbol)


def test_format_is_the_inverse_of_parse():
    symbol = format_occ("SPY", date(2025, 12, 19), "C", Decimal("512.5"))
    assert symbol == "O:SPY251219C00512500"
    assert parse_occ(symbol).strike == Decimal("512.5")


def test_known_roots_map_to_their_underlying():
    assert underlying_for_root("SPXW") == "SPX"
    assert underlying_for_root("NDXP") == "NDX"
    assert underlying_for_root("BRKB") == "BRK.B"
    assert underlying_for_root("AAPL") == "AAPL"


@pytest.mark.parametrize(
    ("utc_iso", "new_york"),
    [
        ("2025-12-19T04:59:59+00:00", date(2025, 12, 18)),  # 23:59:59 EST
        ("2025-12-19T05:00:00+00:00", date(2025, 12, 19)),  # midnight EST
        ("2025-07-01T03:59:59+00:00", date(2025, 6, 30)),  # 23:59:59 EDT
        ("2025-07-01T04:00:00+00:00", date(2025, 7, 1)),  # midnight EDT
        ("2025-03-09T06:30:00+00:00", date(2025, 3, 9)),  # the morning clocks go forward
    ],
)
def test_trade_date_is_taken_in_new_york(utc_iso, new_york):
    from datetime import datetime

    ms = int(datetime.fromisoformat(utc_iso).timestamp() * 1000)
    assert new_york_date(ms) == new_york
