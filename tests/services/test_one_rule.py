"""One source of validation: a rule lives on the model, and the admin's forms and `flowconfig import`
both apply it, so they refuse the same bad value with the same words."""

from __future__ import annotations

from typing import Any

import pytest
from django.forms import modelform_factory

from tests.factories import profile_data
from trades.forms import FilterProfileForm, WebhookEndpointForm
from trades.models import FilterProfile, Subscription, WebhookEndpoint
from trades.services.flowconfig import ConfigError, import_config

pytestmark = pytest.mark.django_db

PROFILE_CASES = [
    ({"min_premium": -1}, "min_premium"),
    ({"strike_band": 0}, "strike_band"),
    ({"strike_band": 1.5}, "strike_band"),
    ({"min_premium": 0.001}, "min_premium"),
    ({"min_dte": 10, "max_dte": 5}, "max_dte"),
    ({"min_size": -1}, "min_size"),
]


def import_errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        import_config(data)
    return error.value.errors


@pytest.mark.parametrize(("values", "field"), PROFILE_CASES, ids=[str(case[0]) for case in PROFILE_CASES])
def test_a_profile_value_is_refused_alike_by_the_admin_and_the_import(values: dict[str, Any], field: str):
    profile = FilterProfile.objects.get(name="mag7-smart-money")
    form = FilterProfileForm(data=profile_data(profile, **values), instance=profile)
    assert not form.is_valid()
    admin_says = form.errors[field]

    import_says = import_errors({"profiles": [{"name": profile.name, **values}]})

    assert import_says == [f"profiles[0].{field}: {message}" for message in admin_says]


WEBHOOK_CASES = [
    ({"url": "ftp://files.example.com/hook"}, "url"),
    ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
]


@pytest.mark.parametrize(("values", "field"), WEBHOOK_CASES, ids=[str(case[0]) for case in WEBHOOK_CASES])
def test_a_webhook_value_is_refused_alike_by_the_admin_and_the_import(values: dict[str, Any], field: str):
    endpoint = WebhookEndpoint.objects.create(name="desk", url="https://hooks.example.com/flow")
    data = {"name": "desk", "url": endpoint.url, "format": "standard", "active": "on", **values}
    form = WebhookEndpointForm(data=data, instance=endpoint)
    assert not form.is_valid()
    admin_says = form.errors[field]

    import_says = import_errors({"webhooks": [{"name": "desk", **values}]})

    assert import_says == [f"webhooks[0].{field}: {message}" for message in admin_says]


def test_a_condition_code_is_refused_alike_by_the_admin_and_the_import():
    profile = FilterProfile.objects.get(name="mag7-smart-money")
    form = FilterProfileForm(data=profile_data(profile, exclude_conditions="[-1]"), instance=profile)
    assert not form.is_valid()

    import_says = import_errors({"profiles": [{"name": profile.name, "exclude_conditions": [-1]}]})

    assert import_says == [
        f"profiles[0].exclude_conditions[0]: {message}" for message in form.errors["exclude_conditions"]
    ]


def test_a_channel_is_refused_alike_by_the_admin_and_the_import():
    admin_form = modelform_factory(Subscription, fields=["channel", "enabled"])  # what the admin builds
    form = admin_form(data={"channel": "T.*,Q.*", "enabled": "on"})
    assert not form.is_valid()

    import_says = import_errors({"subscriptions": ["T.*,Q.*"]})

    assert import_says == [f"subscriptions[0]: {message}" for message in form.errors["channel"]]
