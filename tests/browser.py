"""A real browser for the tests that look at a page: Debian's Chromium, headless."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def chromium() -> str | None:
    """Debian's Chromium, installed when missing and we may (CI runs as root, with apt)."""
    found = shutil.which("chromium")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, timeout=900
    )
    return shutil.which("chromium")


HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def dom_of(browser: str, flags: list[str], page: Path | str) -> str:
    """The page's DOM (a file, or an address) once Chromium has run its scripts."""
    address = page.as_uri() if isinstance(page, Path) else page
    command = [browser, *HEADLESS, *flags, "--dump-dom", address]
    return subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
