"""What a backfill stored, for comparing runs (trades/selectors/fingerprints.py), and a clean slate."""

from __future__ import annotations

from trades.ops.backfill_bench import forget_stored
from trades.selectors.fingerprints import hit_fingerprints as stored_hits
from trades.selectors.fingerprints import order_fingerprints as stored_orders

__all__ = ["forget_stored", "stored_hits", "stored_orders"]
