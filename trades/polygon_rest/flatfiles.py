"""Polygon's flat files: a day of every options trade in one gzipped CSV, over S3 (boto3, the way
Polygon documents), for backfills: one download a day instead of a REST call per contract.

``flatfiles/us_options_opra/trades_v1/YYYY/MM/YYYY-MM-DD.csv.gz``, published the next morning and
now and then republished (its ETag changes). Columns are read by their header's names: real files
have been seen without ``participant_timestamp``. A row that cannot be a trade is skipped and
counted (LoadIssues), never the file. S3 answers 403 whatever the cause (a plan without flat files,
wrong S3 keys): ``FlatFilesRefused`` says both.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings

from trades.domain.flat_files import PREFIX, day_key, day_of
from trades.polygon_rest.loaders import LoadIssues

NS_PER_MS = 1_000_000
REQUIRED = ("ticker", "exchange", "price", "sip_timestamp", "size")
READ_TIMEOUT_SECONDS = 120.0  # a day's file is hundreds of MB for the whole market


class FlatFilesRefused(Exception):
    """S3 answered 401 or 403: the plan has no flat files, or the S3 keys are not right."""


def flat_files_client() -> Any:
    """An S3 client for POLYGON_FLATFILES_URL with the flat-file keys, retrying with backoff."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.POLYGON_FLATFILES_URL,
        aws_access_key_id=settings.POLYGON_FLATFILES_KEY_ID,
        aws_secret_access_key=settings.POLYGON_FLATFILES_SECRET,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            retries={"mode": "standard", "max_attempts": 6},
            connect_timeout=10,
            read_timeout=READ_TIMEOUT_SECONDS,
        ),
    )


@dataclass(frozen=True)
class DayFile:
    day: date
    etag: str
    lines: Iterator[str]


def open_day(client: Any, day: date) -> DayFile:
    """The day's file, read as it streams in (never whole in memory)."""
    try:
        found = client.get_object(Bucket=settings.POLYGON_FLATFILES_BUCKET, Key=day_key(day))
    except Exception as exc:
        raise _refused_or(exc) from exc
    return DayFile(day, found.get("ETag", ""), gzipped_lines(found["Body"]))


def gzipped_lines(stream: Any) -> Iterator[str]:
    """The text lines of a gzipped stream, as it is read."""
    return codecs.iterdecode(gzip.GzipFile(fileobj=stream), "utf-8")


def etags(client: Any, days: Iterable[date]) -> dict[date, str]:
    """The ETags of the days' files, one listing per month (a republished file has a new one)."""
    wanted = set(days)
    found: dict[date, str] = {}
    for month in sorted({(day.year, day.month) for day in wanted}):
        prefix = f"{PREFIX}{month[0]:04d}/{month[1]:02d}/"
        try:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=settings.POLYGON_FLATFILES_BUCKET, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    day = day_of(item.get("Key", ""))
                    if day in wanted:
                        found[day] = item.get("ETag", "")
        except Exception as exc:
            raise _refused_or(exc) from exc
    return found


def _refused_or(exc: Exception) -> Exception:
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status in (401, 403):
        return FlatFilesRefused(
            f"S3 answered {status} for Polygon's flat files at {settings.POLYGON_FLATFILES_URL}: the plan has none, "
            "or POLYGON_FLATFILES_KEY_ID and POLYGON_FLATFILES_SECRET are not the dashboard's S3 keys"
        )
    return exc


def trade_events(lines: Iterable[str], issues: LoadIssues) -> Iterator[dict[str, Any]]:
    """Each line after the header as the WebSocket would have sent the trade (``t`` in ms, no
    ``q``); a line that is not a trade is skipped and counted, a blank one ignored."""
    rows = iter(lines)
    header = next(csv.reader([next(rows, "")]), [])
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ValueError(f"a flat file without the columns {missing}: its header is {header}")
    for line in rows:
        if not line.strip("\r\n"):
            continue
        try:
            row = dict(zip(header, next(csv.reader([line])), strict=False))
        except csv.Error:
            row = {}
        event = trade_event(row)
        if event is None:
            issues.skip("flat-file row", "not a trade (a field missing or out of range)", line)
        else:
            yield event


def trade_event(row: dict[str, Any]) -> dict[str, Any] | None:
    try:
        symbol = row["ticker"]
        exchange = int(row["exchange"])
        price = float(row["price"])
        size = int(row["size"])
        sip_ns = int(row["sip_timestamp"])
        codes = [int(code) for code in (row.get("conditions") or "").split(",") if code.strip()]
    except (TypeError, ValueError, KeyError):
        return None
    if not symbol or not math.isfinite(price) or not 0 <= price < 1e12:
        return None
    if not (0 < size < 2**31 and 0 <= sip_ns < 2**63 and 0 <= exchange < 2**31):
        return None
    event: dict[str, Any] = {"ev": "T", "sym": symbol, "x": exchange, "p": price, "s": size, "t": sip_ns // NS_PER_MS}
    if codes:
        event["c"] = codes
    return event
