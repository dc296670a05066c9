"""``tl-widgets studio``: serve the Studio with Voilà on the packaged notebook.

The launch itself lives in :mod:`tl_widgets.server.voila_launch`, shared with
``tl-widgets serve`` (the hardened variant for workshops and shared machines).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tl_widgets.server.voila_launch import (
    DATA_ROOTS_ENV,
    LaunchOptions,
    VoilaLaunchError,
    run_voila,
    studio_notebook,
    voila_argv,
)

__all__ = ["register", "studio_notebook", "voila_command", "resolve_data_roots", "launch", "DATA_ROOTS_ENV"]


def register(sub: Any) -> None:
    """Adds the ``studio`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    p = sub.add_parser(
        "studio", help="serve the Studio in the browser (Voilà)",
        description="Serve the transfer-learning Studio with Voilà on 127.0.0.1 and print its URL. "
                    "Each browser tab gets its own kernel. Data folders can be picked only under --data-root. "
                    "For a machine shared by several people use `tl-widgets serve`.",
    )
    p.add_argument("--port", type=int, default=8866, help="port on 127.0.0.1 (default 8866; 0 picks a free one)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--no-browser", action="store_true", help="don't open a browser")
    p.add_argument("--data-root", action="append", default=[], metavar="DIR",
                   help="a folder whose sub-folders the data picker lists (repeatable)")
    p.set_defaults(func=_run)


def voila_command(port: int, ip: str = "127.0.0.1") -> list[str]:
    """The Voilà command line serving the packaged notebook."""
    return voila_argv(LaunchOptions(port=port, ip=ip))


def resolve_data_roots(roots: list[str], flag: str = "--data-root") -> list[Path]:
    """Resolves each root (symlinks, ``..``, ``~``).

    Raises:
        ValueError: A root is not an existing folder.
    """
    out: list[Path] = []
    for root in roots:
        path = Path(root).expanduser().resolve()
        if not path.is_dir():
            raise ValueError(f"Expected {flag} to be an existing folder. Received: {root!r}")
        if path not in out:
            out.append(path)
    return out


def launch(opts: LaunchOptions, *, open_browser: bool, label: str) -> int:
    """Runs Voilà, prints ``"<label>: <url>"`` once it answers, and prints a launch failure as one line.

    Returns:
        Voilà's exit status, 130 after Ctrl-C, or 1 when it could not start.
    """
    from tl_widgets.cli.errors import fail

    try:
        return run_voila(opts, open_browser=open_browser, on_ready=lambda url: print(f"{label}: {url}", flush=True))
    except VoilaLaunchError as exc:
        return fail(str(exc))


def _run(args: argparse.Namespace) -> int:
    from tl_widgets.cli.errors import fail

    if not 0 <= args.port < 65536:
        return fail(f"Expected --port between 0 and 65535. Received: {args.port}")
    try:
        roots = resolve_data_roots(args.data_root)
    except ValueError as exc:
        return fail(str(exc))
    opts = LaunchOptions(port=args.port, ip=args.ip, data_roots=roots)
    return launch(opts, open_browser=not args.no_browser, label="tl-widgets Studio")
