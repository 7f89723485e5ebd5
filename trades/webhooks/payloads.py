"""The body of a webhook, per endpoint format: Standard Webhooks JSON, Discord or Slack.

``trade`` is always the dict of ``trades.selectors.serializers.serialize_trade``: the trade as the API
shows it. The standard format carries it untouched; Discord and Slack get a message built from
it, clipped so that no documented limit is ever exceeded, whatever the profile names:

- Discord, Execute Webhook (docs/resources/webhook, docs/resources/message "Embed Limits"):
  ``content`` ≤ 2000; an embed's title ≤ 256, description ≤ 4096, ≤ 25 fields with name ≤ 256
  and value ≤ 1024, footer.text ≤ 2048, and all of those together ≤ 6000. ``allowed_mentions:
  {"parse": []}`` so that nothing in the text pings anyone.
- Slack, incoming webhook with Block Kit: ``text`` is the notification fallback (kept ≤ 3000);
  a header block's plain_text ≤ 150; a section's ``fields`` ≤ 10 items of ≤ 2000 each; a
  context block ≤ 10 elements, a text object ≤ 3000; ≤ 50 blocks. ``&``, ``<`` and ``>`` are
  escaped in mrkdwn, so ``<!channel>`` in a name is text, not a ping.

Lengths are counted in UTF-16 code units (what JavaScript's ``length`` counts), which is never
less than the number of characters: a text within the limit by that count is within it by any.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from trades.domain import formatting
from trades.domain.formatting import money, strike
from trades.domain.webhooks import (
    EVENT_TYPES,
    ORDER_DIGEST,
    ORDER_ESCALATED,
    ORDER_OI_CONFIRMED,
    ORDER_OI_REFUTED,
    ORDER_UPDATE,
    TRADE_FLAGGED,
    WEBHOOK_TEST,
)

FORMATS = ("standard", "discord", "slack")

ELLIPSIS = "…"
SEPARATOR = ", "
NOTHING = "—"

DISCORD_CONTENT = 2000
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FIELDS = 25
DISCORD_FIELD_NAME = 256
DISCORD_FIELD_VALUE = 1024
DISCORD_FOOTER = 2048
DISCORD_EMBED_TOTAL = 6000
DISCORD_GREEN = 0x2ECC71  # calls
DISCORD_RED = 0xE74C3C  # puts

SLACK_TEXT = 3000
SLACK_HEADER = 150
SLACK_SECTION_FIELDS = 10
SLACK_FIELD_TEXT = 2000
SLACK_CONTEXT_ELEMENTS = 10
SLACK_TEXT_OBJECT = 3000
SLACK_BLOCKS = 50

TEST_NOTE = "🧪 Test event from flowsite: hits will look like this."

Trade = Mapping[str, Any]
Render = Callable[[str], list[str]]
Builder = Callable[[Trade, str, datetime], dict[str, Any]]


# --- the entry points ------------------------------------------------------------------------------


def build_body(fmt: str, trade: Trade, *, event_type: str = TRADE_FLAGGED, timestamp: datetime) -> bytes:
    """The JSON body for an endpoint of format ``fmt`` ("standard", "discord" or "slack")."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}; one of {', '.join(EVENT_TYPES)}")
    builders: dict[str, Builder] = {"standard": standard_payload, "discord": discord_payload, "slack": slack_payload}
    if event_type == ORDER_DIGEST:
        builders = {"standard": standard_payload, "discord": discord_digest, "slack": slack_digest}
    builder = builders.get(fmt)
    if builder is None:
        raise ValueError(f"unknown webhook format {fmt!r}; one of {', '.join(FORMATS)}")
    return orjson.dumps(builder(trade, event_type, timestamp))


def hit_line(trade: Trade) -> str:
    """The log line of a hit, as the workers log it (a trade's, or an order's naming its type)."""
    return _line_head(trade) + ", ".join(trade["profiles"]) + "]"


def test_trade() -> dict[str, Any]:
    """A made-up trade, shaped as serialize_trade shapes one, for the admin's "send test event"."""
    return {
        "symbol": "O:AAPL251220C00190000",
        "ticker": "AAPL",
        "strike": 190.0,
        "expiry": "2025-12-20",
        "side": "CALL",
        "price": 8.5,
        "size": 100,
        "premium": 85000.0,
        "dte": 15,
        "exchange": 302,
        "conditions": [209],
        "sequence": 0,
        "timestamp": "2025-12-05T15:30:00.000Z",
        "profiles": ["webhook-test"],
    }


# --- standard ------------------------------------------------------------------------------------


def standard_payload(trade: Trade, event_type: str, timestamp: datetime) -> dict[str, Any]:
    """Standard Webhooks' envelope: ``{"type", "timestamp", "data"}``; data is the trade as is."""
    return {"type": event_type, "timestamp": formatting.iso_utc(timestamp), "data": dict(trade)}


# --- Discord -------------------------------------------------------------------------------------


def discord_payload(trade: Trade, event_type: str, timestamp: datetime) -> dict[str, Any]:
    """Discord's Execute Webhook body: the hit line as ``content`` and one embed."""
    note = _event_note(trade, event_type)
    note += "\n" if note else ""
    content = note + _line_within(trade, DISCORD_CONTENT - units(note), _plain)
    embed: dict[str, Any] = {
        "title": fit(TITLE_PREFIXES.get(event_type, "💰 ") + _headline(trade), DISCORD_TITLE),
        "description": fit(_description(trade), DISCORD_DESCRIPTION),
        "color": DISCORD_RED if trade["side"] == "PUT" else DISCORD_GREEN,
        "fields": [
            {"name": fit(name, DISCORD_FIELD_NAME), "value": value, "inline": inline}
            for name, value, inline in _discord_fields(trade)
        ][:DISCORD_FIELDS],
        "footer": {"text": fit(f"flowsite · {event_type} · sequence {_or_nothing(trade['sequence'])}", DISCORD_FOOTER)},
        "timestamp": trade.get("timestamp") or formatting.iso_utc(timestamp),
    }
    _fit_embed_total(embed, DISCORD_EMBED_TOTAL)
    return {"content": content, "embeds": [embed], "allowed_mentions": {"parse": []}}


def _discord_fields(trade: Trade) -> list[tuple[str, str, bool]]:
    profiles = join_within(trade["profiles"], DISCORD_FIELD_VALUE, _plain) or NOTHING
    return [
        (name, fit(value or NOTHING, DISCORD_FIELD_VALUE), True) for name, value in _facts(trade) if name != "Profiles"
    ] + [("Profiles", profiles, False)]


def _fit_embed_total(embed: dict[str, Any], limit: int) -> None:
    """Shorten the longest texts of the embed until all of them together fit in ``limit``."""
    slots: list[tuple[dict[str, Any], str]] = [(embed, "title"), (embed, "description"), (embed["footer"], "text")]
    for field in embed["fields"]:
        slots += [(field, "name"), (field, "value")]
    over = sum(units(holder[key]) for holder, key in slots) - limit
    while over > 0:
        holder, key = max(slots, key=lambda slot: units(slot[0][slot[1]]))
        current = units(holder[key])
        holder[key] = fit(holder[key], max(1, current - over))
        over -= current - units(holder[key])


# --- Slack ---------------------------------------------------------------------------------------


def slack_payload(trade: Trade, event_type: str, timestamp: datetime) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (the notification fallback) and Block Kit blocks."""
    event_note = _event_note(trade, event_type)
    header = TITLE_PREFIXES.get(event_type, "💰 ") + _headline(trade)
    fields = [
        {"type": "mrkdwn", "text": fit_mrkdwn(f"*{name}*\n", value or NOTHING, SLACK_FIELD_TEXT)}
        for name, value in _facts(trade)
        if name != "Profiles"
    ][:SLACK_SECTION_FIELDS]
    label = "*Profiles:* "
    profiles = join_within(trade["profiles"], SLACK_TEXT_OBJECT - units(label), _mrkdwn) or NOTHING
    context = [
        {"type": "mrkdwn", "text": label + profiles},
        {"type": "mrkdwn", "text": fit_mrkdwn("", f"Traded {trade.get('timestamp') or NOTHING}", SLACK_TEXT_OBJECT)},
    ]
    if event_note:
        context.append({"type": "mrkdwn", "text": fit_mrkdwn("", event_note, SLACK_TEXT_OBJECT)})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": fit(header, SLACK_HEADER), "emoji": True}},
        *_slack_insight(trade),
        {"type": "section", "fields": fields},
        {"type": "context", "elements": context[:SLACK_CONTEXT_ELEMENTS]},
    ]
    note = fit_mrkdwn("", event_note, SLACK_TEXT // 2) + "\n" if event_note else ""
    text = note + _line_within(trade, SLACK_TEXT - units(note), _mrkdwn)
    return {"text": text, "blocks": blocks[:SLACK_BLOCKS]}


def _slack_insight(trade: Trade) -> list[dict[str, Any]]:
    """The order's insight sentence as a section of its own (none without one)."""
    if not trade.get("insight"):
        return []
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": fit_mrkdwn("", trade["insight"], SLACK_TEXT_OBJECT)}}
    ]


def _mrkdwn(text: str) -> list[str]:
    """Slack's three control characters escaped; one piece per character, so clipping never
    cuts an escape in half."""
    return [_SLACK_ESCAPES.get(char, char) for char in text]


def _mrkdwn_text(text: str) -> str:
    return "".join(_mrkdwn(text))


def fit_mrkdwn(prefix: str, value: str, limit: int) -> str:
    """``prefix`` (already mrkdwn) + ``value`` escaped, clipped to ``limit``."""
    return prefix + fit_pieces(_mrkdwn(value), limit - units(prefix))


_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


# --- a digest -----------------------------------------------------------------------------------------


def discord_digest(digest: Trade, event_type: str, timestamp: datetime) -> dict[str, Any]:
    """One message listing the hits of the digest (``digest["orders"]``), each by its hit line."""
    return {"content": fit(_digest_text(digest, _plain), DISCORD_CONTENT), "allowed_mentions": {"parse": []}}


def slack_digest(digest: Trade, event_type: str, timestamp: datetime) -> dict[str, Any]:
    header = f"📋 flowsite digest: {formatting.plural(len(digest['orders']), 'hit')}"
    listing = fit("".join(_digest_text(digest, _mrkdwn, heading=False)), SLACK_TEXT_OBJECT)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": fit(header, SLACK_HEADER), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": listing}},
    ]
    return {"text": fit(_digest_text(digest, _mrkdwn), SLACK_TEXT), "blocks": blocks}


def _digest_text(digest: Trade, render: Render, heading: bool = True) -> str:
    orders = digest["orders"]
    lines = [f"📋 flowsite digest: {formatting.plural(len(orders), 'hit')}"] if heading else []
    lines += ["".join(render(hit_line(order))) for order in orders]
    return "\n".join(lines)


# --- what an event says beyond the hit -----------------------------------------------------------------

TITLE_PREFIXES = {
    WEBHOOK_TEST: "🧪 Test: ",
    ORDER_UPDATE: "🔁 ",
    ORDER_ESCALATED: "🚨 ",
    ORDER_OI_CONFIRMED: "✅ ",
    ORDER_OI_REFUTED: "❌ ",
}


def _event_note(trade: Trade, event_type: str) -> str:
    """What a test or a follow-up says before the hit line (empty for the hit itself)."""
    if event_type == WEBHOOK_TEST:
        return TEST_NOTE
    if event_type == ORDER_UPDATE:
        return "🔁 Update: this contract again, within the endpoint's cooldown."
    if event_type == ORDER_ESCALATED:
        return "🚨 Escalated: the contract's premium within the cooldown passed the endpoint's second threshold."
    if event_type in (ORDER_OI_CONFIRMED, ORDER_OI_REFUTED):
        verdict = "confirms" if event_type == ORDER_OI_CONFIRMED else "does not confirm"
        before, after = trade.get("open_interest"), trade.get("open_interest_next")
        change = NOTHING if before is None or after is None else f"{after - before:+,}"
        return (
            f"{TITLE_PREFIXES[event_type]}Next morning's open interest {verdict} the opening: "
            f"{_count(before)} → {_count(after)} ({change}) for an order of {trade['size']:,}."
        )
    return ""


# --- what both chat formats show -------------------------------------------------------------------


def _is_order(trade: Trade) -> bool:
    return trade.get("kind") == "order"


def _kind(trade: Trade) -> str:
    return formatting.order_kind(trade["order_type"], trade["golden"], trade["subtype"] or "")


def _headline(trade: Trade) -> str:
    contract = f"{trade['ticker']} {_strike(trade['strike'])} {trade['side']} {trade['expiry']}"
    return f"{_kind(trade)} {contract}" if _is_order(trade) else contract


def _description(trade: Trade) -> str:
    premium = f"{money(trade['premium'], 0)} premium, {trade['dte']} DTE"
    if not _is_order(trade):
        return f"{trade['symbol']}: {trade['size']:,} contracts at {money(trade['price'], 2)} = {premium}"
    fills = f"{trade['prints']} print{'s' if trade['prints'] != 1 else ''} on {len(trade['exchanges'])} exchange"
    fills += "s" if len(trade["exchanges"]) != 1 else ""
    facts = "".join(f"; {fact}" for fact in _order_facts(trade))
    insight = f"\n\n{trade['insight']}" if trade.get("insight") else ""
    return (
        f"{trade['symbol']}: {fills}, {trade['size']:,} contracts at {money(trade['price'], 2)} VWAP = {premium}{facts}"
        + insight
    )


def _order_facts(trade: Trade) -> list[str]:
    return formatting.order_facts(trade["aggressor"], trade["sentiment"], trade["opening"])


def _facts(trade: Trade) -> list[tuple[str, str]]:
    contract = [
        ("Symbol", str(trade["symbol"])),
        ("Side", str(trade["side"])),
        ("Strike", _strike(trade["strike"])),
        ("Expiry", str(trade["expiry"])),
        ("DTE", str(trade["dte"])),
        ("Size", f"{trade['size']:,}"),
    ]
    profiles = ("Profiles", SEPARATOR.join(trade["profiles"]))
    if _is_order(trade):  # ten besides the profiles, Slack's most for a section
        kind = ("Order", f"{_kind(trade)} · {trade['prints']} prints · {len(trade['exchanges'])} exchanges")
        flow = ("Flow", " · ".join(_order_facts(trade)) or NOTHING)
        return [kind, *contract, ("VWAP", money(trade["price"], 2)), _premium(trade), flow, profiles]
    exchange = ("Exchange", str(trade["exchange"]))
    return [*contract, ("Price", money(trade["price"], 2)), _premium(trade), exchange, profiles]


def _premium(trade: Trade) -> tuple[str, str]:
    return ("Premium", money(trade["premium"], 0))


def _line_head(trade: Trade) -> str:
    if _is_order(trade):
        return formatting.order_line_head(
            _kind(trade),
            trade["symbol"],
            float(trade["premium"]),
            trade["dte"],
            trade["aggressor"],
            trade["sentiment"],
            trade["opening"],
        )
    return formatting.hit_line_head(trade["symbol"], float(trade["premium"]), trade["dte"])


def _line_within(trade: Trade, limit: int, render: Render) -> str:
    """The hit line within ``limit``: as many profile names as fit, then "+N more"."""
    head = "".join(render(_line_head(trade)))
    room = limit - units(head) - 1
    if room < 12:  # not even room for "+100 more": an absurd symbol; clip the whole line
        return fit_pieces(render(hit_line(trade)), limit)
    return head + join_within(trade["profiles"], room, render) + "]"


def _strike(value: float) -> str:
    return "$" + strike(value)


def _count(value: int | None) -> str:
    return NOTHING if value is None else f"{value:,}"


def _or_nothing(value: object) -> str:
    return NOTHING if value is None else str(value)


# --- fitting text into limits --------------------------------------------------------------------------


def units(text: str) -> int:
    """Length in UTF-16 code units: characters, with those outside the BMP (emoji) counted twice."""
    return len(text.encode("utf-16-le")) // 2


def _plain(text: str) -> list[str]:
    return list(text)


def fit(text: str, limit: int) -> str:
    return fit_pieces(list(text), limit)


def fit_pieces(pieces: Sequence[str], limit: int) -> str:
    """The pieces joined, or as many as fit in ``limit`` units followed by "…"."""
    if limit < 1:
        raise ValueError(f"cannot fit text in {limit} characters")
    text = "".join(pieces)
    if units(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for piece in pieces:
        size = units(piece)
        if used + size > limit - 1:
            break
        kept.append(piece)
        used += size
    return "".join(kept) + ELLIPSIS


def join_within(names: Sequence[str], limit: int, render: Render) -> str:
    """The names joined with ", ", as many as fit in ``limit``, then "+N more" for the rest."""
    shown = ["".join(render(name)) for name in names]
    everything = SEPARATOR.join(shown)
    if units(everything) <= limit:
        return everything
    kept: list[str] = []
    for index, name in enumerate(shown):
        rest = len(shown) - index - 1
        tail = f"{SEPARATOR}+{rest} more" if rest else ""
        if units(SEPARATOR.join([*kept, name]) + tail) > limit:
            break
        kept.append(name)
    if kept:  # the previous round checked that these and "+N more" fit
        return SEPARATOR.join(kept) + f"{SEPARATOR}+{len(shown) - len(kept)} more"
    # Not even the first name fits whole: show the start of it.
    tail = f"{SEPARATOR}+{len(shown) - 1} more" if len(shown) > 1 else ""
    room = limit - units(tail)
    if room < 2:
        return fit(f"+{len(shown)} more", limit)
    return fit_pieces(render(names[0]), room) + tail
