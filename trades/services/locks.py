"""Transaction-scoped locks on names (PostgreSQL advisory locks; SQLite writes one at a time anyway)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import connection


def lock_names(namespace: str, names: Iterable[str]) -> None:
    """Wait for, then hold until the transaction ends, a lock per name. Taken in one sorted
    statement, so two transactions locking overlapping names never deadlock."""
    if connection.vendor != "postgresql":
        return
    lock_ids = sorted({lock_id(f"{namespace}:{name}") for name in names})
    if not lock_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(id) FROM unnest(%s::bigint[]) AS id", [lock_ids])


def lock_id(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def try_lock(name: str) -> bool:
    """Take, if no other transaction holds it, a lock on ``name`` until the transaction ends."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id(name)])
        return bool(cursor.fetchone()[0])
