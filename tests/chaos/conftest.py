"""The chaos suite: the scenarios marked `chaos_full` run only under `make chaos` (FLOWSITE_CHAOS=full)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("FLOWSITE_CHAOS") == "full":
        return
    skip = pytest.mark.skip(reason="part of the full chaos suite: run `make chaos`")
    for item in items:
        if "chaos_full" in item.keywords:
            item.add_marker(skip)
