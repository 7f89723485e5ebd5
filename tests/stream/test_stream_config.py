"""Where the listener connects, which channels it asks for, and the one-listener lock."""

from __future__ import annotations

import pytest
from django.conf import settings
from polygon.websocket.models import Feed

from trades.models import Subscription
from trades.selectors.subscriptions import enabled_channels
from trades.stream.config import StreamConfigError, client_options, parse_channels, parse_ws_url
from trades.stream.lock import FileLock, LockUnavailable, RedisLeaseLock, listener_lock


def test_a_ws_url_overrides_the_feed(settings) -> None:
    settings.POLYGON_API_KEY = "key"
    settings.POLYGON_WS_URL = "ws://127.0.0.1:8765"
    options = client_options()
    assert (options.feed, options.secure, options.url) == ("127.0.0.1:8765", False, "ws://127.0.0.1:8765/options")
    client = options.build_client(["T.*"])
    assert (client.url, client.api_key, client.raw) == ("ws://127.0.0.1:8765/options", "key", True)

    settings.POLYGON_WS_URL = "wss://proxy.example.com"
    assert client_options().url == "wss://proxy.example.com/options"


@pytest.mark.parametrize(("feed", "expected"), [("delayed", Feed.Delayed), ("realtime", Feed.RealTime)])
def test_the_polygon_feed_by_name(settings, feed: str, expected: Feed) -> None:
    settings.POLYGON_API_KEY = "key"
    settings.POLYGON_WS_URL = ""
    settings.POLYGON_FEED = feed
    assert client_options().url == f"wss://{expected.value}/options"


def test_no_api_key_names_the_setting(settings) -> None:
    settings.POLYGON_API_KEY = ""
    with pytest.raises(StreamConfigError, match="POLYGON_API_KEY"):
        client_options()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "127.0.0.1:8765", "ws://", "ws://host/stocks"])
def test_a_bad_ws_url_is_refused(url: str) -> None:
    with pytest.raises(StreamConfigError, match="POLYGON_WS_URL"):
        parse_ws_url(url)


def test_channels_option() -> None:
    assert parse_channels(" T.*, T.O:AAPL251220C00190000 ,,") == ["T.*", "T.O:AAPL251220C00190000"]


@pytest.mark.django_db
def test_enabled_subscriptions_or_the_firehose() -> None:
    assert enabled_channels() == ["T.*"]
    Subscription.objects.create(channel="T.O:MSFT251220C00400000")
    Subscription.objects.create(channel="T.O:AAPL251220C00190000")
    Subscription.objects.create(channel="T.O:TSLA251220C00400000", enabled=False)
    assert enabled_channels() == ["T.O:AAPL251220C00190000", "T.O:MSFT251220C00400000"]


def test_the_redis_lock_admits_one_listener_and_notices_when_lost() -> None:
    assert settings.STREAM_LOCK_KEY.startswith(settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"])
    key = settings.STREAM_LOCK_KEY + ":test"
    first = RedisLeaseLock(settings.CELERY_BROKER_URL, key, lease_seconds=30)
    second = RedisLeaseLock(settings.CELERY_BROKER_URL, key, lease_seconds=30)
    assert first.acquire()
    try:
        assert not second.acquire()
        assert first.renew()
        first._client.delete(key)  # the lease ran out and …
        assert second.acquire()  # … someone else took it
        assert not first.renew()
    finally:
        second.release()
        first.release()


def test_a_lock_redis_lost_in_a_restart_is_taken_back_by_its_holder() -> None:
    """A Redis restarted without persistence forgets the key: the listener takes it again and goes on."""
    key = settings.STREAM_LOCK_KEY + ":restart"
    holder = RedisLeaseLock(settings.CELERY_BROKER_URL, key, lease_seconds=30)
    other = RedisLeaseLock(settings.CELERY_BROKER_URL, key, lease_seconds=30)
    assert holder.acquire()
    try:
        holder._client.delete(key)  # Redis came back empty
        assert holder.renew()  # taken back, with the same token
        assert not other.acquire()
        assert holder.renew()
    finally:
        holder.release()
        other.release()


def test_the_lock_file_admits_one_listener(tmp_path) -> None:
    first, second = FileLock(tmp_path / "stream.lock"), FileLock(tmp_path / "stream.lock")
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_the_lock_follows_the_settings(settings, tmp_path) -> None:
    settings.STREAM_LOCK_URL = "redis://127.0.0.1:6379/0"
    assert isinstance(listener_lock(), RedisLeaseLock)
    settings.STREAM_LOCK_URL = "filesystem://"
    settings.STREAM_LOCK_FILE = tmp_path / "stream.lock"
    assert isinstance(listener_lock(), FileLock)


def test_an_unreachable_redis_is_a_clear_lock_error() -> None:
    lock = RedisLeaseLock("redis://127.0.0.1:9/0", "flowsite:stream:lock", lease_seconds=30)
    with pytest.raises(LockUnavailable, match="cannot reach Redis"):
        lock.acquire()
