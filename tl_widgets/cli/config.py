"""``tl-widgets config``: print a ready TrainConfig (JSON or YAML), or check a config file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds the ``config`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    c = sub.add_parser("config", help=_("print a ready TrainConfig (JSON or YAML)"),
                       description=_("Print a config to edit and pass to `tl-widgets train CONFIG`."))
    c.add_argument("--demo", action="store_true", help=_("the embedded demo's config (the default)"))
    c.add_argument("--yaml", action="store_true", help=_("YAML instead of JSON"))
    c.add_argument("--check", metavar="FILE", help=_("validate a config file and print it normalised"))
    c.set_defaults(func=_config)


def _config(args: argparse.Namespace) -> int:
    from tl_widgets.core.config.schema import TrainConfig, demo_config

    try:
        cfg = TrainConfig.load(args.check) if args.check else demo_config()
    except USER_ERRORS as exc:
        return fail(str(exc))
    sys.stdout.write(cfg.to_yaml() if args.yaml else cfg.to_json() + "\n")
    return 0
