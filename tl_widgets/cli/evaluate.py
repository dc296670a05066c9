"""``tl-widgets evaluate``: evaluate a run folder on its validation split and write an HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds the ``evaluate`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    p = sub.add_parser(
        "evaluate", help=_("evaluate a run folder on its validation split"),
        description=_("Rebuilds the run's validation split, writes eval_report.json into the run folder and an HTML "
                      "report (confusion matrix, per-class metrics, top losses)."),
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help=_("a run folder (with model.keras and config.json)"))
    p.add_argument("--out", metavar="FILE.html", help=_("the HTML report (default: RUN_DIR/eval_report.html)"))
    p.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from tl_widgets.core.evaluation.evaluate import evaluate_run
    from tl_widgets.core.fileio import atomic_write_text
    from tl_widgets.core.runs.folder import RunFolder
    from tl_widgets.views.figures.calibration import reliability_figure_of
    from tl_widgets.views.figures.evaluation import confusion_figure, per_class_figure, report_html, top_losses_figure

    try:
        report = evaluate_run(args.run_dir)
        figures = [
            confusion_figure(report.confusion, report.class_names),
            confusion_figure(report.confusion, report.class_names, normalize=True),
            per_class_figure(report.per_class),
            top_losses_figure(report.top_loss_images, report.top_losses),
        ]
        reliability = reliability_figure_of(report.calibration)
        if reliability is not None:
            figures.append(reliability)
        out = Path(args.out) if args.out else RunFolder(Path(args.run_dir)).eval_report_html
        atomic_write_text(out, report_html(report.to_dict(), figures, title=_("Evaluation of {run}").format(run=Path(args.run_dir).name)))
    except USER_ERRORS as exc:
        return fail(str(exc))
    top = " ".join(f"{k}={v:.4f}" for k, v in report.top_k.items())
    print(_("evaluated {n} images: {metrics}").format(
        n=report.count, metrics=f"accuracy={report.accuracy:.4f} {top} macro_f1={report.macro_f1:.4f}"))
    print(_("report: {report}  html: {html}").format(report=RunFolder(Path(args.run_dir)).eval_report_file, html=out))
    return 0
