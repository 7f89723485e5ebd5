"""The listener process (`manage.py stream`): Polygon WebSocket → Celery `ingest` queue.

- config: which URL and key to connect with
- frames: cheap checks on raw frames (trade count, status events)
- publisher: a thread with a bounded buffer that coalesces frames into Celery messages
- lock: exactly one listener at a time (Redis lease or lock file)
- stats: counters and the periodic one-line log
- backoff: the wait before the next connection attempt (pure)
- outage: while not connected: since when, how many attempts failed, why, in words (pure)
- listener: the supervisor loop around `WebSocketClient.connect`
"""
