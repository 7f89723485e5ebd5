"""OCC option symbols: ``O:`` + root (1–6 chars) + YYMMDD + C|P + strike × 1000 in 8 digits.

Parsed from the right, because the root's length varies and may hold digits (AMC1).
The root is not always the underlying: SPXW prints are SPX options, BRKB is BRK.B.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

DEFAULT_SHARES_PER_CONTRACT = 100
# "O:" + a root of at most 6 characters + YYMMDD + C|P + 8 strike digits.
MAX_SYMBOL_LENGTH = 2 + 6 + 15
_FIXED_TAIL = 15  # YYMMDD + C|P + 8 strike digits

# Roots whose underlying is another ticker, when the contracts reference does not say.
ROOT_ALIASES: dict[str, str] = {
    "SPXW": "SPX",
    "SPXPM": "SPX",
    "NDXP": "NDX",
    "RUTW": "RUT",
    "VIXW": "VIX",
    "XSPW": "XSP",
    "DJXW": "DJX",
    "BRKB": "BRK.B",
    "BFB": "BF.B",
}


class InvalidSymbol(ValueError):
    """The text is not an OCC option symbol."""


@dataclass(frozen=True, slots=True)
class OptionSymbol:
    symbol: str  # as received, e.g. "O:AAPL251220C00190000"
    root: str  # "AAPL", "SPXW", "AMC1"
    expiry: date
    right: str  # "C" or "P"
    strike_thousandths: int  # strike × 1000, exact

    @property
    def strike(self) -> Decimal:
        return Decimal(self.strike_thousandths) / 1000

    @property
    def strike_float(self) -> float:
        return self.strike_thousandths / 1000

    @property
    def side(self) -> str:
        return "CALL" if self.right == "C" else "PUT"


def parse_occ(symbol: object) -> OptionSymbol:
    """Parse ``O:AAPL251220C00190000``; raise InvalidSymbol with the reason otherwise."""
    if type(symbol) is not str:
        raise InvalidSymbol(f"symbol must be a string, got {type(symbol).__name__}")
    return _parse_occ_cached(symbol)


@lru_cache(maxsize=262_144)
def _parse_occ_cached(symbol: str) -> OptionSymbol:
    # Contracts repeat all day long: the cache turns parsing into one dict lookup.
    if not symbol.startswith("O:"):
        raise InvalidSymbol(f"{symbol[:40]!r} does not start with 'O:'")
    if not _FIXED_TAIL + 3 <= len(symbol) <= MAX_SYMBOL_LENGTH:
        raise InvalidSymbol(f"{symbol[:40]!r} is not an OCC symbol's length ({_FIXED_TAIL + 3}-{MAX_SYMBOL_LENGTH})")
    body = symbol[2:]
    root, yymmdd, right, strike = body[:-15], body[-15:-9], body[-9], body[-8:]
    if not (1 <= len(root) <= 6 and root.isascii() and root.isalnum() and root == root.upper()):
        raise InvalidSymbol(f"{symbol!r} has no valid root (1-6 letters or digits)")
    if right not in ("C", "P"):
        raise InvalidSymbol(f"{symbol!r} has right {right!r}, expected C or P")
    if not (yymmdd.isdigit() and yymmdd.isascii() and strike.isdigit() and strike.isascii()):
        raise InvalidSymbol(f"{symbol!r} has a non-numeric expiry or strike")
    try:
        expiry = date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError as exc:
        raise InvalidSymbol(f"{symbol!r} has an invalid expiry date: {exc}") from None
    return OptionSymbol(symbol, root, expiry, right, int(strike))


def format_occ(root: str, expiry: date, right: str, strike: Decimal | float | int) -> str:
    """The inverse of parse_occ: ``format_occ("AAPL", date(2025,12,20), "C", 190)``."""
    thousandths = int((Decimal(str(strike)) * 1000).to_integral_value())
    return f"O:{root}{expiry:%y%m%d}{right}{thousandths:08d}"


def underlying_for_root(root: str) -> str:
    """The underlying when no contract reference is known: alias table, else the root."""
    return ROOT_ALIASES.get(root, root)
