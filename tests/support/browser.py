"""Open a report's HTML in the system's headless Chromium (Debian's ``chromium``) through playwright.

A missing browser is a failure, not a skip: ``make test`` installs it (Makefile target ``chromium``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import sync_playwright

# the flags the machines' probe uses: no sandbox as root, and no background traffic into a closed network
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class RenderedPage:
    title: str
    headings: list[str]
    images: int
    broken_images: list[str]
    console: list[str] = field(default_factory=list)  # console messages of level warning or error
    errors: list[str] = field(default_factory=list)  # uncaught page errors and failed requests


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise AssertionError("chromium not found: `make test` installs Debian's chromium (apt-get install chromium)")
    return path


def open_report(html: Path, screenshot: Path) -> RenderedPage:
    """Load ``html`` from disk (no server), wait for every image, take a full-page screenshot."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            console: list[str] = []
            errors: list[str] = []
            page.on(
                "console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("warning", "error") else None
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:80]}"))
            page.goto(html.resolve().as_uri(), wait_until="load")
            images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.alt, i.complete && i.naturalWidth])")
            headings = page.eval_on_selector_all("h2", "hs => hs.map(h => h.textContent)")
            page.screenshot(path=str(screenshot), full_page=True)
            return RenderedPage(
                title=page.title(),
                headings=headings,
                images=len(images),
                broken_images=[alt for alt, width in images if not width],
                console=console,
                errors=errors,
            )
        finally:
            browser.close()
