"""Polygon options trade condition codes (``/v3/reference/conditions?asset_class=options``)."""

CANCELLED = frozenset({201, 203, 205, 207})
LATE = frozenset({202, 204, 206, 208})  # late / out of sequence
MULTI_LEG = frozenset({232, 233, 234, 235, 236, 238, 239, 246})
STOCK_OPTION = frozenset({237, 240, 241, 242, 243, 244, 245})

# Never a hit unless a profile says otherwise.
DEFAULT_EXCLUDED = CANCELLED | LATE
