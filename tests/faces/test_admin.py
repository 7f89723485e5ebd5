"""Django admin: every model's pages render for a superuser; trades are read-only."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import cast

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import nvda_hit, profile_data
from trades.models import (
    BackfillUnit,
    DailyBar,
    FilterProfile,
    OptionContract,
    OptionTrade,
    Subscription,
    Underlying,
    WatchedTicker,
    Watchlist,
    WebhookEndpoint,
)
from trades.services.watchlists import TickerError, add_tickers, parse_tickers


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
        OptionTrade: nvda_hit(1),
        BackfillUnit: BackfillUnit.objects.create(source="rest", underlying="NVDA", day=date(2025, 6, 2), trades=1234),
        DailyBar: DailyBar.objects.create(
            ticker="NVDA", day=date(2025, 6, 2), open=140, high=150, low=139, close=Decimal("148.5")
        ),
    }


ADMIN_MODELS = [
    Watchlist,
    FilterProfile,
    Subscription,
    Underlying,
    OptionContract,
    OptionTrade,
    BackfillUnit,
    DailyBar,
]


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
    data = {"form-TOTAL_FORMS": str(len(profiles)), "form-INITIAL_FORMS": str(len(profiles)), "_save": "Save"}
    for index, profile in enumerate(profiles):
        data[f"form-{index}-id"] = str(profile.pk)
        if profile.name != "mag7-smart-money":
            data[f"form-{index}-enabled"] = "on"

    response = admin_client.post(admin_url(FilterProfile, "changelist"), data)

    assert response.status_code == 302
    assert dict(FilterProfile.objects.values_list("name", "enabled")) == {
        "classic-unusual-activity": True,
        "mag7-smart-money": False,
        "sweeps": True,
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
        "?side=C",
        "?source__exact=live",
        "?profiles__id__exact={profile}",
        "?stale_reference__exact=0",
        "?traded_at__year={year}",
    ],
)
def test_trade_filters_and_search_find_the_trade(admin_client: Client, one_of_each, query):
    query = query.format(profile=one_of_each[FilterProfile].pk, year=timezone.now().year)
    response = admin_client.get(admin_url(OptionTrade, "changelist") + query)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert [spec.title for spec in response.context["cl"].filter_specs] == [
        "underlying",
        "side",
        "profiles",
        "source",
        "stale reference",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?side=P", "?stale_reference__exact=1", "?q=AAPL"])
def test_trade_filters_leave_out_the_trade(admin_client: Client, one_of_each, query):
    response = admin_client.get(admin_url(OptionTrade, "changelist") + query)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?q=NVDA", "?underlying__exact=NVDA", "?right__exact=C", "?expiry__year=2025"])
def test_contract_filters_and_search(admin_client: Client, one_of_each, query):
    response = admin_client.get(admin_url(OptionContract, "changelist") + query)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert [spec.title for spec in response.context["cl"].filter_specs] == ["underlying", "right", "expiry"]


@pytest.mark.django_db
def test_trade_list_queries_do_not_grow_with_rows(admin_client: Client, django_assert_num_queries):
    nvda_hit(1)
    with CaptureQueriesContext(connection) as one_row:
        admin_client.get(admin_url(OptionTrade, "changelist"))
    for n in range(2, 30):
        nvda_hit(n)
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
        "NVDA 20 Jun 25 150 Call",  # the contract by name beside its OCC symbol
        "$105,000",
        "$148.50",  # spot: money, not the column's raw Decimal("148.5000")
        "Time (New York)",
        "DTE",
        "OI",
        "classic-unusual-activity, mag7-smart-money",
    ]:
        assert text in response.text
    assert "148.5000" not in response.text and "150.000" not in response.text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T", response.text), "New York time with its zone"


# --- Filter profile form ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"min_dte": 10, "max_dte": 5},
            "max_dte",
            "maximum DTE (5 days) must be at least the minimum DTE (10 days)",
        ),
        ({"strike_band": "0"}, "strike_band", "more than 0 and at most 1"),
        ({"strike_band": "1.5"}, "strike_band", "more than 0 and at most 1"),
        ({"min_premium": "-1"}, "min_premium", "cannot be negative"),
        ({"exclude_conditions": '["x"]'}, "exclude_conditions", "condition codes (whole numbers)"),
    ],
)
def test_profile_form_refuses_bad_rules_with_a_field_error(admin_client: Client, changes, field, message):
    profile = FilterProfile.objects.get(name="mag7-smart-money")
    response = admin_client.post(admin_url(FilterProfile, "change", profile.pk), profile_data(profile, **changes))

    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert FilterProfile.objects.get(pk=profile.pk).min_premium == Decimal("50000.00")


BAD_PROFILE_VALUES = [
    # (field, value posted, the field the error is on)
    ("min_premium", "-1", "min_premium"),
    ("min_premium", "-0.01", "min_premium"),
    ("min_premium", "NaN", "min_premium"),
    ("min_premium", "Infinity", "min_premium"),
    ("min_premium", "-Infinity", "min_premium"),
    ("min_premium", "1e20", "min_premium"),  # beyond the column's 14 digits
    ("min_premium", "1234567890123.45", "min_premium"),
    ("min_premium", "0.001", "min_premium"),  # beyond its 2 decimal places
    ("min_premium", "fifty thousand", "min_premium"),
    ("min_premium", "true", "min_premium"),
    ("min_size", "-1", "min_size"),
    ("min_size", "2147483648", "min_size"),  # beyond PostgreSQL's integer
    ("min_size", "9" * 5000, "min_size"),
    ("min_size", "1.5", "min_size"),
    ("min_size", "1e3", "min_size"),
    ("min_size", "NaN", "min_size"),
    ("min_size", "true", "min_size"),
    ("min_size", "ten", "min_size"),
    ("min_dte", "-1", "min_dte"),
    ("min_dte", "Infinity", "min_dte"),
    ("max_dte", "2147483648", "max_dte"),
    ("max_dte", "false", "max_dte"),
    ("strike_band", "0", "strike_band"),
    ("strike_band", "-0.4", "strike_band"),
    ("strike_band", "1.001", "strike_band"),
    ("strike_band", "2", "strike_band"),
    ("strike_band", "NaN", "strike_band"),
    ("strike_band", "Infinity", "strike_band"),
    ("strike_band", "0.0001", "strike_band"),  # beyond its 3 decimal places
    ("strike_band", "forty percent", "strike_band"),
    ("exclude_conditions", '["x"]', "exclude_conditions"),
    ("exclude_conditions", "[1.5]", "exclude_conditions"),
    ("exclude_conditions", "[true]", "exclude_conditions"),
    ("exclude_conditions", "[-1]", "exclude_conditions"),
    ("exclude_conditions", "[NaN]", "exclude_conditions"),
    ("exclude_conditions", "[1e400]", "exclude_conditions"),
    ("exclude_conditions", "[2147483648]", "exclude_conditions"),  # beyond OptionCondition.code
    ("exclude_conditions", "[" + "1" * 5000 + "]", "exclude_conditions"),  # beyond Python's int parsing
    ("exclude_conditions", '{"233": true}', "exclude_conditions"),
    ("exclude_conditions", '"233"', "exclude_conditions"),
    ("exclude_conditions", "233, 234", "exclude_conditions"),
    ("exclude_categories", ["regular"], "exclude_categories"),
    ("exclude_categories", ["sometimes"], "exclude_categories"),
    ("name", "not a slug", "name"),
    ("name", "", "name"),
    ("description", "big\x00puts", "description"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value", "error_on"), BAD_PROFILE_VALUES, ids=lambda v: str(v)[:30])
def test_profile_form_refuses_each_bad_value_on_its_field_and_saves_nothing(
    admin_client: Client, field, value, error_on
):
    profile = FilterProfile.objects.get(name="mag7-smart-money")
    before = FilterProfile.objects.filter(pk=profile.pk).values().get()

    response = admin_client.post(
        admin_url(FilterProfile, "change", profile.pk), profile_data(profile, **{field: value})
    )

    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert list(errors) == [error_on]
    assert FilterProfile.objects.filter(pk=profile.pk).values().get() == before


@pytest.mark.django_db
def test_profile_form_refuses_min_dte_above_max_dte_and_saves_nothing(admin_client: Client):
    profile = FilterProfile.objects.get(name="mag7-smart-money")
    before = FilterProfile.objects.filter(pk=profile.pk).values().get()

    response = admin_client.post(
        admin_url(FilterProfile, "change", profile.pk), profile_data(profile, min_dte="31", max_dte="30")
    )

    assert list(response.context["adminform"].form.errors) == ["max_dte"]
    assert FilterProfile.objects.filter(pk=profile.pk).values().get() == before


@pytest.mark.django_db
def test_the_model_refuses_a_negative_min_premium():
    profile = FilterProfile.objects.get(name="mag7-smart-money")
    profile.min_premium = Decimal("-1")
    with pytest.raises(ValidationError) as error:
        profile.full_clean()
    assert list(error.value.message_dict) == ["min_premium"]


@pytest.mark.django_db
@pytest.mark.parametrize("symbol", ["<script>", "$$$", "AAPL MSFT", "AAPL,MSFT", "ÄPPLE", "**", "TOOLONGTICKER0000"])
def test_the_ticker_inline_refuses_garbage(admin_client: Client, symbol):
    watchlist = Watchlist.objects.create(name="chips")
    data = {
        "name": "chips",
        "description": "",
        "tickers-TOTAL_FORMS": "1",
        "tickers-INITIAL_FORMS": "0",
        "tickers-0-symbol": symbol,
        "_save": "Save",
    }

    response = admin_client.post(admin_url(Watchlist, "change", watchlist.pk), data)

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.errors[0].keys() == {"symbol"}
    assert watchlist.symbols == []


@pytest.mark.django_db
@pytest.mark.parametrize("pasted", ["AMD <script>", "AMD $$$", "AMD ÄPPLE"])
def test_the_watchlist_form_refuses_pasted_garbage_by_name(admin_client: Client, pasted):
    watchlist = Watchlist.objects.create(name="chips")

    response = admin_client.post(admin_url(Watchlist, "change", watchlist.pk), watchlist_data(watchlist, pasted))

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["add_tickers"]
    assert f"{pasted.split()[1].upper()!r} is not a ticker" in error  # named as upper-cased
    assert watchlist.symbols == []


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["T.*, Q.*", "T.*,Q.*", "T. *"])
def test_the_subscription_form_refuses_more_than_one_channel(admin_client: Client, channel):
    response = admin_client.post(admin_url(Subscription, "add"), {"channel": channel, "enabled": "on"})

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["channel"]
    assert not Subscription.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("limit", ["0", "-1", "2147483648", "1.5", "NaN"])
def test_the_webhook_form_refuses_a_rate_limit_that_is_no_limit(admin_client: Client, limit):
    data = {"name": "desk", "url": "https://hooks.example.com/flow", "format": "standard", "active": "on"}

    response = admin_client.post(admin_url(WebhookEndpoint, "add"), data | {"rate_limit_per_minute": limit})

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["rate_limit_per_minute"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_profile_form_explains_units(admin_client: Client):
    profile = FilterProfile.objects.get(name="mag7-smart-money")
    text = admin_client.get(admin_url(FilterProfile, "change", profile.pk)).text
    for words in ["Dollars, at least", "Contracts in the trade", "Days to expiry, at least", "Fraction 0–1"]:
        assert words in text
    assert 'value="multi_leg"' in text  # condition groups are check boxes


@pytest.mark.django_db
def test_saving_a_profile_says_when_workers_apply_it(admin_client: Client):
    profile = FilterProfile.objects.get(name="mag7-smart-money")
    data = profile_data(profile, min_premium="100000", strike_band="1", exclude_categories=["cancelled", "late"])

    response = admin_client.post(admin_url(FilterProfile, "change", profile.pk), data, follow=True)

    assert "Saved: workers apply it within 5 s" in response.text
    profile.refresh_from_db()
    assert (profile.min_premium, profile.strike_band) == (Decimal("100000.00"), Decimal("1.000"))
    assert profile.exclude_categories == ["cancelled", "late"]


@pytest.mark.django_db
def test_list_edit_of_profiles_says_it_once(admin_client: Client):
    profiles = list(FilterProfile.objects.order_by("name"))
    data = {"form-TOTAL_FORMS": str(len(profiles)), "form-INITIAL_FORMS": str(len(profiles)), "_save": "Save"}
    for index, profile in enumerate(profiles):
        data[f"form-{index}-id"] = str(profile.pk)
    response = admin_client.post(admin_url(FilterProfile, "changelist"), data, follow=True)
    assert response.text.count("Saved: workers apply it within 5 s") == 1


@pytest.mark.django_db
def test_saving_a_subscription_says_when_the_listener_subscribes(admin_client: Client):
    response = admin_client.post(
        admin_url(Subscription, "add"), {"channel": "T.O:AAPL251220C00190000", "enabled": "on"}, follow=True
    )
    assert "Saved: the listener subscribes within 10 s" in response.text
    assert Subscription.objects.filter(channel="T.O:AAPL251220C00190000").exists()


# --- Watchlists: bulk add and reference data ---------------------------------------------------


def test_parse_tickers_splits_upper_cases_and_deduplicates():
    assert parse_tickers("AAPL, MSFT NVDA") == ["AAPL", "MSFT", "NVDA"]
    assert parse_tickers(" aapl,,msft\n\nnvda\taapl ,MSFT ") == ["AAPL", "MSFT", "NVDA"]
    assert parse_tickers("brk.b *") == ["BRK.B", "*"]
    assert parse_tickers("  \n ") == []


def test_parse_tickers_names_the_bad_entry():
    with pytest.raises(TickerError, match="'AAPLMSFTNVDAGOOGL' is not a ticker: a ticker has 1-16 characters"):
        parse_tickers("TSLA, AAPLMSFTNVDAGOOGL, AMD")


@pytest.mark.django_db
def test_add_tickers_adds_only_the_new_ones():
    watchlist = Watchlist.objects.create(name="chips")
    WatchedTicker.objects.create(watchlist=watchlist, symbol="NVDA")

    assert add_tickers(watchlist, ["AMD", "NVDA", "INTC", "AMD"]) == ["AMD", "INTC"]
    assert add_tickers(watchlist, ["NVDA"]) == []
    assert watchlist.symbols == ["AMD", "INTC", "NVDA"]


def watchlist_data(watchlist: Watchlist, add: str) -> dict[str, str]:
    return {
        "name": watchlist.name,
        "description": watchlist.description,
        "add_tickers": add,
        "tickers-TOTAL_FORMS": "0",
        "tickers-INITIAL_FORMS": "0",
        "_save": "Save",
    }


@pytest.mark.django_db
def test_watchlist_form_adds_pasted_tickers(admin_client: Client):
    watchlist = Watchlist.objects.create(name="chips")
    WatchedTicker.objects.create(watchlist=watchlist, symbol="NVDA")

    response = admin_client.post(
        admin_url(Watchlist, "change", watchlist.pk), watchlist_data(watchlist, "amd, nvda\nINTC  AMD"), follow=True
    )

    assert watchlist.symbols == ["AMD", "INTC", "NVDA"]
    assert "Added 2 tickers: AMD, INTC." in response.text
    assert "Already on the list: NVDA." in response.text
    assert "Saved: workers apply it within 5 s" in response.text


@pytest.mark.django_db
def test_watchlist_add_page_adds_pasted_tickers(admin_client: Client):
    data = watchlist_data(Watchlist(name="new-list"), "SPY QQQ")
    assert admin_client.post(admin_url(Watchlist, "add"), data).status_code == 302
    assert Watchlist.objects.get(name="new-list").symbols == ["QQQ", "SPY"]


@pytest.mark.django_db
def test_watchlist_form_refuses_a_bad_ticker_by_name(admin_client: Client):
    watchlist = Watchlist.objects.create(name="chips")
    response = admin_client.post(
        admin_url(Watchlist, "change", watchlist.pk), watchlist_data(watchlist, "AMD THISISNOTATICKER01")
    )
    assert response.status_code == 200
    assert "&#x27;THISISNOTATICKER01&#x27; is not a ticker" in response.text
    assert watchlist.symbols == []


@pytest.mark.django_db
def test_ticker_inline_shows_reference_data_age(admin_client: Client, django_assert_max_num_queries):
    watchlist = Watchlist.objects.get(name="mag7")
    now = timezone.now()
    Underlying.objects.create(
        ticker="NVDA",
        spot_updated_at=now - timedelta(seconds=42),
        strikes_updated_at=now - timedelta(hours=3),
        open_interest_updated_at=None,
    )
    with django_assert_max_num_queries(12):
        text = admin_client.get(admin_url(Watchlist, "change", watchlist.pk)).text
    assert "spot 42 s ago · strikes 3 h ago · open interest never" in text
    assert "none yet (manage.py refresh_reference loads it)" in text  # AAPL has no Underlying row


# --- Trade browser: CSV export ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_browsers_say_how_late_each_stream_hit_was(admin_client: Client):
    streamed = nvda_hit(1)
    streamed.stored_at = streamed.traded_at + timedelta(milliseconds=1_234)
    streamed.alerted_at = streamed.traded_at + timedelta(milliseconds=1_300)
    streamed.save()
    replayed = nvda_hit(2)
    replayed.source = "replay"
    replayed.save()

    page = admin_client.get(admin_url(OptionTrade, "changelist")).content.decode()
    assert "Late by" in page
    assert "1,234 ms, alert 1,300 ms" in page
    assert page.count('<td class="field-latency">—</td>') == 1  # the replay's: old by design


@pytest.mark.django_db
def test_export_selected_as_csv(admin_client: Client, one_of_each):
    trade = one_of_each[OptionTrade]
    trade.traded_at = datetime(2025, 6, 2, 14, 30, 5, 123000, tzinfo=UTC)
    trade.save()
    received_ms = round((trade.received_at - trade.traded_at).total_seconds() * 1000)
    nvda_hit(2)  # not selected

    response = admin_client.post(
        admin_url(OptionTrade, "changelist"), {"action": "export_csv", "_selected_action": [str(trade.pk)]}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="trades-')
    lines = streamed(response).splitlines()
    assert lines == [
        "symbol,ticker,strike,expiry,side,price,size,premium,dte,exchange,conditions,sequence,timestamp,profiles,"
        "latency",
        "O:NVDA250620C00150000,NVDA,150.0,2025-06-20,CALL,2.1,500,105000.0,18,302,209,1,2025-06-02T14:30:05.123Z,"
        f"classic-unusual-activity;mag7-smart-money,received_ms={received_ms};stored_ms=;alerted_ms=",
    ]


@pytest.mark.django_db
def test_csv_export_queries_do_not_grow_with_rows(admin_client: Client, django_assert_max_num_queries):
    trades = [nvda_hit(n) for n in range(1, 31)]
    data = {"action": "export_csv", "_selected_action": [str(trade.pk) for trade in trades]}
    with django_assert_max_num_queries(10):
        response = admin_client.post(admin_url(OptionTrade, "changelist"), data)
        lines = streamed(response).splitlines()
    assert len(lines) == 31


def streamed(response: object) -> str:
    """The body of a streaming response (the CSV export streams its rows)."""
    return cast(StreamingHttpResponse, response).getvalue().decode()


@pytest.mark.django_db
def test_the_backfill_page_says_how_far_it_has_come(admin_client: Client):
    BackfillUnit.objects.create(source="rest", underlying="NVDA", day=date(2025, 6, 2), status="done", trades=1234)
    BackfillUnit.objects.create(source="rest", underlying="NVDA", day=date(2025, 6, 3), status="failed", error="boom")
    page = admin_client.get(admin_url(BackfillUnit, "changelist")).text
    assert "Backfill: 1 of 2 units done, 1 failed, 0 not entitled; 1,234 trades judged" in page
