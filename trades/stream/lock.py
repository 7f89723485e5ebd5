"""Exactly one listener per Polygon account: a second connection would kick the first.

A Redis lock with a lease when `STREAM_LOCK_URL` is Redis (renewed while the listener
lives, so a crashed listener frees it within one lease), otherwise an fcntl lock on
`STREAM_LOCK_FILE` (freed by the kernel when the process dies).
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Protocol

import redis
from django.conf import settings
from redis.exceptions import LockNotOwnedError, RedisError

logger = logging.getLogger(__name__)


class LockUnavailable(RuntimeError):
    """The lock's store cannot be reached, so we cannot know whether another listener runs."""


class ListenerLock(Protocol):
    description: str
    renew_every_seconds: float | None  # None: nothing to renew

    def acquire(self) -> bool: ...

    def renew(self) -> bool:
        """False if the lock is no longer ours."""
        ...

    def release(self) -> None: ...


class RedisLeaseLock:
    def __init__(self, url: str, key: str, lease_seconds: float) -> None:
        self.description = f"Redis key {key!r}"
        self.renew_every_seconds: float | None = lease_seconds / 3
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        # Renewal runs in worker threads, so the token must not be thread-local.
        self._lock = self._client.lock(key, timeout=lease_seconds, blocking=False, thread_local=False)

    def acquire(self) -> bool:
        try:
            return bool(self._lock.acquire())
        except RedisError as exc:
            raise LockUnavailable(f"cannot reach Redis for the listener lock ({self.description}): {exc}") from exc

    def renew(self) -> bool:
        try:
            self._lock.reacquire()
        except LockNotOwnedError:
            return self._take_back()
        except RedisError as exc:
            # Still ours until the lease runs out; the next renewal tells.
            logger.warning("Could not renew the listener lock (%s): %s", self.description, exc)
        return True

    def _take_back(self) -> bool:
        """The key is gone: Redis restarted without it, or the lease ran out while Redis was away.
        Take it again with our token unless another listener has it (then it is lost)."""
        token = self._lock.local.token
        try:
            if token is not None and self._lock.acquire(token=token):
                logger.warning("🔒 The listener lock (%s) was gone from Redis; taken again", self.description)
                return True
        except RedisError as exc:
            logger.warning("Could not take the listener lock back (%s): %s", self.description, exc)
            return True  # unknown yet: the next renewal tells
        return False

    def release(self) -> None:
        try:
            self._lock.release()
        except LockNotOwnedError:
            logger.warning("The listener lock (%s) had already expired", self.description)
        except RedisError as exc:
            logger.warning("Could not release the listener lock (%s): %s", self.description, exc)
        finally:
            self._client.close()


class FileLock:
    def __init__(self, path: Path) -> None:
        self.description = f"lock file {path}"
        self.renew_every_seconds: float | None = None
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_file = self.path.open("a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return False
        lock_file.truncate(0)
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        self._file = lock_file
        return True

    def renew(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def listener_lock() -> ListenerLock:
    """The lock the settings ask for."""
    url: str = settings.STREAM_LOCK_URL
    if url.startswith(("redis://", "rediss://")):
        return RedisLeaseLock(url, settings.STREAM_LOCK_KEY, settings.STREAM_LOCK_LEASE_SECONDS)
    return FileLock(Path(settings.STREAM_LOCK_FILE))
