"""Dividends of the synthetic underlyings (``/v3/reference/dividends``): a quarterly cash dividend
whose ex-dividend dates are the same for a ticker on every run and every seed; the names that pay
none in life (and the small-cap index ETF) pay none here."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

NO_DIVIDEND = frozenset({"AMZN", "TSLA", "AMD", "IWM"})
EVERY_DAYS = 91
QUARTERLY_YIELD = 0.0025  # of the spot, per quarter
EPOCH = date(2020, 1, 6)


def ex_dividend_dates(ticker: str, first: date, last: date) -> list[date]:
    """The ticker's ex-dividend dates from ``first`` to ``last`` (weekdays)."""
    if ticker in NO_DIVIDEND:
        return []
    phase = int.from_bytes(hashlib.blake2b(ticker.encode(), digest_size=4).digest(), "big") % EVERY_DAYS
    anchor = EPOCH + timedelta(days=phase)
    start = (first - anchor).days // EVERY_DAYS
    found = []
    for quarter in range(max(start - 1, 0), (last - anchor).days // EVERY_DAYS + 2):
        day = anchor + timedelta(days=quarter * EVERY_DAYS)
        day += timedelta(days=(7 - day.weekday()) % 7 if day.weekday() >= 5 else 0)  # to the Monday
        if first <= day <= last:
            found.append(day)
    return found


def dividend_json(ticker: str, ex_date: date, spot: float) -> dict[str, Any]:
    return {
        "cash_amount": round(spot * QUARTERLY_YIELD, 2),
        "currency": "USD",
        "declaration_date": (ex_date - timedelta(days=28)).isoformat(),
        "dividend_type": "CD",
        "ex_dividend_date": ex_date.isoformat(),
        "frequency": 4,
        "id": f"E{hashlib.blake2b(f'{ticker}{ex_date}'.encode(), digest_size=8).hexdigest()}",
        "pay_date": (ex_date + timedelta(days=14)).isoformat(),
        "record_date": (ex_date + timedelta(days=1)).isoformat(),
        "ticker": ticker,
    }
