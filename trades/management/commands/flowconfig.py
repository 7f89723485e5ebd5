"""``flowconfig export`` prints profiles, subscriptions and webhook endpoints as JSON;
``flowconfig import FILE`` applies it.

See trades/services/flowconfig.py for the file's meaning (declarative; subscriptions absent
from the file are disabled; profiles and webhook endpoints absent from it are left alone).
Webhook secrets are exported only with ``--with-secrets`` and are never printed otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades.services.flowconfig import ConfigError, ImportReport, export_config, import_config


class Command(BaseCommand):
    help = "Export or import filter profiles, watchlists, stream subscriptions and webhook endpoints as JSON."
    stealth_options = ("stdin",)  # tests hand in their own stdin

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        exporter = actions.add_parser("export", help="Print the configuration as JSON.")
        exporter.add_argument(
            "--with-secrets", action="store_true", help="Include the webhook endpoints' signing secrets."
        )
        importer = actions.add_parser("import", help="Apply a JSON configuration (all or nothing).")
        importer.add_argument("file", help="Path to the JSON file, or - for stdin.")
        importer.add_argument("--dry-run", action="store_true", help="Validate and report; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "export":
            config = export_config(with_secrets=options["with_secrets"])
            self.stdout.write(json.dumps(config, indent=2, ensure_ascii=False))
            return
        data = self.read_json(options["file"], options.get("stdin") or sys.stdin)
        try:
            report = import_config(data, dry_run=options["dry_run"])
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
        lines = [f"created profile {name}" for name in report.created]
        lines += [f"updated profile {name}: {', '.join(fields)}" for name, fields in report.updated.items()]
        lines += [f"unchanged profile {name}" for name in report.unchanged]
        lines += [f"left alone (not in the file): profile {name}" for name in report.not_in_file]
        lines += [f"created watchlist {name}" for name in report.watchlists_created]
        lines += [f"updated watchlist {name}: tickers changed" for name in report.watchlists_updated]
        lines += [f"enabled subscription {channel}" for channel in report.subscriptions_enabled]
        lines += [f"disabled subscription {channel}" for channel in report.subscriptions_disabled]
        generated = " (secret generated: see the admin or export --with-secrets)"
        lines += [
            f"created webhook {name}{generated if name in report.secrets_generated else ''}"
            for name in report.webhooks_created
        ]
        lines += [f"updated webhook {name}: {', '.join(fields)}" for name, fields in report.webhooks_updated.items()]
        lines += [f"unchanged webhook {name}" for name in report.webhooks_unchanged]
        lines += [f"left alone (not in the file): webhook {name}" for name in report.webhooks_not_in_file]
        for line in lines:
            self.stdout.write(line)
        if report.dry_run:
            self.stdout.write(self.style.WARNING("dry run: nothing was changed"))
        elif not report.changed:
            self.stdout.write(self.style.SUCCESS("nothing to change"))
        else:
            self.stdout.write(self.style.SUCCESS("configuration applied"))
