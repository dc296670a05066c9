"""The run folder: config, history, checkpoints, model, summary — all written atomically."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tl_widgets.core.config.schema import TrainConfig
from tl_widgets.core.fileio import atomic_save, atomic_write_json, atomic_write_text

__all__ = ["RunFolder", "history_csv"]


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


@dataclass
class RunFolder:
    """``<output_dir>/<run_id>/`` and what goes in it."""

    path: Path

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

    def write_config(self, cfg: TrainConfig) -> None:
        cfg.save(self.path / "config.json")

    def checkpoint(self, which: str) -> Path:
        return self.path / "checkpoints" / f"{which}.weights.h5"

    def has_checkpoint(self, which: str) -> bool:
        return self.checkpoint(which).is_file()

    def save_checkpoint(self, model: Any, which: str) -> None:
        atomic_save(self.checkpoint(which), lambda tmp: model.save_weights(str(tmp)))

    def write_epoch_history(self, epochs: dict[str, list[Any]]) -> None:
        atomic_write_text(self.path / "history_epochs.csv", history_csv(epochs))

    def write_outputs(self, model: Any, class_names: list[str], history: dict[str, dict[str, list[Any]]],
                      summary: dict[str, Any]) -> None:
        """Writes model.keras (when given), labels, both histories, then summary.json last."""
        if model is not None:
            atomic_save(self.path / "model.keras", lambda tmp: model.save(str(tmp)))
            summary.setdefault("artifacts", {})["model"] = str(self.path / "model.keras")
        if class_names:
            atomic_write_text(self.path / "labels.txt", "\n".join(class_names) + "\n")
        atomic_write_text(self.path / "history_batches.csv", history_csv(history["batch"]))
        atomic_write_text(self.path / "history_epochs.csv", history_csv(history["epoch"]))
        atomic_write_json(self.path / "summary.json", summary)
