"""Polygon's flat files, served S3-style from the feed's history: one gzipped CSV of every options
trade of a day, ``flatfiles/us_options_opra/trades_v1/YYYY/MM/YYYY-MM-DD.csv.gz``.

Enough of S3's REST API for boto3 (path-style addressing): GetObject, and ListObjectsV2 for a
prefix (keys with their ETags). A request is let in when its signature names the feed's access
key (the signature itself is not checked: this is a local stand-in). A day can be republished
(``republish``): the same trades, a new ETag, as Polygon sometimes republishes a corrected file.

The CSV's columns are Polygon's: ticker, conditions, correction, exchange, participant_timestamp,
price, sip_timestamp, size; rows by ticker, each contract's trades in time order.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

from trades.domain.calendar import NEW_YORK
from trades.domain.flat_files import day_key, day_of
from trades.feed.history import History
from trades.feed.source import is_trade

BUCKET = "flatfiles"
COLUMNS = ("ticker", "conditions", "correction", "exchange", "participant_timestamp", "price", "sip_timestamp", "size")
NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class S3Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class FlatFiles:
    def __init__(self, history: History, access_key: str, bucket: str = BUCKET) -> None:
        self.history = history
        self.access_key = access_key
        self.bucket = bucket
        self.revisions: dict[date, int] = {}
        self._files: dict[tuple[date, int], bytes] = {}
        self.requests = 0

    def republish(self, day: date) -> None:
        """Publish the day's file again: the same trades, a new ETag."""
        self.revisions[day] = self.revisions.get(day, 0) + 1

    def serves(self, path: str) -> bool:
        return path == f"/{self.bucket}" or path.startswith(f"/{self.bucket}/")

    def handle(self, target: str, authorization: str | None) -> S3Response:
        self.requests += 1
        parts = urlsplit(target)
        if authorization is None or f"Credential={self.access_key}/" not in authorization:
            return error(403, "AccessDenied", "Access Denied")
        key = unquote(parts.path.removeprefix(f"/{self.bucket}").lstrip("/"))
        if not key:
            return self.list_objects(dict(parse_qsl(parts.query)))
        day = day_of(key)
        if day is None or not self.history.covers(day):
            return error(404, "NoSuchKey", "The specified key does not exist.")
        body = self.file(day)
        headers = (
            ("Content-Type", "application/x-gzip"),
            ("Content-Length", str(len(body))),
            ("ETag", etag(body)),
            ("Last-Modified", format_datetime(published(day).astimezone(UTC), usegmt=True)),
        )
        return S3Response(200, headers, body)

    def list_objects(self, query: dict[str, str]) -> S3Response:
        prefix = query.get("prefix", "")
        days = [day for day in self.history.days if day_key(day).startswith(prefix)]
        contents = "".join(self.listed(day) for day in days)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{self.bucket}</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(days)}</KeyCount>"
            f"<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
        ).encode()
        return S3Response(200, (("Content-Type", "application/xml"), ("Content-Length", str(len(body)))), body)

    def listed(self, day: date) -> str:
        body = self.file(day)
        return (
            f"<Contents><Key>{escape(day_key(day))}</Key><LastModified>{published(day).isoformat()}</LastModified>"
            f"<ETag>{escape(etag(body))}</ETag><Size>{len(body)}</Size><StorageClass>STANDARD</StorageClass></Contents>"
        )

    def file(self, day: date) -> bytes:
        revision = self.revisions.get(day, 0)
        if (day, revision) not in self._files:
            self._files[(day, revision)] = day_file(self.history, day, revision)
        return self._files[(day, revision)]


def day_file(history: History, day: date, revision: int = 0) -> bytes:
    """The day's trades as Polygon's flat file (a new ``revision``: the same rows, other bytes)."""
    by_contract: dict[str, list[dict[str, Any]]] = {}
    for frame in history.tape(day).frames:
        for event in frame.items():
            if is_trade(event):
                by_contract.setdefault(event["sym"], []).append(event)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for symbol in sorted(by_contract):
        for event in sorted(by_contract[symbol], key=lambda event: event["t"]):  # stable: emission order kept
            sip_ns = event["t"] * NS_PER_MS
            codes = ",".join(map(str, event.get("c") or ()))
            writer.writerow((symbol, codes, 0, event["x"], sip_ns, event["p"], sip_ns, event["s"]))
    # gzip's header holds a time: the revision, so a republished file has other bytes and ETag.
    return gzip.compress(text.getvalue().encode(), mtime=revision)


def etag(body: bytes) -> str:
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def published(day: date) -> datetime:
    """Flat files come out the next morning."""
    return datetime.combine(day + timedelta(days=1), time(11), tzinfo=NEW_YORK)


def error(status: int, code: str, message: str) -> S3Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return S3Response(status, (("Content-Type", "application/xml"), ("Content-Length", str(len(body)))), body.encode())
