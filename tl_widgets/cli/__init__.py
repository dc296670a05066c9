"""``tl-widgets``: the headless command line. It parses arguments and calls the engine.

Sub-commands live one per module, named after the command (``tl-widgets demo-data`` is
:mod:`tl_widgets.cli.demo_data`), and expose ``register(subparsers)``; each parser sets
``func(args) -> int`` (the exit status). One-line error printing is :mod:`tl_widgets.cli.errors`.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any

from tl_widgets.core.i18n import _, set_language
from tl_widgets.core.settings import LANG_ENV

__all__ = ["main", "build_parser"]


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout with its own words ("usage: ") in the user's language."""

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser (sub-commands too) whose section titles and -h help are in the user's language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help=_("show this help message and exit"))


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (all sub-commands)."""
    from tl_widgets import __version__
    from tl_widgets.cli import (backbones, config, demo_data, evaluate, export, runs, serve, studio, sweep, train,
                                weights)

    parser = _Parser(
        prog="tl-widgets",
        description=_("Transfer learning for Keras 3: train headless, serve the Studio, manage weights and runs."),
        epilog=_("Run `tl-widgets COMMAND --help` for each command's options."),
    )
    parser.add_argument("--version", action="version", version=f"tl-widgets {__version__}",
                        help=_("show program's version number and exit"))
    parser.add_argument("--lang", metavar="LANG",
                        help=_("language of the messages and of the Studio it serves: en or zh-CN (default: "
                               "$TL_WIDGETS_LANG, else the locale)"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (train, sweep, backbones, weights, config, demo_data, runs, evaluate, export, studio, serve):
        command.register(sub)
    from tl_widgets.cli import curate, data  # the health check and the fix-the-data loop

    for command in (data, curate):
        command.register(sub)
    from tl_widgets.cli import card  # MODEL_CARD.md of a finished run

    card.register(sub)
    return parser


def _language_in(argv: list[str]) -> str | None:
    """The value of ``--lang`` in ``argv`` (``--lang X`` or ``--lang=X``), or None."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tl-widgets`` script; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else list(argv)
    lang = _language_in(argv)
    if lang is not None:  # before the parser exists: its help is written in the language
        with warnings.catch_warnings(record=True) as caught:  # an unknown language: English, and one line why
            warnings.simplefilter("always")
            os.environ[LANG_ENV] = set_language(lang)  # the Studio's kernels inherit it
        for warning in caught:
            print(f"tl-widgets: warning: {warning.message}", file=sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(_("tl-widgets: interrupted"), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
