"""Admin for reference data: how old each underlying's data is, conditions and exchanges read-mostly,
and a profile's excluded conditions by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from trades.admin.common import age_text
from trades.models import FilterProfile, OptionCondition, OptionExchange, Underlying

NOW = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("then", "text"),
    [
        (None, "never"),
        (NOW, "0 s"),
        (NOW - timedelta(seconds=59), "59 s"),
        (NOW - timedelta(minutes=3, seconds=59), "3 min"),
        (NOW - timedelta(minutes=59), "59 min"),
        (NOW - timedelta(hours=5), "5 h"),
        (NOW - timedelta(days=2, hours=23), "2 d"),
        (NOW + timedelta(seconds=5), "0 s"),  # a clock a little ahead is not "in the future"
    ],
)
def test_age_text(then, text):
    assert age_text(then, NOW) == text


@pytest.mark.django_db
def test_underlying_list_shows_how_old_each_value_is(admin_client: Client):
    now = timezone.now()
    Underlying.objects.create(
        ticker="SPY",
        spot=600,
        spot_updated_at=now - timedelta(minutes=3, seconds=10),
        strike_min=400,
        strike_max=800,
        strikes_updated_at=now - timedelta(days=2, hours=1),
    )

    page = admin_client.get(reverse("admin:trades_underlying_changelist")).text

    assert '<td class="field-spot_age">3 min</td>' in page
    assert '<td class="field-strikes_age">2 d</td>' in page
    assert '<td class="field-open_interest_age">never</td>' in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "row"),
    [
        (OptionCondition, {"code": 201, "name": "Canceled", "category": "cancelled"}),
        (OptionExchange, {"id": 302, "name": "Cboe Options", "mic": "XCBO"}),
    ],
)
def test_conditions_and_exchanges_are_read_mostly(admin_client: Client, model, row):
    obj = model.objects.create(**row)
    name = model._meta.model_name

    changelist = admin_client.get(reverse(f"admin:trades_{name}_changelist"))
    view = admin_client.get(reverse(f"admin:trades_{name}_change", args=[obj.pk]))
    add = admin_client.get(reverse(f"admin:trades_{name}_add"))
    post = admin_client.post(reverse(f"admin:trades_{name}_change", args=[obj.pk]), {"name": "edited"})

    assert changelist.status_code == 200 and row["name"] in changelist.text
    assert view.status_code == 200 and 'name="_save"' not in view.text
    assert add.status_code == 403
    assert post.status_code == 403
    assert model.objects.get(pk=obj.pk).name == row["name"]


@pytest.mark.django_db
def test_profile_page_names_the_excluded_conditions(admin_client: Client):
    OptionCondition.objects.create(code=201, name="Canceled", category="cancelled")
    OptionCondition.objects.create(code=232, name="Multi Leg auto-electronic trade", category="multi_leg")
    profile = FilterProfile.objects.get(name="mag7-smart-money")
    profile.exclude_conditions = [232, 201, 202]
    profile.save()

    page = admin_client.get(reverse("admin:trades_filterprofile_change", args=[profile.pk])).text

    assert "201 Canceled; 202 (not in the loaded conditions list); 232 Multi Leg auto-electronic trade" in page
