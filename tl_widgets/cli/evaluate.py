"""``tl-widgets evaluate`` and ``tl-widgets export``: evaluate or export a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail

__all__ = ["register"]

def register(sub: Any) -> None:
    """Adds the ``evaluate`` and ``export`` sub-commands."""
    from tl_widgets.core.export.formats import FORMATS

    p = sub.add_parser(
        "evaluate", help="evaluate a run folder on its validation split",
        description="Rebuilds the run's validation split, writes eval_report.json into the run folder and an HTML "
                    "report (confusion matrix, per-class metrics, top losses).",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (with model.keras and config.json)")
    p.add_argument("--out", metavar="FILE.html", help="the HTML report (default: RUN_DIR/eval_report.html)")
    p.set_defaults(func=_evaluate)

    e = sub.add_parser(
        "export", help="export a run's model and verify it against Keras",
        description="Exports the model, runs it on held-out validation images and compares it with Keras. "
                    "Writes the model, labels.txt and export_report.json. Exit 1 when a check fails.",
    )
    e.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (with model.keras and config.json)")
    e.add_argument("--format", required=True, choices=FORMATS, help="export format")
    e.add_argument("--out", metavar="DIR", help="export folder (default: RUN_DIR/exports/FORMAT)")
    e.add_argument("--script", action="store_true", help="also write train_<run>.py reproducing the run")
    e.set_defaults(func=_export)


def _evaluate(args: argparse.Namespace) -> int:
    from tl_widgets.core.evaluation.evaluate import evaluate_run
    from tl_widgets.core.fileio import atomic_write_text
    from tl_widgets.views.eval_figures import confusion_figure, per_class_figure, report_html, top_losses_figure

    try:
        report = evaluate_run(args.run_dir)
        figures = [
            confusion_figure(report.confusion, report.class_names),
            confusion_figure(report.confusion, report.class_names, normalize=True),
            per_class_figure(report.per_class),
            top_losses_figure(report.top_loss_images, report.top_losses),
        ]
        out = Path(args.out) if args.out else Path(args.run_dir) / "eval_report.html"
        atomic_write_text(out, report_html(report.to_dict(), figures, title=f"Evaluation of {Path(args.run_dir).name}"))
    except USER_ERRORS as exc:
        return fail(str(exc))
    top = " ".join(f"{k}={v:.4f}" for k, v in report.top_k.items())
    print(f"evaluated {report.count} images: accuracy={report.accuracy:.4f} {top} macro_f1={report.macro_f1:.4f}")
    print(f"report: {Path(args.run_dir) / 'eval_report.json'}  html: {out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from tl_widgets.core.export.formats import export_run
    from tl_widgets.core.export.script import export_script

    try:
        report = export_run(args.run_dir, args.format, out_dir=args.out)
        script = export_script(args.run_dir) if args.script else None
    except USER_ERRORS as exc:
        return fail(str(exc))
    v = report.verification
    print(
        f"{report.format}: {report.path} ({report.file_size / 1e6:.2f} MB, {report.conversion_seconds:.1f} s); "
        f"max diff {v.get('max_abs_diff', float('nan')):.3g}, top-1 agreement {v.get('top1_agreement', 0):.2%}, "
        f"accuracy drop {v.get('accuracy_drop', 0):+.2%} on {v.get('count', 0)} images"
    )
    if script is not None:
        print(f"script: {script.script}  command: {script.command}")
    if not report.ok:
        return fail("export verification failed: " + " ".join(report.warnings))
    return 0
