"""Which WebSocket channels the listener subscribes to."""

from __future__ import annotations

from trades.models import Subscription

# Every options trade; the workers filter.
FIREHOSE = "T.*"


def enabled_channels() -> list[str]:
    """The enabled Subscription channels, sorted; none enabled means the firehose."""
    channels = list(Subscription.objects.filter(enabled=True).order_by("channel").values_list("channel", flat=True))
    return channels or [FIREHOSE]
