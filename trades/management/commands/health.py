"""``manage.py health``: the checks /healthz runs, for a terminal or a container's health check.

manage.py health                      every check; exit 1 if any fails
manage.py health --only listener      the listener's heartbeat (compose: the stream service)
manage.py health --url http://127.0.0.1:8000/healthz
                                      ask a running web server instead (compose: the web service)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades import queues
from trades.selectors.health import check_health, check_names


class Command(BaseCommand):
    help = "Run the health checks /healthz runs and print them; exit 1 if one fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only", default="", help=f"Comma-separated checks to run (of {', '.join(check_names())}); default all."
        )
        parser.add_argument(
            "--url",
            default="",
            help="Ask the web server at this /healthz URL instead: healthy if it answers with a health report "
            "(200 or 503), whatever the report says. For the web container's own health check.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["url"]:
            self.ask_web_server(options["url"])
            return
        only = [name.strip() for name in options["only"].split(",") if name.strip()] or None
        unknown = sorted(set(only or []) - set(check_names()))
        if unknown:
            raise CommandError(f"unknown check {', '.join(unknown)}: choose from {', '.join(check_names())}")
        report = check_health(only)
        for name, check in report.checks.items():
            self.stdout.write(self.check_line(name, check))
        if not report.healthy:
            failing = [name for name, check in report.checks.items() if not check["ok"]]
            raise CommandError(f"unhealthy: {', '.join(failing)}", returncode=1)

    def check_line(self, name: str, check: dict[str, Any]) -> str:
        mark = "✔" if check["ok"] else "✘"
        detail = check.get("error") or check.get("warning") or ""
        if name == "queues":  # each backlog, as Flower's broker page shows it
            depths = ", ".join(f"{queue} {depth:,}" for queue, depth in check.items() if queue in queues.QUEUES)
            detail = f"{depths}  {detail}".strip()
        line = f"{mark} {name:<13} {'ok' if check['ok'] else 'FAILING'}"
        line += f"  {detail}" if detail else ""
        return self.style.SUCCESS(line) if check["ok"] else self.style.ERROR(line)

    def ask_web_server(self, url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except OSError as exc:
            raise CommandError(f"{url} does not answer: {exc}", returncode=1) from exc
        try:
            report = json.loads(body)
        except ValueError:
            report = None
        if status not in (200, 503) or not isinstance(report, dict) or "status" not in report:
            raise CommandError(f"{url} answered {status} without a health report", returncode=1)
        self.stdout.write(f"{url} answers: {report['status']} ({status})")
