"""``tl-widgets backbones``: the registered backbones as a table, or one backbone's named blocks."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds the ``backbones`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    p = sub.add_parser("backbones", help=_("list the registered backbones as a table"),
                       description=_("Every registered backbone: parameters, ImageNet top-1 (Keras docs), input sizes."))
    p.add_argument("--family", help=_("only this family (e.g. efficientnet)"))
    p.add_argument("--blocks", metavar="NAME", help=_("list the named blocks of one backbone (for freezing)"))
    p.set_defaults(func=_backbones)


def _backbones(args: argparse.Namespace) -> int:
    from tl_widgets.core.models.backbones import list_backbones

    if args.blocks:
        from tl_widgets.core.config.schema import FreezeConfig
        from tl_widgets.core.models.facts import describe_freeze

        try:
            rep = describe_freeze(args.blocks, None, FreezeConfig(mode="none"))
        except USER_ERRORS as exc:
            return fail(str(exc))
        table = Table(title=f"blocks of {args.blocks}")
        for col in ("#", "block", "layers", "parameters"):
            table.add_column(col, justify="right" if col != "block" else "left")
        for i, b in enumerate(rep.blocks):
            table.add_row(str(i), b.name, str(b.n_layers), f"{b.trainable_params + b.frozen_params:,}")
        Console().print(table)
        return 0
    specs = list_backbones(args.family)
    if not specs:
        return fail(f"Expected a known family. Received: {args.family!r}")
    table = Table(title="backbones")
    for col in ("name", "family", "params (M)", "ImageNet top-1", "default size", "min size", "weights"):
        table.add_column(col)
    for s in specs:
        r = s.as_row()
        table.add_row(r["name"], r["family"], f"{r['params_m']:.1f}", f"{r['top1']:.1f}%" if r["top1"] else "-",
                      str(r["default_size"]), str(r["min_size"]), r["pretrained"])
    Console(width=120).print(table)
    return 0
