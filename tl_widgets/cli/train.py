"""``tl-widgets train``: run a config (or the demo) headless with a progress bar."""

from __future__ import annotations

import argparse
import os
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _
from tl_widgets.core.settings import COORDINATOR_ENV, NUM_PROCESSES_ENV, PROCESS_ID_ENV
from tl_widgets.core.tracking.mlflow_tracking import TRACKING_URI_RULE

__all__ = ["register", "config_from_args"]

_ENV = {
    "coordinator": (COORDINATOR_ENV,),
    "num_processes": (NUM_PROCESSES_ENV, "SLURM_NTASKS"),
    "process_id": (PROCESS_ID_ENV, "SLURM_PROCID"),
}


def register(sub: Any) -> None:
    from tl_widgets.core.config.schema import DataConfig, ModelConfig, PhaseConfig, StrategyConfig, TrainConfig

    p = sub.add_parser(
        "train", help=_("train a config (or the embedded demo) headless"),
        description=_("Train with the same engine as the Studio. Writes a run folder with config.json, history CSVs, "
                      "model.keras and summary.json. Exit 0 on success; non-zero with a one-line reason otherwise."),
    )
    p.add_argument("config", nargs="?", help=_("a TrainConfig file (.json/.yaml), e.g. from the Studio or `tl-widgets config --demo`"))
    p.add_argument("--demo", action="store_true", help=_("use the embedded demo config (digits, demo backbone); works offline"))
    # Options that set a config field show the schema's help for it (the one description of a field).
    p.add_argument("--data", help=_help(DataConfig, "path", _("{help} Overrides the config.")))
    p.add_argument("--backbone", help=_help(ModelConfig, "backbone"))
    p.add_argument("--weights", help=_help(ModelConfig, "weights"))
    p.add_argument("--epochs", type=int, help=_help(PhaseConfig, "epochs",
                                                    _("{help} (the first phase; later phases keep theirs)")))
    p.add_argument("--batch-size", type=int, help=_help(DataConfig, "batch_size"))
    p.add_argument("--out", help=_help(TrainConfig, "output_dir", _("{help} (default: the config's output_dir)")))
    p.add_argument("--name", help=_help(TrainConfig, "run_name"))
    env = _("{help} (env {env})")
    p.add_argument("--coordinator", help=_help(StrategyConfig, "coordinator", env, _ENV["coordinator"]))
    p.add_argument("--num-processes", type=int, help=_help(StrategyConfig, "num_processes", env, _ENV["num_processes"]))
    p.add_argument("--process-id", type=int, help=_help(StrategyConfig, "process_id", env, _ENV["process_id"]))
    p.add_argument("--tensorboard", action="store_true", help=_help(
        TrainConfig, "tensorboard", _("{help} View it with `tl-widgets runs tensorboard RUN`.")))
    p.add_argument("--quiet", action="store_true", help=_("no progress bar, only the final line"))
    p.add_argument("--mlflow", nargs="?", const="", default=None, metavar="URI",
                   help=_("send the finished run to MLflow (optional tracking URI; {rule}); needs the mlflow extra")
                   .format(rule=_(TRACKING_URI_RULE)))
    p.set_defaults(func=_run)


def _help(cls: type, name: str, template: str = "{help}", env: tuple[str, ...] = ()) -> str:
    """An option's help from the schema's help of the field it sets (``%`` escaped for argparse)."""
    from tl_widgets.core.config.checks import field_help

    text = template.format(help=field_help(cls, name), env=_(" or ").join(env))
    return text.replace("%", "%%")


def _env_int(names: tuple[str, ...]) -> int | None:
    for name in names:
        if os.environ.get(name):
            value = os.environ[name]
            if not value.isdigit():
                raise ValueError(f"Expected an integer in ${name}. Received: {value!r}")
            return int(value)
    return None


def config_from_args(args: argparse.Namespace) -> Any:
    """The TrainConfig that ``args`` describe (file or demo, plus overrides)."""
    from tl_widgets.core.config.schema import ConfigError, TrainConfig, demo_config

    if args.config and args.demo:
        raise ConfigError("", "Expected either a CONFIG file or --demo. Received: both")
    if not args.config and not args.demo:
        raise ConfigError("", "Expected a CONFIG file or --demo. Received: neither")
    cfg = TrainConfig.load(args.config) if args.config else demo_config()
    d = cfg.to_dict()
    if args.data:
        d["data"]["source"] = "zip" if args.data.lower().endswith(".zip") else "folder"
        d["data"]["path"] = args.data
    if args.backbone:
        d["model"]["backbone"] = args.backbone
        if args.demo and not args.weights:
            d["model"]["weights"] = "pretrained"
    if args.weights:
        d["model"]["weights"] = args.weights
    if args.epochs is not None:
        d["phases"][0]["epochs"] = args.epochs
    if args.batch_size is not None:
        d["data"]["batch_size"] = args.batch_size
    if args.out:
        d["output_dir"] = args.out
    if args.name:
        d["run_name"] = args.name
    if getattr(args, "tensorboard", False):
        d["tensorboard"] = True
    s = d["strategy"]
    coordinator = args.coordinator or os.environ.get(COORDINATOR_ENV)
    nproc = args.num_processes if args.num_processes is not None else _env_int(_ENV["num_processes"])
    pid = args.process_id if args.process_id is not None else _env_int(_ENV["process_id"])
    if coordinator:
        s["coordinator"] = coordinator
    if nproc is not None:
        s["num_processes"] = nproc
    if pid is not None:
        s["process_id"] = pid
    if s["num_processes"] > 1 and s["kind"] == "auto":
        s["kind"] = "data_parallel"
    return TrainConfig.from_dict(d)


def _run(args: argparse.Namespace) -> int:
    from tl_widgets.cli.progress import follow
    from tl_widgets.core.training.session import TrainingSession

    try:
        cfg = config_from_args(args)
        session = TrainingSession(cfg, source="cli", record=cfg.strategy.process_id == 0)
        sub = session.bus.listen()
        session.start()
    except USER_ERRORS as exc:
        return fail(str(exc))
    try:
        follow(sub, quiet=args.quiet)
    except KeyboardInterrupt:
        session.stop()
        session.wait()
        print(_("tl-widgets: stopped; the model and history were kept in {folder}").format(folder=session.run_dir))
        return 130
    result = session.wait()
    assert result is not None
    if result.status == "failed":
        return fail(result.error or _("training failed"))
    val = result.metrics.get("val_accuracy")
    tail = f" val_accuracy={val:.4f}" if val is not None else ""
    print(f"{result.status}: {result.run_dir}{tail}")
    if args.mlflow is not None and result.run_dir is not None:
        from tl_widgets.core.tracking.mlflow_tracking import log_run_folder, resolve_tracking_uri

        try:
            mid, _url = log_run_folder(result.run_dir, tracking_uri=resolve_tracking_uri(args.mlflow))
        except USER_ERRORS as exc:
            return fail(f"the run finished but was not sent to MLflow: {exc}")
        print(f"sent to MLflow as run {mid}")
    return 0
