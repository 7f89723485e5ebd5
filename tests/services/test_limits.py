"""The trade table holds every value the domain accepts, so a valid print can never fail its insert."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from tests.factories import only_profile
from trades.domain import rules
from trades.domain.occ import MAX_SYMBOL_LENGTH
from trades.models import OptionTrade
from trades.selectors import flow_rules
from trades.services.ingest import ingest_frames

NY = ZoneInfo("America/New_York")
LAST_MS = rules.MAX_TIMESTAMP_MS - 1


@pytest.mark.django_db
def test_a_print_at_every_limit_at_once_is_stored():
    only_profile("all", ["*"], exclude_categories=[])
    assert datetime.fromtimestamp(LAST_MS / 1000, NY).year == 2099
    largest_price = rules.MAX_PRICE - 0.0001
    size = int((rules.MAX_PREMIUM - 1) / (largest_price * 100))  # the largest premium the domain allows
    symbol = "O:ABCDE1991231C99999999"  # the longest root and strike; expires on the last day allowed
    assert len(symbol) == MAX_SYMBOL_LENGTH
    event = {
        "ev": "T",
        "sym": symbol,  # the longest root and strike; expires on the last day allowed
        "p": largest_price,
        "s": size,
        "x": rules.MAX_EXCHANGE,
        "c": [rules.MAX_CONDITION] * 20,
        "t": LAST_MS,
        "q": rules.MAX_SEQUENCE,
    }
    report = ingest_frames([orjson.dumps([event]).decode()])
    assert (report.rejections, report.stored) == ({}, 1)
    trade = OptionTrade.objects.get()
    assert (trade.sequence, trade.exchange, trade.size) == (rules.MAX_SEQUENCE, rules.MAX_EXCHANGE, size)
    assert float(trade.premium) == pytest.approx(largest_price * size * 100)
    flow_rules.forget_flow_rules()


def test_the_size_limit_fits_the_size_column_on_its_own():
    field = OptionTrade._meta.get_field("size")
    assert rules.MAX_SIZE <= 2**31 - 1 and field.get_internal_type() == "PositiveIntegerField"
