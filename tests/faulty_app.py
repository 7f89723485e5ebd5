"""flowsite's Celery app with faults injected on demand, for end-to-end tests of real workers.

`celery -A tests.faulty_app worker …` runs the real tasks, except that a batch whose frames hold
a marker meets a bug: `FAULT:raise` raises as a bug the item guard did not catch would, and
`FAULT:exit` makes the pool process die as the kernel's OOM killer would make it.
"""

from __future__ import annotations

import os
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
        return real(frames, *args, **kwargs)

    ingest.ingest_frames = ingest_frames
