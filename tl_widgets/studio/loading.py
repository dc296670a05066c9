"""Loading the training engine (Keras and its backend) after the Studio's first screen is drawn.

Importing TensorFlow takes seconds; the Studio's Data step needs none of it.
When the Studio is built inside a running asyncio loop (a Jupyter or Voilà
kernel: ipykernel's loop keeps running after the cell ends) and Keras is not
imported yet, :func:`load_engine` imports it in a background thread, warms the
caches the engine-dependent panels read (the backbone's block list), and then
calls back on the loop's thread (the kernel's main thread, where widgets are
made). Anywhere else (plain Python, pytest, Keras already loaded) the Studio
builds everything at once, as before.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any, Callable

import ipywidgets as widgets

from tl_widgets.core.i18n import _

__all__ = ["engine_loaded", "running_loop", "load_engine", "build_engine_steps", "build_model_step",
           "build_extras", "engine_steps_loaded"]


def engine_loaded() -> bool:
    """True when Keras is already imported in this process (nothing left to wait for)."""
    return "keras" in sys.modules


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running in this thread (a kernel's), else None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def load_engine(loop: asyncio.AbstractEventLoop, warm: Callable[[], None],
                done: Callable[[BaseException | None], None]) -> asyncio.Future[None]:
    """Imports Keras (then runs ``warm``) in a thread started once ``loop`` next runs; ``done`` runs on ``loop``.

    The thread starts from the loop, not here: the kernel first finishes the
    cell that built the Studio, so the first screen is sent before TensorFlow
    competes with it for the interpreter.

    Args:
        loop: The running loop to call back on (the kernel's).
        warm: Work for the thread after the import (e.g. build a backbone's
            block list into its cache); must not touch widgets.
        done: Called on ``loop``'s thread with None, or the exception that
            stopped the import or ``warm``.

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
            import keras  # noqa: F401  (the backend comes with it)

            warm()
        except BaseException as exc:  # reported on the loop: a thread has nobody else to tell
            error = exc
        loop.call_soon_threadsafe(finish, error)

    loop.call_soon(lambda: threading.Thread(target=work, name="tlw-engine-load", daemon=True).start())
    return finished


def engine_steps_loaded(studio: Any, error: BaseException | None) -> None:
    """On the kernel's thread once Keras has loaded (or failed to): builds the engine's steps and enables Start."""
    if error is None:
        try:
            build_model_step(studio)
        except Exception as exc:  # shown on the page: nobody else would see it
            error = exc
    studio.loading = False
    if error is not None:
        studio.engine_error = error
        studio.run_bar.set_loading(True, _("TensorFlow did not load"))
        studio.notice.show(_("Cannot load the training engine: {reason}").format(reason=error))
    else:
        studio.run_bar.set_loading(False)  # sent to the page before the panels below are built
        asyncio.get_running_loop().call_soon(_build_extras_shown, studio)
    studio._show_missing()


def _build_extras_shown(studio: Any) -> None:
    try:
        build_extras(studio)
    except Exception as exc:  # shown on the page: nobody else would see it
        studio.notice.show(_("Cannot build the Runs and Try-it panels: {reason}").format(reason=exc))


def build_engine_steps(studio: Any) -> None:
    """Builds everything that waited for the engine, at once: :func:`build_model_step`, then :func:`build_extras`."""
    build_model_step(studio)
    build_extras(studio)


def build_model_step(studio: Any) -> None:
    """Builds a Studio's Model step (backbone, freeze, strategy, job export) and what Start needs (the room's
    queue); on the kernel's thread. After it, ``studio.config`` works and Start may be enabled."""
    from tl_widgets.panels.backbone import BackbonePanel
    from tl_widgets.panels.freeze import FreezePanel
    from tl_widgets.panels.job import JobPanel
    from tl_widgets.panels.strategy import StrategyPanel

    cfg, ws = studio._base, studio.workshop
    studio.backbone = BackbonePanel(cfg.model, data_roots=studio._roots, allowed=ws.allowed_backbones if ws else None)
    studio.freeze = FreezePanel(cfg.model.backbone, cfg.model.input_size, cfg.freeze)
    studio.strategy = StrategyPanel(cfg.strategy)
    studio.train.n_blocks = len(studio.freeze.blocks)
    studio.job = JobPanel(config_source=lambda: studio.config)
    studio.model_tab.children = (studio.backbone, studio.freeze, studio.strategy,
                                 widgets.Accordion([studio.job], titles=(_("Export a job"),)))
    studio.backbone.observe(studio._on_backbone, names=["backbone", "input_size"])
    studio.data.batch_size.observe(
        lambda c: setattr(studio.strategy, "batch_size", int(studio.data.batch_size.value)), names="value")
    studio.strategy.batch_size = int(studio.data.batch_size.value)
    if studio._lowered:
        studio.notice.show(_("Lowered to the workshop's limits: {changes}.").format(
            changes="; ".join(studio._lowered)), "info")
    if studio.seat is not None:  # a served room: the fair training queue and the instructor's controls
        from tl_widgets.studio.room import connect_room

        studio.room_watcher = connect_room(studio)


def build_extras(studio: Any) -> None:
    """Builds the Train step's learning-rate finder and sweep, Runs, Resume and Try it; on the kernel's thread."""
    from tl_widgets.panels.lr_finder import LRFinderPanel
    from tl_widgets.panels.resume import ResumePanel
    from tl_widgets.panels.runs import RunsPanel
    from tl_widgets.panels.try_it import TryItPanel
    from tl_widgets.studio.results import last_result
    from tl_widgets.studio.sweep import attach_sweep

    studio.lr_finder = LRFinderPanel(config_source=lambda: studio.config, train_panel=studio.train)
    studio.lr_finder_box = widgets.Accordion([studio.lr_finder], titles=(_("Learning-rate finder"),))
    studio.train_tab.children = (studio.train, studio.lr_finder_box)
    studio.runs = RunsPanel(studio._store)
    studio.runs_tab.children = (studio.runs,)
    studio.resume = ResumePanel(studio._resume, store=studio.runs.store)
    studio.resume_slot.children = (studio.resume,)
    studio.sweep = attach_sweep(studio)  # the Train step's "Hyperparameter sweep"; "Use best" restores the panels
    studio.try_it = TryItPanel(store=studio.runs.store, result_source=lambda: last_result(studio))
    studio.results.try_box.children = (studio.try_it,)
    if studio.tab in ("runs", "evaluate", "try"):
        studio._on_tab({"new": studio.tab})
