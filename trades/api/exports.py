"""A filtered range of hits as a file: CSV (streamed as it is read) or Parquet (pyarrow, typed
columns: a timestamp, a date, numbers, booleans), oldest first, one flat row per order."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from itertools import islice
from typing import Any

from django.http import FileResponse, StreamingHttpResponse

from trades.selectors.flow import EXPORT_COLUMNS, FlowFilter, export_rows

_FLOAT = ("strike", "premium", "vwap", "bid", "ask", "signed_premium", "vol_oi")
_INT = ("size", "prints", "open_interest", "dte")
_BOOL = ("opening", "golden", "iso", "repeated_hits")


def csv_response(wanted: FlowFilter, limit: int, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv_lines(wanted, limit), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


class _Line:
    """csv.writer writes into this and we hand each line on (Django's streaming CSV recipe)."""

    def write(self, text: str) -> str:
        return text


def _csv_lines(wanted: FlowFilter, limit: int) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_COLUMNS)
    for row in _limited(wanted, limit):
        yield writer.writerow(["" if row[column] is None else row[column] for column in EXPORT_COLUMNS])


def parquet_response(wanted: FlowFilter, limit: int, filename: str) -> FileResponse:
    import pyarrow as pa  # imported here: a second of start-up the rest of the site does not need
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(column, _arrow_type(pa, column)) for column in EXPORT_COLUMNS])
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    with pq.ParquetWriter(spool, schema, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []
        for row in _limited(wanted, limit):
            batch.append(_typed(row))
            if len(batch) == 10_000:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    spool.seek(0)
    return FileResponse(
        spool, as_attachment=True, filename=f"{filename}.parquet", content_type="application/vnd.apache.parquet"
    )


def _arrow_type(pa: Any, column: str) -> Any:
    if column == "timestamp":
        return pa.timestamp("ms", tz="UTC")
    if column == "expiry":
        return pa.date32()
    if column in _FLOAT:
        return pa.float64()
    if column in _INT:
        return pa.int64()
    if column in _BOOL:
        return pa.bool_()
    return pa.string()


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "timestamp": datetime.fromisoformat(row["timestamp"]),
        "expiry": date.fromisoformat(row["expiry"]),
    }


def _limited(wanted: FlowFilter, limit: int) -> Iterator[dict[str, Any]]:
    rows = (row for chunk in export_rows(wanted) for row in chunk)
    return islice(rows, limit)
