"""``tl-widgets data check DIR|ZIP``: the dataset health check from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds the ``data`` sub-command (with ``check``) to ``sub``."""
    p = sub.add_parser("data", help=_("check a dataset (health check)"),
                       description=_("Dataset tools. `data check` finds class imbalance, exact and near duplicates, "
                                     "train/validation leaks, suspected label errors and odd images."))
    inner = p.add_subparsers(dest="data_command", metavar="ACTION")
    c = inner.add_parser("check", help=_("health-check a folder of class folders or a zip of one"))
    c.add_argument("path", metavar="DIR|ZIP", help=_("a folder with one sub-folder per class, or a zip of one"))
    c.add_argument("--val", metavar="DIR", help=_("a separate validation folder (else the seeded split is checked)"))
    c.add_argument("--validation-split", type=float, default=0.2, help=_("the split training uses (default 0.2)"))
    c.add_argument("--seed", type=int, default=42, help=_("the run's seed (default 42)"))
    c.add_argument("--input-size", type=int, default=48, help=_("the model's input side, for small images"))
    c.add_argument("--similarity", type=float, default=None, help=_("near-duplicate cosine threshold"))
    c.add_argument("--no-embeddings", action="store_true", help=_("exact duplicates only (no backbone)"))
    c.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    c.set_defaults(func=_check)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _check(args: argparse.Namespace) -> int:
    from tl_widgets.core.data.health import DEFAULT_SIMILARITY, check_dataset

    try:
        report = check_dataset(args.path, val_path=args.val, validation_split=args.validation_split, seed=args.seed,
                               input_size=args.input_size, embeddings=not args.no_embeddings,
                               similarity=args.similarity if args.similarity is not None else DEFAULT_SIMILARITY)
    except USER_ERRORS as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    print(_("{root}: {n} images ({counts})").format(root=report.root, n=sum(report.counts.values()), counts=counts))
    if not report.findings:
        print(_("no problems found"))
    for f in report.findings:
        print(f"[{f.severity}] {f.kind}: {f.message}")
        for key in f.files[:5]:
            print(f"    {key}")
        if len(f.files) > 5:
            print("    " + _("... and {n} more (--json lists all)").format(n=len(f.files) - 5))
        print(f"    -> {f.action}")
    times = " ".join(f"{k}={v:.2f}s" for k, v in report.seconds.items())
    print(_("time: {times}").format(times=times))
    return 0
