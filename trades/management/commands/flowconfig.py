"""``flowconfig export`` prints profiles, subscriptions and webhook endpoints as JSON;
``flowconfig import FILE`` applies it.

See trades/services/flowconfig.py for the file's meaning: an import changes only what the file
says; with ``--replace`` the file is the whole configuration (keys left out take defaults, and
profiles and endpoints not in it are switched off). Webhook secrets are exported only with
``--with-secrets`` and are never printed otherwise.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades.services.flowconfig import Change, ConfigError, ImportReport, export_config, import_config

_WHOLE_LIST = 8  # longer lists are shown as what is added and removed
_FREE_TEXT = ("description", "disabled_reason")  # quoted: they may be empty or end in spaces


class Command(BaseCommand):
    help = "Export or import filter profiles, watchlists, stream subscriptions and webhook endpoints as JSON."
    stealth_options = ("stdin",)  # tests hand in their own stdin

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        exporter = actions.add_parser("export", help="Print the configuration as JSON.")
        exporter.add_argument(
            "--with-secrets", action="store_true", help="Include the webhook endpoints' signing secrets."
        )
        importer = actions.add_parser(
            "import", help="Apply a JSON configuration (all or nothing), changing only what the file says."
        )
        importer.add_argument("file", help="Path to the JSON file, or - for stdin.")
        importer.add_argument("--dry-run", action="store_true", help="Validate and report; change nothing.")
        importer.add_argument(
            "--replace",
            action="store_true",
            help="The file is the whole configuration: keys left out take their defaults, and profiles and "
            "webhook endpoints not in the file are disabled (not deleted).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "export":
            config = export_config(with_secrets=options["with_secrets"])
            self.stdout.write(json.dumps(config, indent=2, ensure_ascii=False))
            return
        data = self.read_json(options["file"], options.get("stdin") or sys.stdin)
        try:
            report = import_config(data, dry_run=options["dry_run"], replace=options["replace"])
        except ConfigError as exc:
            raise CommandError(f"{options['file']} is invalid, nothing was changed:\n{exc}") from None
        self.print_report(report)

    def read_json(self, file: str, stdin: TextIO) -> Any:
        try:
            text = stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, a number of 4,300+ digits, deep nesting
            raise CommandError(f"{file} is not valid JSON: {exc}") from None

    def print_report(self, report: ImportReport) -> None:
        for line in report_lines(report):
            self.stdout.write(line)
        if report.dry_run:
            self.stdout.write(self.style.WARNING("dry run: nothing was changed"))
        elif not report.changed:
            self.stdout.write(self.style.SUCCESS("nothing to change"))
        else:
            self.stdout.write(self.style.SUCCESS("configuration applied"))


def report_lines(report: ImportReport) -> list[str]:
    """What the import did (or would do), object by object; each changed field as ``old → new``."""
    left_out = "already disabled (not in the file)" if report.replace else "left alone (not in the file)"
    lines = [f"created profile {name}" for name in report.created]
    for name, changes in report.updated.items():
        lines += _updated("profile", name, changes)
    lines += [f"unchanged profile {name}" for name in report.unchanged]
    lines += [f"disabled profile {name} (not in the file)" for name in report.disabled]
    lines += [f"{left_out}: profile {name}" for name in report.not_in_file]
    lines += [f"created watchlist {name}" for name in report.watchlists_created]
    for name, changes in report.watchlists_updated.items():
        lines += _updated("watchlist", name, changes)
    lines += [f"enabled subscription {channel}" for channel in report.subscriptions_enabled]
    lines += [f"disabled subscription {channel}" for channel in report.subscriptions_disabled]
    generated = " (secret generated: see the admin or export --with-secrets)"
    lines += [
        f"created webhook {name}{generated if name in report.secrets_generated else ''}"
        for name in report.webhooks_created
    ]
    for name, changes in report.webhooks_updated.items():
        lines += _updated("webhook", name, changes)
    lines += [f"unchanged webhook {name}" for name in report.webhooks_unchanged]
    lines += [f"disabled webhook {name} (not in the file)" for name in report.webhooks_disabled]
    lines += [f"{left_out}: webhook {name}" for name in report.webhooks_not_in_file]
    return lines


def _updated(kind: str, name: str, changes: list[Change]) -> list[str]:
    return [f"updated {kind} {name}:", *(f"  {_change(change)}" for change in changes)]


def _change(change: Change) -> str:
    """``field: old → new``; a long list as what it gains and loses; a secret never."""
    if change.field == "secret":
        return "secret: replaced (not shown)"
    if isinstance(change.old, list) and max(len(change.old), len(change.new)) > _WHOLE_LIST:
        return f"{change.field}: {_list_difference(change.old, change.new)}"
    return f"{change.field}: {_shown(change.field, change.old)} → {_shown(change.field, change.new)}"


def _shown(field: str, value: Any) -> str:
    if value is None:
        return "off"  # a null bound or limit is off
    if isinstance(value, bool):
        return "true" if value else "false"
    if field == "min_premium":
        return _dollars(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 0.400 → 0.4
    if isinstance(value, list):
        return f"[{', '.join(map(str, value))}]" if value or field != "profiles" else "[] (every profile)"
    if field in _FREE_TEXT:
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _dollars(amount: Decimal) -> str:
    """$50,000 or $1,234.50."""
    return f"${amount:,.0f}" if amount == amount.to_integral_value() else f"${amount:,.2f}"


def _list_difference(old: list[Any], new: list[Any]) -> str:
    """+AMD, -TSLA (52 → 52)"""
    added = [f"+{item}" for item in new if item not in old]
    removed = [f"-{item}" for item in old if item not in new]
    return f"{', '.join(added + removed)} ({len(old)} → {len(new)})"
