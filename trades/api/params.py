"""The API's query parameters, declared once as pydantic models (django-ninja validates them,
answers 400 naming a bad one, and writes them into the OpenAPI schema)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Field, Schema
from ninja.errors import ValidationError
from pydantic import BeforeValidator, ValidationInfo, field_validator

from trades.domain.calendar import NEW_YORK
from trades.domain.cursor import Cursor, decode_cursor
from trades.domain.orders import OrderType
from trades.domain.side import Sentiment
from trades.selectors.flow import FlowFilter, Rule

MAX_LIMIT = 1000
MAX_TICKERS = 100
TICKER_PATTERN = r"[A-Z][A-Z0-9.]{0,15}"


class Strict(Schema):
    """Parameters of one endpoint; `known_only` refuses any other (a misspelt filter is an error,
    not a filter silently left out)."""


def known_only(request: HttpRequest, schema: type[Strict]) -> None:
    """Refuse a query parameter ``schema`` does not declare, with a 400 naming it."""
    unknown = sorted(set(request.GET) - set(schema.model_fields))
    if unknown:
        raise ValidationError(
            [{"loc": ("query", name), "msg": "is not a parameter of this endpoint"} for name in unknown]
        )


def _digits_only(value: object) -> object:
    # pydantic's lax int would also take " 5", "+5", "1_000" and "5.0": a count is plain digits.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number written in digits")
    return value


def _ticker(value: object) -> object:
    """Any case, spaces around ignored; blank: no filter."""
    if not isinstance(value, str):
        return value
    value = value.strip().upper()
    if value and not re.fullmatch(TICKER_PATTERN, value):
        raise ValueError(f"not a ticker: {value!r}")
    return value or None


Count = Annotated[int, BeforeValidator(_digits_only)]
Ticker = Annotated[str | None, BeforeValidator(_ticker)]


class Newest(Strict):
    """The newest hits: how many, of which underlying."""

    limit: Count = Field(10, ge=1, le=MAX_LIMIT, description="How many, 1 to 1000.")
    ticker: Ticker = Field(None, description="One underlying, any case.")


class NewestOrders(Newest):
    type: OrderType | None = Field(None, description="An order type, any case.")

    @field_validator("type", mode="before")
    @classmethod
    def _upper_type(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class Flow(Strict):
    """Which order hits: every parameter narrows; none given is every hit."""

    ticker: str | None = Field(None, description="Underlyings, comma-separated, any case: NVDA,AAPL.")
    since: datetime | None = Field(
        None, description="First print at or after: ISO 8601; without a zone, New York time (2026-12-02T09:30)."
    )
    until: datetime | None = Field(None, description="First print before (same forms as since).")
    type: OrderType | None = Field(None, description="Order type: SWEEP, BLOCK, SPLIT, SINGLE (any case).")
    side: Literal["CALL", "PUT"] | None = Field(None, description="CALL or PUT (any case).")
    sentiment: Sentiment | None = Field(None, description="BULLISH, BEARISH or NEUTRAL (any case).")
    opening: bool | None = Field(None, description="true: opening orders only (size above open interest and volume).")
    min_premium: Decimal | None = Field(None, ge=0, description="Dollars.")
    dte_min: Count | None = Field(None, ge=0, description="Days to expiry, at least.")
    dte_max: Count | None = Field(None, ge=0, description="Days to expiry, at most.")
    profile: str | None = Field(None, max_length=100, description="Matched this filter profile (its name).")
    rule: Rule | None = Field(None, description="Flagged: golden, iso, repeated, above_oi or unusual.")

    @field_validator("type", "side", "sentiment", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("rule", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("ticker")
    @classmethod
    def _tickers(cls, value: str | None) -> str | None:
        if value is None:
            return None
        tickers = [_ticker(each) for each in value.split(",")]
        if len(tickers) > MAX_TICKERS:
            raise ValueError(f"give at most {MAX_TICKERS} underlyings")
        return ",".join(str(each) for each in tickers if each) or None

    @field_validator("since", "until")
    @classmethod
    def _new_york(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=NEW_YORK)
        since = info.data.get("since")
        if info.field_name == "until" and value is not None and since is not None and value <= since:
            raise ValueError("must be after since")
        return value

    @field_validator("dte_max")
    @classmethod
    def _dte_range(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("dte_min")
        if value is not None and low is not None and value < low:
            raise ValueError("must be at least dte_min")
        return value

    def to_filter(self) -> FlowFilter:
        return FlowFilter(
            tickers=tuple(self.ticker.split(",")) if self.ticker else (),
            since=self.since,
            until=self.until,
            order_type=self.type,
            side=self.side,
            sentiment=self.sentiment,
            opening=self.opening,
            min_premium=self.min_premium,
            dte_min=self.dte_min,
            dte_max=self.dte_max,
            profile=self.profile,
            rule=self.rule,
        )


class FlowPage(Flow):
    limit: Count = Field(50, ge=1, le=MAX_LIMIT, description="Hits per page, 1 to 1000.")
    cursor: str | None = Field(None, description="next_cursor of the page before: the hits older than its last.")

    @field_validator("cursor")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)  # InvalidCursor is a ValueError: a 400 naming cursor
        return value

    def after(self) -> Cursor | None:
        return None if self.cursor is None else decode_cursor(self.cursor)


class Export(Flow):
    limit: Count = Field(100_000, ge=1, le=1_000_000, description="At most this many rows, oldest first.")


class Day(Strict):
    day: date | None = Field(
        None, description="A New York date; default: the newest day with hits (of the ticker, where there is one)."
    )


class Backtest(Strict):
    profile: str = Field(..., max_length=100, description="A filter profile's name.")
    days: Count = Field(20, ge=1, le=250, description="Trading days back from today.")


class Analogs(Strict):
    limit: Count = Field(20, ge=1, le=200, description="How many analogs to list (the cohort counts all).")
