"""Debian's Chromium driven by Playwright, for the browser tests (no browser download).

Chromium is /usr/bin/chromium (CHROMIUM overrides it), installed by `make test`
(scripts/ensure-chromium). A missing browser fails a test rather than skipping it, so CI cannot
pass without having run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As this machine's Chromium runs: no sandbox as root, no GPU, and no calls home (refused here).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium, closed afterwards."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `make test` (scripts/ensure-chromium installs Debian's "
            "chromium as root) or `apt-get install -y chromium`, or set CHROMIUM to a Chromium executable."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -r requirements/dev.txt")
    # Playwright's sync API keeps an event loop in this thread; the tests' ORM calls stay plain
    # synchronous code (Django's documented escape hatch for this case).
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # Inside Playwright's loop the ORM's per-context connection is not the test's own: close it,
            # or the test database cannot be dropped at the end of the run.
            connections.close_all()
