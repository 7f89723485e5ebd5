"""Polygon's options conditions and exchanges, as ``/v3/reference/conditions`` and
``/v3/reference/exchanges`` list them for ``asset_class=options``.

Conditions: ids, abbreviations, names and consolidated update rules as the live endpoint
returned them (33 conditions); the OPRA codes follow OPRA's sale condition letters for the same
names. Exchanges: ids and names as Polygon lists them; MICs as the OPRA venues' ISO 10383 codes.
"""

from __future__ import annotations

from typing import Any

# id, abbreviation, name, OPRA code, updates high/low, open/close, volume (consolidated)
_CONDITIONS: tuple[tuple[int, str, str, str, bool, bool, bool], ...] = (
    (201, "CANC", "Canceled", "A", False, False, False),
    (202, "OSEQ", "Late and Out Of Sequence", "B", False, False, False),
    (203, "CNCL", "Last and Canceled", "C", False, False, False),
    (204, "LATE", "Late", "D", False, False, False),
    (205, "CNCO", "Opening Trade and Canceled", "E", False, False, False),
    (206, "OPEN", "Opening Trade, Late, and Out Of Sequence", "F", False, False, False),
    (207, "CNOL", "Only Trade and Canceled", "G", False, False, False),
    (208, "OPNL", "Opening Trade and Late", "H", True, True, True),
    (209, "AUTO", "Automatic Execution", "I", True, True, True),
    (210, "REOP", "Reopening Trade", "J", True, True, True),
    (219, "ISOI", "Intermarket Sweep Order", "S", True, True, True),
    (227, "SLAN", "Single Leg Auction Non ISO", "a", True, True, True),
    (228, "SLAI", "Single Leg Auction ISO", "b", True, True, True),
    (229, "SLCN", "Single Leg Cross Non ISO", "c", True, True, True),
    (230, "SLCI", "Single Leg Cross ISO", "d", True, True, True),
    (231, "SLFT", "Single Leg Floor Trade", "e", True, True, True),
    (232, "MLET", "Multi Leg auto-electronic trade", "f", True, True, True),
    (233, "MLAT", "Multi Leg Auction", "g", True, True, True),
    (234, "MLCT", "Multi Leg Cross", "h", True, True, True),
    (235, "MLFT", "Multi Leg floor trade", "i", True, True, True),
    (236, "MESL", "Multi Leg auto-electronic trade against single leg(s)", "j", True, True, True),
    (237, "TLAT", "Stock Options Auction", "k", True, True, True),
    (238, "MASL", "Multi Leg Auction against single leg(s)", "l", True, True, True),
    (239, "MFSL", "Multi Leg floor trade against single leg(s)", "m", True, True, True),
    (240, "TLET", "Stock Options auto-electronic trade", "n", True, True, True),
    (241, "TLCT", "Stock Options Cross", "o", True, True, True),
    (242, "TLFT", "Stock Options floor trade", "p", True, True, True),
    (243, "TESL", "Stock Options auto-electronic trade against single leg(s)", "q", True, True, True),
    (244, "TASL", "Stock Options Auction against single leg(s)", "r", True, True, True),
    (245, "TFSL", "Stock Options floor trade against single leg(s)", "s", True, True, True),
    (246, "CBMO", "Multi Leg Floor Trade of Proprietary Products", "t", False, False, True),
    (247, "MCTP", "Multilateral Compression Trade of Proprietary Products", "u", False, False, True),
    (248, "EXHT", "Extended Hours Trade", "v", False, False, True),
)


def _condition(row: tuple[int, str, str, str, bool, bool, bool]) -> dict[str, Any]:
    code, abbreviation, name, opra, high_low, open_close, volume = row
    rules = {"updates_high_low": high_low, "updates_open_close": open_close, "updates_volume": volume}
    return {
        "id": code,
        "type": "sale_condition",
        "name": name,
        "abbreviation": abbreviation,
        "asset_class": "options",
        "sip_mapping": {"OPRA": opra},
        "update_rules": {"consolidated": rules, "market_center": dict(rules)},
        "data_types": ["trade"],
    }


OPTIONS_CONDITIONS: tuple[dict[str, Any], ...] = tuple(_condition(row) for row in _CONDITIONS)

# id, type, name, acronym, MIC, operating MIC, OPRA participant id, url
_EXCHANGES: tuple[tuple[int, str, str, str, str, str, str, str], ...] = (
    (
        300,
        "exchange",
        "NYSE American Options",
        "AMEX",
        "AMXO",
        "XNYS",
        "A",
        "https://www.nyse.com/markets/american-options",
    ),
    (301, "exchange", "Boston Options Exchange", "BOX", "XBOX", "XBOX", "B", "https://boxoptions.com"),
    (302, "exchange", "Chicago Board Options Exchange", "CBOE", "XCBO", "XCBO", "C", "https://www.cboe.com/us/options"),
    (303, "exchange", "MIAX Emerald, LLC", "EMERALD", "EMLD", "MIHI", "D", "https://www.miaxglobal.com"),
    (304, "exchange", "Cboe EDGX Options", "EDGX", "EDGO", "XCBO", "E", "https://www.cboe.com/us/options"),
    (307, "exchange", "Nasdaq Global Markets Exchange Group", "GEMX", "GMNI", "XNAS", "H", "https://www.nasdaq.com"),
    (308, "exchange", "International Securities Exchange, LLC", "ISE", "XISX", "XNAS", "I", "https://www.nasdaq.com"),
    (309, "exchange", "Nasdaq MRX Options Exchange", "MRX", "MCRY", "XNAS", "J", "https://www.nasdaq.com"),
    (
        312,
        "exchange",
        "MIAX International Securities Exchange, LLC",
        "MIAX",
        "XMIO",
        "MIHI",
        "M",
        "https://www.miaxglobal.com",
    ),
    (
        313,
        "exchange",
        "NYSE Arca, Inc. - Options",
        "ARCA",
        "ARCO",
        "XNYS",
        "N",
        "https://www.nyse.com/markets/arca-options",
    ),
    (314, "SIP", "Options Price Reporting Authority", "OPRA", "OPRA", "OPRA", "O", "https://www.opraplan.com"),
    (315, "exchange", "MIAX Pearl, LLC - Options", "PEARL", "MPRL", "MIHI", "P", "https://www.miaxglobal.com"),
    (316, "exchange", "Nasdaq Options Market", "NOM", "XNDQ", "XNAS", "Q", "https://www.nasdaq.com"),
    (318, "exchange", "MIAX Sapphire, LLC", "SAPPHIRE", "SPHR", "MIHI", "S", "https://www.miaxglobal.com"),
    (319, "exchange", "Nasdaq BX - Options", "BX", "XBXO", "XNAS", "T", "https://www.nasdaq.com"),
    (320, "exchange", "MEMX Options", "MEMX", "MXOP", "MEMX", "U", "https://memx.com"),
    (322, "exchange", "Cboe C2 Options Exchange", "C2", "C2OX", "XCBO", "W", "https://www.cboe.com/us/options"),
    (
        323,
        "exchange",
        "Nasdaq Philadelphia Exchange, LLC - Options",
        "PHLX",
        "XPHL",
        "XNAS",
        "X",
        "https://www.nasdaq.com",
    ),
    (325, "exchange", "Cboe BZX Options Exchange", "BZX", "BATO", "XCBO", "Z", "https://www.cboe.com/us/options"),
)


def _exchange(row: tuple[int, str, str, str, str, str, str, str]) -> dict[str, Any]:
    code, kind, name, acronym, mic, operating_mic, participant_id, url = row
    return {
        "id": code,
        "type": kind,
        "asset_class": "options",
        "locale": "us",
        "name": name,
        "acronym": acronym,
        "mic": mic,
        "operating_mic": operating_mic,
        "participant_id": participant_id,
        "url": url,
    }


OPTIONS_EXCHANGES: tuple[dict[str, Any], ...] = tuple(_exchange(row) for row in _EXCHANGES)
