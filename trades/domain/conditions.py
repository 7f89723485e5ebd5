"""Polygon options trade condition codes (``/v3/reference/conditions?asset_class=options``).

The static sets below are the fallback; when the live list has been loaded, the groups come
from it (by name), so a condition Polygon adds later is grouped without a code change.
"""

CANCELLED = frozenset({201, 203, 205, 207})
LATE = frozenset({202, 204, 206, 208})  # late / out of sequence
MULTI_LEG = frozenset({232, 233, 234, 235, 236, 238, 239, 246})
STOCK_OPTION = frozenset({237, 240, 241, 242, 243, 244, 245})
# The classes FLOW.md groups orders by (../shared/FLOW.md, "Conditions").
REGULAR_AUTO = 209
INTERMARKET_SWEEP = frozenset({219, 228, 230})  # ISO: confirms a sweep
SINGLE_LEG_AUCTION = frozenset({227, 228})
SINGLE_LEG_CROSS = frozenset({229, 230})
FLOOR = frozenset({231})
COMPRESSION = frozenset({247})  # dropped from everything
EXTENDED_HOURS = frozenset({248})
# Every code FLOW.md names; any other is kept, counted and flagged as unknown.
KNOWN = (
    CANCELLED
    | LATE
    | MULTI_LEG
    | STOCK_OPTION
    | INTERMARKET_SWEEP
    | SINGLE_LEG_AUCTION
    | SINGLE_LEG_CROSS
    | FLOOR
    | COMPRESSION
    | EXTENDED_HOURS
    | {REGULAR_AUTO, 210}
)

# Never a hit unless a profile says otherwise.
DEFAULT_EXCLUDED = CANCELLED | LATE

CATEGORY_CANCELLED = "cancelled"
CATEGORY_LATE = "late"
CATEGORY_MULTI_LEG = "multi_leg"
CATEGORY_STOCK_OPTION = "stock_option"
CATEGORY_REGULAR = "regular"
CATEGORIES = (CATEGORY_CANCELLED, CATEGORY_LATE, CATEGORY_MULTI_LEG, CATEGORY_STOCK_OPTION, CATEGORY_REGULAR)

# The groups a profile can exclude, with the codes used until the live list is loaded.
STATIC_GROUPS: dict[str, frozenset[int]] = {
    CATEGORY_CANCELLED: CANCELLED,
    CATEGORY_LATE: LATE,
    CATEGORY_MULTI_LEG: MULTI_LEG,
    CATEGORY_STOCK_OPTION: STOCK_OPTION,
}
DEFAULT_EXCLUDED_GROUPS = (CATEGORY_CANCELLED, CATEGORY_LATE)

_STATIC_CATEGORY = {
    **dict.fromkeys(CANCELLED, CATEGORY_CANCELLED),
    **dict.fromkeys(LATE, CATEGORY_LATE),
    **dict.fromkeys(MULTI_LEG, CATEGORY_MULTI_LEG),
    **dict.fromkeys(STOCK_OPTION, CATEGORY_STOCK_OPTION),
}


def category_of(code: int, name: str) -> str:
    """Group a condition by its live name ("Canceled", "Late and Out Of Sequence", "Multi Leg …",
    "Stock Options …"), falling back on the static sets for names that say nothing."""
    lowered = name.lower()
    if "cancel" in lowered:
        return CATEGORY_CANCELLED
    if "late" in lowered or "out of sequence" in lowered:
        return CATEGORY_LATE
    if "multi leg" in lowered or "multi-leg" in lowered:
        return CATEGORY_MULTI_LEG
    if "stock option" in lowered or "stock-option" in lowered:
        return CATEGORY_STOCK_OPTION
    return _STATIC_CATEGORY.get(code, CATEGORY_REGULAR)
