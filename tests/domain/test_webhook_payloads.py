"""Webhook bodies per format: Standard Webhooks, Discord and Slack, without a database.

What the shapes and limits are checked against (each limit with adversarial input: 100 profiles,
names of thousands of characters, emoji, mention syntax):

- Standard Webhooks, spec/standard-webhooks.md ("Payload structure"): ``{"type", "timestamp",
  "data"}`` with an ISO 8601 timestamp.
- Discord, docs/resources/webhook.mdx "Execute Webhook" (content ≤ 2000 characters, ≤ 10
  embeds, allowed_mentions) and docs/resources/message.mdx "Embed Object" / "Embed Limits"
  (github.com/discord/discord-api-docs): title 256, description 4096, ≤ 25 fields, field.name
  256, field.value 1024, footer.text 2048, author.name 256, and "the combined sum of characters
  in all title, description, field.name, field.value, footer.text, and author.name fields across
  all embeds attached to a message must not exceed 6000"; "Allowed Mentions Reference": ``{"parse":
  []}`` suppresses all mentions.
- Slack Block Kit (docs.slack.dev/reference/block-kit): header block text is plain_text of at
  most 150 characters; a section's ``fields`` at most 10 text objects of at most 2000 characters;
  a context block at most 10 elements; a text object 1 to 3000 characters; at most 50 blocks per
  message; incoming webhooks take ``text`` (the notification fallback when blocks are given) and
  ``blocks``. Formatting text: ``&``, ``<``, ``>`` are control characters, escaped as ``&amp;``,
  ``&lt;``, ``&gt;``.

Lengths are checked both in characters and in UTF-16 code units (JavaScript's count).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from trades.domain.rules import Profile, Reference, parse_trade
from trades.services import ingest
from trades.webhooks import payloads
from trades.webhooks.payloads import build_body, hit_line

AT = datetime(2025, 12, 5, 15, 30, 1, 234567, tzinfo=UTC)
API_KEYS = {
    "symbol",
    "ticker",
    "strike",
    "expiry",
    "side",
    "price",
    "size",
    "premium",
    "dte",
    "exchange",
    "conditions",
    "sequence",
    "timestamp",
    "profiles",
}


def api_trade(**overrides) -> dict:
    trade = {
        "symbol": "O:AAPL251220C00190000",
        "ticker": "AAPL",
        "strike": 190.0,
        "expiry": "2025-12-20",
        "side": "CALL",
        "price": 8.5,
        "size": 100,
        "premium": 85000.0,
        "dte": 14,
        "exchange": 302,
        "conditions": [209],
        "sequence": 7,
        "timestamp": "2025-12-05T15:30:00.000Z",
        "profiles": ["classic-unusual-activity", "mag7-smart-money"],
    }
    trade.update(overrides)
    return trade


def body(fmt: str, trade: dict, event_type: str = "trade.flagged") -> dict:
    return json.loads(build_body(fmt, trade, event_type=event_type, timestamp=AT))


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def within(text: str, limit: int) -> bool:
    return len(text) >= 1 and units(text) <= limit  # units >= len, so this checks both


LONG = "x" * 3000
ADVERSARIAL = {
    "100 long profiles": [f"profile-{i:03d}-" + "y" * 300 for i in range(100)],
    "one enormous profile": ["z" * 10_000],
    "100 emoji profiles": ["💰" * 40 + str(i) for i in range(100)],
    "mentions and markup": ["@everyone", "<!channel>", "<@U123>", "<@&124>", "a & b > c", "*bold* _it_"],
    "no profiles": [],
}
ADVERSARIAL_TRADES = {name: api_trade(profiles=profiles) for name, profiles in ADVERSARIAL.items()} | {
    "absurd symbol": api_trade(symbol="O:" + "Q" * 7000, ticker="T" * 500, profiles=ADVERSARIAL["100 long profiles"]),
    "absurd emoji symbol": api_trade(symbol="💰" * 5000, profiles=ADVERSARIAL["100 emoji profiles"]),
    "put": api_trade(side="PUT", symbol="O:AAPL251220P00190000"),
}
EVENTS = ["trade.flagged", "webhook.test"]


# --- shared ----------------------------------------------------------------------------------------


def test_hit_line_is_ingests_line_for_the_same_trade():
    """The line built from the API dict is the very line ingest logs for the hit."""
    profiles = [
        Profile(id=1, name="classic-unusual-activity", tickers=frozenset({"AAPL"})),
        Profile(2, "mag7", frozenset()),
    ]
    t0 = int(datetime(2025, 12, 5, 15, 30, tzinfo=UTC).timestamp() * 1000)
    for price, size in [(8.5, 100), (0.29, 100), (1.005, 7), (12.345, 333), (0.05, 1)]:
        event = {
            "ev": "T",
            "sym": "O:AAPL251220C00190000",
            "x": 302,
            "p": price,
            "s": size,
            "c": [209],
            "t": t0,
            "q": 1,
        }
        trade = parse_trade(event, {})
        stored_premium = Decimal(repr(trade.premium)).quantize(Decimal("0.01"))  # the DecimalField
        as_api = {"symbol": trade.symbol, "premium": float(stored_premium), "dte": trade.dte}
        as_api["profiles"] = [profile.name for profile in profiles]
        assert hit_line(as_api) == ingest.hit_line(ingest.Hit(trade, Reference(), profiles))


def test_hit_line_format():
    expected = (
        "💰 Smart Money: O:AAPL251220C00190000 $85,000 premium, 14 DTE [classic-unusual-activity, mag7-smart-money]"
    )
    assert hit_line(api_trade()) == expected


def test_the_test_trade_has_the_apis_shape():
    trade = payloads.test_trade()
    assert set(trade) == API_KEYS
    assert trade["side"] in {"CALL", "PUT"} and trade["profiles"]


def test_unknown_format_or_event_type_is_an_error():
    with pytest.raises(ValueError, match="format"):
        build_body("teams", api_trade(), timestamp=AT)
    with pytest.raises(ValueError, match="event type"):
        build_body("standard", api_trade(), event_type="trade.deleted", timestamp=AT)


def test_a_naive_timestamp_is_an_error():
    with pytest.raises(ValueError, match="timezone"):
        build_body("standard", api_trade(), timestamp=datetime(2025, 12, 5, 15, 30))


@pytest.mark.parametrize("fmt", ["standard", "discord", "slack"])
def test_bodies_are_compact_utf8_json(fmt):
    raw = build_body(fmt, api_trade(profiles=["ünïcødé 💰"]), timestamp=AT)
    assert isinstance(raw, bytes)
    raw.decode("utf-8")
    assert b"\n" not in raw and b'": ' not in raw  # minified: what is signed is what is sent


# --- standard ------------------------------------------------------------------------------------


def test_standard_carries_the_trade_exactly():
    trade = api_trade()
    assert body("standard", trade) == {"type": "trade.flagged", "timestamp": "2025-12-05T15:30:01.234Z", "data": trade}


def test_standard_timestamp_is_utc_whatever_the_zone():
    eastern = AT.astimezone(timezone(timedelta(hours=-5)))
    raw = build_body("standard", api_trade(), timestamp=eastern)
    assert json.loads(raw)["timestamp"] == "2025-12-05T15:30:01.234Z"


def test_standard_test_event():
    sample = payloads.test_trade()
    assert body("standard", sample, "webhook.test") == {
        "type": "webhook.test",
        "timestamp": "2025-12-05T15:30:01.234Z",
        "data": sample,
    }


# --- Discord -------------------------------------------------------------------------------------

DISCORD_MESSAGE_KEYS = {"content", "username", "avatar_url", "tts", "embeds", "allowed_mentions", "components"}
DISCORD_EMBED_KEYS = {"title", "type", "description", "url", "timestamp", "color", "footer", "image"}
DISCORD_EMBED_KEYS |= {"thumbnail", "video", "provider", "author", "fields"}


def assert_discord_limits(message: dict) -> None:
    assert set(message) <= DISCORD_MESSAGE_KEYS
    assert within(message["content"], 2000)
    assert message["allowed_mentions"] == {"parse": []}
    assert 1 <= len(message["embeds"]) <= 10
    total = 0
    for embed in message["embeds"]:
        assert set(embed) <= DISCORD_EMBED_KEYS
        assert within(embed["title"], 256)
        assert within(embed["description"], 4096)
        assert within(embed["footer"]["text"], 2048)
        assert 1 <= len(embed["fields"]) <= 25
        for field in embed["fields"]:
            assert set(field) <= {"name", "value", "inline"}
            assert within(field["name"], 256)
            assert within(field["value"], 1024)
            assert isinstance(field.get("inline", False), bool)
        assert isinstance(embed["color"], int) and 0 <= embed["color"] <= 0xFFFFFF
        datetime.fromisoformat(embed["timestamp"].replace("Z", "+00:00"))
        texts = [embed["title"], embed["description"], embed["footer"]["text"]]
        texts += [text for field in embed["fields"] for text in (field["name"], field["value"])]
        total += sum(units(text) for text in texts)
    assert total <= 6000


def test_discord_message():
    message = body("discord", api_trade())
    assert_discord_limits(message)
    assert message["content"] == hit_line(api_trade())
    (embed,) = message["embeds"]
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert fields == {
        "Symbol": "O:AAPL251220C00190000",
        "Side": "CALL",
        "Strike": "$190",
        "Expiry": "2025-12-20",
        "DTE": "14",
        "Size": "100",
        "Price": "$8.50",
        "Premium": "$85,000",
        "Exchange": "302",
        "Profiles": "classic-unusual-activity, mag7-smart-money",
    }
    assert "AAPL" in embed["title"] and "CALL" in embed["title"]
    assert "$85,000" in embed["description"]
    assert embed["timestamp"] == "2025-12-05T15:30:00.000Z"  # when it traded
    assert embed["color"] == 0x2ECC71  # green: a call


def test_discord_puts_are_red():
    (embed,) = body("discord", api_trade(side="PUT"))["embeds"]
    assert embed["color"] == 0xE74C3C


@pytest.mark.parametrize("event_type", EVENTS)
@pytest.mark.parametrize("name", list(ADVERSARIAL_TRADES))
def test_discord_never_exceeds_a_limit(name, event_type):
    assert_discord_limits(body("discord", ADVERSARIAL_TRADES[name], event_type))


def test_discord_shows_what_fits_and_counts_the_rest():
    names = ADVERSARIAL["100 long profiles"]
    message = body("discord", api_trade(profiles=names))
    bracket = re.search(r"\[(.*)\]$", message["content"])
    assert bracket
    shown = bracket.group(1)
    more = re.search(r"\+(\d+) more$", shown)
    assert more
    kept = shown[: more.start()].rstrip(", ").split(", ")
    assert kept == names[: len(kept)] and int(more.group(1)) == len(names) - len(kept)
    profiles = message["embeds"][0]["fields"][-1]
    assert profiles["name"] == "Profiles" and profiles["value"].endswith(" more")


def test_discord_pings_nobody():
    message = body("discord", api_trade(profiles=["@everyone", "<@&124>"]))
    assert message["allowed_mentions"] == {"parse": []}  # the text may say @everyone; nobody is pinged


def test_discord_test_event_says_so():
    message = body("discord", payloads.test_trade(), "webhook.test")
    assert message["content"].startswith("🧪 Test event")
    assert message["embeds"][0]["title"].startswith("🧪 Test")
    assert "webhook.test" in message["embeds"][0]["footer"]["text"]


# --- Slack ---------------------------------------------------------------------------------------

ESCAPE = re.compile(r"&(?!amp;|lt;|gt;)")


def assert_slack_limits(message: dict) -> None:
    assert set(message) == {"text", "blocks"}
    assert within(message["text"], 3000)
    assert 1 <= len(message["blocks"]) <= 50
    mrkdwn = [message["text"]]
    for block in message["blocks"]:
        if block["type"] == "header":
            assert set(block) <= {"type", "text", "block_id"}
            assert block["text"]["type"] == "plain_text"
            assert within(block["text"]["text"], 150)
        elif block["type"] == "section" and "text" in block:  # a section holds a text or fields
            assert block["text"]["type"] == "mrkdwn" and within(block["text"]["text"], 3000)
            mrkdwn.append(block["text"]["text"])
        elif block["type"] == "section":
            assert 1 <= len(block["fields"]) <= 10
            for field in block["fields"]:
                assert field["type"] == "mrkdwn"
                assert within(field["text"], 2000)
                mrkdwn.append(field["text"])
        elif block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            for element in block["elements"]:
                assert element["type"] == "mrkdwn"
                assert within(element["text"], 3000)
                mrkdwn.append(element["text"])
        else:
            pytest.fail(f"unexpected block {block['type']}")
    for text in mrkdwn:  # control characters escaped, and no escape cut in half by a clip
        assert "<" not in text and ">" not in text, text[:200]
        assert not ESCAPE.search(text), text[:200]


def test_slack_message():
    message = body("slack", api_trade())
    assert_slack_limits(message)
    assert message["text"] == hit_line(api_trade())
    header, section, context = message["blocks"]
    assert header["type"] == "header" and "AAPL" in header["text"]["text"]
    fields = dict(field["text"].split("\n", 1) for field in section["fields"])
    assert fields["*Premium*"] == "$85,000"
    assert fields["*Symbol*"] == "O:AAPL251220C00190000"
    assert fields["*Size*"] == "100" and fields["*DTE*"] == "14" and fields["*Side*"] == "CALL"
    assert "classic-unusual-activity, mag7-smart-money" in context["elements"][0]["text"]


@pytest.mark.parametrize("event_type", EVENTS)
@pytest.mark.parametrize("name", list(ADVERSARIAL_TRADES))
def test_slack_never_exceeds_a_limit(name, event_type):
    assert_slack_limits(body("slack", ADVERSARIAL_TRADES[name], event_type))


def test_slack_escapes_mentions():
    message = body("slack", api_trade(profiles=["<!channel>", "a & b"]))
    assert "&lt;!channel&gt;, a &amp; b" in message["text"]
    assert "&lt;!channel&gt;" in message["blocks"][2]["elements"][0]["text"]


def test_slack_clipping_never_cuts_an_escape():
    for size in range(2990, 3010):
        message = body("slack", api_trade(profiles=["<" * size]))
        assert_slack_limits(message)


def test_slack_test_event_says_so():
    message = body("slack", payloads.test_trade(), "webhook.test")
    assert message["blocks"][0]["text"]["text"].startswith("🧪 Test")
    assert message["text"].startswith("🧪 Test event")


# --- an order (a profile that judges orders) ------------------------------------------------------


def api_order(**overrides) -> dict:
    """An order as serialize_order shapes one (without its fills, which chat messages leave out)."""
    order = api_trade(symbol="O:QQQ261218P00505000", ticker="QQQ", strike=505.0, side="PUT", price=6.2043)
    order |= {
        "size": 2_903,
        "premium": 1_801_085.0,
        "kind": "order",
        "order_id": "3f0c2a",
        "order_type": "SWEEP",
        "subtype": None,
        "prints": 11,
        "exchanges": [302, 304, 308, 313, 316],
        "vwap": 6.2043,
        "golden": True,
        "aggressor": "BUY",
        "sentiment": "BEARISH",
        "opening": True,
        "fills": [],
    }
    return order | overrides


@pytest.mark.parametrize("event_type", ["order.flagged"])
def test_an_order_is_one_message_naming_its_type_side_and_opening(event_type):
    discord, slack = body("discord", api_order(), event_type), body("slack", api_order(), event_type)

    assert discord["content"].startswith(
        "💰 Smart Money: GOLDEN SWEEP O:QQQ261218P00505000 $1,801,085 premium, 14 DTE, BUY BEARISH, opening ["
    )
    (embed,) = discord["embeds"]
    assert embed["title"] == "💰 GOLDEN SWEEP QQQ $505 PUT 2025-12-20"
    assert "11 prints on 5 exchanges" in embed["description"] and "VWAP" in embed["description"]
    assert {"name": "Flow", "value": "BUY BEARISH · opening", "inline": True} in embed["fields"]
    assert_discord_limits(discord)
    assert slack["blocks"][0]["text"]["text"].startswith("💰 GOLDEN SWEEP")
    assert len(slack["blocks"][1]["fields"]) == 10
    assert_slack_limits(slack)
    assert body("standard", api_order(), event_type)["type"] == "order.flagged"


def test_an_order_without_a_quote_says_its_side_is_unknown():
    order = api_order(golden=False, aggressor="UNKNOWN", sentiment="NEUTRAL", opening=None, order_type="BLOCK")
    assert hit_line(order).startswith(
        "💰 Smart Money: BLOCK O:QQQ261218P00505000 $1,801,085 premium, 14 DTE, side unknown ["
    )


@pytest.mark.parametrize("name", ["x" * 5_000, "🚀" * 3_000, "<!channel>" * 400])
def test_order_messages_never_exceed_a_limit(name):
    order = api_order(profiles=[name] * 100, symbol="O:" + name[:40])
    assert_discord_limits(body("discord", order, "order.flagged"))
    assert_slack_limits(body("slack", order, "order.flagged"))


INSIGHT = (
    "QQQ $505 puts 12/18 (14 DTE): $1.8M premium in the last 30 minutes (61% of QQQ's), 7.2× this strike's usual "
    "— unusual concentration. Last time (Nov 15) the stock moved -1.1% next day; of 12 similar alerts since Sep 2, "
    "8 fell next day (67%, 95% CI 39–86%)."
)


def test_an_orders_insight_is_in_every_format():
    order = api_order(insight=INSIGHT)
    discord, slack = body("discord", order, "order.flagged"), body("slack", order, "order.flagged")
    assert discord["embeds"][0]["description"].endswith("\n\n" + INSIGHT)
    assert slack["blocks"][1] == {"type": "section", "text": {"type": "mrkdwn", "text": INSIGHT}}
    assert body("standard", order, "order.flagged")["data"]["insight"] == INSIGHT
    without = body("slack", api_order(), "order.flagged")["blocks"]
    assert [block["type"] for block in without] == ["header", "section", "context"]


@pytest.mark.parametrize("size", [1, 5_000])
def test_a_long_insight_keeps_every_limit(size):
    order = api_order(insight="<&>" * size)
    assert_discord_limits(body("discord", order, "order.flagged"))
    assert_slack_limits(body("slack", order, "order.flagged"))
