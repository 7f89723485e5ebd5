"""Local state under FLOWSITE_VAR_DIR: the folder of the embedded default's SQLite file and lock file,
and the filesystem broker's folders. Made when a process starts (manage.py, a Celery worker or beat,
the WSGI application), not when the settings are imported: importing settings changes nothing."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

BROKER_FOLDER_OPTIONS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


def prepare() -> None:
    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    for key in BROKER_FOLDER_OPTIONS:
        if folder := options.get(key):
            Path(folder).mkdir(parents=True, exist_ok=True)
