"""What the browser tests of ``tl-widgets serve`` share: the command that starts it and the instructor view's URL
it prints."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

#: ``[*SERVE, "--workshop", ...]`` runs ``tl-widgets serve`` in a fresh interpreter (the CLI's serve command only).
SERVE = [sys.executable, "-c", """
import argparse, sys
from tl_widgets.cli import serve
parser = argparse.ArgumentParser(); sub = parser.add_subparsers()
serve.register(sub)
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
""", "serve"]


def instructor_url(server: Any, timeout: float = 120) -> str:
    """The instructor view's URL (with its own token) as ``serve`` printed it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"Instructor view[^:]*: (https?://\S+)", server.log_tail(40_000))
        if found:
            return found.group(1)
        time.sleep(0.5)
    raise AssertionError(f"Expected the instructor view's URL within {timeout:.0f} s. Log: {server.log_tail(4000)}")


def snapshot(page: Any, path: Path) -> None:
    """A failure's screenshot that never hides the failure: a page too busy to paint within 10 s is reported."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.screenshot(path=str(path), full_page=True, timeout=10_000)
    except PlaywrightError as exc:
        print(f"No screenshot {path.name}: {exc}".splitlines()[0])
