"""A terminal progress display for a training session (rich), fed by the event bus.

It reads events from a :class:`~tl_widgets.core.events.Subscription` in the
main thread while the worker trains, so the worker never prints. The bar's
numbers come from the one progress reducer in core
(:class:`~tl_widgets.core.progress.ProgressTracker`); the lines printed are
chosen by event name.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from tl_widgets.core.events import (
    BatchEnd,
    EpochEnd,
    Event,
    EventHandler,
    Message,
    PhaseStarted,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    Subscription,
)
from tl_widgets.core.i18n import _
from tl_widgets.core.progress import ProgressTracker

__all__ = ["follow"]


def _fmt(metrics: dict[str, float]) -> str:
    keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in metrics]
    return "  ".join(f"{k} {metrics[k]:.4f}" for k in keys)


class _Follower(EventHandler):
    """Moves the bar and prints a line per phase, epoch, notice and end (by event name)."""

    def __init__(self, progress: Progress, console: Console, quiet: bool) -> None:
        self.bar = progress
        self.console = console
        self.quiet = quiet
        self.tracker = ProgressTracker()
        self.task: Any = None
        self.done: Event | None = None

    def __call__(self, event: Event) -> None:
        self.tracker(event)
        super().__call__(event)

    def on_run_started(self, event: RunStarted) -> None:
        self.task = self.bar.add_task("train", total=self.tracker.progress.total_steps, phase="starting", epoch="-",
                                      ips=0.0)
        if not self.quiet:
            self.console.print(_("run {run_id} -> {folder}  classes: {classes}").format(
                run_id=event.run_id, folder=event.run_dir, classes=", ".join(event.class_names)))

    def on_phase_started(self, event: PhaseStarted) -> None:
        if self.task is None:
            return
        self.bar.update(self.task, phase=self.tracker.progress.phase_name)
        if not self.quiet:
            self.console.print(_("phase {n} '{name}': {epochs} epochs, lr {lr:g}, {trainable:,} trainable / "
                                 "{frozen:,} frozen parameters").format(
                n=event.phase + 1, name=event.name, epochs=event.epochs, lr=event.learning_rate,
                trainable=event.trainable_params, frozen=event.frozen_params))

    def on_batch_end(self, event: BatchEnd) -> None:
        if self.task is None:
            return
        p = self.tracker.progress
        self.bar.update(self.task, completed=p.global_step, epoch=p.epoch, ips=p.images_per_sec)

    def on_epoch_end(self, event: EpochEnd) -> None:
        if not self.quiet:
            self.console.print(_("epoch {n}: {metrics}  ({seconds:.1f}s)").format(
                n=event.epoch + 1, metrics=_fmt(event.metrics), seconds=event.duration))

    def on_message(self, event: Message) -> None:
        if not self.quiet or event.level == "warning":
            level = _(event.level)  # "warning", "info": msgids of the catalog
            self.console.print(f"[yellow]{level}:[/] {event.text}")

    def on_run_finished(self, event: RunFinished | RunStopped) -> None:
        if not self.quiet:
            status = _(event.status)  # "finished", "stopped": msgids of the catalog
            self.console.print(f"{status}: {_fmt(event.metrics)}")
        self.done = event

    on_run_stopped = on_run_finished

    def on_run_failed(self, event: RunFailed) -> None:
        self.done = event


def follow(sub: Subscription, console: Console | None = None, quiet: bool = False) -> Any:
    """Shows progress until a terminal event arrives; returns that event."""
    console = console or Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.fields[phase]}"), BarColumn(), MofNCompleteColumn(), TextColumn(_("epoch") + " {task.fields[epoch]}"),
        TextColumn("{task.fields[ips]:.0f} " + _("img/s")), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=quiet, transient=False,
    )
    follower = _Follower(progress, console, quiet)
    with progress:
        while follower.done is None:
            event = sub.get(timeout=0.5)
            if event is not None:
                follower(event)
    return follower.done
