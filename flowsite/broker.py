"""kombu's filesystem transport, with each message written atomically.

The embedded default (``make demo``) uses kombu's filesystem broker. kombu 5.7 creates a
message file and then writes into it, and a worker polling the folder can take the file in
between: it reads an empty message, the worker dies on the JSON error and the message is lost.
Here a message is written under a name no consumer matches, then renamed into place; a rename
within one folder is atomic, so a consumer sees a whole message or none.

Selected by ``CELERY_BROKER_TRANSPORT`` in settings.py when the broker URL is ``filesystem://``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class AtomicChannel(filesystem.Channel):
    # The stubs disagree on the name (AbstractChannel: message, filesystem.Channel: payload).
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # Same name as kombu's (consumers take the files in name order); the ".part" suffix
        # keeps the file out of every queue until it is complete.
        path = Path(self.data_folder_out) / f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        partial = path.with_name(f"{path.name}.part")
        try:
            partial.write_bytes(str_to_bytes(dumps(payload)))
            partial.replace(path)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {str(path)!r} to directory") from exc


class FilesystemTransport(filesystem.Transport):
    Channel = AtomicChannel
