"""The admin's forms for the live configuration: filter profiles and watchlists."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from trades.domain import conditions
from trades.models import (
    AGGRESSORS,
    ORDER_TYPES,
    SENTIMENTS,
    FilterProfile,
    Watchlist,
    WebhookEndpoint,
    validate_condition_codes,
    validate_http_scheme,
    validate_ticker,
)
from trades.services.watchlists import TickerError, parse_tickers

# The condition groups a profile can exclude; "regular" is every other trade and is never excluded.
EXCLUDABLE_GROUPS = [
    (conditions.CATEGORY_CANCELLED, "cancelled or busted prints"),
    (conditions.CATEGORY_LATE, "late or out-of-sequence prints"),
    (conditions.CATEGORY_MULTI_LEG, "legs of multi-leg orders (spreads, straddles …)"),
    (conditions.CATEGORY_STOCK_OPTION, "legs of stock-and-option orders"),
]


class ConditionCodesField(forms.JSONField):
    """JSON whose numbers may be longer than Python parses (4300 digits): a form error, not a 500."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except ValueError:  # json's JSONDecodeError is caught by Django; the digit limit is not
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None

    def bound_data(self, data: Any, initial: Any) -> Any:
        try:
            return super().bound_data(data, initial)
        except ValueError:
            return InvalidJSONInput(data)


class FilterProfileForm(forms.ModelForm):
    order_types = forms.MultipleChoiceField(
        choices=ORDER_TYPES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Order types",
        help_text="Sweep: two or more prints on two or more exchanges within 500 ms of each other (at most 2 s "
        "in all). Split: the same on one exchange. Block: one print of $100K or 1,000 contracts (a cross or a "
        "floor trade too). Single: a smaller print alone. Late, multi-leg: orders of one. None ticked: any.",
    )
    aggressors = forms.MultipleChoiceField(
        choices=AGGRESSORS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Aggressor",
        help_text="Who crossed the spread, against the NBBO at the order's first print: Buy (at or above the "
        "ask, or above the mid), Sell, Neutral (exactly at the mid), Mixed (no side has half of the size), "
        "None (a cross), Unknown (no quote). None ticked: any.",
    )
    sentiments = forms.MultipleChoiceField(
        choices=SENTIMENTS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Sentiment",
        help_text="Bullish: calls bought or puts sold. Bearish: calls sold or puts bought. Neutral: the rest, "
        "legs of spreads included. An order whose side is unknown has no sentiment here. None ticked: any.",
    )
    exclude_categories = forms.MultipleChoiceField(
        choices=EXCLUDABLE_GROUPS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Exclude condition groups",
        help_text="A trade carrying a condition of a ticked group is never a hit. The groups' codes come from "
        "Polygon's live condition list once it is loaded (manage.py refresh_reference), else from a built-in list.",
    )

    class Meta:
        model = FilterProfile
        fields = [
            "name",
            "description",
            "enabled",
            "watchlist",
            "min_premium",
            "min_size",
            "min_dte",
            "max_dte",
            "size_gt_open_interest",
            "strike_band",
            "exclude_categories",
            "exclude_conditions",
            "judges",
            "order_types",
            "golden_only",
            "iso_only",
            "repeated_hits_only",
            "aggressors",
            "sentiments",
            "opening",
            "min_vol_oi",
            "min_strike_multiple",
            "min_strike_share",
            "min_share_of_daily_premium",
        ]
        labels = {
            "min_premium": "Minimum premium ($)",
            "min_size": "Minimum size (contracts)",
            "min_dte": "Minimum DTE (days)",
            "max_dte": "Maximum DTE (days)",
            "size_gt_open_interest": "Size above open interest",
            "strike_band": "Strike band (fraction 0–1)",
            "exclude_conditions": "Exclude condition codes",
            "golden_only": "Golden sweeps only",
            "iso_only": "ISO only",
            "repeated_hits_only": "Repeated hits only",
            "opening": "Opening",
            "min_vol_oi": "Minimum volume / OI",
            "min_strike_multiple": "Minimum × the strike's usual",
            "min_strike_share": "Minimum share of the underlying's premium",
            "min_share_of_daily_premium": "Minimum share of its daily option premium",
        }
        help_texts = {
            "name": "Letters, digits, - and _: the name hits carry in the API and in webhooks.",
            "enabled": "Off: the workers stop judging trades against this profile.",
            "watchlist": "Only trades on this watchlist's underlyings are judged.",
            "min_premium": "Dollars, at least: price × size × shares per contract (100 for a standard contract); "
            "50000 is $50K. Empty: no premium rule.",
            "min_size": "Contracts in the trade, at least. Empty: no size rule.",
            "min_dte": "Days to expiry, at least (inclusive; 0 is expiring that day). Empty: no lower bound.",
            "max_dte": "Days to expiry, at most (inclusive). Empty: no upper bound.",
            "size_gt_open_interest": "The trade's size (contracts) must be strictly greater than the contract's "
            "open interest (contracts), as last read from Polygon.",
            "strike_band": "Fraction 0–1 of the listed strike range, centred on the spot price: the strike must "
            "fall inside it (0.400 is usual; 1 is the whole range). Empty: off.",
            "exclude_conditions": "Further condition codes that never make a hit, as a JSON list of integers, "
            "e.g. [233, 234]. Empty list: none.",
            "judges": "Prints: each print is judged alone, as it arrives (the classic rules). Orders: prints are "
            "grouped into the orders behind them first (a $1.2M sweep of twenty $60K prints is one order); premium "
            "and size then apply to the order's totals, and the order rules below apply.",
            "golden_only": "A sweep of $1,000,000 or more whose aggressor is Buy.",
            "iso_only": "At least one print of the order is an intermarket sweep (ISO, condition 219, 228 or 230).",
            "repeated_hits_only": "The order holds more than 5 prints each within 100 ms of the previous, over "
            "$10,000 in all (the market-cap tiers need market caps, which flowsite does not load yet).",
            "opening": "Opening: the order's size is above the open interest minus the day's volume before it (the "
            "common rule). Strictly: above the open interest plus that volume. Needs the open interest and a "
            "complete day's volume; where either is unknown, the order fails this rule.",
            "min_vol_oi": "(The day's volume before the order + its size) / open interest, at least; e.g. 2 is "
            "twice the open interest. Empty: off.",
            "min_strike_multiple": "Unusual concentration: the strike's premium in the 30 minutes up to the order "
            "(its own included) over its usual premium in the same 30 minutes of the day, averaged over the past 20 "
            "trading days of stored history, at least this; e.g. 3. A strike silent then on every past day passes. "
            "Needs 5 days of history: with fewer, the order fails this rule.",
            "min_strike_share": "The strike's share of its underlying's option premium in those 30 minutes, at "
            "least; e.g. 0.25 is a quarter. Empty: off.",
            "min_share_of_daily_premium": "The order's premium over its underlying's average daily option premium "
            "(past 20 trading days), at least; e.g. 0.01 is 1%: $250K for a name that trades $25M a day, $5K for "
            "one that trades $500K. Empty: off.",
        }
        field_classes = {"exclude_conditions": ConditionCodesField}

    def clean_exclude_conditions(self) -> list[int]:
        """The model's rule (validate_condition_codes), applied before the value reaches the profile;
        a valid list is stored sorted, once each."""
        value = self.cleaned_data.get("exclude_conditions")
        if value is None:
            return []
        validate_condition_codes(value)
        return sorted(set(value))


class WatchlistForm(forms.ModelForm):
    add_tickers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "placeholder": "AAPL, MSFT NVDA"}),
        label="Add tickers",
        help_text="Paste tickers separated by commas, spaces or new lines (e.g. AAPL, MSFT NVDA): they are "
        "upper-cased and added once each; those already on the list are kept. * watches every underlying.",
    )

    class Meta:
        model = Watchlist
        fields = ["name", "description"]

    def clean_add_tickers(self) -> list[str]:
        try:
            tickers = parse_tickers(self.cleaned_data.get("add_tickers") or "")
        except TickerError as exc:
            raise forms.ValidationError(str(exc)) from exc
        for ticker in tickers:
            try:
                validate_ticker(ticker)
            except ValidationError:
                raise forms.ValidationError(
                    f"{ticker!r} is not a ticker: a ticker has letters, digits, '.', '-', '/' or ':' (e.g. BRK.B)"
                ) from None
        return tickers


class WebhookEndpointForm(forms.ModelForm):
    # http(s) only: the model's validator (validate_http_scheme) says so; https:// is assumed when left out.
    url = forms.URLField(max_length=500, assume_scheme="https", validators=[validate_http_scheme], label="URL")

    class Meta:
        model = WebhookEndpoint
        fields = [
            "name",
            "url",
            "format",
            "profiles",
            "active",
            "allow_private",
            "rate_limit_per_minute",
            "cooldown_minutes",
            "escalate_premium",
            "digest_minutes",
        ]
