"""``deadletters`` lists the batches kept after their task failed; ``deadletters replay`` runs them again.

Replaying runs a batch through the current code, in this process; judging is idempotent, so a
batch replayed twice, or one whose hits were partly stored, stores nothing twice.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades.models import DeadLetter, DeadLetterStatus
from trades.services import dead_letters


class Command(BaseCommand):
    help = "List dead letters (batches whose task failed after its retries) or replay them."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action")
        actions.add_parser("list", help="The dead letters waiting to be replayed (the default).")
        replay = actions.add_parser("replay", help="Run dead letters through the current code.")
        replay.add_argument("ids", nargs="*", type=int, help="Dead letter ids (see `list`).")
        replay.add_argument("--all", action="store_true", help="Every dead letter waiting.")
        replay.add_argument("--again", action="store_true", help="Also those already replayed.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "replay":
            self.replay(options["ids"], every=options["all"], again=options["again"])
        else:
            self.show_waiting()

    def show_waiting(self) -> None:
        letters = dead_letters.waiting().order_by("first_failed_at")
        if not letters:
            self.stdout.write("No dead letters waiting.")
            return
        for letter in letters:
            frames = len(letter.frames) if isinstance(letter.frames, list) else 0
            self.stdout.write(
                f"{letter.pk:>6}  {letter.last_failed_at:%Y-%m-%d %H:%M:%S}  {letter.task_name}  "
                f"{frames} frames, {letter.attempts} attempts: {letter.error}"
            )
        self.stdout.write(f"{len(letters)} waiting: `manage.py deadletters replay --all` runs them again.")

    def replay(self, ids: list[int], *, every: bool, again: bool) -> None:
        if bool(ids) == every:
            raise CommandError("name dead letter ids, or --all")
        statuses = [DeadLetterStatus.DEAD, DeadLetterStatus.REPLAYED] if again else [DeadLetterStatus.DEAD]
        letters = DeadLetter.objects.filter(status__in=statuses).order_by("first_failed_at")
        if ids:
            letters = letters.filter(pk__in=ids)
            missing = sorted(set(ids) - {letter.pk for letter in letters})
            if missing:
                listed = ", ".join(map(str, missing))
                raise CommandError(f"no dead letter waiting with id {listed} (--again for replayed ones)")
        failed = 0
        for letter in letters:
            try:
                report = dead_letters.replay(letter)
            except Exception as exc:
                failed += 1
                self.stderr.write(f"{letter.pk}: still fails: {type(exc).__name__}: {exc}")
                continue
            self.stdout.write(f"{letter.pk}: replayed: {report}")
        if failed:
            raise CommandError(f"{failed} dead letters still fail; they stay waiting")
