"""flowsite's tables: what to watch, what we know about contracts, and the stored hits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from trades.domain import conditions
from trades.domain.formatting import plural, short_new_york_time
from trades.domain.noise import REASONS, Noise
from trades.domain.occ import DEFAULT_SHARES_PER_CONTRACT
from trades.domain.orders import OrderType, PricePath, Subtype
from trades.domain.side import Aggressor, Sentiment

# A ticker as watchlists and the reference data hold it: AAPL, BRK.B, SPX (or Polygon's I:SPX), at
# most the 16 characters of the ticker columns. On a watchlist, * stands for every underlying.
TICKER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9.:/-]{0,15}"
validate_ticker = RegexValidator(
    rf"\A(?:\*|{TICKER_PATTERN})\Z",
    "Enter a ticker: 1-16 letters, digits, '.', '-', '/' or ':' (e.g. AAPL, BRK.B), or * for every underlying.",
)
ONE_CHANNEL = "Enter one channel, e.g. T.* or T.O:AAPL251220C00190000 (no commas or spaces)."


def validate_channel(value: str) -> None:
    """The listener joins the channels with commas: one row must be one channel, 1-64 printable
    characters (no NUL, which PostgreSQL refuses, nor an unpaired surrogate) without spaces."""
    if not 1 <= len(value) <= 64 or "," in value or any(char.isspace() for char in value) or not value.isprintable():
        raise ValidationError(ONE_CHANNEL)


MAX_CONDITION_CODE = 2_147_483_647  # OptionCondition.code: a PositiveIntegerField
CONDITION_CODES = "Give a JSON list of condition codes (whole numbers), e.g. [233, 234]."


def validate_condition_code(code: object) -> None:
    if type(code) is not int or code < 0:  # bool is an int subclass; true is not a code
        raise ValidationError(CONDITION_CODES)
    if code > MAX_CONDITION_CODE:
        raise ValidationError(f"Condition codes are at most {MAX_CONDITION_CODE}.")


def validate_condition_codes(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError(CONDITION_CODES)
    for code in value:
        validate_condition_code(code)


# The rules of a profile and an endpoint, written once: the admin's forms and `flowconfig import`
# both apply them (ModelForm, full_clean), so both refuse the same values with the same words.
NEGATIVE_PREMIUM = "The minimum premium is in dollars and cannot be negative."
HTTP_ONLY = "Use an http:// or https:// URL."


def validate_http_scheme(value: str) -> None:
    """http(s) only; the URL field's own validator judges the rest (and would take ftp://)."""
    scheme, separator, _ = value.partition("://")
    if separator and scheme.lower() not in ("http", "https"):
        raise ValidationError(HTTP_ONLY)


def validate_strike_band(value: Decimal) -> None:
    if not 0 < value <= 1:
        raise ValidationError(
            "The strike band is a fraction of the strike range: more than 0 and at most 1 (0.400 is 40%)."
        )


def validate_fraction(value: Decimal) -> None:
    if not 0 <= value <= 1:
        raise ValidationError("A share is a fraction from 0 to 1 (0.25 is 25%).")


def validate_webhook_secret(value: str) -> None:
    from trades.webhooks.signing import check_secret

    try:
        check_secret(value)
    except ValueError as exc:
        raise ValidationError(f"{exc} (whsec_ and the base64 of the key; the secret itself is never shown)") from None


class Judges(models.TextChoices):
    PRINTS = "prints", "Each print alone"
    ORDERS = "orders", "Orders: sweeps, splits, blocks (FLOW.md)"


class OpeningRule(models.TextChoices):
    ANY = "", "Any"
    OPENING = "opening", "Opening (size > OI − volume before)"
    STRICT = "strict", "Strictly opening (size > OI + volume before)"


ORDER_TYPES = [(kind.value, kind.value.replace("_", "-").capitalize()) for kind in OrderType]
AGGRESSORS = [(kind.value, kind.value.capitalize()) for kind in Aggressor]
SENTIMENTS = [(kind.value, kind.value.capitalize()) for kind in Sentiment]


@deconstructible
class ChoiceList:
    """Validates a JSON list of some of ``allowed`` (empty: any)."""

    def __init__(self, allowed: list[str], what: str) -> None:
        self.allowed, self.what = allowed, what

    def __call__(self, value: object) -> None:
        if not isinstance(value, list) or any(item not in self.allowed for item in value):
            raise ValidationError(f"Give a list of {self.what}, each one of {', '.join(self.allowed)} (empty: any).")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChoiceList) and (self.allowed, self.what) == (other.allowed, other.what)


validate_order_types = ChoiceList([value for value, _ in ORDER_TYPES], "order types")
validate_aggressors = ChoiceList([value for value, _ in AGGRESSORS], "aggressors")
validate_sentiments = ChoiceList([value for value, _ in SENTIMENTS], "sentiments")


def default_excluded_conditions() -> list[int]:
    return []  # the default groups (cancelled, late) are excluded through exclude_categories


def default_excluded_categories() -> list[str]:
    return list(conditions.DEFAULT_EXCLUDED_GROUPS)


class Watchlist(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name

    @property
    def symbols(self) -> list[str]:
        return [ticker.symbol for ticker in self.tickers.all()]


class WatchedTicker(models.Model):
    """One underlying on a watchlist; ``*`` stands for every underlying."""

    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="tickers")
    symbol = models.CharField(
        max_length=16, validators=[validate_ticker], help_text="Underlying ticker, e.g. AAPL, SPX, BRK.B; * for all."
    )

    class Meta:
        ordering = ["symbol"]
        constraints = [models.UniqueConstraint(fields=["watchlist", "symbol"], name="unique_ticker_per_watchlist")]

    def __str__(self) -> str:
        return self.symbol


class FilterProfile(models.Model):
    """One set of rules. A null bound is off; a trade is a hit if it passes every enabled rule."""

    name = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    enabled = models.BooleanField(default=True)
    watchlist = models.ForeignKey(Watchlist, on_delete=models.PROTECT, related_name="profiles")
    min_premium = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0), message=NEGATIVE_PREMIUM)],
        help_text="Dollars: price × size × shares per contract.",
    )
    min_size = models.PositiveIntegerField(null=True, blank=True, help_text="Contracts.")
    min_dte = models.PositiveIntegerField(null=True, blank=True, help_text="Days to expiry, inclusive.")
    max_dte = models.PositiveIntegerField(null=True, blank=True, help_text="Days to expiry, inclusive.")
    size_gt_open_interest = models.BooleanField(
        default=False, help_text="Trade size strictly greater than the contract's open interest."
    )
    strike_band = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[validate_strike_band],
        help_text="Fraction 0–1 of the listed strike range, centred on the spot price (0.40 is usual).",
    )
    exclude_categories = models.JSONField(
        default=default_excluded_categories,
        blank=True,
        help_text="Condition groups that never make a hit: cancelled, late, multi_leg, stock_option. "
        "Their codes come from Polygon's live condition list once it is loaded.",
    )
    exclude_conditions = models.JSONField(
        default=default_excluded_conditions,
        blank=True,
        validators=[validate_condition_codes],
        help_text="Further condition codes that never make a hit.",
    )
    judges = models.CharField(
        max_length=10,
        choices=Judges.choices,
        default=Judges.PRINTS,
        help_text="Prints: each print alone, as it arrives. Orders: the order behind the prints (a sweep of twenty "
        "prints is one order); premium and size then apply to the order's totals.",
    )
    order_types = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_order_types],
        help_text="Orders of these types only (empty: any).",
    )
    golden_only = models.BooleanField(
        default=False, help_text="Golden sweeps only: a sweep of $1M or more, bought at or above the ask."
    )
    iso_only = models.BooleanField(default=False, help_text="Orders with an intermarket-sweep (ISO) print only.")
    aggressors = models.JSONField(
        default=list, blank=True, validators=[validate_aggressors], help_text="Aggressor against the NBBO (empty: any)."
    )
    sentiments = models.JSONField(
        default=list, blank=True, validators=[validate_sentiments], help_text="Sentiment (empty: any)."
    )
    opening = models.CharField(
        max_length=10,
        choices=OpeningRule.choices,
        default=OpeningRule.ANY,
        blank=True,
        help_text="Opening orders only.",
    )
    min_vol_oi = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0), message="The volume / open interest ratio cannot be negative.")],
        help_text="(Day volume before the order + its size) / open interest, at least.",
    )
    repeated_hits_only = models.BooleanField(
        default=False, help_text="Orders holding a burst of repeated hits only (more than 5 prints ≤ 100 ms apart)."
    )
    min_strike_multiple = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0), message="The multiple cannot be negative.")],
        help_text="The strike's premium in the 30 minutes up to the order, at least this many times its usual "
        "then (same time of day, past 20 trading days).",
    )
    min_strike_share = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[validate_fraction],
        help_text="The strike's share (0–1) of its underlying's option premium in those 30 minutes, at least.",
    )
    min_share_of_daily_premium = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[validate_fraction],
        help_text="The order's premium, as a fraction (0–1) of its underlying's average daily option premium "
        "(past 20 trading days), at least: a threshold that scales with the name.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    ORDER_RULES = (
        "order_types",
        "golden_only",
        "iso_only",
        "aggressors",
        "sentiments",
        "opening",
        "min_vol_oi",
        "repeated_hits_only",
        "min_strike_multiple",
        "min_strike_share",
        "min_share_of_daily_premium",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_dte__isnull=True)
                | models.Q(max_dte__isnull=True)
                | models.Q(min_dte__lte=models.F("max_dte")),
                name="profile_min_dte_le_max_dte",
            ),
            models.CheckConstraint(
                condition=models.Q(strike_band__isnull=True) | models.Q(strike_band__gt=0, strike_band__lte=1),
                name="profile_strike_band_fraction",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.min_dte is not None and self.max_dte is not None and self.min_dte > self.max_dte:
            raise ValidationError(
                {
                    "max_dte": f"The maximum DTE ({self.max_dte} days) must be at least the minimum DTE "
                    f"({self.min_dte} days)."
                }
            )
        if self.judges == Judges.PRINTS:
            set_rules = [name for name in self.ORDER_RULES if getattr(self, name) not in (None, False, "", [])]
            if set_rules:
                raise ValidationError(
                    {set_rules[0]: "Order rules need a profile that judges orders (set “judges” to orders)."}
                )


class Subscription(models.Model):
    """A WebSocket channel the listener subscribes to; none enabled means ``T.*``."""

    channel = models.CharField(
        max_length=64,
        unique=True,
        validators=[validate_channel],
        help_text="T.* (every options trade) or T.O:AAPL251220C00190000.",
    )
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.channel


class Underlying(models.Model):
    """An underlying's spot price and listed strike range, each with when it was read."""

    ticker = models.CharField(max_length=16, unique=True)
    spot = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    spot_updated_at = models.DateTimeField(null=True, blank=True)
    strike_min = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    strike_max = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    strikes_updated_at = models.DateTimeField(null=True, blank=True, help_text="When the contract list was read.")
    open_interest_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the chain snapshot (open interest) was last read."
    )

    class Meta:
        ordering = ["ticker"]

    def __str__(self) -> str:
        return self.ticker


class OptionContract(models.Model):
    symbol = models.CharField(max_length=32, unique=True, help_text="OCC symbol, e.g. O:AAPL251220C00190000.")
    root = models.CharField(max_length=8, db_index=True)
    underlying = models.CharField(max_length=16, db_index=True)
    expiry = models.DateField()
    right = models.CharField(max_length=1, choices=[("C", "Call"), ("P", "Put")])
    strike = models.DecimalField(max_digits=12, decimal_places=3)
    shares_per_contract = models.PositiveIntegerField(default=DEFAULT_SHARES_PER_CONTRACT)
    open_interest = models.PositiveIntegerField(null=True, blank=True)
    open_interest_updated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["underlying", "expiry", "strike", "right"]

    def __str__(self) -> str:
        return self.symbol


class Dividend(models.Model):
    """An underlying's cash dividend: around its ex-dividend date, deep in-the-money calls cross for it
    (dividend capture), which is not a bet (trades/domain/noise.py)."""

    ticker = models.CharField(max_length=16)
    ex_dividend_date = models.DateField()
    cash_amount = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ticker", "ex_dividend_date"]
        constraints = [models.UniqueConstraint(fields=["ticker", "ex_dividend_date"], name="one_dividend_a_day")]

    def __str__(self) -> str:
        return f"{self.ticker} ex {self.ex_dividend_date}"


class ConditionCategory(models.TextChoices):
    CANCELLED = conditions.CATEGORY_CANCELLED
    LATE = conditions.CATEGORY_LATE
    MULTI_LEG = conditions.CATEGORY_MULTI_LEG, "Multi-leg"
    STOCK_OPTION = conditions.CATEGORY_STOCK_OPTION, "Stock-option"
    REGULAR = conditions.CATEGORY_REGULAR


class OptionCondition(models.Model):
    """Polygon's options trade conditions, loaded from /v3/reference/conditions."""

    code = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    abbreviation = models.CharField(max_length=50, blank=True)
    category = models.CharField(max_length=20, choices=ConditionCategory.choices, default=ConditionCategory.REGULAR)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class OptionExchange(models.Model):
    """Polygon's options exchanges, loaded from /v3/reference/exchanges."""

    id = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    acronym = models.CharField(max_length=50, blank=True)
    mic = models.CharField(max_length=10, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class TradeSource(models.TextChoices):
    LIVE = "live"
    REPLAY = "replay"
    BACKFILL = "backfill"
    GAP = "gap", "Gap fill"  # missed while the listener was away; fetched over REST


class OptionTrade(models.Model):
    """A trade that matched at least one profile, with what the rules saw when judging it."""

    # The names of the profiles it matched, when the process that stored it has them at hand:
    # serializing it then reads no matches (None: it does).
    profile_names: list[str] | None = None

    trade_key = models.CharField(
        max_length=96, unique=True, help_text="Natural key: the print key, # its place among identical prints."
    )
    print_key = models.CharField(
        max_length=64, db_index=True, help_text="Contract @ SIP ms / digest of exchange, price, size, conditions."
    )
    occurrence = models.PositiveSmallIntegerField(default=0, help_text="Place among byte-identical prints.")
    symbol = models.CharField(max_length=32, db_index=True)
    underlying = models.CharField(max_length=16)
    root = models.CharField(max_length=8)
    expiry = models.DateField()
    right = models.CharField(max_length=1, choices=[("C", "Call"), ("P", "Put")])
    strike = models.DecimalField(max_digits=12, decimal_places=3)
    price = models.DecimalField(max_digits=12, decimal_places=4)
    size = models.PositiveIntegerField()
    shares_per_contract = models.PositiveIntegerField()
    premium = models.DecimalField(max_digits=16, decimal_places=2)
    dte = models.IntegerField()
    exchange = models.IntegerField()
    conditions = models.JSONField(default=list, blank=True)
    sequence = models.BigIntegerField(null=True, blank=True)
    sip_timestamp = models.BigIntegerField(help_text="Milliseconds since the epoch (SIP).")
    traded_at = models.DateTimeField()
    open_interest = models.PositiveIntegerField(null=True, blank=True, help_text="As the rules saw it.")
    spot = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True, help_text="As the rules saw it.")
    profiles = models.ManyToManyField(FilterProfile, through="TradeMatch", related_name="trades")
    stale_reference = models.BooleanField(
        default=False, help_text="A rule was judged on reference data older than its configured maximum age."
    )
    source = models.CharField(max_length=10, choices=TradeSource.choices, default=TradeSource.LIVE)
    received_at = models.DateTimeField(
        help_text="When flowsite had it: the listener's clock for streamed prints, the worker's for the others."
    )
    stored_at = models.DateTimeField(null=True, blank=True, help_text="When a worker stored it (null: before 0033).")
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="When its first webhook was delivered.")

    class Meta:
        ordering = ["-sip_timestamp", "-id"]
        indexes = [
            models.Index(fields=["-sip_timestamp"], name="trade_newest_first"),
            models.Index(fields=["underlying", "-sip_timestamp"], name="trade_by_underlying"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.size}@{self.price}"


class TradeMatch(models.Model):
    trade = models.ForeignKey(OptionTrade, on_delete=models.CASCADE)
    profile = models.ForeignKey(FilterProfile, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trade", "profile"], name="unique_trade_profile")]

    def __str__(self) -> str:
        return f"{self.trade_id} matched {self.profile_id}"


class PrintBatch(models.Model):
    """One batch's prints kept for grouping and its volume counts, as a worker logged them: what the
    order book and the day volume are built from (services/orders.py). The prints: every print of a
    watched underlying at or above ORDER_PRINT_MIN_PREMIUM (cancels included); the counts: the
    volume of all their prints per contract and minute. One row per batch, so the firehose writes
    one row where it would write thousands.

    The closer marks a batch consumed in the transaction that closes over it, and counted once its
    volume counts are added to VolumeCount (every few seconds, many batches in one statement); it
    clears the payload of a counted batch ORDER_BOOK_HORIZON_SECONDS × 2 later (until then a new
    closer rebuilds its book, and the counts not added yet, from it). The row, with the digest of
    the batch's frames, stays ORDER_PRINT_RETENTION_DAYS: a batch delivered again in that time (a
    redelivery, a dead letter replayed) is logged once."""

    digest = models.CharField(max_length=20, unique=True, help_text="Of the batch's frames.")
    received_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=TradeSource.choices, default=TradeSource.LIVE)
    prints = models.BinaryField(
        null=True,
        help_text="orjson: {'underlyings': {contract: ticker}, 'prints': [[...], ...], 'volume': [[contract, minute, "
        "change], ...]}; null once cleared",
    )
    consumed = models.BooleanField(default=False)
    counted = models.BooleanField(default=False, help_text="Its volume counts are in VolumeCount.")

    class Meta:
        indexes = [
            models.Index(fields=["id"], condition=models.Q(consumed=False), name="print_batch_waiting"),
            models.Index(
                fields=["received_at"],
                condition=models.Q(consumed=True, prints__isnull=False),
                name="print_batch_consumed",
            ),
            models.Index(fields=["received_at"], name="print_batch_by_time"),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} of kept prints ({self.source})"


class KeptPrint(models.Model):
    """A print of an order that passed a profile's rules known at close (a candidate, then a hit or
    withdrawn): what the API, admin and the quote look-up show of an order's fills. Written by the
    closer with the order; kept ORDER_PRINT_RETENTION_DAYS."""

    identity = models.CharField(max_length=40, unique=True, help_text="Digest of the contract and the print's key.")
    symbol = models.CharField(max_length=32)
    underlying = models.CharField(max_length=16)
    trade_date = models.DateField(help_text="In New York.")
    ts_ns = models.BigIntegerField(help_text="SIP time, nanoseconds since the epoch.")
    sequence = models.BigIntegerField(null=True, blank=True)
    exchange = models.IntegerField()
    price = models.DecimalField(max_digits=12, decimal_places=4)
    size = models.PositiveIntegerField()
    conditions = models.JSONField(default=list, blank=True)
    shares_per_contract = models.PositiveIntegerField(default=DEFAULT_SHARES_PER_CONTRACT)
    occurrence = models.PositiveSmallIntegerField(default=0, help_text="Place among identical prints.")
    kind = models.CharField(max_length=16)
    source = models.CharField(max_length=10, choices=TradeSource.choices, default=TradeSource.LIVE)
    cancelled = models.BooleanField(default=False, help_text="Taken back by a later cancel print.")
    order_id = models.CharField(max_length=20, blank=True, help_text="The order it belongs to.")

    class Meta:
        indexes = [
            models.Index(fields=["symbol", "ts_ns"], name="kept_print_by_contract"),
            models.Index(fields=["order_id"], name="kept_print_by_order"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.size}@{self.price}"


class OrderClock(models.Model):
    """The latest event time any worker has seen, and when: the watermark that closes orders comes
    from it (one row, pk=1). Advanced by the wall clock too when the feed goes quiet."""

    SINGLETON_PK = 1

    latest_event_ns = models.BigIntegerField(default=0)
    advanced_at = models.DateTimeField(null=True, blank=True, help_text="When latest_event_ns last moved.")

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="order_clock_single_row")]

    def __str__(self) -> str:
        return f"order clock at {self.latest_event_ns}"


class OrderCloser(models.Model):
    """How far the closer has closed (one row, pk=1), apart from OrderClock so that workers moving
    the clock never wait on a closing transaction. ``book`` names the in-memory book that closed
    last: a process whose book is not that one builds its own again from the consumed batches."""

    SINGLETON_PK = 1

    closed_mark_ns = models.BigIntegerField(default=0, help_text="The watermark of the last close.")
    book = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="order_closer_single_row")]

    def __str__(self) -> str:
        return f"orders closed to {self.closed_mark_ns}"


class OrderState(models.TextChoices):
    JUDGING = "judging", "Judging (waiting for its quote)"
    HIT = "hit"
    WITHDRAWN = "withdrawn", "Withdrawn (a print was cancelled, or a late print regrouped it)"
    SUPPRESSED = "suppressed", "Suppressed (it looks like a bet but is not: see its noise)"


class Order(models.Model):
    """An order that passed a profile: its prints grouped (FLOW.md), side against the NBBO at its
    first print, opening inference. Its prints are the KeptPrint rows with its ``order_id``."""

    # The names of the profiles it matched, when the process that stored it has them at hand:
    # serializing it then reads no matches (None: it does).
    profile_names: list[str] | None = None

    order_id = models.CharField(max_length=20, unique=True, help_text="Hash of the contract and its first print.")
    state = models.CharField(max_length=10, choices=OrderState.choices, default=OrderState.JUDGING)
    noise = models.CharField(
        max_length=12,
        blank=True,
        choices=[(kind.value, REASONS[kind]) for kind in Noise],
        help_text="Why it was held back.",
    )
    noise_detail = models.CharField(max_length=300, blank=True)
    symbol = models.CharField(max_length=32, db_index=True)
    underlying = models.CharField(max_length=16)
    expiry = models.DateField()
    right = models.CharField(max_length=1, choices=[("C", "Call"), ("P", "Put")])
    strike = models.DecimalField(max_digits=12, decimal_places=3)
    type = models.CharField(max_length=10, choices=[(kind.value, kind.value) for kind in OrderType])
    subtype = models.CharField(max_length=10, blank=True, choices=[(kind.value, kind.value) for kind in Subtype])
    prints = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    premium = models.DecimalField(max_digits=16, decimal_places=2)
    vwap = models.DecimalField(max_digits=12, decimal_places=4)
    dte = models.IntegerField()
    first_ts_ns = models.BigIntegerField()
    last_ts_ns = models.BigIntegerField()
    traded_at = models.DateTimeField(help_text="Its first print.")
    exchanges = models.JSONField(default=list)
    conditions = models.JSONField(default=list, blank=True)
    price_path = models.CharField(max_length=6, choices=[(kind.value, kind.value) for kind in PricePath])
    iso = models.BooleanField(default=False)
    golden = models.BooleanField(default=False)
    repeated_hits = models.BooleanField(default=False)
    bid = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    ask = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    quote_ts_ns = models.BigIntegerField(null=True, blank=True)
    buy_size = models.PositiveIntegerField(default=0)
    sell_size = models.PositiveIntegerField(default=0)
    neutral_size = models.PositiveIntegerField(default=0)
    aggressor = models.CharField(max_length=8, choices=AGGRESSORS, default=Aggressor.UNKNOWN)
    sentiment = models.CharField(max_length=8, choices=SENTIMENTS, default=Sentiment.NEUTRAL)
    signed_premium = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal(0))
    open_interest = models.PositiveIntegerField(null=True, blank=True, help_text="The previous session's, as seen.")
    volume_before = models.PositiveBigIntegerField(null=True, blank=True, help_text="Day volume before the order.")
    opening = models.BooleanField(null=True, blank=True)
    opening_strict = models.BooleanField(null=True, blank=True)
    vol_oi = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    open_interest_next = models.PositiveIntegerField(
        null=True, blank=True, help_text="The next morning's open interest (the session of the order's)."
    )
    oi_confirmed = models.BooleanField(
        null=True, blank=True, help_text="Opening, and the next open interest rose by half its size or more."
    )
    spot = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    strike_min = models.DecimalField(
        max_digits=12, decimal_places=3, null=True, blank=True, help_text="The listed strike range it was judged with."
    )
    strike_max = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    insight = models.TextField(blank=True, help_text="What is unusual about it and what happened the last times.")
    insight_facts = models.JSONField(null=True, blank=True, help_text="The figures of its insight.")
    profiles = models.ManyToManyField(FilterProfile, through="OrderMatch", related_name="orders")
    candidate_profiles = models.JSONField(default=list, help_text="Profiles it passed before its side was known.")
    source = models.CharField(max_length=10, choices=TradeSource.choices, default=TradeSource.LIVE)
    received_at = models.DateTimeField()
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When it was last sent to be judged.")
    judged_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="When its first webhook was delivered.")

    class Meta:
        ordering = ["-first_ts_ns", "-id"]
        indexes = [
            # The flow's order (newest first, the id breaking ties): its pages read the index in order.
            models.Index(fields=["-first_ts_ns", "-id"], name="order_flow"),
            models.Index(fields=["underlying", "-first_ts_ns", "-id"], name="order_flow_by_underlying"),
            models.Index(fields=["judged_at"], name="order_by_judged_at"),  # the live stream's poll
            # An order's earlier alerts (analogs, cohorts): its name and direction, newest first.
            models.Index(fields=["underlying", "sentiment", "-first_ts_ns"], name="order_alerts"),
            models.Index(fields=["state", "queued_at"], name="order_by_state"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.symbol} {self.size}@{self.vwap}"

    def candidate_profile_names(self) -> list[str]:
        """The profiles it passed before its side was known (a suppressed order: that would have alerted it)."""
        return sorted(FilterProfile.objects.filter(pk__in=self.candidate_profiles).values_list("name", flat=True))

    @property
    def contract_prints(self) -> models.QuerySet[KeptPrint]:
        return KeptPrint.objects.filter(order_id=self.order_id).order_by("ts_ns", "sequence")


class OrderMatch(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
    profile = models.ForeignKey(FilterProfile, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "profile"], name="unique_order_profile")]
        indexes = [models.Index(fields=["profile", "order"], name="order_match_by_profile")]

    def __str__(self) -> str:
        return f"{self.order_id} matched {self.profile_id}"


class VolumeCount(models.Model):
    """A contract's traded volume and premium in one minute (late, multi-leg and cross prints in,
    cancels subtracted): the running day volume, added to by the order closer from the batches'
    logged counts (`PrintBatch`, one per batch: a redelivered batch counts once), never a write per
    trade; a backfilled day's are its whole tape's. Strike concentration reads the premium."""

    symbol = models.CharField(max_length=32)
    underlying = models.CharField(max_length=16, default="")
    trade_date = models.DateField()
    minute = models.BigIntegerField(help_text="SIP time in whole minutes since the epoch.")
    volume = models.BigIntegerField()
    premium = models.BigIntegerField(default=0, help_text="Cents.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["symbol", "minute"], name="one_volume_count_per_minute")]
        indexes = [
            models.Index(fields=["trade_date"], name="volume_by_day"),
            models.Index(fields=["underlying", "minute"], name="volume_by_underlying_minute"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.minute}: {self.volume}"


class VolumeSeed(models.Model):
    """A contract's day volume as the snapshot gave it: the count before ``as_of_ns`` when the
    listener joined the day late. Without a seed or a full day of counts, opening is unknown."""

    symbol = models.CharField(max_length=32)
    trade_date = models.DateField()
    volume = models.PositiveBigIntegerField()
    as_of_ns = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["symbol", "trade_date"], name="one_volume_seed_per_day")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.trade_date}: {self.volume}"


class CountedDay(models.Model):
    """A trading day whose volume counts began before the session opened (the listener was there
    at 9:30 New York): its counts alone are the day's volume."""

    trade_date = models.DateField(unique=True)
    since = models.DateTimeField(help_text="When counting began.")

    def __str__(self) -> str:
        return str(self.trade_date)


class UsageCounter(models.Model):
    """What paid calls flowsite made, e.g. quote look-ups: how many, how many failed, time spent."""

    name = models.CharField(max_length=40, unique=True)
    calls = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    seconds = models.FloatField(default=0.0, help_text="Total time waiting for answers.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.calls}"


class WebhookFormat(models.TextChoices):
    STANDARD = "standard", "Standard Webhooks (JSON, signed)"
    DISCORD = "discord", "Discord"
    SLACK = "slack", "Slack"


def generate_webhook_secret() -> str:
    from trades.webhooks.signing import generate_secret

    return generate_secret()


class EndpointHealth(StrEnum):
    """What an endpoint's attempts say about it (derived by WebhookEndpoint.health, never stored)."""

    HEALTHY = "healthy"
    FAILING = "failing"
    NEVER_USED = "never-used"
    DISABLED = "disabled"


class WebhookEndpoint(models.Model):
    """A place hits are pushed to: your own service, a Discord or a Slack channel."""

    name = models.SlugField(max_length=100, unique=True)
    url = models.URLField(max_length=500, validators=[validate_http_scheme])
    secret = models.CharField(
        max_length=100,
        default=generate_webhook_secret,
        validators=[validate_webhook_secret],
        help_text="whsec_…: signs every delivery (Standard Webhooks).",
    )
    format = models.CharField(max_length=10, choices=WebhookFormat.choices, default=WebhookFormat.STANDARD)
    profiles = models.ManyToManyField(
        FilterProfile,
        blank=True,
        related_name="webhooks",
        help_text="Hits of these profiles; none means every profile.",
    )
    active = models.BooleanField(default=True)
    allow_private = models.BooleanField(
        default=False, help_text="Allow loopback and private-network addresses (refused by default: SSRF guard)."
    )
    cooldown_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Calm alerts: per contract, one alert and one update within this many minutes (the rest "
        "are kept, not sent).",
    )
    escalate_premium = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0), message=NEGATIVE_PREMIUM)],
        help_text="Within the cooldown: one more alert (escalated) once the contract's premium reaches this.",
    )
    digest_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Send one message listing the hits every this many minutes instead of one per hit.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],  # 0 would read as "no limit" (rate_limit_wait); empty says that
        help_text="Deliveries per minute.",
    )
    disabled_reason = models.CharField(max_length=300, blank=True, help_text="Why it was turned off (e.g. 410 Gone).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Health: written by the delivery workers on every attempt (record_success, record_failure).
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="The last 2xx answer.")
    consecutive_failures = models.PositiveIntegerField(
        default=0, editable=False, help_text="Failed attempts since the last success."
    )
    failing_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The first failed attempt since the last success."
    )
    last_error = models.CharField(
        max_length=300, blank=True, editable=False, help_text="What the last failed attempt got: a status or an error."
    )

    HEALTH_FIELDS = ("last_success_at", "consecutive_failures", "failing_since", "last_error")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A form or a config import saves a row it read a moment ago: the health fields stay as the
        # workers left them meanwhile.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in self.HEALTH_FIELDS
            ]
        super().save(*args, **kwargs)

    @property
    def health(self) -> EndpointHealth:
        """The one rule for an endpoint's health; the admin and /healthz both read it.

        One failed attempt is enough to be failing: retries come 5 s, then 5 min apart, and hits
        may be rare, so waiting for a third failure could show a dead receiver as healthy for
        many minutes. A single blip clears at the next success, usually the retry 5 s later.
        """
        if not self.active:
            return EndpointHealth.DISABLED
        if self.consecutive_failures > 0:
            return EndpointHealth.FAILING
        if self.last_success_at is None:
            return EndpointHealth.NEVER_USED
        return EndpointHealth.HEALTHY

    def health_summary(self) -> str:
        """The health in one line, e.g. "Failing since 14:02 (12 failures): 503 Service Unavailable"."""
        health = self.health
        if health is EndpointHealth.DISABLED:
            return f"Disabled: {self.disabled_reason}" if self.disabled_reason else "Disabled"
        if health is EndpointHealth.FAILING:
            failures = plural(self.consecutive_failures, "failure")
            return f"Failing since {_short_time(self.failing_since)} ({failures}): {self.last_error}"
        if health is EndpointHealth.NEVER_USED:
            return "Never used: no delivery attempted yet"
        return f"Healthy: last success {_short_time(self.last_success_at)}"

    def record_success(self, at: datetime) -> None:
        """A 2xx answer: the run of failures, if there was one, is over (one UPDATE of the row)."""
        WebhookEndpoint.objects.filter(pk=self.pk).update(
            last_success_at=at, consecutive_failures=0, failing_since=None, last_error=""
        )

    def record_failure(self, at: datetime, error: str) -> None:
        """One more failed attempt in the current run, which began at its first failure.

        One UPDATE with F(): workers failing at once each add theirs; none overwrites another's.
        """
        WebhookEndpoint.objects.filter(pk=self.pk).update(
            consecutive_failures=F("consecutive_failures") + 1,
            failing_since=Coalesce(F("failing_since"), Value(at)),
            last_error=error[:300],
        )


def _short_time(moment: datetime | None) -> str:
    return "—" if moment is None else short_new_york_time(moment, timezone.now())


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its next attempt (next_attempt_at)
    SENDING = "sending"  # claimed by a worker until lease_until
    DELIVERED = "delivered"
    DEAD = "dead"  # no more attempts: retries exhausted, endpoint gone or refused
    HELD = "held", "held for the endpoint's next digest"
    BUNDLED = "bundled", "sent in a digest"
    CALMED = "calmed", "not sent: the endpoint's cooldown for the contract"


class WebhookDelivery(models.Model):
    """The outbox: one row per (endpoint, hit), written in the transaction that stores the hit: a
    trade (a profile that judges prints) or an order (one that judges orders)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    trade = models.ForeignKey(OptionTrade, on_delete=models.CASCADE, related_name="deliveries", null=True, blank=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="deliveries", null=True, blank=True)
    event = models.CharField(
        max_length=24, blank=True, help_text="What it tells (empty: the hit itself, trade.flagged or order.flagged)."
    )
    digest = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bundled",
        help_text="The digest it was sent in.",
    )
    webhook_id = models.CharField(max_length=40, unique=True, help_text="webhook-id: the same on every retry.")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "trade"], name="one_delivery_per_endpoint_trade"),
            models.UniqueConstraint(
                fields=["endpoint", "order", "event"], name="one_delivery_per_endpoint_order_event"
            ),
            models.CheckConstraint(
                condition=(models.Q(trade__isnull=True) ^ models.Q(order__isnull=True))
                | models.Q(event="order.digest", trade__isnull=True, order__isnull=True),
                name="delivery_of_one_hit_or_a_digest",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.webhook_id} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """One try of a delivery: what was answered, how long it took, or what went wrong."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.attempted_at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"


class StreamStatus(models.Model):
    """The listener's last report: one row (pk=1), written every STREAM_STATS_SECONDS and on (dis)connect."""

    SINGLETON_PK = 1

    connected = models.BooleanField(default=False)
    connected_since = models.DateTimeField(null=True, blank=True)
    last_frame_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(help_text="When the listener last reported; a stale one means it is gone.")
    url = models.CharField(max_length=300, blank=True)
    subscriptions = models.JSONField(default=list, blank=True)
    frames_per_second = models.FloatField(default=0.0)
    trades_per_second = models.FloatField(default=0.0)
    messages_published = models.PositiveBigIntegerField(default=0)
    trades_buffered = models.PositiveBigIntegerField(default=0)
    trades_dropped = models.PositiveBigIntegerField(default=0)
    last_event_ms = models.BigIntegerField(
        null=True, blank=True, help_text="SIP time (ms) of the newest trade event: a restart fills the gap from it."
    )
    recent_statuses = models.JSONField(
        default=list, blank=True, help_text="The last Polygon status frames: time, status, message."
    )
    disconnected_since = models.DateTimeField(
        null=True, blank=True, help_text="Not connected since then (null while connected)."
    )
    outage = models.CharField(
        max_length=500, blank=True, help_text="While not connected: failed attempts and the last error."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "stream status"
        verbose_name_plural = "stream status"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="stream_status_single_row")]

    def __str__(self) -> str:
        return "Stream status"


class Rejection(models.Model):
    """Input that was not judged, counted by reason (bad frames, malformed trades, values no column holds)."""

    reason = models.CharField(max_length=40, unique=True)
    count = models.PositiveBigIntegerField(default=0)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    message = models.CharField(max_length=300, blank=True, help_text="Why the last one was rejected.")
    example = models.CharField(max_length=500, blank=True, help_text="The last rejected item, shortened.")

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.reason}: {self.count}"


class DeadLetterStatus(models.TextChoices):
    RETRYING = "retrying"  # failed at least once; Celery tries it again
    DEAD = "dead"  # out of retries: kept whole here until replayed
    REPLAYED = "replayed"


class DeadLetter(models.Model):
    """A batch whose task failed: kept whole (frames, error, traceback) so that it can be replayed."""

    task_id = models.CharField(max_length=64, unique=True)
    task_name = models.CharField(max_length=100)
    frames = models.JSONField(help_text="The batch's raw frames, as the listener published them.")
    source = models.CharField(max_length=10, choices=TradeSource.choices)
    status = models.CharField(max_length=10, choices=DeadLetterStatus.choices, default=DeadLetterStatus.RETRYING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500)
    traceback = models.TextField(blank=True)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    replayed_at = models.DateTimeField(null=True, blank=True)
    replay_report = models.JSONField(null=True, blank=True, help_text="The counts of the replay.")

    class Meta:
        ordering = ["-last_failed_at"]
        indexes = [models.Index(fields=["status"], name="dead_letter_status")]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"


class GapStatus(models.TextChoices):
    PENDING = "pending"
    FILLED = "filled"
    FAILED = "failed"  # REST failed after its retries; fill again from admin
    TOO_LONG = "too_long"  # longer than STREAM_GAP_FILL_MAX_SECONDS: a job for the backfill


class StreamGap(models.Model):
    """Time the listener was not receiving: between the last trade event before a disconnect (or a
    restart) and the first after it. Filled over REST for the watched underlyings."""

    started_ms = models.BigIntegerField(help_text="SIP time (ms) of the last trade event seen before.")
    ended_ms = models.BigIntegerField(help_text="SIP time (ms) of the first trade event seen after.")
    detected_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=GapStatus.choices, default=GapStatus.PENDING)
    underlyings = models.PositiveIntegerField(default=0, help_text="Chains read.")
    contracts = models.PositiveIntegerField(default=0, help_text="Contracts that traded in the gap.")
    trades_fetched = models.PositiveIntegerField(default=0)
    hits = models.PositiveIntegerField(default=0)
    recovered = models.PositiveIntegerField(default=0, help_text="Hits that were not stored yet.")
    error = models.CharField(max_length=500, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True, help_text="When a worker first began filling it.")
    filled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_ms"]
        constraints = [
            models.UniqueConstraint(fields=["started_ms", "ended_ms"], name="one_gap_per_window"),
            models.CheckConstraint(condition=models.Q(started_ms__lte=models.F("ended_ms")), name="gap_in_order"),
        ]

    def __str__(self) -> str:
        return f"gap {self.started_ms}–{self.ended_ms}"

    @property
    def seconds(self) -> float:
        return (self.ended_ms - self.started_ms) / 1000


class BackfillSource(models.TextChoices):
    REST = "rest", "REST (one unit per underlying and day)"
    FLATFILES = "flatfiles", "Flat files (one unit per day)"


class UnitStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # failed after its retries; the next run of the same days tries again
    NOT_ENTITLED = "not_entitled"  # Polygon refused the plan (403): final, until the plan changes


class BackfillUnit(models.Model):
    """One unit of backfill work, and its checkpoint: an underlying's trading day over REST (a flat
    file's day has no underlying). A unit done is not done again: a backfill that is run twice, or
    resumed after it was killed, does what is left."""

    source = models.CharField(max_length=10, choices=BackfillSource.choices)
    underlying = models.CharField(max_length=16, blank=True)
    tickers = models.JSONField(default=list, blank=True, help_text="A flat file's day: the underlyings judged.")
    profiles = models.JSONField(default=list, blank=True, help_text="Judged by these profiles; empty: by every one.")
    day = models.DateField(help_text="The trading day (New York).")
    previous_day = models.DateField(null=True, blank=True, help_text="The trading day before: its open interest.")
    status = models.CharField(max_length=12, choices=UnitStatus.choices, default=UnitStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0, help_text="REST calls of the last attempt.")
    contracts = models.PositiveIntegerField(default=0, help_text="Contracts whose trades were read.")
    trades = models.PositiveIntegerField(default=0, help_text="Prints judged.")
    hits = models.PositiveIntegerField(default=0, help_text="Prints that matched a profile.")
    orders = models.PositiveIntegerField(default=0, help_text="Orders that matched a profile.")
    stored = models.PositiveIntegerField(default=0, help_text="Hits and orders not stored before.")
    rejected = models.PositiveIntegerField(default=0)
    notes = models.CharField(max_length=300, blank=True, help_text="What the day lacked, e.g. open interest.")
    error = models.CharField(max_length=500, blank=True)
    etag = models.CharField(max_length=100, blank=True, help_text="The flat file's, as last processed.")
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["day", "underlying"]
        constraints = [
            models.UniqueConstraint(fields=["source", "underlying", "day"], name="one_backfill_unit"),
        ]
        indexes = [models.Index(fields=["status"], name="backfill_unit_status")]

    def __str__(self) -> str:
        return f"{self.underlying or 'all'} {self.day} ({self.source})"


class RestPace(models.Model):
    """The pace of calls to Polygon's REST API shared by every process that backfills (one row per
    API address): the next moment a call may start. A 429's Retry-After moves it for all of them."""

    api = models.CharField(max_length=200, unique=True)
    next_at = models.FloatField(default=0.0, help_text="Seconds since the epoch.")

    def __str__(self) -> str:
        return self.api


class DailyBar(models.Model):
    """An underlying's day (Polygon's day aggregate, split-adjusted): the closes outcomes are measured by."""

    ticker = models.CharField(max_length=16)
    day = models.DateField()
    open = models.DecimalField(max_digits=14, decimal_places=4)
    high = models.DecimalField(max_digits=14, decimal_places=4)
    low = models.DecimalField(max_digits=14, decimal_places=4)
    close = models.DecimalField(max_digits=14, decimal_places=4)
    volume = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ticker", "day"]
        constraints = [models.UniqueConstraint(fields=["ticker", "day"], name="one_bar_per_day")]

    def __str__(self) -> str:
        return f"{self.ticker} {self.day} {self.close}"


class OrderOutcome(models.Model):
    """What the underlying did after an order with a direction: its move after 0, 1, 3 and 5 trading
    days from its price at the order, and SPY's over the same time (trades/domain/outcomes.py).
    A horizon without its session's close yet is null: pending."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, primary_key=True, related_name="outcome")
    spot0 = models.DecimalField(max_digits=14, decimal_places=4, help_text="The underlying's price at the order.")
    market0 = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, help_text="SPY's price at the order."
    )
    move_0d = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    move_1d = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    move_3d = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    move_5d = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    market_0d = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    market_1d = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    market_3d = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    market_5d = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    complete = models.BooleanField(default=False, help_text="Every horizon measured.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["complete"], name="outcome_pending")]

    def __str__(self) -> str:
        return f"outcome of {self.order_id}"


class ApiToken(models.Model):
    """A person's key to the API and the MCP server (``Authorization: Bearer <key>``), beside the
    shared ``API_TOKEN``. Only the key's SHA-256 is kept: the key is shown once, when it is made;
    deleting the row revokes it."""

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What it is for: 'research notebook', 'Claude Desktop'.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"
