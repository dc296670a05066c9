"""``tl-widgets runs list|show|delete``: the run store from a terminal (``runs tensorboard``: its own module).

This module only parses arguments and formats output; everything else is
:class:`tl_widgets.core.runs.store.RunStore`. The main CLI calls :func:`register`
with its sub-parsers; each sub-command's parser gets ``func(args) -> int``
(the exit status).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import Any

from tl_widgets.core.i18n import _
from tl_widgets.core.runs.store import STATUSES, RunActiveError, RunNotFoundError, RunStore, json_safe

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Adds the ``runs`` command and its ``list``, ``show`` and ``delete`` sub-commands.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The ``runs`` parser.
    """
    runs = subparsers.add_parser("runs", help=_("list, show and delete recorded training runs"),
                                 description=_("Training runs recorded in $TL_WIDGETS_HOME (default ~/.tl_widgets)."))
    runs.set_defaults(func=lambda args: _usage(runs))
    sub = runs.add_subparsers(dest="runs_command", metavar="{list,show,delete,tensorboard,export-mlflow}")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--home", default=None, help=_("run-store folder (default: $TL_WIDGETS_HOME or ~/.tl_widgets)"))
        p.add_argument("--json", action="store_true", help=_("print JSON instead of text"))

    p_list = sub.add_parser("list", help=_("list runs, newest first"))
    p_list.add_argument("--status", choices=STATUSES, default=None, help=_("only runs with this status"))
    p_list.add_argument("--limit", type=positive_int, default=50, help=_("at most this many runs (default 50)"))
    common(p_list)
    p_list.set_defaults(func=_list)

    p_show = sub.add_parser("show", help=_("show one run: config, progress and metrics"))
    p_show.add_argument("run_id", help=_("the run id (see `tl-widgets runs list`)"))
    common(p_show)
    p_show.set_defaults(func=_show)

    p_del = sub.add_parser("delete", help=_("delete a finished run from the store"))
    p_del.add_argument("run_id", help=_("the run id"))
    p_del.add_argument("--files", action="store_true", help=_("also delete the run's folder (model, history)"))
    common(p_del)
    p_del.set_defaults(func=_delete)
    from tl_widgets.cli import runs_mlflow, runs_tensorboard

    runs_tensorboard.register(sub)
    runs_mlflow.register(sub)
    return runs


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (used by every sub-command that takes a count)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, received {text!r}")
    return value


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _list(args: argparse.Namespace) -> int:
    runs = RunStore(args.home).list_runs(status=args.status, limit=args.limit)
    if args.json:
        print(json.dumps(json_safe(runs), indent=2))
        return 0
    if not runs:
        print(_("No runs recorded with status {status}.").format(status=repr(args.status)) if args.status
              else _("No runs recorded."))
        return 0
    rows = [("RUN ID", "STATUS", "PROGRESS", "BEST", "SOURCE", "STARTED")]
    for r in runs:
        rows.append((r["run_id"], r["status"], _progress(r), _best(r), r["source"], _when(r["start_time"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        run = RunStore(args.home).get_run(args.run_id)
    except RunNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(json_safe(run), indent=2))
        return 0
    fields = [
        ("run", f"{run['run_id']} ({run['name']})"),
        ("status", run["status"]),
        ("source", f"{run['source']} on {run['host']}, pid {run['pid']}"),
        ("started", _when(run["start_time"])),
        ("ended", _when(run["end_time"])),
        ("progress", _progress(run)),
        ("best", _best(run)),
        ("folder", run["run_dir"] or "-"),
    ]
    if run["error"]:
        fields.append(("error", run["error"]))
    for key, value in fields:
        print(f"{key:>9}: {value}")
    if run["final_metrics"]:
        print("  metrics: " + ", ".join(f"{k}={_num(v)}" for k, v in sorted(run["final_metrics"].items())))
    if run["epochs"]:
        names = sorted({k for e in run["epochs"] for k in e["metrics"]})
        print("\nepoch  " + "  ".join(f"{n:>12}" for n in names))
        for e in run["epochs"]:
            print(f"{e['epoch'] + 1:>5}  " + "  ".join(f"{_num(e['metrics'].get(n)):>12}" for n in names))
    for a in run["artifacts"]:
        print(f" artifact: {a['kind']}: {a['path']}")
    print(f"\n{len(run['batches'])} batch points recorded; config: {json.dumps(run['config'], sort_keys=True)}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    try:
        RunStore(args.home).delete_run(args.run_id, delete_files=args.files)
    except (RunNotFoundError, RunActiveError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"deleted": args.run_id}))
    else:
        print((_("Deleted run {run_id} and its folder.") if args.files else _("Deleted run {run_id}.")).format(
            run_id=args.run_id))
    return 0


def _progress(run: dict[str, Any]) -> str:
    total = run["total_epochs"] or 0
    return f"{run['epoch']}/{total} epochs ({run['progress']:.0%})" if total else "-"


def _best(run: dict[str, Any]) -> str:
    if run["best_metric"] is None:
        return "-"
    return f"{run['best_metric_name']}={_num(run['best_metric'])}"


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
