"""``tl-widgets runs tensorboard [RUN ...]``: start TensorBoard on chosen runs and print its URL.

Only parses arguments and calls :mod:`tl_widgets.core.training.tensorboard`;
registered by :mod:`tl_widgets.cli.runs` under the ``runs`` command.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from tl_widgets.core.i18n import _

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds ``tensorboard`` to the ``runs`` sub-commands."""
    p = sub.add_parser(
        "tensorboard", help=_("start TensorBoard on runs trained with --tensorboard and print its URL"),
        description=_("Starts TensorBoard on the runs' tensorboard/ folders (scalars per batch and epoch, the "
                      "learning rate, the model graph). Runs until Ctrl-C."),
    )
    p.add_argument("runs", nargs="*", metavar="RUN",
                   help=_("run ids (see `tl-widgets runs list`) or run folders; none: every run with TensorBoard logs"))
    p.add_argument("--home", default=None, help=_("run-store folder (default: $TL_WIDGETS_HOME or ~/.tl_widgets)"))
    p.add_argument("--host", default="127.0.0.1", help=_("address to listen on (default 127.0.0.1)"))
    p.add_argument("--port", type=int, default=6006, help=_("port (default 6006; 0: any free port)"))
    p.set_defaults(func=_tensorboard)


def _tensorboard(args: argparse.Namespace) -> int:
    from tl_widgets.core.training.tensorboard import TensorBoardMissingError, launch, log_dirs_for

    try:
        dirs = log_dirs_for(args.runs, args.home)
        url, _server = launch(dirs, host=args.host, port=args.port)
    except (ValueError, TensorBoardMissingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(_("TensorBoard on {n} run(s) ({dirs}): {url}").format(n=len(dirs), dirs=", ".join(dirs), url=url), flush=True)
    print(_("Press Ctrl-C to stop."), flush=True)
    threading.Event().wait()
    return 0
