"""``tl-widgets demo-data``: write the embedded demo datasets as folders of class sub-folders."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds the ``demo-data`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    d = sub.add_parser("demo-data", help=_("write the embedded demo datasets as image folders"),
                       description=_("Writes one sub-folder per class (PNG files) for the digits and shapes demos."))
    d.add_argument("directory", help=_("where to write"))
    d.add_argument("--which", choices=["digits", "shapes", "all"], default="all", help=_("which demo dataset (default: all)"))
    d.add_argument("--split", choices=["target", "source"], default="target",
                   help=_("target: the classes the demo trains on; source: those the demo backbone was pretrained on"))
    d.set_defaults(func=_demo_data)


def _demo_data(args: argparse.Namespace) -> int:
    from tl_widgets.core.data.demo_datasets import write_demo_data

    which = ["digits", "shapes"] if args.which == "all" else [args.which]
    try:
        for name in which:
            path = write_demo_data(Path(args.directory), which=name, split=args.split)
            print(f"{name}: {path}")
    except USER_ERRORS as exc:
        return fail(str(exc))
    return 0
