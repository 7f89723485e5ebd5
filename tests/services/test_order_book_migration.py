"""Migrations of the order closer's log. 0017: a deployed database's open prints go to the log the
new closer builds its book from, so no print kept before the upgrade is lost to grouping. 0018:
batches consumed before it were counted when consumed, and are marked so (their counts are not
added again)."""

from decimal import Decimal

import orjson
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("trades", "0016_kept_print_settled")]
AFTER = [("trades", "0017_order_book")]


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def kept(apps, identity, order_id, source="live"):
    return apps.get_model("trades", "KeptPrint").objects.create(
        identity=identity,
        symbol="O:NVDA251219C00150000",
        underlying="NVDA",
        trade_date="2025-12-05",
        ts_ns=1_764_948_606_000_000_000,
        sequence=7,
        exchange=302,
        price=Decimal("5.0000"),
        size=100,
        conditions=[209],
        shares_per_contract=100,
        kind="regular",
        source=source,
        order_id=order_id,
    )


def test_open_prints_are_logged_for_the_closer_and_prints_of_no_stored_order_go():
    old = migrate(BEFORE)
    kept(old, "open", "")
    kept(old, "in-a-stored-order", "stored")
    kept(old, "in-an-order-never-stored", "never")
    Order = old.get_model("trades", "Order")
    Order.objects.create(
        order_id="stored",
        symbol="O:NVDA251219C00150000",
        underlying="NVDA",
        expiry="2025-12-19",
        right="C",
        strike=Decimal(150),
        type="BLOCK",
        prints=1,
        size=100,
        premium=Decimal(50_000),
        vwap=Decimal(5),
        dte=14,
        first_ts_ns=1,
        last_ts_ns=1,
        traded_at="2025-12-05T15:30:00Z",
        received_at="2025-12-05T15:30:00Z",
    )
    try:
        new = migrate(AFTER)
        (batch,) = new.get_model("trades", "PrintBatch").objects.all()
        logged = orjson.loads(batch.prints)
        assert logged["prints"] == [
            ["O:NVDA251219C00150000", 1_764_948_606_000_000_000, 7, 302, "5.0000", 100, [209], 100]
        ]
        assert (logged["underlyings"], batch.source, batch.consumed) == (
            {"O:NVDA251219C00150000": "NVDA"},
            "live",
            False,
        )
        identities = set(new.get_model("trades", "KeptPrint").objects.values_list("identity", flat=True))
        assert identities == {"in-a-stored-order"}
    finally:
        migrate(latest())


def test_batches_consumed_before_0018_count_as_counted():
    old = migrate(AFTER)
    PrintBatch = old.get_model("trades", "PrintBatch")
    PrintBatch.objects.create(digest="consumed", prints=b"{}", consumed=True)
    PrintBatch.objects.create(digest="waiting", prints=b"{}", consumed=False)
    try:
        new = migrate([("trades", "0018_print_batch_counted")])
        counted = dict(new.get_model("trades", "PrintBatch").objects.values_list("digest", "counted"))
        assert counted == {"consumed": True, "waiting": False}
    finally:
        migrate(latest())
