"""The run folder: the ONE owner of its layout, and of where an interrupted run can resume.

``<output_dir>/<run_id>/`` holds ``config.json``, ``labels.txt``,
``history_batches.csv``, ``history_epochs.csv``, ``model.keras``,
``summary.json``, ``eval_report.json``, ``health.json`` (the data's health report the run trained with),
``MODEL_CARD.md``
(with ``model_card_confusion.png``), ``exports/<format>/``,
``tensorboard/`` (``train/`` and ``validation/`` event files, when the run
logs to TensorBoard) and ``checkpoints/`` (``last.weights.h5`` with ``last.json`` saying which epoch it
holds, and ``best.weights.h5``). Every file name is written here once:
the session, the checkpointer, evaluation, export and the Resume panel ask
:class:`RunFolder` for paths. Everything is written atomically.

:class:`ResumePoint` reads a folder back: its config, the epochs done and
their history, and the checkpoint to continue from.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tl_widgets.core.config.schema import TrainConfig
from tl_widgets.core.fileio import atomic_save, atomic_write_json, atomic_write_text

__all__ = ["RunFolder", "ResumePoint", "history_csv", "last_checkpoint_epoch", "resumable_runs"]

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
LABELS_FILE = "labels.txt"
SUMMARY_FILE = "summary.json"
BATCH_HISTORY_FILE = "history_batches.csv"
EPOCH_HISTORY_FILE = "history_epochs.csv"
EVAL_REPORT_FILE = "eval_report.json"
EVAL_REPORT_HTML = "eval_report.html"
HEALTH_FILE = "health.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
MODEL_CARD_CONFUSION = "model_card_confusion.png"
EXPORTS_DIR = "exports"
EXPORT_REPORT_FILE = "export_report.json"
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
LAST_CHECKPOINT_META = "last.json"
_INT_COLUMNS = ("epoch", "phase", "global_step")


def history_csv(columns: dict[str, list[Any]]) -> str:
    """CSV text of equal-length columns (shorter columns are padded with blanks)."""
    names = list(columns)
    rows = max((len(v) for v in columns.values()), default=0)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(names)
    for i in range(rows):
        writer.writerow([columns[n][i] if i < len(columns[n]) else "" for n in names])
    return buf.getvalue()


def _parse_cell(name: str, text: str) -> int | float:
    value = float(text)
    return int(value) if name in _INT_COLUMNS and math.isfinite(value) and value.is_integer() else value


@dataclass
class RunFolder:
    """``<output_dir>/<run_id>/`` and what goes in it."""

    path: Path

    def __post_init__(self) -> None:
        # Absolute (not resolved): the store records it, and a relative one would mean the reader's working folder.
        self.path = Path(self.path).absolute()

    @classmethod
    def create(cls, path: Path) -> RunFolder:
        """Creates the folder (raises OutputNotWritableError with the reason)."""
        from tl_widgets.core.fileio import OutputNotWritableError

        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise OutputNotWritableError(f"Expected a new run folder. Received: {str(path)!r} (already exists)") from None
        except OSError as exc:
            raise OutputNotWritableError(
                f"Expected a writable output folder. Received: {str(path.parent)!r} ({exc.strerror or exc})"
            ) from exc
        return cls(path)

    # -- paths ------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def labels_file(self) -> Path:
        return self.path / LABELS_FILE

    @property
    def summary_file(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def epoch_history_file(self) -> Path:
        return self.path / EPOCH_HISTORY_FILE

    @property
    def eval_report_file(self) -> Path:
        return self.path / EVAL_REPORT_FILE

    @property
    def eval_report_html(self) -> Path:
        """The default HTML evaluation report (``tl-widgets evaluate``)."""
        return self.path / EVAL_REPORT_HTML

    @property
    def health_file(self) -> Path:
        """``health.json``: the health report of the data the run trained with (curation applied)."""
        return self.path / HEALTH_FILE

    def write_health(self, report: dict[str, Any]) -> Path:
        """Writes ``health.json`` (a :meth:`~tl_widgets.core.data.health.HealthReport.to_dict`)."""
        return atomic_write_json(self.health_file, report)

    def read_health(self) -> dict[str, Any] | None:
        """The run's health report, or None when none was recorded (or the file is unreadable)."""
        try:
            return json.loads(self.health_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    @property
    def model_card_file(self) -> Path:
        """``MODEL_CARD.md`` (``tl-widgets card``)."""
        return self.path / MODEL_CARD_FILE

    @property
    def model_card_confusion(self) -> Path:
        """The confusion-matrix image the model card shows."""
        return self.path / MODEL_CARD_CONFUSION

    def export_reports(self) -> list[Path]:
        """Every ``exports/<format>/export_report.json`` there is, sorted by format."""
        return sorted((self.path / EXPORTS_DIR).glob(f"*/{EXPORT_REPORT_FILE}"))

    @property
    def tensorboard_dir(self) -> Path:
        """TensorBoard's log folder (``train/`` and ``validation/`` inside)."""
        return self.path / TENSORBOARD_DIR

    def export_dir(self, fmt: str) -> Path:
        """Where an export in format ``fmt`` goes by default."""
        return self.path / EXPORTS_DIR / fmt

    def checkpoint(self, which: str) -> Path:
        """``checkpoints/<which>.weights.h5`` (``which``: ``"last"`` or ``"best"``)."""
        return self.path / CHECKPOINTS_DIR / f"{which}.weights.h5"

    def has_checkpoint(self, which: str) -> bool:
        return self.checkpoint(which).is_file()

    # -- checkpoints ---------------------------------------------------------------
    def save_checkpoint(self, model: Any, which: str) -> None:
        atomic_save(self.checkpoint(which), lambda tmp: model.save_weights(str(tmp)))

    def mark_last_checkpoint(self, epoch: int) -> None:
        """Records which epoch ``checkpoints/last.weights.h5`` holds."""
        atomic_write_text(self.path / CHECKPOINTS_DIR / LAST_CHECKPOINT_META, json.dumps({"epoch": epoch}))

    def last_checkpoint_epoch(self) -> int | None:
        """The epoch ``checkpoints/last.weights.h5`` holds (None when unknown)."""
        meta = self.path / CHECKPOINTS_DIR / LAST_CHECKPOINT_META
        if not meta.is_file():
            return None
        return int(json.loads(meta.read_text(encoding="utf-8"))["epoch"])

    # -- writing -------------------------------------------------------------------
    def write_config(self, cfg: TrainConfig) -> None:
        cfg.save(self.config_file)

    def write_epoch_history(self, epochs: dict[str, list[Any]]) -> None:
        atomic_write_text(self.epoch_history_file, history_csv(epochs))

    def write_outputs(self, model: Any, class_names: list[str], history: dict[str, dict[str, list[Any]]],
                      summary: dict[str, Any]) -> None:
        """Writes model.keras (when given), labels, both histories, then summary.json last."""
        if model is not None:
            atomic_save(self.model_file, lambda tmp: model.save(str(tmp)))
            summary.setdefault("artifacts", {})["model"] = str(self.model_file)
        if class_names:
            atomic_write_text(self.labels_file, "\n".join(class_names) + "\n")
        atomic_write_text(self.path / BATCH_HISTORY_FILE, history_csv(history["batch"]))
        atomic_write_text(self.epoch_history_file, history_csv(history["epoch"]))
        atomic_write_json(self.summary_file, summary)

    # -- reading -------------------------------------------------------------------
    def read_epoch_history(self) -> dict[str, list[Any]]:
        """The columns of ``history_epochs.csv`` (empty when there is none)."""
        hist: dict[str, list[Any]] = {}
        if not self.epoch_history_file.is_file():
            return hist
        with self.epoch_history_file.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for k, v in row.items():
                    if v != "":
                        hist.setdefault(k, []).append(_parse_cell(k, v))
        return hist

    def read_labels(self) -> list[str] | None:
        """Class names from ``labels.txt``, or None when the file is missing."""
        if not self.labels_file.is_file():
            return None
        return [line.strip() for line in self.labels_file.read_text(encoding="utf-8").splitlines() if line.strip()]


def last_checkpoint_epoch(run_dir: Path) -> int | None:
    """The epoch ``checkpoints/last.weights.h5`` of ``run_dir`` holds (None when unknown)."""
    return RunFolder(run_dir).last_checkpoint_epoch()


def resumable_runs(store: Any) -> list[dict[str, Any]]:
    """Interrupted runs of ``store`` whose folder holds an epoch checkpoint, newest first."""
    out = []
    for run in store.list_runs(status="interrupted"):
        run_dir = run.get("run_dir")
        if run_dir and RunFolder(Path(run_dir)).has_checkpoint("last"):
            out.append(run)
    return out


@dataclass
class ResumePoint:
    """Where an interrupted run stopped: its folder, config, finished epochs and their history."""

    run_dir: Path
    run_id: str
    config: TrainConfig
    epochs_done: int
    epoch_history: dict[str, list[Any]]

    @property
    def checkpoint(self) -> Path:
        return RunFolder(self.run_dir).checkpoint("last")

    @classmethod
    def read(cls, run_dir: Path) -> ResumePoint:
        """Reads a run folder (config.json, history_epochs.csv, checkpoints/last.weights.h5).

        Raises:
            FileNotFoundError: The folder has no config or no checkpoint.
            ValueError: Every epoch of the run is done already.
            ConfigError: Its config is invalid.
        """
        folder = RunFolder(Path(run_dir))
        if not folder.config_file.is_file():
            raise FileNotFoundError(f"Expected a run folder with {CONFIG_FILE}. Received: {str(run_dir)!r}")
        ckpt = folder.checkpoint("last")
        if not ckpt.is_file():
            raise FileNotFoundError(
                f"Expected an epoch checkpoint to resume from. Received: {str(run_dir)!r} has no {ckpt.name} "
                "(the run ended before its first epoch)")
        cfg = TrainConfig.load(folder.config_file)
        hist = folder.read_epoch_history()
        done = len(hist.get("epoch", []))
        held = folder.last_checkpoint_epoch()
        if held is not None and held + 1 < done:  # the history ran ahead of the (throttled) checkpoint
            done = held + 1
            hist = {k: v[:done] for k, v in hist.items()}
        if done >= cfg.total_epochs:
            raise ValueError(f"Expected an unfinished run. Received: {str(run_dir)!r} has all {done} epochs done")
        return cls(folder.path, folder.path.name, cfg, done, hist)
