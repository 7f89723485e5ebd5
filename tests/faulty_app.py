"""flowsite's Celery app with faults injected on demand, for end-to-end tests of real workers.

`celery -A tests.faulty_app worker …` runs the real tasks, except that a batch whose frames hold
a marker meets a bug: `FAULT:raise` raises as a bug the item guard did not catch would,
`FAULT:exit` makes the pool process die as the kernel's OOM killer would make it, and
`FAULT:slow` takes 3 s longer (a worker killed meanwhile holds the batch).
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery.signals import worker_process_init

from flowsite.celery import app

__all__ = ["app"]


@worker_process_init.connect
def inject_faults(**_: Any) -> None:
    from trades.services import ingest

    real = ingest.ingest_frames

    def ingest_frames(frames: list[str], *args: Any, **kwargs: Any) -> Any:
        text = " ".join(frame for frame in frames if isinstance(frame, str))
        if "FAULT:raise" in text:
            raise RuntimeError("an injected bug")
        if "FAULT:exit" in text:
            os._exit(137)
        if "FAULT:slow" in text:
            time.sleep(3)
        return real(frames, *args, **kwargs)

    ingest.ingest_frames = ingest_frames
