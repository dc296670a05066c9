"""``tl-widgets backbones | weights | config | demo-data``: look-ups and set-up helpers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from tl_widgets.cli.errors import USER_ERRORS, fail

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("backbones", help="list the registered backbones as a table",
                       description="Every registered backbone: parameters, ImageNet top-1 (Keras docs), input sizes.")
    p.add_argument("--family", help="only this family (e.g. efficientnet)")
    p.add_argument("--blocks", metavar="NAME", help="list the named blocks of one backbone (for freezing)")
    p.set_defaults(func=_backbones)

    w = sub.add_parser("weights", help="prefetch ImageNet weights or show which are cached",
                       description="ImageNet weights live in Keras' cache ($KERAS_HOME/models, default ~/.keras/models).")
    wsub = w.add_subparsers(dest="weights_command", metavar="{prefetch,status}")
    pre = wsub.add_parser("prefetch", help="download weights ahead of a workshop or for an air-gapped cluster")
    pre.add_argument("names", nargs="+", metavar="NAME", help="backbone names")
    pre.add_argument("--cache", help="cache root (default: $KERAS_HOME or ~/.keras)")
    pre.set_defaults(func=_prefetch)
    st = wsub.add_parser("status", help="which backbones' weights are cached")
    st.add_argument("names", nargs="*", metavar="NAME", help="backbone names (default: all)")
    st.add_argument("--cache", help="cache root (default: $KERAS_HOME or ~/.keras)")
    st.set_defaults(func=_status)
    w.set_defaults(func=lambda args: (w.print_help(), 2)[1])

    c = sub.add_parser("config", help="print a ready TrainConfig (JSON or YAML)",
                       description="Print a config to edit and pass to `tl-widgets train CONFIG`.")
    c.add_argument("--demo", action="store_true", help="the embedded demo's config (the default)")
    c.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    c.add_argument("--check", metavar="FILE", help="validate a config file and print it normalised")
    c.set_defaults(func=_config)

    d = sub.add_parser("demo-data", help="write the embedded demo datasets as image folders",
                       description="Writes one sub-folder per class (PNG files) for the digits and shapes demos.")
    d.add_argument("directory", help="where to write")
    d.add_argument("--which", choices=["digits", "shapes", "all"], default="all", help="which demo dataset (default: all)")
    d.add_argument("--split", choices=["target", "source"], default="target",
                   help="target: the classes the demo trains on; source: those the demo backbone was pretrained on")
    d.set_defaults(func=_demo_data)


def _backbones(args: argparse.Namespace) -> int:
    from tl_widgets.core.models.backbones import list_backbones

    if args.blocks:
        from tl_widgets.core.config.schema import FreezeConfig
        from tl_widgets.core.models.freezing import describe_freeze

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


def _config(args: argparse.Namespace) -> int:
    from tl_widgets.core.config.schema import TrainConfig, demo_config

    try:
        cfg = TrainConfig.load(args.check) if args.check else demo_config()
    except USER_ERRORS as exc:
        return fail(str(exc))
    sys.stdout.write(cfg.to_yaml() if args.yaml else cfg.to_json() + "\n")
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tl_widgets.core.data.demo_datasets import write_demo_data

    which = ["digits", "shapes"] if args.which == "all" else [args.which]
    try:
        for name in which:
            path = write_demo_data(Path(args.directory), which=name, split=args.split)
            print(f"{name}: {path}")
    except USER_ERRORS as exc:
        return fail(str(exc))
    return 0
