"""Take the README's screenshots from a running demo (`make demo`), at 1366 px in headless Chromium.

    .venv/bin/python scripts/screenshots.py [http://127.0.0.1:8000] [docs/screenshots]

Logs in as the demo's admin / admin. Needs requirements/dev.txt (Playwright) and Debian's
Chromium (scripts/ensure-chromium), as the browser tests do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PAGES = {
    "landing-page.png": "/",
    "trade-browser.png": "/admin/trades/optiontrade/",
    "stream-status.png": "/admin/trades/streamstatus/",
}


def main(base: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "admin")
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        for name, path in PAGES.items():
            page.goto(base + path)
            page.screenshot(path=str(folder / name))
            print(folder / name)
        browser.close()


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000",
        Path(sys.argv[2] if len(sys.argv) > 2 else "docs/screenshots"),
    )
