"""``tl-widgets studio``: serve the Studio with Voilà on the packaged notebook.

The launch itself lives in :mod:`tl_widgets.server.voila_launch`, shared with
``tl-widgets serve`` (the hardened variant for workshops and shared machines).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tl_widgets.core.i18n import _
from tl_widgets.server.voila_launch import (
    DATA_ROOTS_ENV,
    LaunchOptions,
    VoilaLaunchError,
    run_voila,
    studio_notebook,
    voila_argv,
)

__all__ = ["register", "studio_notebook", "voila_command", "resolve_data_roots", "launch", "DATA_ROOTS_ENV",
           "add_token_flags", "resolve_token"]


def register(sub: Any) -> None:
    """Adds the ``studio`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    p = sub.add_parser(
        "studio", help=_("serve the Studio in the browser (Voilà)"),
        description=_("Serve the transfer-learning Studio with Voilà on 127.0.0.1 and print its URL "
                      "(with a random access token unless --no-token). "
                      "Each browser tab gets its own kernel. Data folders can be picked only under --data-root. "
                      "For a machine shared by several people use `tl-widgets serve`."),
    )
    p.add_argument("--port", type=int, default=8866, help=_("port on 127.0.0.1 (default 8866; 0 picks a free one)"))
    p.add_argument("--ip", default="127.0.0.1", help=_("address to listen on (default 127.0.0.1)"))
    p.add_argument("--no-browser", action="store_true", help=_("don't open a browser"))
    p.add_argument("--open", metavar="WORK.zip", default=None,
                   help=_("first bring back work downloaded with \"Download my work\" (its runs, captures and data "
                          "fixes) into your home"))
    add_token_flags(p)
    p.add_argument("--data-root", action="append", default=[], metavar="DIR",
                   help=_("a folder whose sub-folders the data picker lists (repeatable)"))
    p.set_defaults(func=_run)


def add_token_flags(p: Any) -> None:
    """``--token VALUE`` and ``--no-token`` (shared by ``studio`` and ``serve``)."""
    p.add_argument("--token", default=None,
                   help=_("access token (default: a random one, printed in the URL; 'auto' also generates one)"))
    p.add_argument("--no-token", action="store_true",
                   help=_("serve without a token (only allowed on a loopback address such as 127.0.0.1)"))


def resolve_token(args: argparse.Namespace) -> str | None:
    """The token to serve with: ``--token``, else a random one; None only for ``--no-token`` on loopback.

    Raises:
        ValueError: ``--no-token`` off loopback, both flags, or a malformed ``--token``.
    """
    from tl_widgets.server.voila_launch import check_token, is_loopback, new_token

    if getattr(args, "no_token", False):
        if args.token is not None:
            raise ValueError(f"Expected --token or --no-token, not both. Received: --token {args.token!r} --no-token")
        if not is_loopback(args.ip):
            raise ValueError(f"Expected a token when serving on {args.ip!r} (reachable from other machines). "
                             "Received: --no-token")
        return None
    if args.token is None or args.token == "auto":
        return new_token()
    return check_token(args.token)


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


def launch(opts: LaunchOptions, *, open_browser: bool, label: str, companions: Any = ()) -> int:
    """Runs Voilà, prints ``"<label>: <url>"`` once it answers, and prints a launch failure as one line.

    Returns:
        Voilà's exit status, 130 after Ctrl-C, or 1 when it could not start.
    """
    from tl_widgets.cli.errors import fail

    try:
        return run_voila(opts, open_browser=open_browser, on_ready=lambda url: print(f"{label}: {url}", flush=True),
                         companions=companions)
    except (VoilaLaunchError, ValueError) as exc:
        return fail(str(exc))


def _run(args: argparse.Namespace) -> int:
    from tl_widgets.cli.errors import fail

    if not 0 <= args.port < 65536:
        return fail(f"Expected --port between 0 and 65535. Received: {args.port}")
    try:
        roots = resolve_data_roots(args.data_root)
        token = resolve_token(args)
    except ValueError as exc:
        return fail(str(exc))
    if args.open:
        from tl_widgets.core.runs.work import open_work
        from tl_widgets.core.settings import default_home

        try:
            added = open_work(args.open, default_home())
        except (OSError, ValueError) as exc:  # DataError, WorkError and unsafe archives are ValueErrors
            return fail(_("Cannot open {zip}: {reason}").format(zip=args.open, reason=exc))
        print(_("Opened {what}.").format(what=added.describe()), flush=True)
        for skipped in added.skipped:
            print(_("  skipped {what}").format(what=skipped), flush=True)
    opts = LaunchOptions(port=args.port, ip=args.ip, data_roots=roots, token=token)
    return launch(opts, open_browser=not args.no_browser, label="tl-widgets Studio")
