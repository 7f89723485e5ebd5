"""Config as code: filter profiles, their watchlists, the stream subscriptions and the webhook
endpoints as JSON.

The file is declarative. A profile in the file is created or updated by name, and a key left
out takes the model's default (so the result never depends on what was in the database).
Profiles in the database but not in the file are left alone. The file's subscriptions are the
complete list of enabled channels: rows not in it are disabled, not deleted, so an
export → import round trip leaves the Subscription table exactly as it was. An empty list
disables every row, which makes the listener fall back to ``T.*``.

Webhook endpoints are created or updated by name like profiles, and those absent from the file
are left alone. An endpoint's ``secret`` is the one exception to "a key left out takes the
default": left out, an existing endpoint keeps its secret and a new one gets a generated one.
Secrets are exported only when asked for (``with_secrets``). Turning an endpoint back on
(``active: true``) clears the reason it was turned off.

A top-level key left out leaves that part of the configuration alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, slug_re
from django.db import transaction

from trades.domain import conditions
from trades.models import (
    FilterProfile,
    Subscription,
    WatchedTicker,
    Watchlist,
    WebhookEndpoint,
    WebhookFormat,
    default_excluded_categories,
    default_excluded_conditions,
    validate_ticker,
)

_MAX_POSITIVE_INT = 2_147_483_647  # PostgreSQL integer, as PositiveIntegerField stores it
_MAX_PREMIUM = Decimal("999999999999.99")  # max_digits=14, decimal_places=2
_CENTS = Decimal("0.01")
_THOUSANDTHS = Decimal("0.001")
_HTTP_URL = URLValidator(schemes=["http", "https"])
_SECRET_PREFIX = "whsec_"
_MIN_SECRET_BYTES = 24


class ConfigError(ValueError):
    """The file is invalid; ``errors`` holds one ``path: message`` line per bad value."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass(frozen=True)
class ProfileSpec:
    """One validated, normalised profile from the file."""

    name: str
    watchlist: str
    tickers: tuple[str, ...]
    fields: dict[str, Any]  # FilterProfile fields other than name and watchlist


@dataclass(frozen=True)
class WebhookSpec:
    """One validated, normalised webhook endpoint from the file."""

    name: str
    profiles: tuple[str, ...]  # profile names, sorted; none means every profile
    secret: str | None  # None: keep the endpoint's secret, or generate one for a new endpoint
    fields: dict[str, Any]  # url, format, active, allow_private, rate_limit_per_minute


@dataclass(frozen=True)
class Config:
    """The file, validated and normalised; None where a top-level key is absent."""

    subscriptions: list[str] | None
    profiles: list[ProfileSpec] | None
    webhooks: list[WebhookSpec] | None


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # profile name → changed fields
    unchanged: list[str] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)  # left alone
    watchlists_created: list[str] = field(default_factory=list)
    watchlists_updated: list[str] = field(default_factory=list)  # tickers changed
    subscriptions_enabled: list[str] = field(default_factory=list)  # created or re-enabled
    subscriptions_disabled: list[str] = field(default_factory=list)
    webhooks_created: list[str] = field(default_factory=list)
    webhooks_updated: dict[str, list[str]] = field(default_factory=dict)  # endpoint name → changed fields
    webhooks_unchanged: list[str] = field(default_factory=list)
    webhooks_not_in_file: list[str] = field(default_factory=list)  # left alone
    secrets_generated: list[str] = field(default_factory=list)  # created without a secret in the file
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.updated
            or self.watchlists_created
            or self.watchlists_updated
            or self.subscriptions_enabled
            or self.subscriptions_disabled
            or self.webhooks_created
            or self.webhooks_updated
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
    return exported


def _json_number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


# --- Import -------------------------------------------------------------------------------


def import_config(data: dict[str, Any], *, dry_run: bool = False) -> ImportReport:
    """Validate the whole file, then apply it in one transaction; raise ConfigError if invalid.

    With ``dry_run`` the report says what would change and the transaction is rolled back.
    """
    config = parse_config(data, existing_profiles=set(FilterProfile.objects.values_list("name", flat=True)))
    report = ImportReport(dry_run=dry_run)
    with transaction.atomic():
        if config.profiles is not None:
            _apply_profiles(config.profiles, report)
        if config.subscriptions is not None:
            _apply_subscriptions(config.subscriptions, report)
        if config.webhooks is not None:  # after the profiles: they may name the file's new ones
            _apply_webhooks(config.webhooks, report)
        if dry_run:
            transaction.set_rollback(True)
    return report


def _apply_profiles(specs: list[ProfileSpec], report: ImportReport) -> None:
    watchlists: dict[str, Watchlist] = {}
    for spec in specs:
        if spec.watchlist not in watchlists:
            watchlists[spec.watchlist] = _apply_watchlist(spec.watchlist, spec.tickers, report)
        _apply_profile(spec, watchlists[spec.watchlist], report)
    in_file = {spec.name for spec in specs}
    report.not_in_file = sorted(set(FilterProfile.objects.values_list("name", flat=True)) - in_file)


def _apply_watchlist(name: str, tickers: tuple[str, ...], report: ImportReport) -> Watchlist:
    watchlist, created = Watchlist.objects.get_or_create(name=name)
    current = set(watchlist.tickers.values_list("symbol", flat=True))
    wanted = set(tickers)
    if current != wanted:
        watchlist.tickers.exclude(symbol__in=wanted).delete()
        WatchedTicker.objects.bulk_create(
            [WatchedTicker(watchlist=watchlist, symbol=symbol) for symbol in sorted(wanted - current)]
        )
        watchlist.save(update_fields=["updated_at"])  # workers notice the change by this stamp
    if created:
        report.watchlists_created.append(name)
    elif current != wanted:
        report.watchlists_updated.append(name)
    return watchlist


def _apply_profile(spec: ProfileSpec, watchlist: Watchlist, report: ImportReport) -> None:
    wanted = dict(spec.fields, watchlist_id=watchlist.pk)
    profile = FilterProfile.objects.filter(name=spec.name).first()
    if profile is None:
        FilterProfile.objects.create(name=spec.name, **wanted)
        report.created.append(spec.name)
        return
    changed = [key for key, value in wanted.items() if not _same(key, getattr(profile, key), value)]
    if not changed:
        report.unchanged.append(spec.name)
        return
    for key in changed:
        setattr(profile, key, wanted[key])
    profile.save()
    report.updated[spec.name] = [key.removesuffix("_id") for key in changed]


def _same(key: str, current: Any, wanted: Any) -> bool:
    if key in ("exclude_conditions", "exclude_categories"):  # sets stored as lists; admin may reorder
        return sorted(set(current)) == wanted
    return bool(current == wanted)


def _apply_subscriptions(channels: list[str], report: ImportReport) -> None:
    existing = dict(Subscription.objects.values_list("channel", "enabled"))
    to_enable = [channel for channel in channels if not existing.get(channel, False)]
    to_disable = sorted(channel for channel, enabled in existing.items() if enabled and channel not in channels)
    Subscription.objects.bulk_create([Subscription(channel=c) for c in to_enable if c not in existing])
    Subscription.objects.filter(channel__in=to_enable).update(enabled=True)
    Subscription.objects.filter(channel__in=to_disable).update(enabled=False)
    report.subscriptions_enabled = to_enable
    report.subscriptions_disabled = to_disable


def _apply_webhooks(specs: list[WebhookSpec], report: ImportReport) -> None:
    wanted = {name for spec in specs for name in spec.profiles}
    profile_ids = dict(FilterProfile.objects.filter(name__in=wanted).values_list("name", "pk"))
    if missing := wanted - profile_ids.keys():  # validated before the transaction: deleted since
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
    in_file = {spec.name for spec in specs}
    report.webhooks_not_in_file = sorted(set(WebhookEndpoint.objects.values_list("name", flat=True)) - in_file)


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
    if spec.secret is not None:
        wanted["secret"] = spec.secret
    if wanted["active"] and not endpoint.active:
        wanted["disabled_reason"] = ""  # switched back on: why it was off no longer holds
    changed = [key for key, value in wanted.items() if getattr(endpoint, key) != value]
    profiles_changed = {profile.pk for profile in endpoint.profiles.all()} != profile_ids
    if not changed and not profiles_changed:
        report.webhooks_unchanged.append(spec.name)
        return
    for key in changed:
        setattr(endpoint, key, wanted[key])
    endpoint.save()  # also when only the profiles changed: updated_at says when it was last changed
    if profiles_changed:
        endpoint.profiles.set(profile_ids)
        changed.append("profiles")
    report.webhooks_updated[spec.name] = changed  # names only: a secret is never reported


def _quoted(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


# --- Validation (pure: no database) ------------------------------------------------------


class _Invalid(ValueError):
    """One bad value; ``at`` is the path suffix inside it, e.g. ``[2]`` for a list item."""

    def __init__(self, message: str, at: str = "") -> None:
        self.at = at
        super().__init__(message)


def parse_config(data: object, existing_profiles: Collection[str] = ()) -> Config:
    """The file, validated and normalised; raise ConfigError with every bad value.

    A webhook's profiles must be named in the file's profiles or in ``existing_profiles``
    (the database's, which the caller reads: this function does not touch the database).
    """
    errors: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError(["(top level): must be an object"])
    errors += [f"{key}: unknown key" for key in sorted(data.keys() - {"subscriptions", "profiles", "webhooks"})]
    subscriptions = profiles = webhooks = None
    if "subscriptions" in data:
        try:
            subscriptions = _channels(data["subscriptions"])
        except _Invalid as exc:
            errors.append(f"subscriptions{exc.at}: {exc}")
    if "profiles" in data:
        profiles = _profiles(data["profiles"], errors)
    if "webhooks" in data:
        # Names from the raw file, so that an invalid profile does not also fail the webhooks naming it.
        in_file = [item.get("name") for item in _as_list(data.get("profiles")) if isinstance(item, dict)]
        known = {*existing_profiles, *(name for name in in_file if isinstance(name, str))}
        webhooks = _webhooks(data["webhooks"], known, errors)
    if errors:
        raise ConfigError(errors)
    return Config(subscriptions=subscriptions, profiles=profiles, webhooks=webhooks)


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _profiles(raw: object, errors: list[str]) -> list[ProfileSpec]:
    if not isinstance(raw, list):
        errors.append("profiles: must be a list of objects")
        return []
    specs: list[ProfileSpec] = []
    seen: dict[str, int] = {}  # name → index
    watchlist_owner: dict[str, tuple[int, tuple[str, ...]]] = {}  # watchlist → (index, tickers)
    for index, item in enumerate(raw):
        path = f"profiles[{index}]"
        spec = _profile(item, path, errors)
        if spec is None:
            continue
        if spec.name in seen:
            errors.append(f"{path}.name: duplicate of profiles[{seen[spec.name]}]")
            continue
        seen[spec.name] = index
        owner = watchlist_owner.setdefault(spec.watchlist, (index, spec.tickers))
        if owner[1] != spec.tickers:
            errors.append(f"{path}.tickers: watchlist {spec.watchlist!r} has other tickers in profiles[{owner[0]}]")
            continue
        specs.append(spec)
    return specs


def _profile(raw: object, path: str, errors: list[str]) -> ProfileSpec | None:
    if not isinstance(raw, dict):
        errors.append(f"{path}: must be an object")
        return None
    count = len(errors)
    errors += [f"{path}.{key}: unknown key" for key in sorted(raw.keys() - _PROFILE_KEYS.keys())]
    errors += [f"{path}.{key}: is required" for key in ("name", "tickers") if key not in raw]
    values: dict[str, Any] = {}
    for key, parse in _PROFILE_KEYS.items():
        if key in raw:
            try:
                values[key] = parse(raw[key])
            except _Invalid as exc:
                errors.append(f"{path}.{key}{exc.at}: {exc}")
    low, high = values.get("min_dte"), values.get("max_dte")
    if low is not None and high is not None and low > high:
        errors.append(f"{path}.max_dte: must be ≥ min_dte")
    if len(errors) > count:
        return None
    name, tickers = values.pop("name"), values.pop("tickers")
    return ProfileSpec(
        name=name,
        watchlist=values.pop("watchlist", name),
        tickers=tickers,
        fields=_profile_defaults() | values,
    )


def _webhooks(raw: object, known_profiles: set[str], errors: list[str]) -> list[WebhookSpec]:
    if not isinstance(raw, list):
        errors.append("webhooks: must be a list of objects")
        return []
    specs: list[WebhookSpec] = []
    seen: dict[str, int] = {}  # name → index
    for index, item in enumerate(raw):
        path = f"webhooks[{index}]"
        spec = _webhook(item, path, known_profiles, errors)
        if spec is None:
            continue
        if spec.name in seen:
            errors.append(f"{path}.name: duplicate of webhooks[{seen[spec.name]}]")
            continue
        seen[spec.name] = index
        specs.append(spec)
    return specs


def _webhook(raw: object, path: str, known_profiles: set[str], errors: list[str]) -> WebhookSpec | None:
    if not isinstance(raw, dict):
        errors.append(f"{path}: must be an object")
        return None
    count = len(errors)
    errors += [f"{path}.{key}: unknown key" for key in sorted(raw.keys() - _WEBHOOK_KEYS.keys())]
    errors += [f"{path}.{key}: is required" for key in ("name", "url") if key not in raw]
    values: dict[str, Any] = {}
    for key, parse in _WEBHOOK_KEYS.items():
        if key in raw:
            try:
                values[key] = parse(raw[key])
            except _Invalid as exc:
                errors.append(f"{path}.{key}{exc.at}: {exc}")
    if "profiles" in values:
        errors += [
            f"{path}.profiles[{index}]: no profile named {_quoted(name)}"
            for index, name in enumerate(raw["profiles"])
            if name not in known_profiles
        ]
    if len(errors) > count:
        return None
    name, profiles, secret = values.pop("name"), values.pop("profiles", ()), values.pop("secret", None)
    return WebhookSpec(name=name, profiles=profiles, secret=secret, fields=_webhook_defaults() | values)


def _webhook_defaults() -> dict[str, Any]:
    return {
        "format": WebhookFormat.STANDARD.value,
        "active": True,
        "allow_private": False,
        "rate_limit_per_minute": None,
    }


def _profile_defaults() -> dict[str, Any]:
    return {
        "description": "",
        "enabled": True,
        "min_premium": None,
        "min_size": None,
        "min_dte": None,
        "max_dte": None,
        "size_gt_open_interest": False,
        "strike_band": None,
        "exclude_categories": default_excluded_categories(),
        "exclude_conditions": default_excluded_conditions(),
    }


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


def _count(value: object, minimum: int = 0) -> int | None:
    if value is None:
        return None
    if type(value) is not int:  # bool is an int subclass; true is not a count
        raise _Invalid("must be an integer or null")
    if value < minimum:
        raise _Invalid(f"must be ≥ {minimum}")
    if value > _MAX_POSITIVE_INT:
        raise _Invalid(f"must be at most {_MAX_POSITIVE_INT}")
    return value


def _http_url(value: object) -> str:
    url = _text(value, 500)
    try:
        _HTTP_URL(url)
    except ValidationError:
        raise _Invalid("must be an http:// or https:// URL with a host") from None
    return url


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


def _secret(value: object) -> str:
    """``whsec_`` + the base64 of at least 24 bytes. The value itself is never put in a message."""
    secret = _text(value, 100)
    problem = f"must be {_SECRET_PREFIX} followed by the base64 of at least {_MIN_SECRET_BYTES} bytes"
    if not secret.startswith(_SECRET_PREFIX):
        raise _Invalid(problem)
    try:
        key = base64.b64decode(secret.removeprefix(_SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise _Invalid(problem) from None
    if len(key) < _MIN_SECRET_BYTES:
        raise _Invalid(problem)
    return secret


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid("must be a number or null")
    if isinstance(value, int):
        return Decimal(value)  # exact, however large (no detour through float or str)
    if not math.isfinite(value):
        raise _Invalid("must be a number or null")
    return Decimal(str(value))  # str(): 0.4 becomes 0.4, not 0.40000000000000002220446…


def _money(value: object) -> Decimal | None:
    if value is None:
        return None
    amount = _decimal(value)
    if amount < 0:
        raise _Invalid("must be ≥ 0")
    if amount > _MAX_PREMIUM:
        raise _Invalid(f"must be at most {_MAX_PREMIUM}")
    if amount != amount.quantize(_CENTS):
        raise _Invalid("must have at most 2 decimal places")
    return amount.quantize(_CENTS)


def _fraction(value: object) -> Decimal | None:
    if value is None:
        return None
    fraction = _decimal(value)
    if not 0 < fraction <= 1:
        raise _Invalid("must be in (0, 1]")
    if fraction != fraction.quantize(_THOUSANDTHS):
        raise _Invalid("must have at most 3 decimal places")
    return fraction.quantize(_THOUSANDTHS)


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
        raise _Invalid("must be a list of integers")
    for index, item in enumerate(value):
        if type(item) is not int:
            raise _Invalid("must be an integer", at=f"[{index}]")
        if item < 0:
            raise _Invalid("must be ≥ 0", at=f"[{index}]")
        if item > _MAX_POSITIVE_INT:  # OptionCondition.code's range
            raise _Invalid(f"must be at most {_MAX_POSITIVE_INT}", at=f"[{index}]")
    return sorted(set(value))


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
        # The listener joins channels with commas: one row must be one channel (and printable:
        # no NUL, which PostgreSQL refuses, nor an unpaired surrogate).
        if (
            not channel
            or len(channel) > 64
            or "," in channel
            or any(char.isspace() for char in channel)
            or not channel.isprintable()
        ):
            raise _Invalid("must be one channel, e.g. T.* (1-64 characters, no commas or spaces)", at=f"[{index}]")
        channels[channel] = None
    return list(channels)


_PROFILE_KEYS: dict[str, Callable[[object], Any]] = {
    "name": _slug,
    "description": lambda value: _text(value, 300),
    "enabled": _bool,
    "watchlist": _watchlist_name,
    "tickers": _tickers,
    "min_premium": _money,
    "min_size": _count,
    "min_dte": _count,
    "max_dte": _count,
    "size_gt_open_interest": _bool,
    "strike_band": _fraction,
    "exclude_categories": _condition_groups,
    "exclude_conditions": _conditions,
}

_WEBHOOK_KEYS: dict[str, Callable[[object], Any]] = {
    "name": _slug,
    "url": _http_url,
    "format": _webhook_format,
    "profiles": _profile_names,
    "active": _bool,
    "allow_private": _bool,
    "secret": _secret,
    "rate_limit_per_minute": lambda value: _count(value, minimum=1),
}
