"""``tl-widgets weights prefetch|status``: fetch ImageNet weights ahead of time, or show which are cached."""

from __future__ import annotations

import argparse
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds the ``weights`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    w = sub.add_parser("weights", help=_("prefetch ImageNet weights or show which are cached"),
                       description=_("ImageNet weights live in Keras' cache ($KERAS_HOME/models, default ~/.keras/models)."))
    wsub = w.add_subparsers(dest="weights_command", metavar="{prefetch,status}")
    pre = wsub.add_parser("prefetch", help=_("download weights ahead of a workshop or for an air-gapped cluster"))
    pre.add_argument("names", nargs="+", metavar="NAME", help=_("backbone names, or keras-hub preset handles (kaggle://..., hf://..., hub_resnet_18...)"))
    pre.add_argument("--cache", help=_("cache root (default: $KERAS_HOME or ~/.keras)"))
    pre.set_defaults(func=_prefetch)
    st = wsub.add_parser("status", help=_("which backbones' weights are cached"))
    st.add_argument("names", nargs="*", metavar="NAME", help=_("backbone names (default: all)"))
    st.add_argument("--cache", help=_("cache root (default: $KERAS_HOME or ~/.keras)"))
    st.set_defaults(func=_status)
    w.set_defaults(func=lambda args: (w.print_help(), 2)[1])


def _prefetch(args: argparse.Namespace) -> int:
    from tl_widgets.core.models.weights import prefetch

    try:
        paths = prefetch(args.names, cache_dir=args.cache)
    except USER_ERRORS as exc:
        return fail(str(exc))
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from tl_widgets.core.models.weights import cache_status, weights_file

    try:
        status = cache_status(args.names or None, cache_dir=args.cache)
    except USER_ERRORS as exc:
        return fail(str(exc))
    for name, cached in status.items():
        print(f"{name:24s} {'cached ' if cached else 'missing'}  {weights_file(name).path(args.cache)}")
    return 0
