"""Config as code against bad input: every bad value is a ConfigError naming its path, and nothing
is written; any JSON document either applies cleanly or is refused that way, never with a
TypeError, an OverflowError or a database error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.db import transaction
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from tests.config_files import db_state, profile, run, webhook
from trades.models import FilterProfile, Watchlist, WebhookEndpoint
from trades.services import flowconfig
from trades.services.flowconfig import ConfigError, export_config, import_config, parse_config

pytestmark = pytest.mark.django_db


def with_profile(**overrides: Any) -> dict[str, Any]:
    return {"profiles": [profile(**overrides)]}


BAD_DOCUMENTS = [
    # Values a set or a dict cannot hold: a TypeError before.
    ({"profiles": [{"name": [], "tickers": ["AAPL"]}], "webhooks": []}, "profiles[0].name: must be a string"),
    ({"profiles": [{"name": {"a": 1}, "tickers": ["AAPL"]}], "webhooks": []}, "profiles[0].name: must be a string"),
    (with_profile(exclude_categories=[["late"]]), "profiles[0].exclude_categories[0]: must be one of"),
    (with_profile(exclude_categories=[{"late": 1}]), "profiles[0].exclude_categories[0]: must be one of"),
    # Numbers beyond a float: an OverflowError before.
    (
        with_profile(min_premium=10**400),
        "profiles[0].min_premium: Ensure that there are no more than 14 digits in total.",
    ),
    (
        with_profile(min_premium=-(10**400)),
        "profiles[0].min_premium: The minimum premium is in dollars and cannot be negative.",
    ),
    (with_profile(strike_band=10**400), "profiles[0].strike_band: The strike band is a fraction of the strike range"),
    (
        with_profile(min_premium=10**5000),
        "profiles[0].min_premium: Ensure that there are no more than 14 digits in total.",
    ),  # beyond int → str too
    # Condition codes no condition column holds.
    (
        with_profile(exclude_conditions=[201, 2**31]),
        "profiles[0].exclude_conditions[1]: Condition codes are at most",
    ),
    (
        with_profile(exclude_conditions=[10**5000]),
        "profiles[0].exclude_conditions[0]: Condition codes are at most",
    ),
    # Text PostgreSQL cannot store: a database error before.
    (with_profile(description="big\x00puts"), "profiles[0].description: must not contain NUL characters"),
    (with_profile(description="big \ud800 puts"), "profiles[0].description: must be valid Unicode"),
    (with_profile(watchlist="puts\x00"), "profiles[0].watchlist: must not contain NUL characters"),
    (with_profile(tickers=["AAPL\x00"]), "profiles[0].tickers[0]: must be a ticker"),
    (
        {"subscriptions": ["T.*", "T.\x00"]},
        "subscriptions[1]: Enter one channel, e.g. T.*",
    ),
    (
        {"subscriptions": ["T.\ud800"]},
        "subscriptions[0]: Enter one channel, e.g. T.*",
    ),
    ({"webhooks": [webhook(url="https://hooks.example.com/\x00")]}, "webhooks[0].url: must not contain NUL characters"),
    # Garbage tickers: stored before, matching nothing.
    (with_profile(tickers=["AAPL", "<script>"]), "profiles[0].tickers[1]: must be a ticker"),
    (with_profile(tickers=["$$$"]), "profiles[0].tickers[0]: must be a ticker"),
    (with_profile(tickers=["AAPL,MSFT"]), "profiles[0].tickers[0]: must be a ticker"),
    (with_profile(tickers=["ÄPPLE"]), "profiles[0].tickers[0]: must be a ticker"),
    (with_profile(tickers=["**"]), "profiles[0].tickers[0]: must be a ticker"),
]


@pytest.mark.parametrize(("data", "message"), BAD_DOCUMENTS, ids=[message for _, message in BAD_DOCUMENTS])
def test_a_bad_value_is_a_config_error_naming_it_and_nothing_is_written(data, message):
    before = db_state()

    with pytest.raises(ConfigError) as error:
        import_config(data)

    assert any(line.startswith(message) for line in error.value.errors), error.value.errors
    assert db_state() == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"profiles": [{"name": "p", "tickers": ["A"], "min_premium": 1' + "0" * 400 + "}]}",
            "Ensure that there are no more than 14 digits in total.",
        ),
        ('{"profiles": [{"name": "p", "tickers": ["A"], "min_premium": NaN}]}', "must be a number"),
        ('{"profiles": [{"name": "p", "tickers": ["A"], "strike_band": Infinity}]}', "must be a number"),
        ('{"profiles": [{"name": "p", "tickers": ["A"], "description": "\\u0000"}]}', "must not contain NUL"),
        ('{"profiles": [{"name": "p", "tickers": ["A"], "description": "\\ud800"}]}', "must be valid Unicode"),
    ],
)
def test_the_command_refuses_such_a_file_with_the_path(text, message):
    before = db_state()

    with pytest.raises(CommandError) as error:
        run("import", "-", stdin=text)

    assert "nothing was changed" in str(error.value)
    assert message in str(error.value)
    assert db_state() == before


def test_tickers_that_are_tickers_still_import():
    report = import_config(with_profile(tickers=["brk.b", "I:SPX", "BF-B", "*", " spy "]))

    assert report.created == ["big-puts"]
    assert Watchlist.objects.get(name="big-puts").symbols == ["*", "BF-B", "BRK.B", "I:SPX", "SPY"]


# --- any document: applied cleanly, or a ConfigError and nothing written -------------------------

tricky_text = st.sampled_from(
    ["", " ", "\x00", "a\x00", "\ud800", "*", "AAPL", "big-puts", "T.*", "https://x.example.com/"]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2**31 - 1, 2**31, 10**400]),
    st.floats(),  # NaN and ±Infinity: json.loads reads them
    st.text(max_size=12),
    tricky_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children),
    max_leaves=8,
)
names = st.sampled_from(["big-puts", "mag7-smart-money", "classic-unusual-activity", "new"] * 3 + ["x y"])


@st.composite
def loosely(draw: st.DrawFn, fields: dict[str, st.SearchStrategy]) -> dict[str, Any]:
    """An object with these keys, each mostly drawn from its plausible values, sometimes left out or
    any JSON value instead, and now and then an unknown key."""
    item = {}
    for key, strategy in fields.items():
        fate = draw(st.sampled_from(["plausible"] * 20 + ["left out", "any"]))
        if fate != "left out":
            item[key] = draw(strategy if fate == "plausible" else json_values)
    if draw(st.integers(0, 19)) == 19:
        item["bogus"] = draw(json_values)
    return item


profiles = loosely(
    {
        "name": names,
        "description": st.text(max_size=10) | tricky_text,
        "enabled": st.booleans(),
        "watchlist": names,
        "tickers": st.lists(st.sampled_from(["AAPL", "spy", "*", "BRK.B"] * 5 + ["<x>", ""]), min_size=1, max_size=3),
        "min_premium": st.sampled_from([None, 0, 50_000, 1234.5, 0.01] * 3 + [-10, 0.001, 10**13]),
        "min_size": st.sampled_from([None, 0, 10, 2**31 - 1] * 3 + [-1, 2**31]),
        "min_dte": st.none() | st.integers(min_value=-1, max_value=10),
        "max_dte": st.none() | st.integers(min_value=5, max_value=40),
        "size_gt_open_interest": st.booleans(),
        "strike_band": st.sampled_from([None, 0.1, 0.4, 1] * 3 + [0, 1.01, 0.0005, -0.4]),
        "exclude_categories": st.lists(
            st.sampled_from(["late", "cancelled", "multi_leg"] * 3 + ["regular"]), max_size=3
        ),
        "exclude_conditions": st.lists(st.sampled_from([201, 233, 0] * 5 + [-1, 2**31]), max_size=3),
    }
)
webhooks = loosely(
    {
        "name": names,
        "url": st.sampled_from(["https://hooks.example.com/flow"] * 5 + ["ftp://x", "https://"]),
        "format": st.sampled_from(["standard", "discord", "slack"] * 3 + ["teams"]),
        "profiles": st.lists(names, max_size=2),
        "active": st.booleans(),
        "allow_private": st.booleans(),
        "secret": st.sampled_from(["whsec_" + "A" * 32] * 5 + ["whsec_x"]),
        "rate_limit_per_minute": st.sampled_from([None, 1, 30] * 3 + [0, 2**31]),
    }
)
documents = st.one_of(
    loosely(
        {
            "subscriptions": st.lists(
                st.sampled_from(["T.*", "T.O:AAPL251220C00190000"] * 5 + ["T.*,Q.*", "T.\x00"]), max_size=3
            ),
            "profiles": st.lists(profiles, max_size=3),
            "webhooks": st.lists(webhooks, max_size=2),
        }
    ),
    json_values,
)


def test_any_document_applies_cleanly_or_is_a_config_error_that_writes_nothing():
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(documents, st.booleans())
    def check(document: Any, replace: bool) -> None:
        with transaction.atomic():
            before = db_state()
            try:
                import_config(document, replace=replace)
            except ConfigError as exc:
                event("refused")
                assert exc.errors and all(isinstance(line, str) and line for line in exc.errors)
                assert db_state() == before
            else:  # applied cleanly: the same file again changes nothing
                event("applied")
                assert not import_config(document, replace=replace).changed
            transaction.set_rollback(True)

    check()


# --- merging: an entry changes only the keys it gives ---------------------------------------------

partial_profiles = st.fixed_dictionaries(
    {"name": st.sampled_from(["mag7-smart-money", "classic-unusual-activity"])},
    optional={
        "description": st.sampled_from(["", "new words"]),
        "enabled": st.booleans(),
        "watchlist": st.sampled_from(["mag7", "classic", "fresh"]),
        "tickers": st.lists(st.sampled_from(["AAPL", "AMD", "*"]), min_size=1, max_size=2),
        "min_premium": st.sampled_from([None, 0, 25_000, 1234.5]),
        "min_size": st.sampled_from([None, 0, 100]),
        "min_dte": st.sampled_from([None, 0, 10, 60]),
        "max_dte": st.sampled_from([None, 5, 30]),
        "size_gt_open_interest": st.booleans(),
        "strike_band": st.sampled_from([None, 0.4, 1]),
        "exclude_categories": st.lists(st.sampled_from(["late", "multi_leg"]), max_size=2),
        "exclude_conditions": st.lists(st.sampled_from([201, 233]), max_size=2),
    },
)
partial_webhooks = st.fixed_dictionaries(
    {"name": st.sampled_from(["desk", "chat"])},
    optional={
        "url": st.sampled_from(["https://hooks.example.com/v2"]),
        "format": st.sampled_from(["standard", "slack"]),
        "profiles": st.lists(st.sampled_from(["mag7-smart-money", "classic-unusual-activity"]), max_size=1),
        "active": st.booleans(),
        "allow_private": st.booleans(),
        "rate_limit_per_minute": st.sampled_from([None, 5]),
    },
)


def by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in entries}


def test_an_entry_changes_only_the_keys_it_gives():
    desk = WebhookEndpoint.objects.create(name="desk", url="https://hooks.example.com/flow", rate_limit_per_minute=9)
    desk.profiles.set(FilterProfile.objects.filter(name="mag7-smart-money"))
    WebhookEndpoint.objects.create(name="chat", url="https://discord.com/api/webhooks/1/a", format="discord")

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(partial_profiles, max_size=2, unique_by=lambda entry: entry["name"]),
        st.lists(partial_webhooks, max_size=2, unique_by=lambda entry: entry["name"]),
    )
    def check(profile_entries: list[dict[str, Any]], webhook_entries: list[dict[str, Any]]) -> None:
        with transaction.atomic():
            before = export_config()
            try:
                import_config({"profiles": profile_entries, "webhooks": webhook_entries})
            except ConfigError:
                event("refused")  # a DTE window upside down, a watchlist without tickers, or two tickers lists
                assert export_config() == before
            else:
                event("applied")
                after = export_config()
                for kind, entries, implied in (
                    ("profiles", profile_entries, "tickers"),
                    ("webhooks", webhook_entries, ""),
                ):
                    given = by_name(entries)
                    for name, old in by_name(before[kind]).items():
                        new = by_name(after[kind])[name]
                        # A profile's tickers are its watchlist's: another entry may change or move them.
                        kept = old.keys() - given.get(name, {}).keys() - {implied}
                        assert {key: new[key] for key in kept} == {key: old[key] for key in kept}
            transaction.set_rollback(True)

    check()


# --- unknown keys -------------------------------------------------------------------------------

ORDER_RULE_KEYS = ["judges", "order_types", "golden_only", "iso_only", "aggressors", "sentiments", "opening"]
ORDER_RULE_KEYS += ["min_vol_oi", "repeated_hits_only"]
CONTEXT_RULE_KEYS = ["min_strike_multiple", "min_strike_share", "min_share_of_daily_premium"]
KEYS = {  # the keys each object of the file may have, by where the object is
    "": ["subscriptions", "profiles", "webhooks"],
    "profiles": [*profile(), "description", "watchlist", "exclude_categories", *ORDER_RULE_KEYS, *CONTEXT_RULE_KEYS],
    "webhooks": [*webhook(), "secret", "cooldown_minutes", "digest_minutes", "escalate_premium"],
}


def test_the_keys_above_are_the_files_keys():
    """The properties below draw keys from KEYS: a key the file gained and KEYS lacks would make
    them fail only when hypothesis happens upon it."""
    assert sorted(KEYS[""]) == sorted(flowconfig._TOP_LEVEL_KEYS)
    assert sorted(KEYS["profiles"]) == sorted(flowconfig._PROFILE_KEYS)
    assert sorted(KEYS["webhooks"]) == sorted(flowconfig._WEBHOOK_KEYS)


def slips(key: str) -> set[str]:
    """A letter dropped, doubled or swapped with the next; upper case; - or nothing for _."""
    found = {key.upper(), key.replace("_", "-"), key.replace("_", "")}
    for i in range(len(key)):
        found |= {
            key[:i] + key[i + 1 :],
            key[:i] + key[i] + key[i:],
            key[:i] + key[i + 1 : i + 2] + key[i] + key[i + 2 :],
        }
    return found - {key}


def unknown_key_errors(key: str, where: str) -> list[str]:
    document = {where: [{"name": "x", key: 1}]} if where else {key: 1}
    try:
        parse_config(document)
    except ConfigError as exc:
        return [line for line in exc.errors if "unknown key" in line]
    return []


def test_every_one_letter_slip_in_a_key_is_met_with_did_you_mean():
    rule_keys = dict.fromkeys([*ORDER_RULE_KEYS, *CONTEXT_RULE_KEYS])
    every_key = profile(description="", watchlist="", exclude_categories=[], **rule_keys)
    assert sorted(KEYS["profiles"]) == sorted(every_key)
    for where, keys in KEYS.items():
        for key in keys:
            for slip in sorted(slips(key) - set(keys)):
                at = f"{where}[0].{slip}" if where else slip
                assert unknown_key_errors(slip, where) == [f"{at}: unknown key (did you mean {key!r}?)"]


def near(keys: list[str]) -> st.SearchStrategy[str]:
    """A known key with one letter replaced by up to two characters of any text."""
    edits = st.tuples(st.sampled_from(keys), st.integers(0, 25), st.text(max_size=2))
    return edits.map(lambda edit: edit[0][: edit[1]] + edit[2] + edit[0][edit[1] + 1 :])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_unknown_key_is_refused_and_a_guess_is_a_known_key(data: st.DataObject):
    where = data.draw(st.sampled_from(list(KEYS)))
    key = data.draw(st.text(max_size=30) | near(KEYS[where]))
    assume(key not in KEYS[where])

    [line] = unknown_key_errors(key, where)

    assert line.startswith(f"{where}[0].{key}: unknown key" if where else f"{key}: unknown key")
    if guess := re.search(r" \(did you mean '(.+)'\?\)$", line):
        event("guessed")
        assert guess[1] in KEYS[where]
