"""Django admin: every model's pages render for a superuser; trades are read-only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection, models
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from trades.models import (
    FilterProfile,
    OptionContract,
    OptionTrade,
    Subscription,
    TradeMatch,
    Underlying,
    WatchedTicker,
    Watchlist,
)

T0 = 1_748_874_605_123  # 2025-06-02T14:30:05.123Z


def make_trade(n: int) -> OptionTrade:
    trade = OptionTrade.objects.create(
        trade_key=f"O:NVDA250620C00150000#{n}",
        symbol="O:NVDA250620C00150000",
        underlying="NVDA",
        root="NVDA",
        expiry=date(2025, 6, 20),
        right="C",
        strike=Decimal("150.000"),
        price=Decimal("2.1000"),
        size=500,
        shares_per_contract=100,
        premium=Decimal("105000.00"),
        dte=18,
        exchange=302,
        conditions=[209],
        sequence=n,
        sip_timestamp=T0 + n,
        traded_at=timezone.now(),
        open_interest=120,
        spot=Decimal("148.5000"),
        received_at=timezone.now(),
    )
    for profile in FilterProfile.objects.all():
        TradeMatch.objects.create(trade=trade, profile=profile)
    return trade


@pytest.fixture
def one_of_each() -> dict[type[models.Model], models.Model]:
    return {
        Watchlist: Watchlist.objects.get(name="mag7"),
        FilterProfile: FilterProfile.objects.get(name="mag7-smart-money"),
        Subscription: Subscription.objects.create(channel="T.*"),
        Underlying: Underlying.objects.create(
            ticker="NVDA", spot=Decimal("148.5"), strike_min=Decimal("5"), strike_max=Decimal("400")
        ),
        OptionContract: OptionContract.objects.create(
            symbol="O:NVDA250620C00150000",
            root="NVDA",
            underlying="NVDA",
            expiry=date(2025, 6, 20),
            right="C",
            strike=Decimal("150"),
            open_interest=120,
        ),
        OptionTrade: make_trade(1),
    }


ADMIN_MODELS = [Watchlist, FilterProfile, Subscription, Underlying, OptionContract, OptionTrade]


def admin_url(model: type[models.Model], view: str, *args: object) -> str:
    return reverse(f"admin:trades_{model._meta.model_name}_{view}", args=args)


def test_every_listed_model_is_registered():
    assert all(admin.site.is_registered(model) for model in ADMIN_MODELS)


@pytest.mark.django_db
@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda model: model.__name__)
def test_changelist_and_change_pages_render(admin_client: Client, one_of_each, model):
    obj = one_of_each[model]

    changelist = admin_client.get(admin_url(model, "changelist"))
    change = admin_client.get(admin_url(model, "change", obj.pk))

    assert changelist.status_code == 200
    assert admin_url(model, "change", obj.pk) in changelist.text  # the row links to its page
    assert change.status_code == 200
    assert str(obj) in change.text


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Watchlist, FilterProfile, Subscription, Underlying, OptionContract])
def test_add_pages_render(admin_client: Client, model):
    assert admin_client.get(admin_url(model, "add")).status_code == 200


@pytest.mark.django_db
def test_watchlist_page_edits_tickers_inline(admin_client: Client, one_of_each):
    response = admin_client.get(admin_url(Watchlist, "change", one_of_each[Watchlist].pk))
    assert 'name="tickers-TOTAL_FORMS"' in response.text
    assert 'value="NVDA"' in response.text


@pytest.mark.django_db
def test_profile_list_shows_the_rules_and_edits_enabled_in_place(admin_client: Client, one_of_each):
    response = admin_client.get(admin_url(FilterProfile, "changelist"))
    assert "0–30" in response.text  # the DTE window of mag7-smart-money
    assert 'name="form-0-enabled"' in response.text


@pytest.mark.django_db
def test_profile_list_editable_enabled_saves(admin_client: Client):
    profiles = list(FilterProfile.objects.order_by("name"))
    data = {"form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2", "_save": "Save"}
    for index, profile in enumerate(profiles):
        data[f"form-{index}-id"] = str(profile.pk)
        if profile.name != "mag7-smart-money":
            data[f"form-{index}-enabled"] = "on"

    response = admin_client.post(admin_url(FilterProfile, "changelist"), data)

    assert response.status_code == 302
    assert dict(FilterProfile.objects.values_list("name", "enabled")) == {
        "classic-unusual-activity": True,
        "mag7-smart-money": False,
    }


@pytest.mark.django_db
def test_trades_are_read_only(admin_client: Client, one_of_each):
    trade = one_of_each[OptionTrade]
    change = admin_client.get(admin_url(OptionTrade, "change", trade.pk))

    assert admin_client.get(admin_url(OptionTrade, "add")).status_code == 403
    assert 'name="_save"' not in change.text
    assert "mag7-smart-money" in change.text  # the TradeMatch inline
    assert admin_client.post(admin_url(OptionTrade, "change", trade.pk), {}).status_code == 403
    assert OptionTrade.objects.filter(pk=trade.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "?q=NVDA250620",
        "?underlying__exact=NVDA",
        "?right__exact=C",
        "?source__exact=live",
        "?profiles__id__exact={profile}",
        "?traded_at__year={year}",
    ],
)
def test_trade_filters_and_search_find_the_trade(admin_client: Client, one_of_each, query):
    query = query.format(profile=one_of_each[FilterProfile].pk, year=timezone.now().year)
    response = admin_client.get(admin_url(OptionTrade, "changelist") + query)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert [spec.title for spec in response.context["cl"].filter_specs] == ["underlying", "right", "source", "profiles"]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?q=NVDA", "?underlying__exact=NVDA", "?right__exact=C", "?expiry__year=2025"])
def test_contract_filters_and_search(admin_client: Client, one_of_each, query):
    response = admin_client.get(admin_url(OptionContract, "changelist") + query)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert [spec.title for spec in response.context["cl"].filter_specs] == ["underlying", "right", "expiry"]


@pytest.mark.django_db
def test_trade_list_queries_do_not_grow_with_rows(admin_client: Client, django_assert_num_queries):
    make_trade(1)
    with CaptureQueriesContext(connection) as one_row:
        admin_client.get(admin_url(OptionTrade, "changelist"))
    for n in range(2, 30):
        make_trade(n)
    with django_assert_num_queries(len(one_row.captured_queries)):
        response = admin_client.get(admin_url(OptionTrade, "changelist"))
    assert response.context["cl"].result_count == 29


@pytest.mark.django_db
def test_watched_ticker_inline_saves(admin_client: Client, one_of_each):
    watchlist = Watchlist.objects.create(name="chips")
    data = {
        "name": "chips",
        "description": "",
        "tickers-TOTAL_FORMS": "2",
        "tickers-INITIAL_FORMS": "0",
        "tickers-0-symbol": "NVDA",
        "tickers-1-symbol": "AMD",
        "_save": "Save",
    }
    response = admin_client.post(admin_url(Watchlist, "change", watchlist.pk), data)
    assert response.status_code == 302
    assert sorted(WatchedTicker.objects.filter(watchlist=watchlist).values_list("symbol", flat=True)) == [
        "AMD",
        "NVDA",
    ]


@pytest.mark.django_db
def test_trade_list_columns(admin_client: Client, one_of_each):
    response = admin_client.get(admin_url(OptionTrade, "changelist"))
    row = response.context["cl"].result_list[0]
    assert row == one_of_each[OptionTrade]
    for text in [
        "O:NVDA250620C00150000",
        "CALL",
        "150.000",
        "105000.00",
        "148.5000",
        "classic-unusual-activity, mag7-smart-money",
    ]:
        assert text in response.text
