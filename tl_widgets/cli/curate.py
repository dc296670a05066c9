"""``tl-widgets curate RUN_DIR``: suspected label errors, retraining with fixes, a cleaned copy of the data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds the ``curate`` sub-command to ``sub``."""
    p = sub.add_parser(
        "curate", help=_("fix the data a run learned from"),
        description=_("--list ranks the run's validation images by how likely their label is wrong (confident "
                      "learning, cleanlab); --apply retrains the run's config with a curation file as a child run; "
                      "--export writes a cleaned copy of the dataset (class folders) with the curation applied."))
    p.add_argument("run_dir", metavar="RUN_DIR", help=_("a run folder (with model.keras and config.json)"))
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--list", action="store_true", help=_("list suspected label errors"))
    mode.add_argument("--apply", metavar="CURATION", help=_("retrain with this curation file (a child run)"))
    mode.add_argument("--export", metavar="DIR", help=_("write a cleaned copy of the dataset into DIR"))
    p.add_argument("--curation", metavar="FILE", help=_("for --export: the curation file (default: the dataset's)"))
    p.add_argument("--limit", type=int, default=50, help=_("for --list: at most this many (default 50)"))
    p.add_argument("--json", action="store_true", help=_("for --list: print JSON"))
    p.add_argument("--quiet", action="store_true", help=_("for --apply: no progress lines"))
    p.set_defaults(func=_curate)


def _curate(args: argparse.Namespace) -> int:
    try:
        if args.list:
            return _list(args)
        if args.apply:
            return _apply(args)
        return _export(args)
    except USER_ERRORS as exc:
        return fail(str(exc))


def _list(args: argparse.Namespace) -> int:
    from tl_widgets.core.evaluation.label_errors import run_label_errors

    rows = run_label_errors(args.run_dir, limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(_("no suspected label errors"))
    for r in rows:
        print(f"{r['quality']:.3f}  {r['key']}  labelled {r['given']!r}, model says {r['predicted']!r} "
              f"({r['predicted_probability']:.2f})")
    return 0


def _apply(args: argparse.Namespace) -> int:
    from tl_widgets.cli.progress import follow
    from tl_widgets.core.runs.lineage import child_config
    from tl_widgets.core.training.session import TrainingSession

    if not Path(args.apply).is_file():
        raise FileNotFoundError(f"Expected a curation file. Received: {args.apply!r} (not found)")
    cfg = child_config(args.run_dir, args.apply)
    session = TrainingSession(cfg, source="cli")
    sub = session.bus.listen()
    session.start()
    follow(sub, quiet=args.quiet)
    result = session.wait()
    if result is None or result.status == "failed":
        return fail((result.error if result else None) or _("training failed"))
    val = result.metrics.get("val_accuracy")
    tail = f" val_accuracy={val:.4f}" if val is not None else ""
    print(f"{result.status}: {result.run_dir} (child of {cfg.parent_run_id}){tail}")
    if result.status == "finished" and result.run_dir is not None:
        from tl_widgets.core.evaluation.evaluate import evaluate_run
        from tl_widgets.core.runs.lineage import before_after_text, parent_report, per_class_before_after

        child = evaluate_run(result.run_dir).to_dict()
        parent = parent_report(result.run_dir)
        if parent is not None:
            print(_("per class, validation (before: {parent}, after: this run):").format(parent=parent[0]))
            print(before_after_text(per_class_before_after(parent[1], child)))
    return 0


def _export(args: argparse.Namespace) -> int:
    from tl_widgets.core.config.schema import TrainConfig
    from tl_widgets.core.data.curation import default_curation_path, export_curated
    from tl_widgets.core.runs.folder import RunFolder

    cfg = TrainConfig.load(RunFolder(Path(args.run_dir)).config_file)
    if cfg.data.source != "folder" or not cfg.data.path:
        raise ValueError(f"Expected a run trained on a data folder to export. Received: data.source={cfg.data.source!r}")
    curation = args.curation or cfg.data.curation or str(default_curation_path("folder", cfg.data.path))
    summary = export_curated(cfg.data.path, curation, args.export)
    print(_("exported {n} images to {folder}: {relabelled} relabelled, {excluded} excluded, {ambiguous} ambiguous "
            "left out").format(n=sum(summary.after.values()), folder=args.export, relabelled=summary.relabelled,
                               excluded=summary.excluded, ambiguous=summary.ambiguous))
    return 0
