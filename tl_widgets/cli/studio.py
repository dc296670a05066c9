"""``tl-widgets studio``: serve the Studio with Voilà on the packaged notebook."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["register", "studio_notebook", "voila_command", "DATA_ROOTS_ENV"]

DATA_ROOTS_ENV = "TL_WIDGETS_DATA_ROOTS"


def studio_notebook() -> Path:
    """The packaged Voilà entry notebook."""
    return Path(__file__).resolve().parents[1] / "app" / "studio.ipynb"


def register(sub: Any) -> None:
    """Adds the ``studio`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    p = sub.add_parser(
        "studio", help="serve the Studio in the browser (Voilà)",
        description="Serve the transfer-learning Studio with Voilà on 127.0.0.1 and print its URL. "
                    "Each browser tab gets its own kernel. Data folders can be picked only under --data-root.",
    )
    p.add_argument("--port", type=int, default=8866, help="port on 127.0.0.1 (default 8866; 0 picks a free one)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--no-browser", action="store_true", help="don't open a browser")
    p.add_argument("--data-root", action="append", default=[], metavar="DIR",
                   help="a folder whose sub-folders the data picker lists (repeatable)")
    p.set_defaults(func=_run)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def voila_command(port: int, ip: str = "127.0.0.1") -> list[str]:
    """The Voilà command line serving the packaged notebook."""
    return [sys.executable, "-m", "voila", str(studio_notebook()), "--no-browser", f"--port={port}",
            f"--Voila.ip={ip}", "--theme=light"]


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    return False


def _run(args: argparse.Namespace) -> int:
    from tl_widgets.cli.errors import fail

    if not 0 <= args.port < 65536:
        return fail(f"Expected --port between 0 and 65535. Received: {args.port}")
    roots = []
    for root in args.data_root:
        path = Path(root).expanduser().resolve()
        if not path.is_dir():
            return fail(f"Expected --data-root to be an existing folder. Received: {root!r}")
        roots.append(str(path))
    env = dict(os.environ)
    if roots:
        env[DATA_ROOTS_ENV] = os.pathsep.join(roots)
    port = args.port or _free_port()
    host = "127.0.0.1" if args.ip in ("0.0.0.0", "") else args.ip
    url = f"http://{host}:{port}/"
    proc = subprocess.Popen(voila_command(port, args.ip), env=env)
    try:
        if not _wait_ready(url, proc):
            code = proc.poll()
            return fail(f"Expected Voilà to serve {url}. Received: "
                        + (f"exit code {code}" if code is not None else "no answer within 120 s"))
        print(f"tl-widgets Studio: {url}", flush=True)
        if not args.no_browser and _has_display():
            import webbrowser

            webbrowser.open(url)
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 130
