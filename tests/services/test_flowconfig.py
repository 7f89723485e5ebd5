"""Config as code: ``manage.py flowconfig export`` / ``import`` and the service behind them."""

from __future__ import annotations

import base64
import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from tests.config_files import db_state, profile, run, webhook
from trades.models import (
    FilterProfile,
    OptionTrade,
    Subscription,
    TradeMatch,
    WatchedTicker,
    Watchlist,
    WebhookEndpoint,
)
from trades.presets import CLASSIC_TICKERS, MAG7
from trades.services import flowconfig
from trades.services.flowconfig import Change, ConfigError, export_config, import_config

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(100, 124))).decode()  # 24 bytes: the least allowed


@pytest.fixture
def endpoints() -> dict[str, WebhookEndpoint]:
    """A signed endpoint on one profile and a Discord one, switched off by a 410, on every profile."""
    desk = WebhookEndpoint.objects.create(name="desk", url="https://hooks.example.com/flow", secret=SECRET)
    desk.profiles.set(FilterProfile.objects.filter(name="mag7-smart-money"))
    chat = WebhookEndpoint.objects.create(
        name="chat",
        url="https://discord.com/api/webhooks/1/abc",
        format="discord",
        active=False,
        disabled_reason="410 Gone on 2025-06-02 14:30 UTC",
        allow_private=True,
        rate_limit_per_minute=30,
    )
    return {"desk": desk, "chat": chat}


@pytest.fixture
def custom_setup() -> None:
    """Presets plus a disabled wildcard profile and a mix of subscriptions."""
    everything = Watchlist.objects.create(name="everything")
    WatchedTicker.objects.create(watchlist=everything, symbol="*")
    FilterProfile.objects.create(
        name="whales",
        description="Any ticker, $1M+",
        enabled=False,
        watchlist=everything,
        min_premium=Decimal("1000000.50"),
        strike_band=Decimal("0.125"),
        exclude_conditions=[202, 201, 240],
    )
    Subscription.objects.create(channel="T.*")
    Subscription.objects.create(channel="T.O:AAPL251220C00190000", enabled=False)


# --- export -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_of_the_presets():
    assert export_config() == {
        "subscriptions": [],
        "profiles": [
            {
                "name": "classic-unusual-activity",
                "description": "Watchlist, premium ≥ $25K, ≥ 100 contracts, size above open interest, "
                "strike within 40% band.",
                "enabled": True,
                "watchlist": "classic",
                "tickers": sorted(CLASSIC_TICKERS),
                "min_premium": 25000,
                "min_size": 100,
                "min_dte": None,
                "max_dte": None,
                "size_gt_open_interest": True,
                "strike_band": 0.4,
                "exclude_categories": ["cancelled", "late"],  # migration 0004: the codes became groups
                "exclude_conditions": [],
                "judges": "prints",
                "order_types": [],
                "golden_only": False,
                "iso_only": False,
                "aggressors": [],
                "sentiments": [],
                "opening": "",
                "min_vol_oi": None,
                "min_strike_multiple": None,
                "min_strike_share": None,
                "min_share_of_daily_premium": None,
                "repeated_hits_only": False,
            },
            {
                "name": "mag7-smart-money",
                "description": "MAG7, premium ≥ $50K, 0–30 days to expiry.",
                "enabled": True,
                "watchlist": "mag7",
                "tickers": sorted(MAG7),
                "min_premium": 50000,
                "min_size": None,
                "min_dte": 0,
                "max_dte": 30,
                "size_gt_open_interest": False,
                "strike_band": None,
                "exclude_categories": ["cancelled", "late"],
                "exclude_conditions": [],
                "judges": "prints",
                "order_types": [],
                "golden_only": False,
                "iso_only": False,
                "aggressors": [],
                "sentiments": [],
                "opening": "",
                "min_vol_oi": None,
                "min_strike_multiple": None,
                "min_strike_share": None,
                "min_share_of_daily_premium": None,
                "repeated_hits_only": False,
            },
            {
                "name": "sweeps",
                "description": "Watchlist, sweeps and blocks of $250K or more, 0–45 days to expiry, "
                "opening new positions.",
                "enabled": True,
                "watchlist": "classic",
                "tickers": sorted(CLASSIC_TICKERS),
                "min_premium": 250000,
                "min_size": None,
                "min_dte": 0,
                "max_dte": 45,
                "size_gt_open_interest": False,
                "strike_band": None,
                "exclude_categories": ["cancelled", "late"],
                "exclude_conditions": [],
                "judges": "orders",
                "order_types": ["BLOCK", "SWEEP"],
                "golden_only": False,
                "iso_only": False,
                "aggressors": [],
                "sentiments": [],
                "opening": "opening",
                "min_vol_oi": None,
                "min_strike_multiple": None,
                "min_strike_share": None,
                "min_share_of_daily_premium": None,
                "repeated_hits_only": False,
            },
        ],
        "webhooks": [],
    }


@pytest.mark.django_db
def test_export_emits_plain_numbers(custom_setup):
    exported = {p["name"]: p for p in export_config()["profiles"]}
    assert exported["mag7-smart-money"]["min_premium"] == 50000
    assert type(exported["mag7-smart-money"]["min_premium"]) is int  # whole dollars print as 50000
    whales = exported["whales"]
    assert whales["min_premium"] == 1000000.5 and type(whales["min_premium"]) is float
    assert whales["strike_band"] == 0.125 and type(whales["strike_band"]) is float
    assert whales["tickers"] == ["*"]
    assert whales["enabled"] is False
    assert whales["exclude_conditions"] == [201, 202, 240]


@pytest.mark.django_db
def test_export_command_prints_pretty_json(custom_setup):
    out = run("export")
    assert json.loads(out) == export_config()
    assert out.startswith('{\n  "subscriptions": [\n    "T.*"\n  ],')
    assert '"min_premium": 50000,' in out
    assert "Decimal" not in out


# --- import: round trip and idempotence -------------------------------------------------------


@pytest.mark.django_db
def test_export_import_round_trip_is_identity(custom_setup):
    exported = export_config()
    FilterProfile.objects.all().delete()
    Watchlist.objects.all().delete()
    Subscription.objects.all().delete()

    report = import_config(copy.deepcopy(exported))

    assert export_config() == exported
    assert report.created == ["classic-unusual-activity", "mag7-smart-money", "sweeps", "whales"]
    assert report.watchlists_created == ["classic", "mag7", "everything"]
    assert report.subscriptions_enabled == ["T.*"]


@pytest.mark.django_db
def test_importing_the_export_into_the_same_database_changes_nothing(custom_setup):
    before = db_state()
    report = import_config(export_config())
    assert not report.changed
    assert report.unchanged == ["classic-unusual-activity", "mag7-smart-money", "sweeps", "whales"]
    assert db_state() == before  # the disabled subscription stays, disabled


@pytest.mark.django_db
def test_import_twice_changes_nothing_the_second_time(tmp_path: Path):
    file = tmp_path / "flow.json"
    file.write_text(json.dumps({"subscriptions": ["T.*"], "profiles": [profile()]}))

    first = run("import", str(file))
    after_first = db_state()
    second = run("import", str(file))

    assert "created profile big-puts" in first
    assert "created watchlist big-puts" in first
    assert "enabled subscription T.*" in first
    assert db_state() == after_first
    assert "unchanged profile big-puts" in second
    assert "nothing to change" in second


@pytest.mark.django_db
def test_import_normalises_values():
    import_config({"profiles": [profile()]})

    big_puts = FilterProfile.objects.get(name="big-puts")
    assert big_puts.watchlist.name == "big-puts"  # no "watchlist" key: named after the profile
    assert big_puts.watchlist.symbols == ["QQQ", "SPY"]  # upper-cased, de-duplicated
    assert big_puts.min_premium == Decimal("1234.50")
    assert big_puts.strike_band == Decimal("0.250")
    assert big_puts.exclude_conditions == [201, 237]
    assert big_puts.description == ""


@pytest.mark.django_db
def test_import_updates_by_name_and_keeps_the_keys_left_out():
    before = FilterProfile.objects.filter(name="mag7-smart-money").values().get()

    report = import_config({"profiles": [{"name": "mag7-smart-money", "min_premium": 75000}]})

    after = FilterProfile.objects.filter(name="mag7-smart-money").values().get()
    assert report.updated == {"mag7-smart-money": [Change("min_premium", Decimal(50000), Decimal(75000))]}
    assert after == before | {"min_premium": Decimal(75000), "updated_at": after["updated_at"]}  # DTE 0–30 kept
    assert Watchlist.objects.get(name="mag7").symbols == sorted(MAG7)
    assert report.not_in_file == ["classic-unusual-activity", "sweeps"]


@pytest.mark.django_db
def test_replace_resets_the_keys_left_out_to_the_defaults():
    report = import_config(
        {"profiles": [{"name": "mag7-smart-money", "watchlist": "mag7", "tickers": MAG7}]}, replace=True
    )

    mag7 = FilterProfile.objects.get(name="mag7-smart-money")
    assert report.updated == {
        "mag7-smart-money": [
            Change("description", "MAG7, premium ≥ $50K, 0–30 days to expiry.", ""),
            Change("min_premium", Decimal(50000), None),
            Change("min_dte", 0, None),
            Change("max_dte", 30, None),
        ]
    }
    assert (mag7.min_premium, mag7.min_dte, mag7.max_dte, mag7.description) == (None, None, None, "")
    assert report.disabled == ["classic-unusual-activity", "sweeps"]


@pytest.mark.django_db
def test_a_new_profile_takes_the_model_defaults_for_the_keys_left_out():
    import_config({"profiles": [{"name": "new", "tickers": ["AMD"]}]})

    fields = ["description", "enabled", "min_premium", "min_dte", "max_dte", "strike_band", "exclude_categories"]
    blank = FilterProfile()
    assert FilterProfile.objects.filter(name="new").values(*fields).get() == {
        key: getattr(blank, key) for key in fields
    }


@pytest.mark.django_db
@pytest.mark.parametrize("replace", [False, True])
def test_tickers_without_a_watchlist_name_change_the_profiles_own_watchlist(replace: bool):
    watchlists = Watchlist.objects.count()
    entry = export_config()["profiles"][1]
    assert entry["name"] == "mag7-smart-money"
    del entry["watchlist"]

    report = import_config({"profiles": [entry | {"tickers": [*MAG7, "AMD"]}]}, replace=replace)

    mag7 = FilterProfile.objects.get(name="mag7-smart-money")
    assert (mag7.watchlist.name, mag7.watchlist.symbols) == ("mag7", sorted([*MAG7, "AMD"]))
    assert Watchlist.objects.count() == watchlists  # no watchlist named after the profile
    assert report.watchlists_updated == {"mag7": [Change("tickers", sorted(MAG7), sorted([*MAG7, "AMD"]))]}
    assert report.unchanged == ["mag7-smart-money"]


@pytest.mark.django_db
def test_a_watchlist_named_without_tickers_keeps_its_tickers():
    report = import_config({"profiles": [{"name": "classic-unusual-activity", "watchlist": "mag7"}]})

    assert FilterProfile.objects.get(name="classic-unusual-activity").watchlist.name == "mag7"
    assert Watchlist.objects.get(name="mag7").symbols == sorted(MAG7)
    assert Watchlist.objects.get(name="classic").symbols == sorted(CLASSIC_TICKERS)  # still there, unused
    assert report.updated == {"classic-unusual-activity": [Change("watchlist", "classic", "mag7")]}
    assert report.watchlists_created == [] and report.watchlists_updated == {}


@pytest.mark.django_db
def test_a_watchlist_without_tickers_must_exist_or_get_them_elsewhere_in_the_file():
    with pytest.raises(ConfigError) as error:
        import_config({"profiles": [{"name": "new"}, {"name": "other", "watchlist": "fresh"}]})
    assert error.value.errors == [
        'profiles[0].tickers: is required: there is no watchlist "new" yet',
        'profiles[1].tickers: is required: there is no watchlist "fresh" yet',
    ]

    report = import_config(
        {
            "profiles": [
                {"name": "new", "watchlist": "fresh"},
                {"name": "other", "watchlist": "fresh", "tickers": ["AMD"]},
                {"name": "third", "watchlist": "mag7"},
            ]
        }
    )
    assert report.created == ["new", "other", "third"]
    assert report.watchlists_created == ["fresh"]
    assert Watchlist.objects.get(name="fresh").symbols == ["AMD"]


@pytest.mark.django_db
def test_replace_needs_the_tickers():
    with pytest.raises(ConfigError) as error:
        import_config({"profiles": [{"name": "mag7-smart-money", "watchlist": "mag7"}]}, replace=True)
    assert error.value.errors == ["profiles[0].tickers: is required"]


@pytest.mark.django_db
def test_a_dte_bound_past_the_one_kept_is_refused_naming_it():
    with pytest.raises(ConfigError) as error:
        import_config({"profiles": [{"name": "mag7-smart-money", "min_dte": 31}]})  # max_dte is 30
    assert error.value.errors == [
        "profiles[0].max_dte: The maximum DTE (30 days) must be at least the minimum DTE (31 days)."
    ]

    FilterProfile.objects.filter(name="mag7-smart-money").update(min_dte=10)
    with pytest.raises(ConfigError) as error:
        import_config({"profiles": [{"name": "mag7-smart-money", "max_dte": 9}]})
    assert error.value.errors == [
        "profiles[0].max_dte: The maximum DTE (9 days) must be at least the minimum DTE (10 days)."
    ]

    report = import_config({"profiles": [{"name": "mag7-smart-money", "tickers": MAG7, "min_dte": 31}]}, replace=True)
    assert FilterProfile.objects.get(name="mag7-smart-money").min_dte == 31  # replace: max_dte is off
    assert Change("max_dte", 30, None) in report.updated["mag7-smart-money"]


@pytest.mark.django_db
def test_an_entry_that_only_names_a_profile_changes_nothing(endpoints):
    before = db_state()
    report = import_config({"profiles": [{"name": "mag7-smart-money"}], "webhooks": [{"name": "chat"}]})
    assert not report.changed
    assert (report.unchanged, report.webhooks_unchanged) == (["mag7-smart-money"], ["chat"])
    assert db_state() == before


@pytest.mark.django_db
def test_profiles_absent_from_the_file_are_left_alone_and_reported(tmp_path: Path):
    classic_before = FilterProfile.objects.filter(name="classic-unusual-activity").values().get()
    file = tmp_path / "flow.json"
    file.write_text(json.dumps({"profiles": [profile()]}))

    out = run("import", str(file))

    assert FilterProfile.objects.filter(name="classic-unusual-activity").values().get() == classic_before
    assert "left alone (not in the file): profile classic-unusual-activity" in out
    assert "left alone (not in the file): profile mag7-smart-money" in out


@pytest.mark.django_db
def test_wildcard_tickers():
    import_config({"profiles": [profile(name="firehose", tickers=["*"], watchlist="all")]})

    firehose = FilterProfile.objects.get(name="firehose")
    assert firehose.watchlist.symbols == ["*"]
    exported = next(p for p in export_config()["profiles"] if p["name"] == "firehose")
    assert (exported["watchlist"], exported["tickers"]) == ("all", ["*"])


@pytest.mark.django_db
def test_watchlist_tickers_are_replaced_and_shared_by_profiles():
    import_config(
        {
            "profiles": [
                profile(name="a", watchlist="shared", tickers=["NVDA", "amd"]),
                profile(name="b", watchlist="shared", tickers=["AMD", "NVDA"]),
                profile(name="mag7-smart-money", watchlist="mag7", tickers=["AAPL"]),
            ]
        }
    )

    shared = Watchlist.objects.get(name="shared")
    assert shared.symbols == ["AMD", "NVDA"]
    assert set(shared.profiles.values_list("name", flat=True)) == {"a", "b"}
    assert Watchlist.objects.get(name="mag7").symbols == ["AAPL"]


@pytest.mark.django_db
def test_subscriptions_in_the_file_replace_the_enabled_set(custom_setup):
    Subscription.objects.create(channel="T.O:MSFT251220P00400000")
    report = import_config({"subscriptions": ["T.O:AAPL251220C00190000", "T.O:NVDA251220C00150000"]})

    assert sorted(Subscription.objects.values_list("channel", "enabled")) == [
        ("T.*", False),
        ("T.O:AAPL251220C00190000", True),  # re-enabled
        ("T.O:MSFT251220P00400000", False),
        ("T.O:NVDA251220C00150000", True),  # created
    ]
    assert report.subscriptions_enabled == ["T.O:AAPL251220C00190000", "T.O:NVDA251220C00150000"]
    assert report.subscriptions_disabled == ["T.*", "T.O:MSFT251220P00400000"]
    assert FilterProfile.objects.count() == 4  # no "profiles" key: profiles untouched


@pytest.mark.django_db
def test_import_from_stdin():
    out = run("import", "-", stdin=json.dumps({"profiles": [profile()]}))
    assert "created profile big-puts" in out
    assert FilterProfile.objects.filter(name="big-puts").exists()


@pytest.mark.django_db
def test_a_failure_while_applying_rolls_everything_back(monkeypatch):
    def fail(*args: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("trades.services.flowconfig._apply_subscriptions", fail)  # runs after the profiles
    before = db_state()
    with pytest.raises(RuntimeError):
        import_config({"subscriptions": ["T.*"], "profiles": [profile()]})
    assert db_state() == before


@pytest.mark.django_db
def test_a_failure_while_applying_the_webhooks_rolls_back_the_profiles_too(monkeypatch):
    def fail(*args: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("trades.services.flowconfig._apply_webhooks", fail)  # runs last
    before = db_state()
    with pytest.raises(RuntimeError):
        import_config({"profiles": [profile()], "webhooks": [webhook(profiles=["big-puts"])]})
    assert db_state() == before


@pytest.mark.django_db
def test_dry_run_reports_and_changes_nothing(tmp_path: Path, endpoints):
    file = tmp_path / "flow.json"
    data = {
        "subscriptions": ["T.*"],
        "profiles": [profile()],
        "webhooks": [webhook(url="https://hooks.example.com/v2"), webhook(name="new", profiles=["big-puts"])],
    }
    file.write_text(json.dumps(data))
    before = db_state()

    out = run("import", str(file), "--dry-run")

    assert "created profile big-puts" in out
    assert "updated webhook desk:\n  url: https://hooks.example.com/flow → https://hooks.example.com/v2\n" in out
    assert "created webhook new (secret generated" in out
    assert "left alone (not in the file): webhook chat" in out
    assert "dry run: nothing was changed" in out
    assert db_state() == before


# --- import --replace ----------------------------------------------------------------------------


def matched_trade(profile_name: str) -> None:
    """A stored hit of this profile."""
    now = timezone.now()
    trade = OptionTrade.objects.create(
        trade_key="O:AAPL251220C00190000@1#0",
        print_key="O:AAPL251220C00190000@1",
        symbol="O:AAPL251220C00190000",
        underlying="AAPL",
        root="AAPL",
        expiry=date(2025, 12, 20),
        right="C",
        strike=Decimal(190),
        price=Decimal("2.5"),
        size=500,
        shares_per_contract=100,
        premium=Decimal(125000),
        dte=30,
        exchange=1,
        sip_timestamp=1,
        traded_at=now,
        received_at=now,
    )
    TradeMatch.objects.create(trade=trade, profile=FilterProfile.objects.get(name=profile_name))


@pytest.mark.django_db
def test_replace_disables_the_profiles_not_in_the_file_and_keeps_their_matches(tmp_path: Path, custom_setup):
    matched_trade("classic-unusual-activity")
    everything = export_config()
    file = tmp_path / "flow.json"
    file.write_text(json.dumps({"profiles": [p for p in everything["profiles"] if p["name"] == "mag7-smart-money"]}))

    out = run("import", str(file), "--replace")

    assert dict(FilterProfile.objects.values_list("name", "enabled")) == {
        "classic-unusual-activity": False,
        "mag7-smart-money": True,
        "sweeps": False,
        "whales": False,
    }
    assert TradeMatch.objects.filter(profile__name="classic-unusual-activity").count() == 1  # not deleted
    assert "unchanged profile mag7-smart-money" in out
    assert "disabled profile classic-unusual-activity (not in the file)" in out
    assert "already disabled (not in the file): profile whales" in out
    assert "nothing to change" in run("import", str(file), "--replace")

    import_config(everything, replace=True)  # the old file brings it back as it was
    assert export_config() == everything


@pytest.mark.django_db
def test_replace_leaves_a_part_the_file_does_not_have_alone(custom_setup, endpoints):
    before = db_state()
    report = import_config({"subscriptions": ["T.*"]}, replace=True)
    assert not report.changed
    assert db_state() == before


@pytest.mark.django_db
def test_importing_the_export_with_replace_changes_nothing(custom_setup, endpoints):
    before = db_state()
    report = import_config(export_config(), replace=True)
    assert not report.changed
    assert db_state() == before


@pytest.mark.django_db
def test_an_empty_list_with_replace_disables_every_profile_and_endpoint(endpoints):
    report = import_config({"profiles": [], "webhooks": []}, replace=True)

    assert report.disabled == ["classic-unusual-activity", "mag7-smart-money", "sweeps"]
    assert (report.webhooks_disabled, report.webhooks_not_in_file) == (["desk"], ["chat"])
    assert not FilterProfile.objects.filter(enabled=True).exists()
    assert WebhookEndpoint.objects.get(name="chat").disabled_reason.startswith("410 Gone")  # off already: kept


# --- the report: old → new ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_dry_run_shows_each_change_as_old_to_new(tmp_path: Path, endpoints):
    file = tmp_path / "flow.json"
    data = {
        "profiles": [
            {"name": "classic-unusual-activity"},
            {
                "name": "mag7-smart-money",
                "description": "MAG7, $75K+",
                "tickers": [*MAG7, "AMD", "INTC"],
                "min_premium": 75000.5,
                "max_dte": 45,
                "strike_band": 0.4,
                "exclude_categories": ["late"],
            },
            {"name": "big-puts", "tickers": ["SPY"]},
        ],
        "webhooks": [{"name": "desk", "profiles": [], "rate_limit_per_minute": 60}],
    }
    file.write_text(json.dumps(data))
    before = db_state()

    out = run("import", str(file), "--dry-run")

    assert out.splitlines() == [
        "created profile big-puts",
        "updated profile mag7-smart-money:",
        '  description: "MAG7, premium ≥ $50K, 0–30 days to expiry." → "MAG7, $75K+"',
        "  min_premium: $50,000 → $75,000.50",
        "  max_dte: 30 → 45",
        "  strike_band: off → 0.4",
        "  exclude_categories: [cancelled, late] → [late]",
        "unchanged profile classic-unusual-activity",
        "left alone (not in the file): profile sweeps",
        "created watchlist big-puts",
        "updated watchlist mag7:",
        "  tickers: +AMD, +INTC (8 → 10)",
        "updated webhook desk:",
        "  rate_limit_per_minute: off → 60",
        "  profiles: [mag7-smart-money] → [] (every profile)",
        "left alone (not in the file): webhook chat",
        "dry run: nothing was changed",
    ]
    assert db_state() == before
    assert run("import", str(file)).splitlines()[:-1] == out.splitlines()[:-1]  # the real run says the same
    assert db_state() != before


# --- webhooks ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_of_webhooks_is_sorted_by_name_and_hides_the_secrets(endpoints):
    assert export_config()["webhooks"] == [
        {
            "name": "chat",
            "url": "https://discord.com/api/webhooks/1/abc",
            "format": "discord",
            "profiles": [],
            "active": False,
            "allow_private": True,
            "rate_limit_per_minute": 30,
            "cooldown_minutes": None,
            "escalate_premium": None,
            "digest_minutes": None,
        },
        {
            "name": "desk",
            "url": "https://hooks.example.com/flow",
            "format": "standard",
            "profiles": ["mag7-smart-money"],
            "active": True,
            "allow_private": False,
            "rate_limit_per_minute": None,
            "cooldown_minutes": None,
            "escalate_premium": None,
            "digest_minutes": None,
        },
    ]


@pytest.mark.django_db
def test_the_export_command_prints_secrets_only_when_asked(endpoints):
    chat_secret = endpoints["chat"].secret

    plain = run("export")
    with_secrets = run("export", "--with-secrets")

    assert SECRET not in plain and chat_secret not in plain and "whsec_" not in plain
    exported = {w["name"]: w for w in json.loads(with_secrets)["webhooks"]}
    assert (exported["desk"]["secret"], exported["chat"]["secret"]) == (SECRET, chat_secret)
    assert list(exported["desk"]) == [  # the key order the README shows
        "name",
        "url",
        "format",
        "profiles",
        "active",
        "allow_private",
        "secret",
        "rate_limit_per_minute",
        "cooldown_minutes",
        "escalate_premium",
        "digest_minutes",
    ]


@pytest.mark.django_db
def test_round_trip_with_secrets_is_identity(endpoints):
    exported = export_config(with_secrets=True)
    WebhookEndpoint.objects.all().delete()

    report = import_config(copy.deepcopy(exported))

    assert export_config(with_secrets=True) == exported
    assert report.webhooks_created == ["chat", "desk"]
    assert report.secrets_generated == []


@pytest.mark.django_db
def test_importing_the_export_without_secrets_keeps_the_secrets(endpoints):
    before = db_state()
    report = import_config(export_config())
    assert not report.changed
    assert report.webhooks_unchanged == ["chat", "desk"]
    assert db_state() == before  # secrets, updated_at and the 410's reason included


@pytest.mark.django_db
def test_a_new_endpoint_without_a_secret_gets_one_and_it_is_not_printed(tmp_path: Path):
    file = tmp_path / "flow.json"
    file.write_text(json.dumps({"webhooks": [webhook()]}))

    first = run("import", str(file))
    secret = WebhookEndpoint.objects.get(name="desk").secret
    second = run("import", str(file))

    assert "created webhook desk (secret generated: see the admin or export --with-secrets)" in first
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert secret not in first and secret not in second
    assert WebhookEndpoint.objects.get(name="desk").secret == secret  # kept by the second import
    assert "unchanged webhook desk" in second
    assert "nothing to change" in second


@pytest.mark.django_db
def test_a_secret_in_the_file_is_used_and_replaces_the_old_one_unprinted(tmp_path: Path, endpoints):
    file = tmp_path / "flow.json"
    file.write_text(json.dumps({"webhooks": [webhook(secret=OTHER_SECRET), webhook(name="new", secret=SECRET)]}))

    out = run("import", str(file))

    assert "updated webhook desk:\n  secret: replaced (not shown)\n" in out
    assert "created webhook new" in out.splitlines()  # no "secret generated": it came from the file
    assert OTHER_SECRET not in out and SECRET not in out
    assert dict(WebhookEndpoint.objects.values_list("name", "secret")) == {
        "chat": endpoints["chat"].secret,
        "desk": OTHER_SECRET,
        "new": SECRET,
    }


@pytest.mark.django_db
def test_webhook_import_updates_by_name_keeps_the_keys_left_out_and_leaves_others_alone(endpoints):
    report = import_config({"webhooks": [{"name": "desk", "url": "https://hooks.example.com/v2"}]})

    desk = WebhookEndpoint.objects.get(name="desk")
    assert report.webhooks_updated == {
        "desk": [Change("url", "https://hooks.example.com/flow", "https://hooks.example.com/v2")]
    }
    assert (desk.url, desk.secret) == ("https://hooks.example.com/v2", SECRET)
    assert list(desk.profiles.values_list("name", flat=True)) == ["mag7-smart-money"]  # kept
    assert report.webhooks_not_in_file == ["chat"]
    assert WebhookEndpoint.objects.get(name="chat").disabled_reason  # left alone


@pytest.mark.django_db
def test_webhook_import_with_replace_resets_the_keys_left_out_and_disables_the_endpoints_not_in_the_file(
    endpoints,
):
    report = import_config(
        {"webhooks": [{"name": "chat", "url": "https://discord.com/api/webhooks/1/abc"}]}, replace=True
    )

    chat, desk = WebhookEndpoint.objects.order_by("name")
    assert report.webhooks_updated == {
        "chat": [
            Change("format", "discord", "standard"),
            Change("active", False, True),
            Change("allow_private", True, False),
            Change("rate_limit_per_minute", 30, None),
            Change("disabled_reason", "410 Gone on 2025-06-02 14:30 UTC", ""),
        ]
    }
    assert (chat.active, chat.secret) == (True, endpoints["chat"].secret)  # the secret is never reset
    assert report.webhooks_disabled == ["desk"]
    assert (desk.active, desk.disabled_reason) == (False, "not in the config file (flowconfig import --replace)")
    assert (desk.secret, list(desk.profiles.values_list("name", flat=True))) == (SECRET, ["mag7-smart-money"])


@pytest.mark.django_db
def test_switching_an_endpoint_back_on_clears_why_it_was_off(endpoints):
    chat = export_config()["webhooks"][0]
    report = import_config({"webhooks": [chat | {"active": True, "allow_private": False, "rate_limit_per_minute": 5}]})

    chat_row = WebhookEndpoint.objects.get(name="chat")
    assert report.webhooks_updated == {
        "chat": [
            Change("active", False, True),
            Change("allow_private", True, False),
            Change("rate_limit_per_minute", 30, 5),
            Change("disabled_reason", "410 Gone on 2025-06-02 14:30 UTC", ""),
        ]
    }
    assert (chat_row.active, chat_row.disabled_reason, chat_row.rate_limit_per_minute) == (True, "", 5)


@pytest.mark.django_db
def test_webhook_profiles_may_name_profiles_of_the_same_file(tmp_path: Path):
    file = tmp_path / "flow.json"
    data = {"profiles": [profile()], "webhooks": [webhook(profiles=["big-puts", "mag7-smart-money", "big-puts"])]}
    file.write_text(json.dumps(data))

    out = run("import", str(file))

    assert "created profile big-puts" in out and "created webhook desk" in out
    desk = WebhookEndpoint.objects.get(name="desk")
    assert sorted(desk.profiles.values_list("name", flat=True)) == ["big-puts", "mag7-smart-money"]
    assert export_config()["webhooks"][0]["profiles"] == ["big-puts", "mag7-smart-money"]


@pytest.mark.django_db
def test_a_profile_deleted_while_importing_fails_the_import(monkeypatch, endpoints):
    parse = flowconfig.parse_config

    def parse_then_delete(*args: Any, **kwargs: Any) -> flowconfig.Config:
        config = parse(*args, **kwargs)
        FilterProfile.objects.filter(name="classic-unusual-activity").delete()  # another session
        return config

    monkeypatch.setattr("trades.services.flowconfig.parse_config", parse_then_delete)
    with pytest.raises(ConfigError) as error:
        import_config({"webhooks": [webhook(url="https://x.example.com/", profiles=["classic-unusual-activity"])]})
    assert error.value.errors == ['webhooks[0].profiles: no profile named "classic-unusual-activity"']
    assert WebhookEndpoint.objects.get(name="desk").url == "https://hooks.example.com/flow"


# --- import: bad files --------------------------------------------------------------------------

VALID = {
    "subscriptions": ["T.*"],
    "profiles": [profile(name="first-ok", tickers=["AAPL"]), profile()],
    "webhooks": [
        webhook(name="desk", profiles=["big-puts", "mag7-smart-money"]),  # one from the file, one from the DB
        webhook(name="chat", format="discord", profiles=[], secret=SECRET, rate_limit_per_minute=30),
    ],
}


def bad(path: list[str | int], value: Any) -> dict[str, Any]:
    """VALID with the value at ``path`` replaced (or deleted, for the DELETE marker)."""
    data = copy.deepcopy(VALID)
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


DELETE = object()

BAD_FILES = [
    (bad(["bogus"], 1), "bogus: unknown key"),
    (bad(["profiles", 1, "min_premum"], 1), "profiles[1].min_premum: unknown key (did you mean 'min_premium'?)"),
    (bad(["profiles", 0, "max_dt"], 30), "profiles[0].max_dt: unknown key (did you mean 'max_dte'?)"),
    (bad(["profile"], []), "profile: unknown key (did you mean 'profiles'?)"),
    (bad(["profiles", 1, "name"], DELETE), "profiles[1].name: is required"),
    (bad(["profiles", 1, "tickers"], DELETE), "profiles[1].tickers: is required"),
    (bad(["profiles", 1, "name"], "first-ok"), "profiles[1].name: duplicate of profiles[0]"),
    (bad(["profiles", 1, "name"], "not a slug"), "profiles[1].name: must be a slug"),
    (bad(["profiles", 1, "enabled"], "yes"), "profiles[1].enabled: must be true or false"),
    (bad(["profiles", 1, "min_size"], "5"), "profiles[1].min_size: must be an integer"),
    (bad(["profiles", 1, "min_size"], True), "profiles[1].min_size: must be an integer"),
    (bad(["profiles", 1, "min_size"], 1.5), "profiles[1].min_size: must be an integer"),
    (bad(["profiles", 1, "min_size"], -1), "profiles[1].min_size: Ensure this value is greater than or equal to 0."),
    (
        bad(["profiles", 1, "min_premium"], -0.01),
        "profiles[1].min_premium: The minimum premium is in dollars and cannot be negative.",
    ),
    (bad(["profiles", 1, "min_premium"], "50000"), "profiles[1].min_premium: must be a number"),
    (bad(["profiles", 1, "min_premium"], float("nan")), "profiles[1].min_premium: must be a number"),
    (
        bad(["profiles", 1, "min_premium"], 0.001),
        "profiles[1].min_premium: Ensure that there are no more than 2 decimal places.",
    ),
    (bad(["profiles", 1, "min_dte"], -1), "profiles[1].min_dte: Ensure this value is greater than or equal to 0."),
    (
        bad(["profiles", 1, "min_dte"], 8),
        "profiles[1].max_dte: The maximum DTE (7 days) must be at least the minimum DTE (8 days).",
    ),
    (
        bad(["profiles", 1, "strike_band"], 0),
        "profiles[1].strike_band: The strike band is a fraction of the strike range",
    ),
    (
        bad(["profiles", 1, "strike_band"], 1.01),
        "profiles[1].strike_band: The strike band is a fraction of the strike range",
    ),
    (
        bad(["profiles", 1, "strike_band"], -0.4),
        "profiles[1].strike_band: The strike band is a fraction of the strike range",
    ),
    (bad(["profiles", 1, "tickers"], []), "profiles[1].tickers: must be a non-empty list of strings"),
    (bad(["profiles", 1, "tickers"], "AAPL"), "profiles[1].tickers: must be a non-empty list of strings"),
    (bad(["profiles", 1, "tickers"], ["AAPL", 7]), "profiles[1].tickers[1]: must be a string"),
    (bad(["profiles", 1, "tickers"], ["AAPL", " "]), "profiles[1].tickers[1]: must be a ticker"),
    (bad(["profiles", 1, "watchlist"], "first-ok"), "profiles[1].tickers: watchlist 'first-ok' has other tickers"),
    (
        bad(["profiles", 1, "exclude_conditions"], 201),
        "profiles[1].exclude_conditions: Give a JSON list of condition codes",
    ),
    (
        bad(["profiles", 1, "exclude_conditions"], [201, "202"]),
        "profiles[1].exclude_conditions[1]: Give a JSON list of condition codes",
    ),
    (
        bad(["profiles", 1, "exclude_conditions"], [-1]),
        "profiles[1].exclude_conditions[0]: Give a JSON list of condition codes",
    ),
    (
        bad(["profiles", 1, "exclude_categories"], ["late", "sometimes"]),
        "profiles[1].exclude_categories[1]: must be one of cancelled, late, multi_leg, stock_option",
    ),
    (bad(["profiles", 1, "exclude_categories"], "late"), "profiles[1].exclude_categories: must be a list"),
    (bad(["profiles", 1], ["x"]), "profiles[1]: must be an object"),
    (bad(["profiles"], {"name": "x"}), "profiles: must be a list of objects"),
    (bad(["subscriptions"], "T.*"), "subscriptions: must be a list of strings"),
    (bad(["subscriptions"], ["T.*", 1]), "subscriptions[1]: must be a string"),
    (
        bad(["subscriptions"], ["T.*,Q.*"]),
        "subscriptions[0]: Enter one channel, e.g. T.*",
    ),
    (bad(["webhooks"], {"name": "desk"}), "webhooks: must be a list of objects"),
    (bad(["webhooks", 1], "chat"), "webhooks[1]: must be an object"),
    (bad(["webhooks", 1, "secrett"], SECRET), "webhooks[1].secrett: unknown key (did you mean 'secret'?)"),
    (
        bad(["webhooks", 0, "rateLimit"], 5),
        "webhooks[0].rateLimit: unknown key (did you mean 'rate_limit_per_minute'?)",
    ),
    (bad(["webhooks", 1, "disabled_reason"], ""), "webhooks[1].disabled_reason: unknown key"),
    (bad(["webhooks", 1, "name"], DELETE), "webhooks[1].name: is required"),
    ({"webhooks": [{"name": "new", "format": "slack"}]}, "webhooks[0].url: is required"),  # new: no URL to keep
    (bad(["webhooks", 1, "name"], "desk"), "webhooks[1].name: duplicate of webhooks[0]"),
    (bad(["webhooks", 1, "name"], "the chat"), "webhooks[1].name: must be a slug"),
    (bad(["webhooks", 1, "url"], "ftp://files.example.com/hook"), "webhooks[1].url: "),
    (bad(["webhooks", 1, "url"], "https://"), "webhooks[1].url: Enter a valid URL."),
    (bad(["webhooks", 1, "url"], "hooks.example.com/flow"), "webhooks[1].url: "),
    (bad(["webhooks", 1, "url"], 443), "webhooks[1].url: must be a string"),
    (bad(["webhooks", 1, "url"], "https://a.example.com/" + "x" * 500), "webhooks[1].url: must be at most 500"),
    (bad(["webhooks", 1, "format"], "teams"), "webhooks[1].format: must be one of standard, discord, slack"),
    (bad(["webhooks", 1, "format"], None), "webhooks[1].format: must be one of standard, discord, slack"),
    (bad(["webhooks", 0, "profiles"], "big-puts"), "webhooks[0].profiles: must be a list of profile names"),
    (bad(["webhooks", 0, "profiles"], ["big-puts", 3]), "webhooks[0].profiles[1]: must be a string"),
    (bad(["webhooks", 0, "profiles"], ["big-puts", "x"]), 'webhooks[0].profiles[1]: no profile named "x"'),
    (bad(["webhooks", 1, "active"], "yes"), "webhooks[1].active: must be true or false"),
    (bad(["webhooks", 1, "allow_private"], 1), "webhooks[1].allow_private: must be true or false"),
    (bad(["webhooks", 1, "secret"], None), "webhooks[1].secret: must be a string"),
    (bad(["webhooks", 1, "secret"], "whsec_" + "not base64!"), "webhooks[1].secret: a webhook secret "),
    (
        bad(["webhooks", 1, "secret"], "whsec_" + base64.b64encode(bytes(23)).decode()),
        "webhooks[1].secret: a webhook secret holds 24 to 64 bytes, this one 23",
    ),
    (bad(["webhooks", 1, "secret"], "whsec_" + "A" * 100), "webhooks[1].secret: must be at most 100 characters"),
    (
        bad(["webhooks", 1, "rate_limit_per_minute"], 0),
        "webhooks[1].rate_limit_per_minute: Ensure this value is greater than or equal to 1.",
    ),
    (
        bad(["webhooks", 1, "rate_limit_per_minute"], -5),
        "webhooks[1].rate_limit_per_minute: Ensure this value is greater than or equal to 1.",
    ),
    (bad(["webhooks", 1, "rate_limit_per_minute"], 1.5), "webhooks[1].rate_limit_per_minute: must be an integer"),
    (bad(["webhooks", 1, "rate_limit_per_minute"], True), "webhooks[1].rate_limit_per_minute: must be an integer"),
    (bad(["webhooks", 1, "rate_limit_per_minute"], "10"), "webhooks[1].rate_limit_per_minute: must be an integer"),
    (
        bad(["webhooks", 1, "rate_limit_per_minute"], 2**31),
        "webhooks[1].rate_limit_per_minute: Ensure this value is less than or equal to 2147483647.",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "message"), BAD_FILES, ids=[message for _, message in BAD_FILES])
def test_a_bad_file_names_the_path_and_changes_nothing(tmp_path: Path, custom_setup, endpoints, data, message):
    file = tmp_path / "flow.json"
    file.write_text(json.dumps(data))
    before = db_state()

    with pytest.raises(CommandError) as error:
        run("import", str(file))

    assert message in str(error.value)
    assert "nothing was changed" in str(error.value)
    secrets = [w["secret"] for w in data.get("webhooks", []) if isinstance(w, dict) and w.get("secret")]
    assert not [secret for secret in secrets if secret in str(error.value)]  # a secret, even a bad one, stays unprinted
    assert db_state() == before


@pytest.mark.django_db
def test_the_valid_file_used_by_the_bad_file_cases_imports():
    # Guards the cases above: each fails for its one bad value, not for something else.
    report = import_config(copy.deepcopy(VALID))
    assert report.created == ["first-ok", "big-puts"]
    assert report.webhooks_created == ["desk", "chat"]


@pytest.mark.django_db
def test_every_error_is_reported_at_once():
    data = bad(["profiles", 1, "min_size"], -1)
    data["profiles"][0]["strike_band"] = 2
    with pytest.raises(ConfigError) as error:
        import_config(data)
    assert error.value.errors == [
        "profiles[0].strike_band: The strike band is a fraction of the strike range: more than 0 and at most 1 "
        "(0.400 is 40%).",
        "profiles[1].min_size: Ensure this value is greater than or equal to 0.",
    ]


@pytest.mark.django_db
def test_a_webhook_naming_an_invalid_profile_of_the_file_gets_only_its_own_errors():
    data = bad(["profiles", 1, "min_size"], -1)  # big-puts is invalid, but it is in the file
    data["webhooks"][1] |= {"format": "teams", "profiles": ["nope"]}
    with pytest.raises(ConfigError) as error:
        import_config(data)
    assert error.value.errors == [
        "profiles[1].min_size: Ensure this value is greater than or equal to 0.",
        "webhooks[1].format: must be one of standard, discord, slack",
        'webhooks[1].profiles[0]: no profile named "nope"',
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not valid JSON"),
        ("[]", "(top level): must be an object"),
        ('{"profiles": [{"min_premium": ' + "9" * 5000 + "}]}", "is not valid JSON"),  # beyond int digits
        ("[" * 100_000 + "]" * 100_000, "is not valid JSON"),  # nesting beyond the recursion limit
    ],
)
def test_unparseable_files(text: str, message: str):
    before = db_state()
    with pytest.raises(CommandError) as error:
        run("import", "-", stdin=text)
    assert message in str(error.value)
    assert db_state() == before


@pytest.mark.django_db
def test_a_missing_file():
    with pytest.raises(CommandError, match=r"cannot read /nonexistent/flow\.json: No such file"):
        run("import", "/nonexistent/flow.json")


@pytest.mark.django_db
def test_condition_groups_round_trip():
    import_config({"profiles": [{"name": "groups", "tickers": ["AAPL"], "exclude_categories": ["multi_leg", "late"]}]})
    profile = FilterProfile.objects.get(name="groups")
    assert (profile.exclude_categories, profile.exclude_conditions) == (["late", "multi_leg"], [])
    exported = next(p for p in export_config()["profiles"] if p["name"] == "groups")
    assert exported["exclude_categories"] == ["late", "multi_leg"]


@pytest.mark.django_db
def test_a_secret_is_judged_by_the_signing_rules_the_sender_uses():
    """One rule for a secret (trades.webhooks.signing.check_secret, on the model): the prefix and the
    base64 padding are optional, as in the Standard Webhooks reference libraries; 24 to 64 bytes."""
    unpadded = "whsec_" + base64.b64encode(bytes(range(25))).decode().rstrip("=")
    report = import_config({"webhooks": [{"name": "loose", "url": "https://example.com/h", "secret": unpadded}]})
    assert report.webhooks_created == ["loose"]
    with pytest.raises(ConfigError) as error:
        import_config({"webhooks": [{"name": "big", "url": "https://example.com/h", "secret": "whsec_" + "A" * 94}]})
    assert error.value.errors == [
        "webhooks[0].secret: a webhook secret holds 24 to 64 bytes, this one 70 "
        "(whsec_ and the base64 of the key; the secret itself is never shown)"
    ]


# --- profiles that judge orders -------------------------------------------------------------------


@pytest.mark.django_db
def test_order_rules_import_and_export_as_written():
    spec = profile(
        name="golden-calls",
        judges="orders",
        order_types=["SWEEP"],
        golden_only=True,
        aggressors=["BUY"],
        sentiments=["BULLISH"],
        opening="strict",
        min_vol_oi=1.5,
        repeated_hits_only=False,
        iso_only=True,
    )
    import_config({"profiles": [spec]})

    exported = {entry["name"]: entry for entry in export_config()["profiles"]}["golden-calls"]
    assert {key: exported[key] for key in ("judges", "order_types", "golden_only", "aggressors", "sentiments")} == {
        "judges": "orders",
        "order_types": ["SWEEP"],
        "golden_only": True,
        "aggressors": ["BUY"],
        "sentiments": ["BULLISH"],
    }
    assert (exported["opening"], exported["min_vol_oi"], exported["iso_only"]) == ("strict", 1.5, True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"judges": "trades"}, "profiles[0].judges: must be one of 'prints', 'orders'"),
        ({"judges": "orders", "order_types": ["WHALE"]}, "profiles[0].order_types[0]: must be one of SWEEP"),
        ({"judges": "orders", "aggressors": "BUY"}, "profiles[0].aggressors: must be a list of some of BUY"),
        ({"judges": "orders", "opening": "maybe"}, "profiles[0].opening: must be one of '', 'opening', 'strict'"),
        ({"judges": "orders", "min_vol_oi": -1}, "profiles[0].min_vol_oi: The volume / open interest ratio cannot"),
        ({"order_types": ["SWEEP"]}, "profiles[0].order_types: Order rules need a profile that judges orders"),
    ],
)
def test_bad_order_rules_are_refused_with_their_place(changes, message):
    with pytest.raises(ConfigError) as error:
        import_config({"profiles": [profile(**changes)]})
    assert any(line.startswith(message) for line in error.value.errors), error.value.errors
