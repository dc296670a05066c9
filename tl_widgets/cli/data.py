"""``tl-widgets data check DIR|ZIP``: the dataset health check from the command line (a table, or ``--json``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _

__all__ = ["register", "findings_table"]

_SHOWN = 3
"""Files named per finding in the table (``--json`` lists all)."""


def register(sub: Any) -> None:
    """Adds the ``data`` sub-command (with ``check``) to ``sub``."""
    p = sub.add_parser("data", help=_("check a dataset (health check)"),
                       description=_("Dataset tools. `data check` finds class imbalance, exact and near duplicates, "
                                     "train/validation leaks, blurry, dark, overly bright and low-information "
                                     "images, outliers, images far from their class, suspected label errors, odd "
                                     "sizes and, after a run, the classes and groups where it is weak."))
    inner = p.add_subparsers(dest="data_command", metavar="ACTION")
    c = inner.add_parser("check", help=_("health-check a folder of class folders or a zip of one"))
    c.add_argument("path", metavar="DIR|ZIP", help=_("a folder with one sub-folder per class, or a zip of one"))
    c.add_argument("--val", metavar="DIR", help=_("a separate validation folder (else the seeded split is checked)"))
    c.add_argument("--validation-split", type=float, default=0.2, help=_("the split training uses (default 0.2)"))
    c.add_argument("--seed", type=int, default=42, help=_("the run's seed (default 42)"))
    c.add_argument("--input-size", type=int, default=48, help=_("the model's input side, for small images"))
    c.add_argument("--similarity", type=float, default=None, help=_("near-duplicate cosine threshold"))
    c.add_argument("--backbone", default="demo_cnn", help=_("the embedding backbone (default demo_cnn)"))
    c.add_argument("--curation", metavar="FILE", help=_("apply a curation file first, as training does"))
    c.add_argument("--run", metavar="RUN_DIR", help=_("a finished run on these data: also list the classes and "
                                                      "groups of images where it is clearly worse"))
    c.add_argument("--no-embeddings", action="store_true",
                   help=_("image quality and exact duplicates only (no backbone)"))
    c.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    c.set_defaults(func=_check)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def findings_table(report: Any) -> str:
    """The report's findings as a plain-text table: kind, severity, files, the line drawn (the rule in words is in
    each finding's message), the worst files."""
    head = [_("finding"), _("severity"), _("files"), _("threshold"), _("worst files")]
    rows = []
    for f in report.findings:
        t = f.threshold or {}
        line = f"{'<' if t.get('side') == 'low' else '>'} {t['value']:.3g}" if "value" in t else "—"
        worst = ", ".join(f.files[:_SHOWN]) + (" …" if len(f.files) > _SHOWN else "")
        rows.append([f.kind, f.severity, str(len(f.files)) if f.files else "—", line, worst])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(head[-1]))
    return "\n".join(line.rstrip() for line in lines)


def _check(args: argparse.Namespace) -> int:
    from tl_widgets.core.data.health import DEFAULT_SIMILARITY, check_dataset

    try:
        report = check_dataset(args.path, val_path=args.val, validation_split=args.validation_split, seed=args.seed,
                               input_size=args.input_size, embeddings=not args.no_embeddings, backbone=args.backbone,
                               similarity=args.similarity if args.similarity is not None else DEFAULT_SIMILARITY,
                               curation=args.curation, run_dir=args.run)
    except USER_ERRORS as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    print(_("{root}: {n} images ({counts})").format(root=report.root, n=sum(report.counts.values()), counts=counts))
    if report.curation:
        c = report.curation
        print(_("curation applied: {relabelled} relabelled, {excluded} excluded, {ambiguous} ambiguous").format(
            relabelled=c.get("relabelled", 0), excluded=c.get("excluded", 0), ambiguous=c.get("ambiguous", 0)))
    if not report.findings:
        print(_("no problems found"))
    else:
        print(findings_table(report))
        print()
        for f in report.findings:
            print(f"[{f.kind}] {f.message}\n    -> {f.action}")
    times = " ".join(f"{k}={v:.2f}s" for k, v in report.seconds.items())
    print(_("time: {times} ({decoded} of {images} images decoded, the rest cached)").format(
        times=times, decoded=report.decoded, images=report.images))
    return 0
