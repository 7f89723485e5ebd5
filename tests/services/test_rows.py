"""The many-rows insert's SQLite form (the embedded default's database): values as Django stores them."""

import sqlite3
from datetime import date
from decimal import Decimal

from trades.services import rows


def test_sqlite_rows_keep_dates_as_iso_text_and_numbers_as_numbers():
    columns: list[rows.Column] = [("day", "date"), ("size", "integer"), ("price", "numeric"), ("name", "text")]
    listed, params = rows._values([(date(2026, 12, 19), "7", Decimal("2.5"), "NVDA")], columns)
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE t (day date, size integer, price decimal, name varchar(8))")
    params = [value.isoformat() if isinstance(value, date) else str(value) for value in params]  # as Django binds
    database.execute("INSERT INTO t (day, size, price, name) VALUES " + listed.replace("%s", "?"), params)

    assert database.execute("SELECT day, typeof(day), size, typeof(size), price, name FROM t").fetchall() == [
        ("2026-12-19", "text", 7, "integer", 2.5, "NVDA")
    ]
