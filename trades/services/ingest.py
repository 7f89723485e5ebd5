"""Judge a batch of raw Polygon frames and store the hits, idempotently.

The path of a batch: parse the frames (orjson) → drop status events, count malformed
items → rules that need only the trade → for the few survivors, one query each for
contracts and underlyings → all rules again with the reference data → insert the hits
by natural key, so a redelivered batch stores nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from trades.domain.calendar import utc_datetime
from trades.domain.rules import (
    InvalidTrade,
    Profile,
    Reference,
    Trade,
    is_too_small,
    matching_profiles,
    parse_trade,
    passes_trade_rules,
    with_contract,
)
from trades.models import OptionContract, OptionTrade, TradeMatch, TradeSource, Underlying
from trades.services.flow_rules import FlowRules, current_flow_rules

logger = logging.getLogger(__name__)

# Rejected items are logged one by one up to this many per batch, then summarised.
MAX_REJECTIONS_LOGGED = 20


@dataclass
class IngestReport:
    trades: int = 0  # trade events seen
    status: int = 0  # status events (the listener logs them)
    ignored: int = 0  # other event types (quotes, aggregates) on a shared channel
    rejected: int = 0  # malformed frames and items, each logged
    candidates: int = 0  # passed the trade-only rules
    hits: int = 0  # passed every rule of at least one profile
    stored: int = 0  # hits new to the database (hits - stored were already there)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    trade: Trade
    reference: Reference
    profiles: list[Profile]


def ingest_frames(
    frames: list[str], source: str = TradeSource.LIVE, received_at: datetime | None = None
) -> IngestReport:
    if source not in TradeSource.values:
        raise ValueError(f"unknown trade source {source!r}; expected one of {TradeSource.values}")
    report = IngestReport()
    rules = current_flow_rules()
    candidates = _candidates(_trade_events(frames, report), rules, report)
    hits = _judge_with_reference(candidates, rules.profiles)
    report.candidates, report.hits = len(candidates), len(hits)
    if hits:
        stored = store_hits(hits, source, received_at or timezone.now())
        report.stored = len(stored)
        for hit in stored:
            logger.info(hit_line(hit))
    if report.rejected > MAX_REJECTIONS_LOGGED:
        logger.warning(
            "rejected %d malformed items in this batch (first %d logged)", report.rejected, MAX_REJECTIONS_LOGGED
        )
    return report


def hit_line(hit: Hit) -> str:
    trade = hit.trade
    names = ", ".join(profile.name for profile in hit.profiles)
    return f"💰 Smart Money: {trade.symbol} ${trade.premium:.0f} premium, {trade.dte} DTE [{names}]"


def _reject(report: IngestReport, reason: str, item: object) -> None:
    report.rejected += 1
    if report.rejected <= MAX_REJECTIONS_LOGGED:
        logger.warning("rejected: %s: %.300r", reason, item)


def _trade_events(frames: list[str], report: IngestReport) -> Iterator[dict]:
    """Every trade event of the batch; everything else is counted (and logged if malformed)."""
    if not isinstance(frames, list):
        _reject(report, "batch is not a list of frames", frames)
        return
    for frame in frames:
        try:
            events = orjson.loads(frame)
        except (orjson.JSONDecodeError, TypeError) as exc:
            _reject(report, f"frame is not JSON ({exc})", frame)
            continue
        if type(events) is not list:
            _reject(report, "frame is not a JSON array", frame)
            continue
        for event in events:
            kind = event.get("ev") if type(event) is dict else None
            if kind == "T":
                report.trades += 1
                yield event
            elif kind == "status":
                report.status += 1
            elif isinstance(kind, str):
                report.ignored += 1
            else:
                _reject(report, "event without an 'ev' type", event)


def _candidates(events: Iterator[dict], rules: FlowRules, report: IngestReport) -> list[Trade]:
    """Trades that pass the trade-only rules of at least one profile."""
    profiles, roots, floor = rules.profiles, rules.roots, rules.price_size_floor
    candidates = []
    for event in events:
        if floor is not None and is_too_small(event, floor):
            continue  # most prints: too small for any profile, no need to parse the rest
        try:
            trade = parse_trade(event, roots)
        except InvalidTrade as exc:
            _reject(report, str(exc), event)
            continue
        for profile in profiles:
            if passes_trade_rules(trade, profile):
                candidates.append(trade)
                break
    return candidates


def _judge_with_reference(candidates: list[Trade], profiles: list[Profile]) -> list[Hit]:
    """All rules again, now with each contract's underlying, multiplier, open interest and spot."""
    if not candidates:
        return []
    contracts = {
        row["symbol"]: row
        for row in OptionContract.objects.filter(symbol__in={trade.symbol for trade in candidates}).values(
            "symbol", "underlying", "shares_per_contract", "open_interest"
        )
    }
    trades = [_as_contract_says(trade, contracts.get(trade.symbol)) for trade in candidates]
    underlyings = {
        row["ticker"]: row
        for row in Underlying.objects.filter(ticker__in={trade.underlying for trade in trades}).values(
            "ticker", "spot", "strike_min", "strike_max"
        )
    }
    hits = []
    for trade in trades:
        reference = _reference(contracts.get(trade.symbol), underlyings.get(trade.underlying))
        matched = matching_profiles(trade, profiles, reference)
        if matched:
            hits.append(Hit(trade, reference, matched))
    return hits


def _as_contract_says(trade: Trade, contract: Mapping[str, Any] | None) -> Trade:
    if contract is None:
        return trade
    return with_contract(trade, contract["underlying"], contract["shares_per_contract"])


def _reference(contract: Mapping[str, Any] | None, underlying: Mapping[str, Any] | None) -> Reference:
    def optional_float(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return Reference(
        open_interest=contract["open_interest"] if contract else None,
        spot=optional_float(underlying["spot"]) if underlying else None,
        strike_min=optional_float(underlying["strike_min"]) if underlying else None,
        strike_max=optional_float(underlying["strike_max"]) if underlying else None,
    )


def store_hits(hits: list[Hit], source: str, received_at: datetime) -> list[Hit]:
    """Insert the hits that are not stored yet, with their profile matches; return those."""
    by_key = {hit.trade.key: hit for hit in hits}  # a batch may carry the same trade twice
    with transaction.atomic():
        already = set(OptionTrade.objects.filter(trade_key__in=by_key).values_list("trade_key", flat=True))
        new_hits = [hit for key, hit in by_key.items() if key not in already]
        OptionTrade.objects.bulk_create(
            [_trade_row(hit, source, received_at) for hit in new_hits], ignore_conflicts=True
        )
        ids = dict(OptionTrade.objects.filter(trade_key__in=by_key).values_list("trade_key", "id"))
        TradeMatch.objects.bulk_create(
            [
                TradeMatch(trade_id=ids[key], profile_id=profile.id)
                for key, hit in by_key.items()
                for profile in hit.profiles
            ],
            ignore_conflicts=True,
        )
    return new_hits


def _trade_row(hit: Hit, source: str, received_at: datetime) -> OptionTrade:
    trade, option, reference = hit.trade, hit.trade.option, hit.reference
    return OptionTrade(
        trade_key=trade.key,
        symbol=trade.symbol,
        underlying=trade.underlying,
        root=option.root,
        expiry=option.expiry,
        right=option.right,
        strike=option.strike,
        price=Decimal(repr(trade.price)),
        size=trade.size,
        shares_per_contract=trade.shares_per_contract,
        premium=Decimal(f"{trade.premium:.2f}"),
        dte=trade.dte,
        exchange=trade.exchange,
        conditions=list(trade.conditions),
        sequence=trade.sequence,
        sip_timestamp=trade.sip_timestamp,
        traded_at=utc_datetime(trade.sip_timestamp),
        open_interest=reference.open_interest,
        spot=None if reference.spot is None else Decimal(repr(reference.spot)),
        source=source,
        received_at=received_at,
    )
