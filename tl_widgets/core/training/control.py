"""The narrow interface between a :class:`TrainingSession` and its worker.

What the worker may use of the session that started it is
:class:`RunControl`: the bus to report on, the stop flag to honour, the resume
point and the data passed from code to read, and the history to read. It
never sees the session itself (no import cycle, no writes into it). What the
worker hands back is a :class:`RunResult`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tl_widgets.core.events import EventBus, Message
from tl_widgets.core.runs.folder import ResumePoint
from tl_widgets.core.training.history import HistoryRecorder

__all__ = ["RunControl", "RunResult"]


@dataclass(frozen=True)
class RunControl:
    """One run's controls, as the worker sees them.

    Attributes:
        run_id: The run's id.
        bus: Where every report goes (events only).
        history: The run's history, filled by the bus; the worker reads it.
        stop: Set by the session when the user asks to stop.
        resume: Where an interrupted run continues from, or None.
        code_data: Data passed from code for ``data.source="code"``, or None.
    """

    run_id: str
    bus: EventBus
    history: HistoryRecorder
    stop: threading.Event = field(default_factory=threading.Event)
    resume: ResumePoint | None = None
    code_data: Any = None

    @property
    def stop_requested(self) -> bool:
        """True once a stop was asked for."""
        return self.stop.is_set()

    def message(self, level: str, text: str) -> None:
        """Publishes a notice for the run (``level``: ``"info"`` or ``"warning"``)."""
        self.bus.publish(Message(self.run_id, level=level, text=text))


@dataclass
class RunResult:
    """What a finished, stopped or failed run leaves.

    Attributes:
        run_id: The run's id.
        status: ``"finished"``, ``"stopped"`` or ``"failed"``.
        metrics: The last epoch's metrics (training and ``val_``).
        history: ``{"batch": {...}, "epoch": {...}}`` lists per metric.
        run_dir: The run folder (None when nothing was written).
        model: The trained Keras model (also after a stop).
        class_names: Class names in label order.
        duration: Seconds from start to end.
        error: One-line reason when failed.
        summary: The dict written to ``summary.json``.
    """

    run_id: str
    status: str
    metrics: dict[str, float]
    history: dict[str, dict[str, list[Any]]]
    run_dir: Path | None
    model: Any = None
    class_names: list[str] = field(default_factory=list)
    duration: float = 0.0
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
