"""When Polygon refuses the key or does not answer: `manage.py refresh_reference` and the beat tasks
stop at once on 401/403 (one line: the status and what to do), and give up on an API that does not
answer after a few calls (the circuit breaker), reporting the rest as not tried, in seconds."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests import processes
from tests.polygon_rest import (
    API_KEY,
    PolygonServer,
    Reply,
    contract_item,
    contracts_page,
    ok,
    refusing_url,
    serve_polygon,
    status,
)
from trades import tasks
from trades.models import OptionContract
from trades.polygon_rest import client as client_module
from trades.services.reference_data import ReferenceUnavailable

pytestmark = pytest.mark.django_db

CONTRACTS = "/v3/reference/options/contracts"
TICKERS = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN"]


@pytest.fixture(autouse=True)
def fresh_breakers(monkeypatch) -> None:
    """Breakers are per address and per process: a port used again must not find one open."""
    monkeypatch.setattr(client_module, "_breakers", {})


@pytest.fixture
def polygon(settings, monkeypatch) -> Iterator[PolygonServer]:
    monkeypatch.setattr(client_module, "BACKOFF_FACTOR", 0.01)
    with serve_polygon(settings) as server:
        yield server


def refresh(*args: str) -> tuple[str, str]:
    """(stdout, the CommandError's message) of a refresh that must fail."""
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("refresh_reference", *args, stdout=out, stderr=StringIO())
    return out.getvalue(), str(failed.value)


def progress_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("refresh_reference:")]


def summary_rows(output: str) -> list[list[str]]:
    """The summary table's rows (without its header): step, name, status, details."""
    table = [line for line in output.splitlines() if not line.startswith("refresh_reference:")]
    return [line.split(maxsplit=3) for line in table[1:]]


# --- the API does not answer ------------------------------------------------------------------------


def test_an_api_that_refuses_connections_is_given_up_on_in_seconds(settings):
    """The issue: 2 minutes for 2 tickers. With the default retries and timeouts."""
    settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = refusing_url(), API_KEY

    started = time.monotonic()
    output, error = refresh("--tickers", ",".join(TICKERS))

    assert time.monotonic() - started < 3
    # conditions, exchanges and AAPL's contracts failed: the breaker opened; the rest was not tried.
    assert [row[:3] for row in summary_rows(output)] == [
        ["conditions", "conditions", "FAILED"],
        ["conditions", "exchanges", "FAILED"],
        ["contracts", "AAPL", "FAILED"],
        ["contracts", "-", "skipped"],
        ["open-interest", "-", "skipped"],
        ["spot", "-", "skipped"],
        ["dividends", "-", "skipped"],
    ]
    assert summary_rows(output)[3][3].startswith("MSFT NVDA TSLA AMZN (not tried: Polygon's REST API at")
    assert summary_rows(output)[0][3] == "gave up after retries: connection refused"
    assert re.fullmatch(
        rf"  19 more not tried: Polygon's REST API at {settings.POLYGON_REST_URL} is unreachable: "
        r"3 calls in a row failed in \d\.\d s, the last: connection refused",
        error.splitlines()[-1],
    )


def test_a_server_that_hangs_costs_three_calls_then_the_rest_is_skipped(polygon, settings):
    settings.POLYGON_REST_READ_TIMEOUT = 0.3
    polygon.on(CONTRACTS, Reply(hang=True))

    started = time.monotonic()
    output, error = refresh("--tickers", ",".join(TICKERS), "--only", "contracts")

    assert time.monotonic() - started < 3  # 3 calls of one 0.3 s read timeout each
    assert len(polygon.requests) == 3
    assert "2 more not tried: Polygon's REST API" in error
    assert "the last: no answer within POLYGON_REST_READ_TIMEOUT (0.3 s)" in error
    assert progress_lines(output)[-1].startswith("refresh_reference: contracts: 2 not tried: Polygon's REST API")


def test_progress_lines_show_each_failure_as_it_happens(polygon):
    polygon.on(CONTRACTS, status(503))

    output, _ = refresh("--tickers", "AAPL,MSFT", "--only", "contracts")

    lines = progress_lines(output)
    assert len(lines) == 2
    assert re.fullmatch(
        r"refresh_reference: contracts 1/2 AAPL FAILED: gave up after retries: too many 503 error responses \d+\.\d s",
        lines[0],
    )


def test_a_flaky_underlying_does_not_open_the_breaker(polygon):
    """A 5xx for one underlying between answers for the others is that underlying's problem."""
    polygon.on(CONTRACTS, status(500))
    serve_contracts_of(polygon, "AAPL", "NVDA")

    _, error = refresh("--tickers", "MSFT,AAPL,TSLA,NVDA,AMZN", "--only", "contracts")

    assert error.splitlines()[1:] == [
        "  contracts MSFT: gave up after retries: too many 500 error responses",
        "  contracts TSLA: gave up after retries: too many 500 error responses",
        "  contracts AMZN: gave up after retries: too many 500 error responses",
    ]


# --- Polygon refuses the key or the plan -------------------------------------------------------------


def test_a_wrong_key_stops_at_once_with_one_line_saying_what_to_do(start_feed, settings):
    feed = start_feed()  # the local feed's REST side answers 401 to a key it does not know
    settings.POLYGON_REST_URL, settings.POLYGON_API_KEY = feed.rest_url, "not-the-key"

    started = time.monotonic()
    output, error = refresh("--tickers", ",".join(TICKERS))

    assert time.monotonic() - started < 2
    assert error == (
        "Polygon answered 401 Unauthorized to GET /v3/reference/conditions ('Unknown API Key'): "
        "check POLYGON_API_KEY (a Massive/Polygon key with options access); stopped at conditions, "
        "nothing else was tried"
    )
    assert output == ""


def test_a_plan_without_the_snapshot_stops_at_the_first_snapshot(polygon):
    serve_contracts_of(polygon, "AAPL", "MSFT")
    polygon.on("/v3/snapshot/options/AAPL", status(403))

    output, error = refresh("--tickers", "AAPL,MSFT", "--only", "contracts,open-interest,spot")

    assert error.startswith("Polygon answered 403 Forbidden to GET /v3/snapshot/options/AAPL")
    assert "your plan does not include this endpoint / options data; stopped at open-interest" in error
    assert "\n" not in error
    assert [row[:3] for row in summary_rows(output)] == [["contracts", "AAPL", "ok"], ["contracts", "MSFT", "ok"]]
    assert [r.path for r in polygon.requests if r.path.startswith("/v3/snapshot")] == ["/v3/snapshot/options/AAPL"]


def test_the_real_command_exits_non_zero_with_the_one_line(polygon):
    polygon.on("/v3/reference/conditions", status(401))
    env = {"POLYGON_REST_URL": polygon.url, "POLYGON_API_KEY": "wrong"}

    finished = subprocess.run(
        processes.manage("refresh_reference", "--tickers", "AAPL"),
        cwd=processes.ROOT,
        env=processes.process_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode == 1
    assert finished.stdout == ""
    [line] = [line for line in finished.stderr.splitlines() if line.startswith("CommandError")]
    assert line.startswith("CommandError: Polygon answered 401 Unauthorized to GET /v3/reference/conditions")
    assert len(polygon.requests) == 1


# --- the beat tasks ------------------------------------------------------------------------------------


def test_a_task_meeting_a_dead_api_raises_for_a_retry_and_the_next_task_does_not_call_it(polygon, settings):
    settings.POLYGON_REST_RETRIES = 0
    polygon.on(CONTRACTS, status(503))

    with pytest.raises(ReferenceUnavailable, match=r"TSLA: not tried: Polygon's REST API at \S+ is unreachable"):
        tasks.refresh_contracts(TICKERS)
    assert len(polygon.requests) == 3

    # Beat fans out one task per underlying; the next one in this worker process skips at once.
    with pytest.raises(ReferenceUnavailable, match="SPY: not tried"):
        tasks.refresh_open_interest(["SPY"])
    assert len(polygon.requests) == 3


def test_a_task_meeting_a_wrong_key_reports_it_once_and_is_not_retried(polygon):
    polygon.on(CONTRACTS, status(401))

    result = tasks.refresh_contracts(["SPY", "QQQ"])

    assert result["failed"]["SPY"].startswith("Polygon answered 401 Unauthorized")
    assert result["failed"]["QQQ"].startswith("not tried: Polygon answered 401 Unauthorized")
    assert len(polygon.requests) == 1
    assert not OptionContract.objects.exists()


def serve_contracts_of(polygon: PolygonServer, *underlyings: str) -> None:
    for underlying in underlyings:
        page = contracts_page([contract_item(f"O:{underlying}251219C00100000", underlying)])
        polygon.on(CONTRACTS, ok(page), when=partial(asks_for, underlying))


def asks_for(underlying: str, query: dict[str, str]) -> bool:
    return query.get("underlying_ticker") == underlying
