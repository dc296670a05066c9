"""``tl-widgets export``: export a run's model to a deployment format and verify it against Keras."""

from __future__ import annotations

import argparse
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds the ``export`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    from tl_widgets.core.export.formats import FORMATS

    e = sub.add_parser(
        "export", help=_("export a run's model and verify it against Keras"),
        description=_("Exports the model, runs it on held-out validation images and compares it with Keras. "
                      "Writes the model, labels.txt and export_report.json. Exit 1 when a check fails."),
    )
    e.add_argument("run_dir", metavar="RUN_DIR", help=_("a run folder (with model.keras and config.json)"))
    e.add_argument("--format", required=True, choices=FORMATS, help=_("export format"))
    e.add_argument("--out", metavar="DIR", help=_("export folder (default: RUN_DIR/exports/FORMAT)"))
    e.add_argument("--script", action="store_true", help=_("also write train_<run>.py reproducing the run"))
    e.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from tl_widgets.core.export.formats import export_run
    from tl_widgets.core.export.script import export_script

    try:
        report = export_run(args.run_dir, args.format, out_dir=args.out)
        script = export_script(args.run_dir) if args.script else None
    except USER_ERRORS as exc:
        return fail(str(exc))
    v = report.verification
    print(_("{format}: {path} ({size:.2f} MB, {seconds:.1f} s); max diff {diff:.3g}, top-1 agreement "
            "{agreement:.2%}, accuracy drop {drop:+.2%} on {n} images").format(
        format=report.format, path=report.path, size=report.file_size / 1e6, seconds=report.conversion_seconds,
        diff=v.get("max_abs_diff", float("nan")), agreement=v.get("top1_agreement", 0),
        drop=v.get("accuracy_drop", 0), n=v.get("count", 0)))
    if v.get("runtime"):  # onnx-web: run in headless Chromium, not in Python
        print(_("ran in Chromium with {runtime}: {ms:.2f} ms per image").format(
            runtime=v["runtime"], ms=v.get("browser_ms_per_image", float("nan"))))
    if script is not None:
        print(_("script: {script}  command: {command}").format(script=script.script, command=script.command))
    if not report.ok:
        return fail(_("export verification failed: ") + " ".join(report.warnings))
    return 0
