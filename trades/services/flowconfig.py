"""Config as code: filter profiles, their watchlists, the stream subscriptions and the webhook
endpoints as JSON.

An import changes only what the file says. Profiles and webhook endpoints are found by name: an
existing one keeps every field its entry leaves out, a new one takes the model's default for it.
A profile's watchlist, with or without ``replace``, is the one its entry names, else the one the
profile has, else (a new profile) one named after the profile. The entry's ``tickers`` become
that watchlist's tickers; left out, the watchlist keeps its tickers (one that does not exist yet
needs them). Profiles and endpoints not in the file are left alone.

With ``replace`` the file is the whole configuration of each part it has: a key left out takes
the model's default (``tickers`` are required), and profiles and endpoints not in the file are
switched off, never deleted. Deleting a profile would delete its stored matches (and an
endpoint naming only it would then get every profile's hits); deleting an endpoint would lose
its deliveries and its secret, which its receiver verifies. Switched off, both come back as
they were when a file names them again.

Either way the file's subscriptions are the complete list of enabled channels: rows not in it
are disabled, not deleted, so an export → import round trip leaves the Subscription table exactly
as it was. An empty list disables every row, which makes the listener fall back to ``T.*``.

An endpoint's ``secret`` never takes a default: left out, an existing endpoint keeps its secret
and a new one gets a generated one. Secrets are exported only when asked for (``with_secrets``)
and never reported. Turning an endpoint back on (``active: true``) clears the reason it was off.

A top-level key left out leaves that part of the configuration alone, with ``replace`` too.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import slug_re
from django.db import models, transaction

from trades.domain import conditions
from trades.models import (
    CONDITION_CODES,
    FilterProfile,
    Judges,
    OpeningRule,
    Subscription,
    WatchedTicker,
    Watchlist,
    WebhookEndpoint,
    WebhookFormat,
    validate_aggressors,
    validate_channel,
    validate_condition_code,
    validate_order_types,
    validate_sentiments,
    validate_ticker,
)

_LEFT_OUT_REASON = "not in the config file (flowconfig import --replace)"


class ConfigError(ValueError):
    """The file is invalid; ``errors`` holds one ``path: message`` line per bad value."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass(frozen=True)
class ProfileSpec:
    """One validated, normalised profile: the file's entry merged into what it changes."""

    name: str
    watchlist: str
    tickers: tuple[str, ...] | None  # None: the watchlist keeps its tickers
    fields: dict[str, Any]  # every field of _PROFILE_FIELDS


@dataclass(frozen=True)
class WebhookSpec:
    """One validated, normalised webhook endpoint: the file's entry merged into what it changes."""

    name: str
    profiles: tuple[str, ...]  # profile names, sorted; none means every profile
    secret: str | None  # None: keep the endpoint's secret, or generate one for a new endpoint
    fields: dict[str, Any]  # every field of _WEBHOOK_FIELDS


@dataclass(frozen=True)
class Config:
    """The file, validated and normalised; None where a top-level key is absent."""

    subscriptions: list[str] | None
    profiles: list[ProfileSpec] | None
    webhooks: list[WebhookSpec] | None


@dataclass(frozen=True)
class Current:
    """The database's configuration as specs: what the file's entries are merged into."""

    profiles: dict[str, ProfileSpec] = field(default_factory=dict)  # tickers None
    webhooks: dict[str, WebhookSpec] = field(default_factory=dict)  # secrets None
    watchlists: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Change:
    """One field an import changes, with its value before and after (None for a secret)."""

    field: str
    old: Any
    new: Any


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[Change]] = field(default_factory=dict)  # profile name → its changes
    unchanged: list[str] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)  # left alone (with replace: were off already)
    disabled: list[str] = field(default_factory=list)  # with replace: switched off, not in the file
    watchlists_created: list[str] = field(default_factory=list)
    watchlists_updated: dict[str, list[Change]] = field(default_factory=dict)  # tickers changed
    subscriptions_enabled: list[str] = field(default_factory=list)  # created or re-enabled
    subscriptions_disabled: list[str] = field(default_factory=list)
    webhooks_created: list[str] = field(default_factory=list)
    webhooks_updated: dict[str, list[Change]] = field(default_factory=dict)  # endpoint name → its changes
    webhooks_unchanged: list[str] = field(default_factory=list)
    webhooks_not_in_file: list[str] = field(default_factory=list)  # left alone (with replace: were off already)
    webhooks_disabled: list[str] = field(default_factory=list)  # with replace: switched off, not in the file
    secrets_generated: list[str] = field(default_factory=list)  # created without a secret in the file
    dry_run: bool = False
    replace: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.updated
            or self.disabled
            or self.watchlists_created
            or self.watchlists_updated
            or self.subscriptions_enabled
            or self.subscriptions_disabled
            or self.webhooks_created
            or self.webhooks_updated
            or self.webhooks_disabled
        )


# --- Export -------------------------------------------------------------------------------


def export_config(*, with_secrets: bool = False) -> dict[str, Any]:
    """Every profile (enabled or not) with its watchlist, the enabled subscriptions and every
    webhook endpoint; the endpoints' secrets only ``with_secrets``."""
    profiles = FilterProfile.objects.select_related("watchlist").prefetch_related("watchlist__tickers")
    channels = Subscription.objects.filter(enabled=True).values_list("channel", flat=True)
    endpoints = WebhookEndpoint.objects.prefetch_related("profiles")
    return {
        "subscriptions": sorted(channels),
        # Sorted in Python: the file must not change with the database's collation.
        "profiles": sorted((_export_profile(profile) for profile in profiles), key=lambda p: p["name"]),
        "webhooks": sorted((_export_webhook(e, with_secrets) for e in endpoints), key=lambda w: w["name"]),
    }


def _export_profile(profile: FilterProfile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "description": profile.description,
        "enabled": profile.enabled,
        "watchlist": profile.watchlist.name,
        "tickers": sorted(profile.watchlist.symbols),
        "min_premium": _json_number(profile.min_premium),
        "min_size": profile.min_size,
        "min_dte": profile.min_dte,
        "max_dte": profile.max_dte,
        "size_gt_open_interest": profile.size_gt_open_interest,
        "strike_band": None if profile.strike_band is None else float(profile.strike_band),
        "exclude_categories": sorted(set(profile.exclude_categories)),
        "exclude_conditions": sorted(set(profile.exclude_conditions)),
        "judges": profile.judges,
        "order_types": sorted(set(profile.order_types)),
        "golden_only": profile.golden_only,
        "iso_only": profile.iso_only,
        "aggressors": sorted(set(profile.aggressors)),
        "sentiments": sorted(set(profile.sentiments)),
        "opening": profile.opening,
        "min_vol_oi": _json_number(profile.min_vol_oi),
        "min_strike_multiple": _json_number(profile.min_strike_multiple),
        "min_strike_share": _json_number(profile.min_strike_share),
        "min_share_of_daily_premium": _json_number(profile.min_share_of_daily_premium),
        "repeated_hits_only": profile.repeated_hits_only,
    }


def _export_webhook(endpoint: WebhookEndpoint, with_secrets: bool) -> dict[str, Any]:
    exported: dict[str, Any] = {
        "name": endpoint.name,
        "url": endpoint.url,
        "format": endpoint.format,
        "profiles": sorted(profile.name for profile in endpoint.profiles.all()),
        "active": endpoint.active,
        "allow_private": endpoint.allow_private,
    }
    if with_secrets:
        exported["secret"] = endpoint.secret
    exported["rate_limit_per_minute"] = endpoint.rate_limit_per_minute
    exported["cooldown_minutes"] = endpoint.cooldown_minutes
    exported["escalate_premium"] = _json_number(endpoint.escalate_premium)
    exported["digest_minutes"] = endpoint.digest_minutes
    return exported


def _json_number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


# --- Import -------------------------------------------------------------------------------


def import_config(data: object, *, dry_run: bool = False, replace: bool = False) -> ImportReport:
    """Validate the whole file, then apply it, in one transaction; raise ConfigError if invalid.

    With ``dry_run`` the report says what would change and the transaction is rolled back.
    """
    report = ImportReport(dry_run=dry_run, replace=replace)
    with transaction.atomic():
        current = read_current()
        config = parse_config(data, current, replace=replace)
        if config.profiles is not None:
            _apply_profiles(config.profiles, current, report)
        if config.subscriptions is not None:
            _apply_subscriptions(config.subscriptions, report)
        if config.webhooks is not None:  # after the profiles: they may name the file's new ones
            _apply_webhooks(config.webhooks, current, report)
        if dry_run:
            transaction.set_rollback(True)
    return report


def read_current() -> Current:
    """The configuration in the database. Its rows stay locked until the transaction ends, so that
    no edit in the admin slips in between reading what an entry is merged into and writing it."""
    watchlists = Watchlist.objects.select_for_update().values_list("name", flat=True)
    profiles = FilterProfile.objects.select_for_update().select_related("watchlist")
    endpoints = WebhookEndpoint.objects.select_for_update().prefetch_related("profiles")
    return Current(
        profiles={profile.name: _current_profile(profile) for profile in profiles},
        webhooks={endpoint.name: _current_webhook(endpoint) for endpoint in endpoints},
        watchlists=frozenset(watchlists),
    )


def _current_profile(profile: FilterProfile) -> ProfileSpec:
    fields = {key: getattr(profile, key) for key in _PROFILE_FIELDS}
    return ProfileSpec(name=profile.name, watchlist=profile.watchlist.name, tickers=None, fields=fields)


def _current_webhook(endpoint: WebhookEndpoint) -> WebhookSpec:
    profiles = tuple(sorted(profile.name for profile in endpoint.profiles.all()))
    fields = {key: getattr(endpoint, key) for key in _WEBHOOK_FIELDS}
    return WebhookSpec(name=endpoint.name, profiles=profiles, secret=None, fields=fields)


def _apply_profiles(specs: list[ProfileSpec], current: Current, report: ImportReport) -> None:
    watchlists = _apply_watchlists(specs, report)
    for spec in specs:
        _apply_profile(spec, watchlists[spec.watchlist], report)
    left_out = sorted(current.profiles.keys() - {spec.name for spec in specs})
    if report.replace:
        _disable_profiles(left_out, report)
    else:
        report.not_in_file = left_out


def _apply_watchlists(specs: list[ProfileSpec], report: ImportReport) -> dict[str, Watchlist]:
    """The profiles' watchlists, each with the tickers an entry gives it (validated: all give the same)."""
    tickers: dict[str, tuple[str, ...] | None] = {}
    for spec in specs:
        if tickers.get(spec.watchlist) is None:
            tickers[spec.watchlist] = spec.tickers
    return {name: _apply_watchlist(name, wanted, report) for name, wanted in tickers.items()}


def _apply_watchlist(name: str, wanted: tuple[str, ...] | None, report: ImportReport) -> Watchlist:
    if wanted is None:  # no entry gives its tickers; validated: it exists (and read_current locked it)
        return Watchlist.objects.get(name=name)
    watchlist, created = Watchlist.objects.get_or_create(name=name)
    if created:
        report.watchlists_created.append(name)
    current = sorted(watchlist.tickers.values_list("symbol", flat=True))
    if current == list(wanted):
        return watchlist
    if not created:
        report.watchlists_updated[name] = [Change("tickers", current, list(wanted))]
    watchlist.tickers.exclude(symbol__in=wanted).delete()
    WatchedTicker.objects.bulk_create(
        [WatchedTicker(watchlist=watchlist, symbol=symbol) for symbol in wanted if symbol not in current]
    )
    watchlist.save(update_fields=["updated_at"])  # workers notice the change by this stamp
    return watchlist


def _apply_profile(spec: ProfileSpec, watchlist: Watchlist, report: ImportReport) -> None:
    profile = FilterProfile.objects.select_related("watchlist").filter(name=spec.name).first()
    if profile is None:
        FilterProfile.objects.create(name=spec.name, watchlist=watchlist, **spec.fields)
        report.created.append(spec.name)
        return
    changes = [
        Change(key, getattr(profile, key), value)
        for key, value in spec.fields.items()
        if not _same(getattr(profile, key), value)
    ]
    if profile.watchlist_id != watchlist.pk:
        changes.append(Change("watchlist", profile.watchlist.name, watchlist.name))
    if not changes:
        report.unchanged.append(spec.name)
        return
    for key, value in spec.fields.items():
        setattr(profile, key, value)
    profile.watchlist = watchlist
    profile.save()
    report.updated[spec.name] = changes


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(current, list):  # sets stored as lists (exclusions): the admin may reorder them
        return sorted(set(current)) == sorted(set(wanted))
    return bool(current == wanted)


def _disable_profiles(names: list[str], report: ImportReport) -> None:
    for profile in FilterProfile.objects.filter(name__in=names).order_by("name"):
        if not profile.enabled:
            report.not_in_file.append(profile.name)
            continue
        profile.enabled = False
        profile.save(update_fields=["enabled", "updated_at"])
        report.disabled.append(profile.name)


def _apply_subscriptions(channels: list[str], report: ImportReport) -> None:
    existing = dict(Subscription.objects.values_list("channel", "enabled"))
    to_enable = [channel for channel in channels if not existing.get(channel, False)]
    to_disable = sorted(channel for channel, enabled in existing.items() if enabled and channel not in channels)
    Subscription.objects.bulk_create([Subscription(channel=c) for c in to_enable if c not in existing])
    Subscription.objects.filter(channel__in=to_enable).update(enabled=True)
    Subscription.objects.filter(channel__in=to_disable).update(enabled=False)
    report.subscriptions_enabled = to_enable
    report.subscriptions_disabled = to_disable


def _apply_webhooks(specs: list[WebhookSpec], current: Current, report: ImportReport) -> None:
    wanted = {name for spec in specs for name in spec.profiles}
    profile_ids = dict(FilterProfile.objects.filter(name__in=wanted).values_list("name", "pk"))
    if missing := wanted - profile_ids.keys():  # validated against read_current: deleted since
        raise ConfigError(
            [
                f"webhooks[{index}].profiles: no profile named {_quoted(name)}"
                for index, spec in enumerate(specs)
                for name in spec.profiles
                if name in missing
            ]
        )
    existing = WebhookEndpoint.objects.filter(name__in=[spec.name for spec in specs]).prefetch_related("profiles")
    endpoints = {endpoint.name: endpoint for endpoint in existing}
    for spec in specs:
        ids = {profile_ids[name] for name in spec.profiles}
        endpoint = endpoints.get(spec.name)
        if endpoint is None:
            _create_webhook(spec, ids, report)
        else:
            _update_webhook(endpoint, spec, ids, report)
    left_out = sorted(current.webhooks.keys() - {spec.name for spec in specs})
    if report.replace:
        _disable_webhooks(left_out, report)
    else:
        report.webhooks_not_in_file = left_out


def _create_webhook(spec: WebhookSpec, profile_ids: set[int], report: ImportReport) -> None:
    values = dict(spec.fields)
    if spec.secret is None:
        report.secrets_generated.append(spec.name)  # the model's default generates it
    else:
        values["secret"] = spec.secret
    endpoint = WebhookEndpoint.objects.create(name=spec.name, **values)
    endpoint.profiles.set(profile_ids)
    report.webhooks_created.append(spec.name)


def _update_webhook(endpoint: WebhookEndpoint, spec: WebhookSpec, profile_ids: set[int], report: ImportReport) -> None:
    wanted = dict(spec.fields)
    if wanted["active"] and not endpoint.active:
        wanted["disabled_reason"] = ""  # switched back on: why it was off no longer holds
    changes = [
        Change(key, getattr(endpoint, key), value) for key, value in wanted.items() if getattr(endpoint, key) != value
    ]
    if spec.secret is not None and spec.secret != endpoint.secret:
        changes.append(Change("secret", None, None))  # a secret is never reported
    current_profiles = sorted(profile.name for profile in endpoint.profiles.all())
    if current_profiles != list(spec.profiles):
        changes.append(Change("profiles", current_profiles, list(spec.profiles)))
    if not changes:
        report.webhooks_unchanged.append(spec.name)
        return
    for key, value in wanted.items():
        setattr(endpoint, key, value)
    if spec.secret is not None:
        endpoint.secret = spec.secret
    endpoint.save()  # also when only the profiles changed: updated_at says when it was last changed
    endpoint.profiles.set(profile_ids)
    report.webhooks_updated[spec.name] = changes


def _disable_webhooks(names: list[str], report: ImportReport) -> None:
    for endpoint in WebhookEndpoint.objects.filter(name__in=names).order_by("name"):
        if not endpoint.active:
            report.webhooks_not_in_file.append(endpoint.name)  # keeps why it was off
            continue
        endpoint.active = False
        endpoint.disabled_reason = _LEFT_OUT_REASON
        endpoint.save()
        report.webhooks_disabled.append(endpoint.name)


def _quoted(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


# --- Validation (pure: no database) ------------------------------------------------------


class _Invalid(ValueError):
    """One bad value; ``at`` is the path suffix inside it, e.g. ``[2]`` for a list item."""

    def __init__(self, message: str, at: str = "") -> None:
        self.at = at
        super().__init__(message)


def parse_config(data: object, current: Current | None = None, *, replace: bool = False) -> Config:
    """The file, validated, normalised and merged into ``current``; raise ConfigError with every
    bad value.

    ``current`` is the database's configuration (read_current: this function does not touch the
    database). An entry for an existing profile or endpoint keeps its current values where it
    leaves a key out; with ``replace``, and for a new one, a key left out takes the model's default.
    """
    current = current or Current()
    if not isinstance(data, dict):
        raise ConfigError(["(top level): must be an object"])
    errors = _unknown_keys(data, _TOP_LEVEL_KEYS, "")
    subscriptions = profiles = webhooks = None
    if "subscriptions" in data:
        try:
            subscriptions = _channels(data["subscriptions"])
        except _Invalid as exc:
            errors.append(f"subscriptions{exc.at}: {exc}")
    if "profiles" in data:
        profiles = _profiles(data["profiles"], current, replace, errors)
    if "webhooks" in data:
        # Names from the raw file, so that an invalid profile does not also fail the webhooks naming it.
        in_file = [item.get("name") for item in _as_list(data.get("profiles")) if isinstance(item, dict)]
        known = {*current.profiles, *(name for name in in_file if isinstance(name, str))}
        webhooks = _webhooks(data["webhooks"], known, current, replace, errors)
    if errors:
        raise ConfigError(errors)
    return Config(subscriptions=subscriptions, profiles=profiles, webhooks=webhooks)


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _unknown_keys(raw: dict[Any, Any], known: Collection[str], path: str) -> list[str]:
    """An error for each key the object cannot have, naming the known key it is likely a typo of."""
    errors = []
    for key in sorted(str(key) for key in raw.keys() - set(known)):
        at = f"{path}.{key}" if path else key
        guesses = difflib.get_close_matches(key.lower(), known, n=1)  # MAX_DTE, maxDte: max_dte
        errors.append(f"{at}: unknown key" + (f" (did you mean {guesses[0]!r}?)" if guesses else ""))
    return errors


def _parse_keys(
    raw: dict[str, Any], parsers: dict[str, Callable[[object], Any]], path: str, errors: list[str]
) -> dict[str, Any]:
    """The object's known keys, each parsed; an error for each bad value."""
    values: dict[str, Any] = {}
    for key, parse in parsers.items():
        if key in raw:
            try:
                values[key] = parse(raw[key])
            except _Invalid as exc:
                errors.append(f"{path}.{key}{exc.at}: {exc}")
    return values


def _profiles(raw: object, current: Current, replace: bool, errors: list[str]) -> list[ProfileSpec]:
    if not isinstance(raw, list):
        errors.append("profiles: must be a list of objects")
        return []
    specs: list[ProfileSpec] = []
    seen: dict[str, int] = {}  # name → index
    tickers_given: dict[str, tuple[int, tuple[str, ...]]] = {}  # watchlist → (index, tickers) of the first
    tickers_kept: list[tuple[int, ProfileSpec]] = []  # entries that leave their watchlist's tickers out
    for index, item in enumerate(raw):
        path = f"profiles[{index}]"
        spec = _profile(item, path, current, replace, errors)
        if spec is None:
            continue
        if spec.name in seen:
            errors.append(f"{path}.name: duplicate of profiles[{seen[spec.name]}]")
            continue
        seen[spec.name] = index
        if spec.tickers is None:
            tickers_kept.append((index, spec))
        else:
            owner = tickers_given.setdefault(spec.watchlist, (index, spec.tickers))
            if owner[1] != spec.tickers:
                errors.append(f"{path}.tickers: watchlist {spec.watchlist!r} has other tickers in profiles[{owner[0]}]")
                continue
        specs.append(spec)
    errors += [
        f"profiles[{index}].tickers: is required: there is no watchlist {_quoted(spec.watchlist)} yet"
        for index, spec in tickers_kept
        if spec.watchlist not in current.watchlists and spec.watchlist not in tickers_given
    ]
    return specs


def _profile(raw: object, path: str, current: Current, replace: bool, errors: list[str]) -> ProfileSpec | None:
    if not isinstance(raw, dict):
        errors.append(f"{path}: must be an object")
        return None
    count = len(errors)
    errors += _unknown_keys(raw, _PROFILE_KEYS.keys(), path)
    required = ("name", "tickers") if replace else ("name",)  # replace: the file says everything
    errors += [f"{path}.{key}: is required" for key in required if key not in raw]
    given = _parse_keys(raw, _PROFILE_KEYS, path, errors)
    if len(errors) > count:
        return None
    name = given.pop("name")
    existing = current.profiles.get(name)
    watchlist = given.pop("watchlist", None) or (existing.watchlist if existing else name)
    tickers = given.pop("tickers", None)
    kept = existing.fields if existing and not replace else _model_defaults(FilterProfile, _PROFILE_FIELDS)
    fields = kept | given
    if problems := _model_problems(FilterProfile(name=name, **fields), path, exclude=("name", "watchlist")):
        errors += problems
        return None
    return ProfileSpec(name=name, watchlist=watchlist, tickers=tickers, fields=fields)


def _webhooks(
    raw: object, known_profiles: set[str], current: Current, replace: bool, errors: list[str]
) -> list[WebhookSpec]:
    if not isinstance(raw, list):
        errors.append("webhooks: must be a list of objects")
        return []
    specs: list[WebhookSpec] = []
    seen: dict[str, int] = {}  # name → index
    for index, item in enumerate(raw):
        path = f"webhooks[{index}]"
        spec = _webhook(item, path, known_profiles, current, replace, errors)
        if spec is None:
            continue
        if spec.name in seen:
            errors.append(f"{path}.name: duplicate of webhooks[{seen[spec.name]}]")
            continue
        seen[spec.name] = index
        specs.append(spec)
    return specs


def _webhook(
    raw: object, path: str, known_profiles: set[str], current: Current, replace: bool, errors: list[str]
) -> WebhookSpec | None:
    if not isinstance(raw, dict):
        errors.append(f"{path}: must be an object")
        return None
    count = len(errors)
    errors += _unknown_keys(raw, _WEBHOOK_KEYS.keys(), path)
    given = _parse_keys(raw, _WEBHOOK_KEYS, path, errors)
    existing = None if replace else current.webhooks.get(given.get("name", ""))
    required = ("name",) if existing else ("name", "url")  # a new endpoint needs somewhere to send to
    errors += [f"{path}.{key}: is required" for key in required if key not in raw]
    if "profiles" in given:
        errors += [
            f"{path}.profiles[{index}]: no profile named {_quoted(name)}"
            for index, name in enumerate(raw["profiles"])
            if name not in known_profiles
        ]
    if len(errors) > count:
        return None
    name, secret = given.pop("name"), given.pop("secret", None)
    profiles = given.pop("profiles", existing.profiles if existing else ())
    kept = existing.fields if existing else _model_defaults(WebhookEndpoint, _WEBHOOK_FIELDS)
    fields = kept | given
    endpoint = WebhookEndpoint(name=name, secret=secret or "", **fields)
    exclude = ("name",) if secret is not None else ("name", "secret")  # left out: kept or generated
    if problems := _model_problems(endpoint, path, exclude=exclude):
        errors += problems
        return None
    return WebhookSpec(name=name, profiles=profiles, secret=secret, fields=fields)


def _model_problems(instance: models.Model, path: str, *, exclude: Collection[str]) -> list[str]:
    """The model's own rules (its validators and clean()): the admin's forms apply the same ones,
    so both refuse a value with the same words. No database query (no uniqueness, no constraints)."""
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        return [
            f"{path}: {message}" if field == NON_FIELD_ERRORS else f"{path}.{field}: {message}"
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return []


def _model_defaults(model: type[models.Model], names: Iterable[str]) -> dict[str, Any]:
    """What a new row holds in these fields: the model says it, once."""
    defaults = {}
    for name in names:
        model_field = model._meta.get_field(name)
        assert isinstance(model_field, models.Field)
        defaults[name] = model_field.get_default()
    return defaults


def _slug(value: object) -> str:
    text = _text(value, 100)
    if not slug_re.fullmatch(text):
        raise _Invalid("must be a slug (letters, digits, hyphens, underscores)")
    return text


def _text(value: object, max_length: int) -> str:
    if not isinstance(value, str):
        raise _Invalid("must be a string")
    if len(value) > max_length:
        raise _Invalid(f"must be at most {max_length} characters")
    return _storable(value)


def _storable(text: str) -> str:
    """PostgreSQL's text holds no NUL character, and UTF-8 no unpaired surrogate (JSON's "\\ud800")."""
    if "\x00" in text:
        raise _Invalid("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid("must be valid Unicode text (no unpaired surrogates)") from None
    return text


def _watchlist_name(value: object) -> str:
    name = _text(value, 100).strip()
    if not name:
        raise _Invalid("must not be empty")
    return name


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("must be true or false")
    return value


def _count(value: object) -> int | None:
    """An integer or null; its range is the model's to judge."""
    if value is None:
        return None
    if type(value) is not int:  # bool is an int subclass; true is not a count
        raise _Invalid("must be an integer or null")
    return value


def _webhook_format(value: object) -> str:
    if value not in WebhookFormat.values:
        raise _Invalid(f"must be one of {', '.join(WebhookFormat.values)}")
    return str(value)


def _profile_names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Invalid("must be a list of profile names")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _Invalid("must be a string", at=f"[{index}]")
    return tuple(sorted(set(value)))


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid("must be a number or null")
    if isinstance(value, int):
        return Decimal(value)  # exact, however large (no detour through float or str)
    if not math.isfinite(value):
        raise _Invalid("must be a number or null")
    return Decimal(str(value))  # str(): 0.4 becomes 0.4, not 0.40000000000000002220446…


def _number(value: object) -> Decimal | None:
    """A number or null, exactly; its range and decimals are the model's to judge."""
    return None if value is None else _decimal(value)


def _tickers(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _Invalid("must be a non-empty list of strings")
    tickers = set()
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _Invalid("must be a string", at=f"[{index}]")
        ticker = item.strip().upper()
        try:
            validate_ticker(ticker)
        except ValidationError:
            raise _Invalid(
                "must be a ticker (1-16 letters, digits, '.', '-', '/' or ':', e.g. BRK.B) or *", at=f"[{index}]"
            ) from None
        tickers.add(ticker)
    return tuple(sorted(tickers))


def _conditions(value: object) -> list[int]:
    if not isinstance(value, list):
        raise _Invalid(CONDITION_CODES)
    for index, item in enumerate(value):
        _judged_by(validate_condition_code, item, at=f"[{index}]")
    return sorted(set(value))


def _judged_by(validator: Callable[[Any], None], value: object, at: str = "") -> None:
    """A model's validator on one item, its message at the item's path."""
    try:
        validator(value)
    except ValidationError as error:
        raise _Invalid(" ".join(error.messages), at=at) from None


def _condition_groups(value: object) -> list[str]:
    groups = sorted(conditions.STATIC_GROUPS)
    if not isinstance(value, list):
        raise _Invalid(f"must be a list of condition groups ({', '.join(groups)})")
    for index, item in enumerate(value):
        if not isinstance(item, str) or item not in conditions.STATIC_GROUPS:
            raise _Invalid(f"must be one of {', '.join(groups)}", at=f"[{index}]")
    return sorted(set(value))


def _channels(value: object) -> list[str]:
    if not isinstance(value, list):
        raise _Invalid("must be a list of strings")
    channels: dict[str, None] = {}  # ordered and de-duplicated
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _Invalid("must be a string", at=f"[{index}]")
        channel = item.strip()
        _judged_by(validate_channel, channel, at=f"[{index}]")
        channels[channel] = None
    return list(channels)


def _one_of(allowed: list[str]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise _Invalid(f"must be one of {', '.join(repr(item) for item in allowed)}")
        return value

    return parse


def _some_of(allowed: list[str]) -> Callable[[object], list[str]]:
    def parse(value: object) -> list[str]:
        if not isinstance(value, list):
            raise _Invalid(f"must be a list of some of {', '.join(allowed)} (empty: any)")
        for index, item in enumerate(value):
            if not isinstance(item, str) or item not in allowed:
                raise _Invalid(f"must be one of {', '.join(allowed)}", at=f"[{index}]")
        return sorted(set(value))

    return parse


_PROFILE_KEYS: dict[str, Callable[[object], Any]] = {
    "name": _slug,
    "description": lambda value: _text(value, 300),
    "enabled": _bool,
    "watchlist": _watchlist_name,
    "tickers": _tickers,
    "min_premium": _number,
    "min_size": _count,
    "min_dte": _count,
    "max_dte": _count,
    "size_gt_open_interest": _bool,
    "strike_band": _number,
    "exclude_categories": _condition_groups,
    "exclude_conditions": _conditions,
    "judges": _one_of(Judges.values),
    "order_types": _some_of(validate_order_types.allowed),
    "golden_only": _bool,
    "iso_only": _bool,
    "aggressors": _some_of(validate_aggressors.allowed),
    "sentiments": _some_of(validate_sentiments.allowed),
    "opening": _one_of(OpeningRule.values),
    "min_vol_oi": _number,
    "min_strike_multiple": _number,
    "min_strike_share": _number,
    "min_share_of_daily_premium": _number,
    "repeated_hits_only": _bool,
}

_WEBHOOK_KEYS: dict[str, Callable[[object], Any]] = {
    "name": _slug,
    "url": lambda value: _text(value, 500),
    "format": _webhook_format,
    "profiles": _profile_names,
    "active": _bool,
    "allow_private": _bool,
    "secret": lambda value: _text(value, 100),
    "rate_limit_per_minute": _count,
    "cooldown_minutes": _count,
    "escalate_premium": _number,
    "digest_minutes": _count,
}

_TOP_LEVEL_KEYS = ("subscriptions", "profiles", "webhooks")
_PROFILE_FIELDS = tuple(key for key in _PROFILE_KEYS if key not in ("name", "watchlist", "tickers"))
_WEBHOOK_FIELDS = tuple(key for key in _WEBHOOK_KEYS if key not in ("name", "profiles", "secret"))
