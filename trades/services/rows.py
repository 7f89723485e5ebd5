"""Many rows in one statement: what a batch of the firehose writes.

The ORM's bulk_create prepares every value of every row in Python, and a statement with thousands
of placeholders costs the driver more to parse than the database to run. On PostgreSQL the rows
therefore go as one array per column (``unnest``): a short statement whatever the number of rows.
SQLite (the embedded default, for a demo's few hundred trades a second) gets a multi-row VALUES
list.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Model

# Parameters per SQLite statement: under its limit of 32,766.
MAX_PARAMETERS = 30_000

Column = tuple[str, str]  # (name, SQL type: "text", "bigint", "date", "numeric", "jsonb", ...)


def insert(table: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]], tail: str = "") -> list[tuple]:
    """``INSERT INTO table (columns) <rows> <tail>``; ``tail`` may hold ON CONFLICT and RETURNING."""
    if not rows:
        return []
    names = ", ".join(name for name, _ in columns)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{kind}[]" for _, kind in columns)
        return execute(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {tail}", _by_column(rows))
    found = []
    for chunk in _chunks(rows, len(columns)):
        listed, params = _values(chunk, columns)
        found += execute(f"INSERT INTO {table} ({names}) VALUES {listed} {tail}", params)
    return found


def insert_instances(instances: Sequence[Model], tail: str = "") -> list[tuple]:
    """Model instances (of one model) as rows, each value prepared as the ORM prepares it; an auto
    primary key is left to the database."""
    if not instances:
        return []
    meta = instances[0]._meta
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    columns = [
        (connection.ops.quote_name(field.column or field.name), field.db_type(connection) or "text") for field in fields
    ]
    # On PostgreSQL the driver takes most values as they are; the rest go through the ORM's preparing.
    native = connection.vendor == "postgresql"
    prepared = [not (native and field.get_internal_type() in _NATIVE_ON_POSTGRESQL) for field in fields]
    values = [
        [
            field.get_db_prep_save(field.pre_save(instance, True), connection)
            if prepare
            else field.pre_save(instance, True)
            for field, prepare in zip(fields, prepared, strict=True)
        ]
        for instance in instances
    ]
    return insert(meta.db_table, columns, values, tail)


# Field types whose Python values psycopg sends as the ORM would (decimals are rounded by the ORM,
# JSON encoded: those are prepared).
_NATIVE_ON_POSTGRESQL = frozenset(
    {
        "CharField",
        "TextField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "BooleanField",
        "DateField",
        "DateTimeField",
    }
)


def execute(sql: str, params: list[Any]) -> list[tuple]:
    if connection.vendor == "postgresql":
        # Django's psycopg cursors bind parameters on the client, quoting each array element into the
        # statement's text; a plain psycopg cursor sends the arrays apart, in binary.
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as raw:
            raw.execute(sql, params)
            return list(raw.fetchall()) if raw.description else []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def _by_column(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)]


def _values(rows: Sequence[Sequence[Any]], columns: Sequence[Column]) -> tuple[str, list[Any]]:
    """``(CAST(%s AS bigint), %s), (...)``, and the parameters in order."""
    one = "(" + ", ".join(f"CAST(%s AS {kind})" if kind in _CAST_IN_SQLITE else "%s" for _, kind in columns) + ")"
    return ", ".join([one] * len(rows)), [value for row in rows for value in row]


# SQLite takes text, JSON, blobs, dates and timestamps as they are bound (ISO text, as Django stores
# them); numbers are cast. (A date cast is a number there: CAST('2026-12-19' AS date) is 2026.)
_CAST_IN_SQLITE = frozenset({"bigint", "integer", "numeric", "boolean"})


def _chunks(rows: Sequence[Sequence[Any]], width: int) -> Iterator[Sequence[Sequence[Any]]]:
    size = max(1, MAX_PARAMETERS // max(width, 1))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
