"""``tl-widgets runs export-mlflow RUN ...``: send recorded runs to MLflow.

Only parses arguments and calls :mod:`tl_widgets.core.tracking.mlflow_tracking`;
registered by :mod:`tl_widgets.cli.runs` under the ``runs`` command.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _
from tl_widgets.core.tracking.mlflow_tracking import TRACKING_URI_RULE

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds ``export-mlflow`` to the ``runs`` sub-commands."""
    p = sub.add_parser(
        "export-mlflow", help=_("send runs to MLflow (params, per-epoch metrics, summary, model, reports)"),
        description=_("Sends each run to an MLflow tracking store: the config as params, every epoch's metrics, "
                      "the summary, model.keras and the evaluation/export reports as artifacts. A run MLflow "
                      "already has is skipped unless --force. Needs the mlflow extra."),
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help=_("run ids (see `tl-widgets runs list`) or run folders"))
    p.add_argument("--tracking-uri", default=None,
                   help=_("MLflow tracking URI, e.g. http://mlflow-server:5000 ({rule})").format(
                       rule=_(TRACKING_URI_RULE)))
    p.add_argument("--experiment", default="tl_widgets", help=_("MLflow experiment name (default tl_widgets)"))
    p.add_argument("--force", action="store_true", help=_("send runs MLflow already has again"))
    p.add_argument("--home", default=None, help=_("run-store folder (default: $TL_WIDGETS_HOME or ~/.tl_widgets)"))
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from tl_widgets.core.runs.store import RunNotFoundError, RunStore
    from tl_widgets.core.tracking.mlflow_tracking import log_run_folder, resolve_tracking_uri

    uri = resolve_tracking_uri(args.tracking_uri)
    store = RunStore(args.home)
    for ref in args.runs:
        try:
            if Path(ref).is_dir():
                run_dir, record = Path(ref), None
            else:
                record = store.get_run(ref)
                if not record.get("run_dir"):
                    return fail(f"Expected a run with a run folder. Received: {ref!r} (none recorded)")
                run_dir = Path(record["run_dir"])
            mlflow_id, created = log_run_folder(run_dir, tracking_uri=uri, experiment=args.experiment,
                                                run_record=record, force=args.force)
        except (RunNotFoundError, *USER_ERRORS) as exc:
            return fail(str(exc))
        print(f"{ref}: {'sent as' if created else 'already in MLflow as'} run {mlflow_id}", flush=True)
    return 0
