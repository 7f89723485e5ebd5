"""Celery task and queue names: the one place they are written (tasks, routes, beat, the
publisher, health and the demo read them here). No Django or Celery imports: the settings read it.
"""

from __future__ import annotations

# Queues, each with its own backlog (Flower, /healthz): batches of trades, beat's order-closing
# ticks, Polygon REST work, webhook deliveries, and anything not routed.
DEFAULT = "default"
INGEST = "ingest"
ORDERS = "orders"
REFERENCE = "reference"
WEBHOOKS = "webhooks"
BACKFILL = "backfill"  # its own queue: days of history never hold up the live stream's work
QUEUES = (DEFAULT, INGEST, ORDERS, REFERENCE, WEBHOOKS, BACKFILL)

# Tasks.
INGEST_BATCH = "trades.ingest_batch"
RESOLVE_CONTRACTS = "trades.resolve_contracts"
REFRESH_CONDITIONS = "trades.refresh_conditions"
REFRESH_CONTRACTS = "trades.refresh_contracts"
REFRESH_OPEN_INTEREST = "trades.refresh_open_interest"
REFRESH_SPOT = "trades.refresh_spot"
FILL_GAP = "trades.fill_gap"
SWEEP_GAPS = "trades.sweep_gaps"
CLOSE_ORDERS = "trades.close_orders"
JUDGE_ORDERS = "trades.judge_orders"
PURGE_KEPT_PRINTS = "trades.purge_kept_prints"
DELIVER_WEBHOOK = "trades.deliver_webhook"
SWEEP_WEBHOOKS = "trades.sweep_webhooks"
BACKFILL_UNIT = "trades.backfill_unit"
REFRESH_OUTCOMES = "trades.refresh_outcomes"
SEND_DIGESTS = "trades.send_digests"
REFRESH_DIVIDENDS = "trades.refresh_dividends"

# Which queue each task goes to.
ROUTES = {
    INGEST_BATCH: INGEST,
    CLOSE_ORDERS: ORDERS,  # its own queue: a tick does not wait behind a backlog of batches
    JUDGE_ORDERS: REFERENCE,  # a quote look-up per order: REST work, off the ingest path
    PURGE_KEPT_PRINTS: DEFAULT,
    RESOLVE_CONTRACTS: REFERENCE,
    REFRESH_CONDITIONS: REFERENCE,
    REFRESH_CONTRACTS: REFERENCE,
    REFRESH_OPEN_INTEREST: REFERENCE,
    REFRESH_SPOT: REFERENCE,
    FILL_GAP: REFERENCE,
    SWEEP_GAPS: REFERENCE,
    DELIVER_WEBHOOK: WEBHOOKS,
    SWEEP_WEBHOOKS: WEBHOOKS,
    BACKFILL_UNIT: BACKFILL,
    REFRESH_OUTCOMES: REFERENCE,
    SEND_DIGESTS: WEBHOOKS,
    REFRESH_DIVIDENDS: REFERENCE,
}
