"""Where Polygon keeps a day's options trades as a flat file: one name for both sides (the
backfill's S3 client and the local feed that serves the files)."""

from __future__ import annotations

from datetime import date

PREFIX = "us_options_opra/trades_v1/"


def day_key(day: date) -> str:
    """``us_options_opra/trades_v1/YYYY/MM/YYYY-MM-DD.csv.gz``."""
    return f"{PREFIX}{day:%Y}/{day:%m}/{day.isoformat()}.csv.gz"


def day_of(key: str) -> date | None:
    """The day a key names, or None if it names none."""
    try:
        day = date.fromisoformat(key.rsplit("/", 1)[-1].removesuffix(".csv.gz"))
    except ValueError:
        return None
    return day if key == day_key(day) else None
