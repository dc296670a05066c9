"""Building the Studio's engine-dependent parts, after the first screen is drawn.

Importing TensorFlow takes seconds; the Studio's Data step needs none of it.
When the Studio is built inside a running asyncio loop (a Jupyter or Voilà
kernel: ipykernel's loop keeps running after the cell ends) and Keras is not
imported yet, :func:`load_engine` imports it in a background thread, warms the
caches the engine-dependent panels read (the backbone's block list), and then
calls back on the loop's thread (the kernel's main thread, where widgets are
made). Anywhere else (plain Python, pytest, Keras already loaded) the Studio
builds everything at once.

:func:`build_model_parts` and :func:`build_extra_parts` make the panels and
return them; the Studio assigns and wires them (they never receive the Studio).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import ipywidgets as widgets

from tl_widgets.core.config.schema import TrainConfig
from tl_widgets.core.i18n import _
from tl_widgets.core.settings import default_home

__all__ = ["engine_loaded", "running_loop", "load_engine", "retry_when_busy", "BUSY_TRIES", "StepLoader", "ModelParts", "build_model_parts", "ExtraParts",
           "build_extra_parts"]


def engine_loaded() -> bool:
    """True when Keras is already imported in this process (nothing left to wait for)."""
    return "keras" in sys.modules


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running in this thread (a kernel's), else None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


BUSY_TRIES = 4
"""How many times the Studio asks a busy room's engine for its first answer (each waits for a quick worker)."""


def retry_when_busy(ask: Callable[[], Any], tries: int = BUSY_TRIES) -> Any:
    """``ask()``, asked again while the room's engine answers that no worker was free in time (a whole room
    arriving at once queues its first questions on the quick lane); any other error, or the last one, is raised."""
    from tl_widgets.core.engine.base import EngineBusyError

    for attempt in range(1, tries + 1):
        try:
            return ask()
        except EngineBusyError:
            if attempt == tries:
                raise
    raise ValueError(f"Expected tries >= 1. Received: tries={tries}")


def load_engine(loop: asyncio.AbstractEventLoop, warm: Callable[[], None],
                done: Callable[[BaseException | None], None]) -> asyncio.Future[None]:
    """Runs ``warm`` (which loads the engine) in a thread started once ``loop`` next runs; ``done`` runs on ``loop``.

    The thread starts from the loop, not here: the kernel first finishes the
    cell that built the Studio, so the first screen is sent before TensorFlow
    competes with it for the interpreter.

    Args:
        loop: The running loop to call back on (the kernel's).
        warm: Work for the thread (e.g. import Keras and build a backbone's block
            list into its cache); must not touch widgets.
        done: Called on ``loop``'s thread with None, or the exception that
            stopped ``warm``.

    Returns:
        A future on ``loop`` that completes after ``done`` has run (its result
        is None; a failure is passed to ``done``, not raised here).
    """
    finished: asyncio.Future[None] = loop.create_future()

    def complete() -> None:
        if not finished.done():
            finished.set_result(None)

    def finish(error: BaseException | None) -> None:
        try:
            done(error)
        finally:
            loop.call_soon(complete)  # after whatever ``done`` scheduled on the loop

    def work() -> None:
        error: BaseException | None = None
        try:
            warm()
        except BaseException as exc:  # reported on the loop: a thread has nobody else to tell
            error = exc
        loop.call_soon_threadsafe(finish, error)

    loop.call_soon(lambda: threading.Thread(target=work, name="tlw-engine-load", daemon=True).start())
    return finished


class StepLoader:
    """Builds a Studio's engine-dependent steps at once, or in two turns once the engine has loaded.

    Args:
        background: Load in a background thread (True), build at once (False), or (None) in the background
            only when an asyncio loop runs here (a kernel) and Keras is not imported yet.

    Raises:
        RuntimeError: ``background=True`` without a running asyncio loop in this thread.
    """

    def __init__(self, background: bool | None) -> None:
        self._loop = running_loop()
        if background is None:
            background = self._loop is not None and not engine_loaded()
        if background and self._loop is None:
            raise RuntimeError("Expected a running asyncio loop for background=True. Received: none in this thread")
        self.background = bool(background)
        self.loading = self.background
        self.error: BaseException | None = None
        self.ready_future: asyncio.Future[None] | None = None

    def start(self, *, warm: Callable[[], None], build_first: Callable[[], None], build_rest: Callable[[], None],
              run_bar: Any, notice: Any, changed: Callable[[], None]) -> None:
        """Builds now (``build_first`` then ``build_rest``), or: ``warm`` in a thread, then ``build_first`` on the
        loop and Start enabled, then ``build_rest`` on the loop's next turn (so Start reaches the page first).

        A failure of ``warm`` or ``build_first`` is shown in ``notice`` and leaves Start off with the reason;
        ``changed`` is called once the steps are built, or are loading, and again when loading ends.
        """
        if not self.background:
            build_first()
            build_rest()
            changed()
            return

        def rest() -> None:
            try:
                build_rest()
            except Exception as exc:  # shown on the page: nobody else would see it
                notice.show(_("Cannot build the Runs and Try-it panels: {reason}").format(reason=exc))

        def done(error: BaseException | None) -> None:
            if error is None:
                try:
                    build_first()
                except Exception as exc:  # shown on the page: nobody else would see it
                    error = exc
            self.loading = False
            if error is not None:
                self.error = error
                run_bar.set_loading(True, _("TensorFlow did not load"))
                notice.show(_("Cannot load the training engine: {reason}").format(reason=error))
            else:
                run_bar.set_loading(False)  # sent to the page before the panels below are built
                asyncio.get_running_loop().call_soon(rest)
            changed()

        run_bar.set_loading(True)
        assert self._loop is not None
        self.ready_future = load_engine(self._loop, warm, done)
        changed()


@dataclass
class ModelParts:
    """The Model step's panels (see :func:`build_model_parts`)."""

    backbone: Any
    freeze: Any
    strategy: Any
    job: Any
    page: tuple[widgets.Widget, ...]


def build_model_parts(cfg: TrainConfig, *, data_roots: Sequence[str | Path] | None, allowed: Sequence[str] | None,
                      config_source: Callable[[], TrainConfig], engine: Any) -> ModelParts:
    """Makes the Model step (backbone, freeze, strategy, job export) for ``cfg``; on the kernel's thread.

    Args:
        cfg: The starting config.
        data_roots: Where the backbone panel may find weights files.
        allowed: The backbones offered (a workshop's; None: all).
        config_source: The Studio's assembler, for the job export.
        engine: Answers the backbone's facts and the devices.
    """
    from tl_widgets.panels.backbone import BackbonePanel
    from tl_widgets.panels.freeze import FreezePanel
    from tl_widgets.panels.job import JobPanel
    from tl_widgets.panels.strategy import StrategyPanel

    backbone = BackbonePanel(cfg.model, data_roots=data_roots, allowed=allowed)
    freeze = FreezePanel(cfg.model.backbone, cfg.model.input_size, cfg.freeze, engine=engine)
    strategy = StrategyPanel(cfg.strategy, engine=engine)
    job = JobPanel(config_source=config_source)
    page = (backbone, freeze, strategy, widgets.Accordion([job], titles=(_("Export a job"),)))
    return ModelParts(backbone, freeze, strategy, job, page)


@dataclass
class ExtraParts:
    """The parts built after the Model step: the LR finder and sweep (Train step), Runs, Resume, Try it, and taking
    work home (Runs) or bringing it back (Data, one-person Studio)."""

    lr_finder: Any
    lr_finder_box: widgets.Accordion
    sweep: Any
    sweep_box: widgets.Accordion
    runs: Any
    resume: Any
    try_it: Any
    work: Any


def build_extra_parts(*, store: Any, config_source: Callable[[], TrainConfig], train_panel: Any,
                      on_resume: Callable[[str], str | None], on_use_best: Callable[[TrainConfig], None],
                      result_source: Callable[[], Any], sweeps_refused: str | None, engine: Any) -> ExtraParts:
    """Makes the LR finder, the sweep, Runs, Resume and Try it; on the kernel's thread.

    Args:
        store: The run store (None: the default home store).
        config_source: The Studio's assembler.
        train_panel: The Train panel (the LR finder hands it its suggestion).
        on_resume: Resumes an interrupted run folder; returns the run id or None.
        on_use_best: Shows the best trial's config ("Use best").
        result_source: This Studio's last finished run (for Try it).
        sweeps_refused: Why sweeps are off here (a served room), or None.
        engine: Runs the LR finder, evaluations for Runs, and Try it.
    """
    from tl_widgets.panels.lr_finder import LRFinderPanel
    from tl_widgets.panels.resume import ResumePanel
    from tl_widgets.panels.runs import RunsPanel
    from tl_widgets.panels.sweep import SweepPanel
    from tl_widgets.panels.try_it import TryItPanel
    from tl_widgets.panels.work import WorkPanel

    lr_finder = LRFinderPanel(config_source=config_source, train_panel=train_panel, engine=engine)
    lr_box = widgets.Accordion([lr_finder], titles=(_("Learning-rate finder"),))
    runs = RunsPanel(store, engine=engine)
    resume = ResumePanel(on_resume, store=runs.store)
    sweep = SweepPanel(config_source=config_source, on_use_best=on_use_best, store=runs.store,
                       busy=lambda: train_panel.running)
    if sweeps_refused:
        sweep.refusal = sweeps_refused
        sweep.start_button.disabled = True
        sweep.status.value = sweeps_refused
    sweep_box = widgets.Accordion([sweep], titles=(_("Hyperparameter sweep (Optuna)"),))
    sweep_box.add_class("tlw-sweep-box")
    try_it = TryItPanel(store=runs.store, result_source=result_source, engine=engine)
    work = WorkPanel(default_home(), store=runs.store, on_opened=runs.refresh)
    return ExtraParts(lr_finder, lr_box, sweep, sweep_box, runs, resume, try_it, work)
