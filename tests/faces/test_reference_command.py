"""manage.py refresh_reference against the local Polygon server: a summary table, progress lines
in a log, and a non-zero exit naming the underlying and the reason when a refresh failed. (When
Polygon refuses the key or does not answer: tests/faces/test_reference_outages.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.polygon_rest import PolygonServer, contract_item, contracts_page, fixture, ok, serve_polygon, status
from trades.models import Dividend, FilterProfile, OptionCondition, OptionContract, Underlying
from trades.polygon_rest import client as client_module

pytestmark = pytest.mark.django_db

CONTRACTS = "/v3/reference/options/contracts"
AAPL_CALL = "O:AAPL230616C00150000"


@pytest.fixture
def polygon(settings, monkeypatch) -> Iterator[PolygonServer]:
    monkeypatch.setattr(client_module, "BACKOFF_FACTOR", 0.01)
    with serve_polygon(settings) as server:
        server.on("/v3/reference/conditions", ok(fixture("derived/conditions_options.json")))
        server.on("/v3/reference/exchanges", ok(fixture("exchanges_example.json")))
        server.on(
            CONTRACTS,
            ok(contracts_page([contract_item(AAPL_CALL, "AAPL"), contract_item("O:AAPL230616P00140000", "AAPL")])),
            when=lambda q: q.get("underlying_ticker") == "AAPL",
        )
        server.on("/v3/snapshot/options/AAPL", ok(fixture("chain_AAPL.json")))
        dividend = {"ticker": "AAPL", "ex_dividend_date": "2025-11-10", "cash_amount": 0.26, "frequency": 4}
        server.on("/v3/reference/dividends", ok({"results": [dividend], "status": "OK"}))
        yield server


def refresh(*args: str) -> str:
    """The command's output without its progress lines (a StringIO is no terminal: one per name)."""
    out = StringIO()
    call_command("refresh_reference", *args, stdout=out, stderr=StringIO())
    return "\n".join(line for line in out.getvalue().splitlines() if not line.startswith("refresh_reference:"))


def test_refreshes_everything_and_prints_a_summary(polygon):
    output = refresh("--tickers", "aapl")

    lines = output.splitlines()
    assert lines[0].split() == ["step", "name", "status", "details"]
    assert lines[1].split()[:3] == ["conditions", "conditions", "ok"]
    assert lines[2].split()[:3] == ["conditions", "exchanges", "ok"]
    assert lines[3].split()[:3] == ["contracts", "AAPL", "ok"]
    assert "listed 2, new 2, removed 0" in lines[3]
    assert lines[4].split()[:3] == ["open-interest", "AAPL", "ok"]
    assert "open interest 1, spot $159.96" in lines[4]  # words and money, never a Decimal repr
    assert lines[5].split()[:3] == ["spot", "AAPL", "ok"]
    assert lines[6].split()[:3] == ["dividends", "AAPL", "ok"]
    assert lines[-1] == "reference data refreshed"
    aapl = Underlying.objects.get(ticker="AAPL")
    assert (aapl.spot, aapl.strike_min, aapl.strike_max) == (Decimal("159.9606"), 140, 150)
    assert OptionContract.objects.get(symbol=AAPL_CALL).open_interest == 8133
    assert OptionCondition.objects.count() == 7
    assert [(row.ex_dividend_date.isoformat(), row.cash_amount) for row in Dividend.objects.all()] == [
        ("2025-11-10", Decimal("0.260000"))
    ]


def test_verbosity_0_prints_only_the_last_line(polygon):
    """What `manage.py demo` runs: no progress lines, no table, unless something fails."""
    out = StringIO()
    call_command("refresh_reference", "--tickers", "AAPL", "--verbosity", "0", stdout=out, stderr=StringIO())
    assert out.getvalue() == "reference data refreshed\n"


def test_progress_is_one_line_per_name_when_stdout_is_no_terminal(polygon):
    out = StringIO()
    with pytest.raises(CommandError):  # MSFT is not served
        call_command("refresh_reference", "--tickers", "AAPL,MSFT", "--only", "contracts", stdout=out)

    progress = [line for line in out.getvalue().splitlines() if line.startswith("refresh_reference:")]
    assert len(progress) == 2
    assert re.fullmatch(r"refresh_reference: contracts 1/2 AAPL ok \d+\.\d s", progress[0])
    assert re.fullmatch(r"refresh_reference: contracts 2/2 MSFT FAILED: Polygon answered 404 .* \d+\.\d s", progress[1])


def test_only_some_steps(polygon):
    output = refresh("--tickers", "AAPL", "--only", "spot,conditions")

    assert [line.split()[0] for line in output.splitlines()[1:-1]] == ["conditions", "conditions", "spot"]
    assert {r.path for r in polygon.requests} == {
        "/v3/reference/conditions",
        "/v3/reference/exchanges",
        "/v3/snapshot/options/AAPL",
    }


def test_defaults_to_the_watched_underlyings(polygon):
    FilterProfile.objects.update(enabled=False)
    FilterProfile.objects.filter(name="mag7-smart-money").update(enabled=True)
    mag7 = ["AAPL", "AMZN", "GOOG", "GOOGL", "META", "MSFT", "NVDA", "TSLA"]
    for ticker in mag7:
        polygon.on(f"/v3/snapshot/options/{ticker}", ok(fixture("chain_AAPL.json")))

    output = refresh("--only", "spot")

    names = [line.split()[1] for line in output.splitlines()[1:] if line.startswith("spot")]
    assert names == mag7


def test_a_failed_underlying_exits_non_zero_naming_it_and_the_reason(polygon):
    polygon.on(CONTRACTS, status(500), when=lambda q: q.get("underlying_ticker") == "MSFT")
    out = StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("refresh_reference", "--tickers", "AAPL,MSFT", "--only", "contracts", stdout=out)

    message = str(failed.value)
    assert "contracts MSFT: gave up after retries: too many 500 error responses" in message
    assert "AAPL" not in message
    assert "MSFT" in out.getvalue() and "FAILED" in out.getvalue()  # the summary is printed first
    assert OptionContract.objects.filter(underlying="AAPL").count() == 2  # AAPL went ahead


def test_a_missing_api_key_is_a_clear_error(polygon, settings):
    settings.POLYGON_API_KEY = ""

    with pytest.raises(CommandError, match="POLYGON_API_KEY is not set"):
        refresh("--tickers", "AAPL")


def test_an_unknown_step_is_refused(polygon):
    with pytest.raises(CommandError, match="unknown step"):
        refresh("--only", "greeks")
