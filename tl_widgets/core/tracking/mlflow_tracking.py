"""Sending runs to MLflow (the ``mlflow`` extra; off unless asked for).

A run folder becomes one MLflow run: the config as params (flattened field
paths, ``model.backbone``, ``phases.0.learning_rate``...), every epoch's
metrics with the epoch as the step, the summary's final metrics, and the
files ``config.json``, ``summary.json``, ``history_epochs.csv``,
``model.keras``, ``eval_report.json`` and each ``exports/<format>/export_report.json``
as artifacts. The tl_widgets run id, status, backbone and (for sweep
trials) sweep id and trial number are tags, so a run sent twice is found and
not duplicated.

The default tracking URI is a local SQLite database under the home
(``$TL_WIDGETS_HOME/mlflow/mlflow.db``, artifacts beside it): MLflow 3 keeps
its plain-folder file store in maintenance mode and refuses it by default.
Any other URI works: ``http://tracking-server:5000`` for a team's server,
``sqlite:///…``, or ``file:…`` with ``MLFLOW_ALLOW_FILE_STORE=true``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Iterator

from tl_widgets.core.runs.folder import RunFolder
from tl_widgets.core.i18n import N_
from tl_widgets.core.settings import home_path

__all__ = ["DEFAULT_EXPERIMENT", "default_tracking_uri", "resolve_tracking_uri", "TRACKING_URI_RULE", "log_run_folder",
           "prepare_store", "flatten_params", "RUN_ID_TAG", "require_mlflow"]

DEFAULT_EXPERIMENT = "tl_widgets"
RUN_ID_TAG = "tl_widgets.run_id"
_MAX_PARAM_CHARS = 6000  # MLflow's limit on one param value
_BATCH = 900  # MLflow takes at most 1000 metrics per log_batch
#: MLflow's own variable for the tracking URI (not ours: not in core/settings.py).
_MLFLOW_URI_ENV = "MLFLOW_TRACKING_URI"
#: :func:`resolve_tracking_uri`'s rule in words, for help texts (translated where shown).
TRACKING_URI_RULE = N_("default: MLFLOW_TRACKING_URI, else a SQLite store under $TL_WIDGETS_HOME/mlflow")


def require_mlflow() -> Any:
    """Imports MLflow, or raises a clear error naming the extra to install."""
    try:
        import mlflow
    except ImportError:
        raise RuntimeError("Expected MLflow for tracking. Received: it is not installed; "
                           "run `pip install tl_widgets[mlflow]`") from None
    return mlflow


def default_tracking_uri() -> str:
    """``sqlite:///$TL_WIDGETS_HOME/mlflow/mlflow.db`` (the folder is created)."""
    folder = home_path("mlflow")
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'mlflow.db').resolve()}"


def resolve_tracking_uri(given: str | None = None, *, environment: bool = True) -> str:
    """The tracking URI runs go to: ``given``, else ``$MLFLOW_TRACKING_URI``, else :func:`default_tracking_uri`.

    Args:
        given: A URI asked for (``None`` or ``""``: none).
        environment: Read ``$MLFLOW_TRACKING_URI`` (the CLI does; the Python API's ``tracking_uri=None`` means
            the default store).
    """
    return given or (os.environ.get(_MLFLOW_URI_ENV) if environment else None) or default_tracking_uri()


def flatten_params(data: Any, prefix: str = "") -> dict[str, str]:
    """A nested config dict as ``{"model.backbone": "demo_cnn", "phases.0.epochs": "6", ...}`` (strings)."""
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten_params(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        for i, value in enumerate(data):
            out.update(flatten_params(value, f"{prefix}.{i}"))
    else:
        text = json.dumps(data) if isinstance(data, (list, dict)) else str(data)
        out[prefix] = text[:_MAX_PARAM_CHARS]
    return out


def _experiment_id(client: Any, name: str, tracking_uri: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    kwargs = {}
    if tracking_uri.startswith("sqlite:///"):
        db_file = Path(tracking_uri[len("sqlite:///"):])
        kwargs["artifact_location"] = (db_file.parent / "artifacts").resolve().as_uri()
    return client.create_experiment(name, **kwargs)


def prepare_store(tracking_uri: str | None = None, experiment: str = DEFAULT_EXPERIMENT) -> str:
    """Creates the tracking store's tables and the experiment once, before several processes log to it.

    (Two processes that open a new SQLite store at the same moment would both
    run its migrations.) Returns the experiment id.
    """
    require_mlflow()
    from mlflow.tracking import MlflowClient

    uri = resolve_tracking_uri(tracking_uri, environment=False)
    with _store_lock(uri):
        return _experiment_id(MlflowClient(tracking_uri=uri), experiment, uri)


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """For a SQLite store: an exclusive lock on ``<db>.lock`` while its tables are created (other URIs: none)."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    db_file = Path(uri[len("sqlite:///"):])
    db_file.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{db_file}.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def log_run_folder(run_dir: str | Path, *, tracking_uri: str | None = None, experiment: str = DEFAULT_EXPERIMENT,
                   run_record: dict[str, Any] | None = None, force: bool = False) -> tuple[str, bool]:
    """Sends one run folder to MLflow.

    Args:
        run_dir: The run folder (``config.json`` and ``summary.json`` at least).
        tracking_uri: Where to (None: :func:`default_tracking_uri`).
        experiment: The MLflow experiment (created when missing).
        run_record: The run's row from the run store, for its sweep id and
            trial number (optional).
        force: Send it again even when MLflow already has this run.

    Returns:
        ``(mlflow_run_id, created)``; ``created`` is False when the run was
        already there (and ``force`` was not given).

    Raises:
        FileNotFoundError: Not a run folder.
        RuntimeError: MLflow is not installed.
    """
    require_mlflow()
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    folder = RunFolder(Path(run_dir))
    if not folder.config_file.is_file() or not folder.summary_file.is_file():
        raise FileNotFoundError(f"Expected a finished run folder with config.json and summary.json. "
                                f"Received: {str(run_dir)!r}")
    config = json.loads(folder.config_file.read_text(encoding="utf-8"))
    summary = json.loads(folder.summary_file.read_text(encoding="utf-8"))
    run_id = str(summary.get("run_id") or folder.path.name)
    uri = resolve_tracking_uri(tracking_uri, environment=False)
    client = MlflowClient(tracking_uri=uri)
    with _store_lock(uri):
        exp_id = _experiment_id(client, experiment, uri)
    if not force:
        existing = client.search_runs([exp_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}'", max_results=1)
        if existing:
            return existing[0].info.run_id, False
    tags = {RUN_ID_TAG: run_id, "tl_widgets.status": str(summary.get("status")),
            "tl_widgets.backbone": str(summary.get("backbone") or config.get("model", {}).get("backbone"))}
    record = run_record or {}
    if record.get("sweep_id"):
        tags.update({"tl_widgets.sweep_id": str(record["sweep_id"]), "tl_widgets.trial": str(record.get("trial"))})
    run = client.create_run(exp_id, run_name=run_id, tags=tags)
    mid = run.info.run_id
    try:
        params = [Param(k, v) for k, v in flatten_params(config).items()]
        now = int(time.time() * 1000)
        metrics = _epoch_metrics(folder, now, Metric)
        final = summary.get("metrics") or {}
        metrics += [Metric(f"final_{k}", float(v), now, 0) for k, v in final.items() if _finite(v)]
        best = summary.get("best") or {}
        if _finite(best.get("value")):
            metrics.append(Metric(f"best_{best.get('metric', 'metric')}", float(best["value"]), now, 0))
        for i in range(0, max(len(params), len(metrics)), _BATCH):
            client.log_batch(mid, metrics=metrics[i:i + _BATCH], params=params[i:i + _BATCH],
                             tags=[RunTag("tl_widgets.run_dir", str(folder.path))] if i == 0 else [])
        for path in (folder.config_file, folder.summary_file, folder.epoch_history_file, folder.model_file,
                     folder.eval_report_file):
            if path.is_file():
                client.log_artifact(mid, str(path))
        for report in folder.export_reports():
            client.log_artifact(mid, str(report), artifact_path=f"exports/{report.parent.name}")
    except BaseException:
        client.set_terminated(mid, "FAILED")
        raise
    status = {"finished": "FINISHED", "failed": "FAILED", "stopped": "KILLED"}.get(str(summary.get("status")),
                                                                                    "FINISHED")
    client.set_terminated(mid, status)
    return mid, True


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _epoch_metrics(folder: RunFolder, now: int, metric_cls: Any) -> list[Any]:
    hist = folder.read_epoch_history() if folder.epoch_history_file.is_file() else {}
    epochs = hist.get("epoch", [])
    out = []
    for name, column in hist.items():
        if name in ("epoch", "phase"):
            continue
        for epoch, value in zip(epochs, column):
            if _finite(value):
                out.append(metric_cls(name, float(value), now, int(epoch)))
    return out
