"""A batch is never dropped: failures are retried, then kept whole as a dead letter, and replayed.

The task runs eagerly here (Celery's `apply`, retries included); tests/e2e/test_e2e_dead_letters.py
runs the same through a real worker and broker.
"""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from tests.factories import only_profile
from trades import tasks
from trades.models import DeadLetter, DeadLetterStatus, OptionTrade
from trades.selectors import flow_rules
from trades.services import dead_letters, ingest

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
T0 = int(datetime(2025, 12, 5, 10, 30, tzinfo=NY).timestamp() * 1000)
FRAMES = [
    orjson.dumps(
        [{"ev": "T", "sym": "O:AAPL251220C00190000", "x": 302, "p": 6.0, "s": 100, "t": T0 + q, "q": q} for q in (1, 2)]
    ).decode()
]


@pytest.fixture(autouse=True)
def big_aapl_prints(settings):
    settings.BATCH_MAX_ATTEMPTS = 3
    only_profile("big", ["AAPL"], min_premium=50_000)
    yield
    flow_rules.forget_flow_rules()


def failing(times: int, error: Exception):
    """ingest_frames with a bug that strikes the first `times` calls."""
    calls = []
    real = ingest.ingest_frames

    def ingest_frames(frames, *args, **kwargs):
        calls.append(frames)
        if len(calls) <= times:
            raise error
        return real(frames, *args, **kwargs)

    return ingest_frames, calls


def test_a_batch_that_keeps_failing_is_kept_whole_after_its_retries(monkeypatch):
    bug, calls = failing(99, KeyError("a bug the item guard did not catch"))
    monkeypatch.setattr(ingest, "ingest_frames", bug)
    result = tasks.ingest_batch.apply(args=(FRAMES,), kwargs={"source": "replay"})
    assert len(calls) == 3  # BATCH_MAX_ATTEMPTS
    letter = DeadLetter.objects.get()
    assert result.get() == {"dead_letter": letter.pk}  # acknowledged: the batch now lives in the database
    assert (letter.status, letter.attempts, letter.task_id) == (DeadLetterStatus.DEAD, 3, result.id)
    assert (letter.task_name, letter.frames, letter.source) == ("trades.ingest_batch", FRAMES, "replay")
    assert letter.error == "KeyError: 'a bug the item guard did not catch'"
    assert "Traceback" in letter.traceback and "ingest_frames" in letter.traceback
    assert letter.first_failed_at <= letter.last_failed_at


def test_a_batch_that_fails_then_succeeds_leaves_nothing_behind(monkeypatch):
    bug, calls = failing(2, RuntimeError("a passing fault"))
    monkeypatch.setattr(ingest, "ingest_frames", bug)
    result = tasks.ingest_batch.apply(args=(FRAMES,))
    assert result.get()["stored"] == 2 and len(calls) == 3
    assert not DeadLetter.objects.exists()


def test_while_the_database_is_away_the_batch_waits_in_the_broker_however_long(monkeypatch):
    bug, calls = failing(6, OperationalError("connection refused"))  # more than BATCH_MAX_ATTEMPTS
    monkeypatch.setattr(ingest, "ingest_frames", bug)
    answers = iter([False] * 6)
    monkeypatch.setattr(dead_letters, "database_answers", lambda: next(answers))
    result = tasks.ingest_batch.apply(args=(FRAMES,))
    assert result.get()["stored"] == 2 and len(calls) == 7
    assert not DeadLetter.objects.exists()  # waiting for the database is not a failure of the batch


def test_a_database_error_while_the_database_answers_is_the_batchs_own_failure(monkeypatch):
    bug, _calls = failing(99, OperationalError("canceling statement due to statement timeout"))
    monkeypatch.setattr(ingest, "ingest_frames", bug)
    monkeypatch.setattr(dead_letters, "database_answers", lambda: True)
    tasks.ingest_batch.apply(args=(FRAMES,))
    assert DeadLetter.objects.get().status == DeadLetterStatus.DEAD


def dead_letter() -> DeadLetter:
    letter = dead_letters.note_failure(
        dead_letters.Batch("task-1", "trades.ingest_batch", FRAMES, "live"), RuntimeError("a bug, since fixed")
    )
    dead_letters.give_up(letter)
    return letter


def test_replaying_stores_the_batch_once_however_often(capsys):
    letter = dead_letter()
    out = StringIO()
    call_command("deadletters", stdout=out)
    assert f"{letter.pk}" in out.getvalue() and "RuntimeError: a bug, since fixed" in out.getvalue()
    call_command("deadletters", "replay", "--all", stdout=StringIO())
    assert OptionTrade.objects.count() == 2
    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.REPLAYED
    assert letter.replay_report is not None and letter.replay_report["stored"] == 2
    call_command("deadletters", "replay", str(letter.pk), "--again", stdout=StringIO())
    assert OptionTrade.objects.count() == 2  # idempotent
    out = StringIO()
    call_command("deadletters", stdout=out)
    assert "No dead letters waiting" in out.getvalue()


def test_replay_wants_ids_or_all_and_names_unknown_ids():
    with pytest.raises(CommandError, match="ids, or --all"):
        call_command("deadletters", "replay")
    with pytest.raises(CommandError, match="no dead letter waiting with id 999"):
        call_command("deadletters", "replay", "999")


def test_a_replay_that_still_fails_keeps_the_letter_waiting(monkeypatch):
    letter = dead_letter()
    bug, _calls = failing(99, KeyError("not fixed yet"))
    monkeypatch.setattr(ingest, "ingest_frames", bug)
    err = StringIO()
    with pytest.raises(CommandError, match="1 dead letters still fail"):
        call_command("deadletters", "replay", "--all", stderr=err)
    assert "not fixed yet" in err.getvalue()
    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.DEAD


def test_admin_replays_selected_letters(admin_client):
    letter = dead_letter()
    response = admin_client.post(
        "/admin/trades/deadletter/", {"action": "replay", "_selected_action": [letter.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "1 replayed" in response.content.decode()
    assert OptionTrade.objects.count() == 2
    page = admin_client.get(f"/admin/trades/deadletter/{letter.pk}/change/").content.decode()
    assert "RuntimeError: a bug, since fixed" in page and "Traceback" in page
