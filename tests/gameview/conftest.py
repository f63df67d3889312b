"""A real headless Chromium for the viewer and UI tests, and where their screenshots go.

The browser is Debian's `chromium` package (`apt-get install -y chromium`; `.ci/run` installs it),
driven through Playwright's Python package (pip, test extras) with `executable_path`, so no
browser download is needed. RIFT_CHROMIUM names another executable. Without either, the browser
tests are skipped with the reason; nothing is faked. Screenshots are kept in runs/screenshots/
(RIFT_SCREENSHOTS overrides) for a person to look at after the run.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def chromium_path() -> str | None:
    for name in (os.environ.get("RIFT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        found = name and (shutil.which(name) or (Path(name).is_file() and name))
        if found:
            return str(found)
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium through playwright's sync API, one per test module. Not per session: while it is
    open, playwright's event loop counts as running in the main thread, so every later Prefect call
    that dispatches on "am I in an async context?" (State.result, block loads, file reads) returned
    a coroutine instead of its value, failing the rest of the suite."""
    exe = chromium_path()
    if exe is None:
        pytest.skip("no Chromium found (install it: apt-get install -y chromium; or set RIFT_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing (pip install -e '.[test]')")
    with sync_playwright() as pw:
        # --no-sandbox: CI and these machines run tests as root, where Chromium's sandbox refuses to start
        b = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; uncaught script errors fail the test."""
    ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(180_000)  # a loaded 2-core machine: generous, and no test depends on it being short
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.script_errors = errors
    yield pg
    ctx.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("RIFT_SCREENSHOTS") or REPO / "runs" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
