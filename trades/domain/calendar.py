"""Market time: the trade's date in America/New_York (from a SIP timestamp) and the regular session."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
_MS_PER_HOUR = 3_600_000
_date_by_hour: dict[int, date] = {}


def new_york_date(sip_timestamp_ms: int) -> date:
    """New York's calendar date at that instant.

    New York's UTC offset changes only on whole hours, so the date is constant within a
    UTC hour and one cache entry per hour keeps this off the hot path's profile.
    """
    hour = sip_timestamp_ms // _MS_PER_HOUR
    cached = _date_by_hour.get(hour)
    if cached is None:
        if len(_date_by_hour) > 100_000:
            _date_by_hour.clear()
        moment = datetime.fromtimestamp(hour * 3600, tz=UTC).astimezone(NEW_YORK)
        cached = _date_by_hour[hour] = moment.date()
    return cached


def day_bounds_ns(day: date) -> tuple[int, int]:
    """New York midnight to the last nanosecond before the next one."""
    start = datetime.combine(day, time(), tzinfo=NEW_YORK)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=NEW_YORK)
    return int(start.timestamp()) * 1_000_000_000, int(end.timestamp()) * 1_000_000_000 - 1


def utc_datetime(sip_timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(sip_timestamp_ms / 1000, tz=UTC)


def trading_days_before(day: date, count: int) -> list[date]:
    """The ``count`` weekdays before ``day``, oldest first (no holiday calendar)."""
    days: list[date] = []
    current = day
    while len(days) < count:
        current -= timedelta(days=1)
        if current.weekday() < 5:
            days.append(current)
    return days[::-1]


MARKET_OPEN = time(9, 30)
MARKET_CLOSE = time(16, 0)


def is_market_open(now: datetime) -> bool:
    """Whether US options trade their regular session at that instant: New York weekdays,
    9:30 inclusive to 16:00 exclusive.

    There is no holiday calendar and no early close: on a holiday or after a 13:00 close this
    says open, which costs at most a few spot reads that change nothing.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("is_market_open needs an aware datetime")
    local = now.astimezone(NEW_YORK)
    return local.weekday() < 5 and MARKET_OPEN <= local.time() < MARKET_CLOSE
