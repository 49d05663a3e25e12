"""Finding and launching Chromium for Playwright, with errors that say how to get one.

Search order: an explicit path, `$VIRAGENT_CHROMIUM`, Playwright's managed browser, `/usr/bin/chromium`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import threading
from pathlib import Path

# Without the background-networking flags Chromium keeps dialling Google's hosts, which a closed network
# refuses many times a second; --no-sandbox because CI and containers run as root.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
]
SYSTEM_CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


class BrowserNotFound(RuntimeError):
    """No Chromium executable could be found."""


class BrowserCrashed(RuntimeError):
    """The browser or its page died mid-episode. What was recorded so far is kept; reset() relaunches."""


_local = threading.local()


def shared_playwright():
    """This thread's Playwright driver, started once.

    Playwright's sync API allows one running instance per thread, so every env in a thread launches its
    browser from this one (stopped at interpreter exit).
    """
    if getattr(_local, "playwright", None) is None:
        from playwright.sync_api import sync_playwright

        _local.playwright = sync_playwright().start()
        atexit.register(_local.playwright.stop)
    return _local.playwright


def _managed_chromium() -> str | None:
    try:
        path = shared_playwright().chromium.executable_path
    except Exception:  # Playwright missing or broken: fall through to the other places
        return None
    return path if path and Path(path).exists() else None


def find_chromium(explicit: str | os.PathLike | None = None, managed: str | None = None) -> str:
    """The Chromium executable to use, or BrowserNotFound naming every way to provide one.

    `managed` is Playwright's own browser path when the caller already runs Playwright (saves a start).
    """
    if explicit:
        if Path(explicit).exists():
            return str(explicit)
        raise BrowserNotFound(f"the Chromium path given explicitly does not exist: {explicit}")
    env_path = os.environ.get("VIRAGENT_CHROMIUM")
    if env_path:
        if Path(env_path).exists():
            return env_path
        raise BrowserNotFound(f"VIRAGENT_CHROMIUM={env_path} does not exist; fix or unset it")
    managed = managed if managed is not None else _managed_chromium()
    if managed and Path(managed).exists():
        return managed
    for candidate in SYSTEM_CHROMIUM:
        if Path(candidate).exists():
            return candidate
    on_path = shutil.which("chromium")
    if on_path:
        return on_path
    raise BrowserNotFound(
        "no Chromium found. Fix it one of three ways: "
        "(1) install Debian's browser: `sudo apt-get install chromium` (gives /usr/bin/chromium); "
        "(2) point at an executable: `export VIRAGENT_CHROMIUM=/path/to/chrome` or pass chromium_path=...; "
        "(3) let Playwright manage one: `playwright install chromium` (needs internet access)."
    )
