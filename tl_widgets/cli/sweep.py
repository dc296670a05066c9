"""``tl-widgets sweep SWEEP.yaml``: a hyperparameter sweep on Optuna, headless.

It parses arguments and calls :mod:`tl_widgets.core.sweeps`. Every trial is a
normal run (see ``tl-widgets runs list``); the study lives in a database that
other processes and hosts can share (``--storage``).
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.cli.runs import positive_int
from tl_widgets.core.i18n import _
from tl_widgets.core.tracking.mlflow_tracking import TRACKING_URI_RULE

__all__ = ["register", "print_trial", "trial_done"]


def register(sub: Any) -> None:
    """Adds the ``sweep`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    p = sub.add_parser(
        "sweep", help=_("search hyperparameters with Optuna (each trial is a normal run)"),
        description=_("Run the trials of a sweep file (a TrainConfig plus a search space over its fields). "
                      "The study is stored in $TL_WIDGETS_HOME/sweeps.sqlite unless --storage names another "
                      "database; processes and hosts that use the same storage share the study's trials."),
    )
    p.add_argument("sweep", help=_("a sweep file (.yaml/.json): config, space, metric, trials, pruner"))
    p.add_argument("--trials", type=positive_int, help=_("the study's trial budget, all workers together "
                                                            "(default: the file's)"))
    p.add_argument("--storage", help=_("an Optuna database URL, e.g. sqlite:///sweeps.sqlite or "
                                       "postgresql://user@host/db (default: the home SQLite file)"))
    p.add_argument("--workers", type=positive_int, default=1, help=_("worker processes on this machine (default 1)"))
    p.add_argument("--name", help=_("the study name (sweep id; default: the file's)"))
    p.add_argument("--mlflow", nargs="?", const="", default=None, metavar="URI",
                   help=_("also send each trial to MLflow (optional tracking URI; {rule}); needs the mlflow extra")
                   .format(rule=_(TRACKING_URI_RULE)))
    p.set_defaults(func=_run)


def print_trial(outcome: Any) -> None:
    """Prints one line per finished trial (module level: worker processes call it too)."""
    value = "-" if outcome.value is None else f"{outcome.value:.4f}"
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in outcome.params.items())
    extra = f"  ({outcome.error})" if outcome.error else ""
    cache = "  [features cached]" if outcome.feature_cache_hit else ""
    print(f"trial {outcome.number:>3}  {outcome.state:<8}  {value}  {outcome.epochs} epochs  {params}"
          f"{cache}{extra}", flush=True)


def trial_done(mlflow_uri: str | None, outcome: Any) -> None:
    """Prints the trial's line and, with ``--mlflow``, sends its run to MLflow (module level: picklable)."""
    print_trial(outcome)
    if mlflow_uri is None or outcome.run_dir is None:
        return
    from tl_widgets.core.tracking.mlflow_tracking import log_run_folder, resolve_tracking_uri

    record = {"sweep_id": outcome.sweep_id, "trial": outcome.number}
    try:
        mid, _url = log_run_folder(outcome.run_dir, run_record=record, tracking_uri=resolve_tracking_uri(mlflow_uri))
    except Exception as exc:  # the sweep goes on; the trial's run can be sent later with `runs export-mlflow`
        print(f"tl-widgets: warning: trial {outcome.number} not sent to MLflow: {type(exc).__name__}: {exc}",
              file=sys.stderr, flush=True)
        return
    print(f"          sent to MLflow as run {mid}", flush=True)


def _run(args: argparse.Namespace) -> int:
    from tl_widgets.core.sweeps.runner import SweepRunner, trial_rows
    from tl_widgets.core.sweeps.spec import SweepSpec
    from tl_widgets.core.sweeps.study import open_study
    from tl_widgets.core.sweeps.workers import run_workers

    try:
        spec = SweepSpec.load(args.sweep)
        if args.name:
            spec.name = args.name
            spec.check()
        if args.trials:
            spec.trials = args.trials
        on_trial = functools.partial(trial_done, args.mlflow)
        if args.mlflow is not None:
            from tl_widgets.core.tracking.mlflow_tracking import prepare_store, resolve_tracking_uri

            prepare_store(resolve_tracking_uri(args.mlflow))
        print(_("sweep {name}: {n} trials, maximising {metric}, pruner {pruner}").format(
            name=spec.study_name, n=spec.trials, metric=spec.metric, pruner=spec.pruner), flush=True)
        if args.workers > 1:
            codes = run_workers(spec, args.workers, storage=args.storage, on_trial=on_trial)
            if any(codes):
                return fail(_("a sweep worker failed (exit codes {codes})").format(codes=codes))
        else:
            SweepRunner(spec, storage=args.storage, source="cli", on_trial=on_trial).run()
        study = open_study(spec, args.storage)
    except USER_ERRORS as exc:
        return fail(str(exc))
    rows = trial_rows(study)
    complete = [r for r in rows if r["state"] == "complete"]
    states = ", ".join(f"{n} {s}" for s, n in sorted(_count(r["state"] for r in rows).items()))
    print(_("{n} trials ({states})").format(n=len(rows), states=states))
    if complete:
        best = max(complete, key=lambda r: r["value"])
        print(_("best: trial {number} {metric}={value:.4f} run {run_id}").format(
            number=best["number"], metric=spec.metric, value=best["value"], run_id=best["run_id"]))
        print("  " + ", ".join(f"{k}={v}" for k, v in best["params"].items()))
    return 0


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out
