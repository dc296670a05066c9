"""A terminal progress display for a training session (rich), fed by the event bus.

It reads events from a :class:`~tl_widgets.core.events.Subscription` in the
main thread while the worker trains, so the worker never prints.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from tl_widgets.core.events import (
    TERMINAL_EVENTS,
    BatchEnd,
    EpochEnd,
    Message,
    PhaseStarted,
    RunFailed,
    RunStarted,
    Subscription,
)

__all__ = ["follow"]


def _fmt(metrics: dict[str, float]) -> str:
    keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in metrics]
    return "  ".join(f"{k} {metrics[k]:.4f}" for k in keys)


def follow(sub: Subscription, console: Console | None = None, quiet: bool = False) -> Any:
    """Shows progress until a terminal event arrives; returns that event."""
    console = console or Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.fields[phase]}"), BarColumn(), MofNCompleteColumn(), TextColumn("epoch {task.fields[epoch]}"),
        TextColumn("{task.fields[ips]:.0f} img/s"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=quiet, transient=False,
    )
    task = None
    with progress:
        while True:
            event = sub.get(timeout=0.5)
            if event is None:
                continue
            if isinstance(event, RunStarted):
                total = (event.steps_per_epoch or 0) * event.total_epochs or None
                task = progress.add_task("train", total=total, phase="starting", epoch="-", ips=0.0)
                if not quiet:
                    console.print(f"run {event.run_id} -> {event.run_dir}  classes: {', '.join(event.class_names)}")
            elif isinstance(event, PhaseStarted) and task is not None:
                progress.update(task, phase=event.name)
                if not quiet:
                    console.print(f"phase {event.phase + 1} '{event.name}': {event.epochs} epochs, lr {event.learning_rate:g}, "
                                  f"{event.trainable_params:,} trainable / {event.frozen_params:,} frozen parameters")
            elif isinstance(event, BatchEnd) and task is not None:
                progress.update(task, completed=event.global_step, epoch=event.epoch + 1, ips=event.images_per_sec)
            elif isinstance(event, EpochEnd):
                if not quiet:
                    console.print(f"epoch {event.epoch + 1}: {_fmt(event.metrics)}  ({event.duration:.1f}s)")
            elif isinstance(event, Message):
                if not quiet or event.level == "warning":
                    console.print(f"[yellow]{event.level}:[/] {event.text}")
            elif isinstance(event, TERMINAL_EVENTS):
                if isinstance(event, RunFailed):
                    return event
                if not quiet:
                    console.print(f"{event.status}: {_fmt(event.metrics)}")
                return event
