"""`Studio`: every panel composed into one guided app, an editor for a :class:`TrainConfig`.

Steps behind a :class:`~tl_widgets.studio.chrome.StepHeader`, a :class:`~tl_widgets.studio.chrome.RunBar` above
every step; the engine-dependent steps are built once it has loaded (:mod:`tl_widgets.studio.loading`).
``Studio.config`` is the one place a :class:`TrainConfig` is assembled from the panels; ``Studio.set_config`` is
its one inverse (the sweep's "Use best", the instructor's push and resume call it).
"""

from __future__ import annotations

import dataclasses
import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import ipywidgets as widgets

from tl_widgets.core.config.schema import ConfigError, TrainConfig
from tl_widgets.core.engine import Engine, resolve_engine
from tl_widgets.core.i18n import _
from tl_widgets.core.settings import MAX_UPLOAD_ENV, captures_home, default_home, home_path
from tl_widgets.panels.data import DataPanel
from tl_widgets.panels.kit.validation import Notice, PanelError
from tl_widgets.panels.kit.validation import data_roots as resolve_data_roots
from tl_widgets.panels.train import TrainPanel
from tl_widgets.studio.chrome import CodeView, NameBox, RunBar, StepHeader, loading_text, room_header
from tl_widgets.studio.defaults import ALIASES, HELP, STEPS, TABS, default_studio_config
from tl_widgets.studio.limits import check_disk, check_limits, disk_left, fit_to_workshop, upload_limit
from tl_widgets.studio.loading import StepLoader, build_extra_parts, build_model_parts, retry_when_busy
from tl_widgets.studio.results import ResultSteps, last_result, last_run_dir, missing_steps
from tl_widgets.studio.room import connect_room
from tl_widgets.views.widgets.a11y import AccessibilityHelper

if TYPE_CHECKING:
    from tl_widgets.core.room.control import SeatWatcher
    from tl_widgets.core.room.seat import Seat
    from tl_widgets.core.room.workshop import Workshop
    from tl_widgets.panels.backbone import BackbonePanel
    from tl_widgets.panels.capture import CapturePanel
    from tl_widgets.panels.freeze import FreezePanel
    from tl_widgets.panels.health import HealthPanel
    from tl_widgets.panels.job import JobPanel
    from tl_widgets.panels.lr_finder import LRFinderPanel
    from tl_widgets.panels.resume import ResumePanel
    from tl_widgets.panels.runs import RunsPanel
    from tl_widgets.panels.strategy import StrategyPanel
    from tl_widgets.panels.sweep import SweepPanel
    from tl_widgets.panels.try_it import TryItPanel
    from tl_widgets.panels.work import WorkPanel

__all__ = ["Studio", "default_studio_config", "MAX_UPLOAD_ENV", "TABS", "STEPS"]


class Studio(widgets.VBox):
    """The transfer-learning studio: a guided flow from data to a model you can try and export.

    Example::

        from tl_widgets import Studio
        studio = Studio()            # the demo: digits and the bundled demo backbone
        studio                       # shows it; Start (above every step) trains the demo
        studio.config                # the TrainConfig the panels describe
        studio.set_config(cfg)       # shows another config in every panel
        studio.show_tab("model")     # one of TABS: data, model, train, evaluate, try, runs

    Args:
        config: A config to restore into the panels (None: the demo).
        data_roots: Folders the data and weights pickers may list (None:
            ``$TL_WIDGETS_DATA_ROOTS``, ``os.pathsep``-separated); the webcam
            captures folder is always added to the data picker's.
        max_upload_bytes: Largest zip accepted from the browser (None:
            ``$TL_WIDGETS_MAX_UPLOAD_BYTES``, else the workshop's, else 9 MiB).
        store: The run store of the Runs step (None: the default home store).
        workshop: A :class:`~tl_widgets.core.room.workshop.Workshop` whose limits
            the panels enforce (allowed backbones, epochs, batch size, data
            roots); None reads ``$TL_WIDGETS_WORKSHOP`` (set by ``tl-widgets serve --workshop``).
        background: Build the engine-dependent steps after Keras loads in a
            background thread (True), at once (False), or (None) in the
            background only when an asyncio loop runs here (a kernel) and
            Keras is not imported yet.
        engine: Where the Keras work runs: None (a served seat: the room's workers; else this process), an
            :class:`~tl_widgets.core.engine.Engine`, or ``"ray://HOST:PORT"`` (your own workers on a Ray
            cluster: this kernel never imports TensorFlow).

    Raises:
        PanelError: ``config`` names something the panels refuse (a folder
            outside the data roots, an unknown block, ...).
        WorkshopError: ``$TL_WIDGETS_WORKSHOP`` names an invalid workshop file.
    """

    def __init__(self, config: TrainConfig | None = None, data_roots: Sequence[str | os.PathLike[str]] | None = None,
                 max_upload_bytes: int | None = None, store: Any = None, workshop: Workshop | None = None,
                 background: bool | None = None, engine: Any = None) -> None:
        from tl_widgets.core.room.seat import current_seat
        from tl_widgets.core.room.workshop import workshop_from_env
        from tl_widgets.panels.capture import CapturePanel
        from tl_widgets.panels.health import HealthPanel
        if config is not None and not isinstance(config, TrainConfig):
            raise TypeError(f"Expected a TrainConfig or None. Received: {type(config).__name__}")
        # -- the parts, declared: those that wait for the engine are None until it has loaded --------------
        self.loader = StepLoader(background)  # raises without a running loop for background=True
        self.seat: Seat | None = current_seat()  # served: this kernel's private home (runs, uploads, temp)
        self.engine: Engine = resolve_engine(engine, self.seat)  # a served seat's: the room's warm workers
        self.workshop: Workshop | None = workshop if workshop is not None else workshop_from_env()
        ws = self.workshop
        self._base: TrainConfig = config.copy() if config is not None else default_studio_config()
        self._lowered: list[str] = fit_to_workshop(self._base, ws) if ws is not None else []
        if ws is not None:
            from tl_widgets.core.data.images import limit_pixels

            limit_pixels(ws.max_pixels)
            data_roots = ws.data_roots if data_roots is None else data_roots
        self._roots: Sequence[str | os.PathLike[str]] | None = data_roots
        self._store: Any = store
        self.captures: Path = captures_home()
        self.captures.mkdir(parents=True, exist_ok=True)
        self.notice: Notice = Notice()
        self.backbone: BackbonePanel | None = None
        self.freeze: FreezePanel | None = None
        self.strategy: StrategyPanel | None = None
        self.job: JobPanel | None = None
        self.lr_finder: LRFinderPanel | None = None
        self.lr_finder_box: widgets.Accordion | None = None
        self.sweep: SweepPanel | None = None
        self.runs: RunsPanel | None = None
        self.resume: ResumePanel | None = None
        self.try_it: TryItPanel | None = None
        self.work: WorkPanel | None = None  # "Download my work" (Runs), "Open work" (Data, one person)
        self.room_watcher: SeatWatcher | None = None
        # -- first paint: the Data step, the run bar and the Train panel (none of them imports Keras) --------
        cfg = self._base
        self.data: DataPanel = DataPanel(
            cfg.data, data_roots=[*resolve_data_roots(data_roots), self.captures],
            max_upload_bytes=upload_limit(max_upload_bytes, ws), max_batch_size=ws.max_batch_size if ws else None,
            max_extract_bytes=ws.max_extract_bytes if ws else None, max_files=ws.max_files if ws else None,
            space_check=self._check_disk, engine=self.engine,
            uploads_dir=home_path("uploads", self.seat.home) if self.seat is not None else None)
        self.train: TrainPanel = TrainPanel(cfg, config_source=lambda: self.config, n_blocks=0,
                                            max_epochs=ws.max_epochs if ws else None, config_check=self.check_limits,
                                            store=store, engine=self.engine)
        self.run_bar: RunBar = RunBar(self.train)
        self.capture: CapturePanel = CapturePanel(
            default_home(), on_dataset=self.use_captured, space_left=lambda: disk_left(self.seat, self.workshop),
            phone_home=self.seat.home if self.seat is not None else None)  # phone links: a served seat's only
        self.health: HealthPanel = HealthPanel(lambda: self.data.config, on_curation=self._use_curation,
                                               engine=self.engine, last_run=lambda: last_run_dir(self.train),
                                               on_retrain=self.retrain_with_fixes)
        # The webcam first (one closed line): found before the demo's long report and augmentation settings.
        self.data_tab = widgets.VBox([widgets.Accordion([self.capture], titles=(_("Capture from your webcam"),)),
                                      self.data, widgets.Accordion([self.health], titles=(_("Data health check"),))])
        self.model_tab = widgets.VBox([loading_text()])
        self.model_tab.add_class("tlw-model-step")
        self.train_tab = widgets.VBox([self.train])
        self.results: ResultSteps = ResultSteps(self.train, self.notice, on_started=lambda: self.show_tab("train"),
                                                engine=self.engine)
        self.evaluation, self.evaluate_button = self.results.evaluation, self.results.evaluate_button
        self.runs_tab = widgets.VBox([loading_text()])
        pages = {"data": self.data_tab, "model": self.model_tab, "train": self.train_tab,
                 "evaluate": self.evaluation, "try": self.results.try_page, "runs": self.runs_tab}
        self.tabs = widgets.Stack([pages[key] for key in TABS], selected_index=0)
        self.tabs.add_class("tlw-pages")
        self.steps: StepHeader = StepHeader({k: _(t) for k, t in STEPS.items()}, {"runs": _(TABS["runs"])},
                                            help={k: _(t) for k, t in HELP.items()},
                                            title=_("Transfer-learning studio"))
        self.steps.observe(self._on_tab, names="current")
        self.code_view = CodeView(lambda: self.config, self.notice)
        self.show_code_button, self.code = self.code_view.button, self.code_view.code
        self.resume_slot = widgets.VBox()
        header, name_box, self.broadcast_line = room_header(self.seat, ws, self.notice)
        self.name_box: NameBox | None = name_box  # a served seat's "Your name" line
        super().__init__([*header, self.resume_slot, self.steps, self.run_bar, self.tabs, self.notice,
                          self.code_view, AccessibilityHelper()])
        self.add_class("tlw-studio")
        self.data.observe(lambda _c: self._show_missing(), names="report")
        self.train.observe(self._on_status, names="status")
        # -- the engine-dependent part: now, or once Keras has loaded -----------------------------------------
        self.loader.start(warm=self._warm_engine, build_first=self._build_model_step, build_rest=self._build_extras,
                          run_bar=self.run_bar, notice=self.notice, changed=self._show_missing)

    loading = property(lambda self: self.loader.loading, doc="True until the engine's steps are built.")
    engine_error = property(lambda self: self.loader.error, doc="Why the engine did not load, or None.")
    ready_future = property(lambda self: self.loader.ready_future,
                            doc="An asyncio future, done once the engine's steps are built (None: built at once).")

    # -- engine-dependent steps -----------------------------------------------------
    def _warm_engine(self) -> None:
        """In the loading thread: the engine loads Keras (here, or already in the room's workers) and answers the
        starting backbone's facts and the devices (no widgets)."""
        retry_when_busy(lambda: (self.engine.backbone_facts(self._base.model.backbone, self._base.model.input_size),
                                 self.engine.devices()))

    def _build_model_step(self) -> None:
        """Builds the Model step and what Start needs (a served room's queue); after it ``config`` works."""
        ws = self.workshop
        parts = build_model_parts(self._base, data_roots=self._roots, allowed=ws.allowed_backbones if ws else None,
                                  config_source=lambda: self.config, engine=self.engine)
        self.backbone, self.freeze, self.strategy, self.job = parts.backbone, parts.freeze, parts.strategy, parts.job
        self.model_tab.children = parts.page
        self.train.n_blocks = len(parts.freeze.blocks)
        parts.backbone.observe(self._on_backbone, names=["backbone", "input_size"])
        batch = self.data.batch_size
        batch.observe(lambda c: setattr(parts.strategy, "batch_size", int(batch.value)), names="value")
        parts.strategy.batch_size = int(batch.value)
        if self._lowered:
            self.notice.show(_("Lowered to the workshop's limits: {changes}.").format(
                changes="; ".join(self._lowered)), "info")
        if self.seat is not None:  # a served room: the fair training queue and the instructor's controls
            self.room_watcher = connect_room(self.seat, ws, self.train, self.notice, lambda: self._base.output_dir,
                                             self.set_config, banner=self.broadcast_line)

    def _build_extras(self) -> None:
        """Builds the Train step's LR finder and sweep, Runs, Resume and Try it."""
        refused = (_("Sweeps are off in a workshop or served room: their trials would bypass the room's training "
                     "queue and limits.") if self.workshop is not None or self.seat is not None else None)
        parts = build_extra_parts(store=self._store, config_source=lambda: self.config, train_panel=self.train,
                                  on_resume=self._resume, on_use_best=self.set_config,
                                  result_source=lambda: last_result(self.train), sweeps_refused=refused,
                                  engine=self.engine)
        self.lr_finder, self.lr_finder_box, self.sweep = parts.lr_finder, parts.lr_finder_box, parts.sweep
        self.runs, self.resume, self.try_it = parts.runs, parts.resume, parts.try_it
        self.train_tab.children = (self.train, parts.lr_finder_box, parts.sweep_box)
        self.work = parts.work
        self.runs_tab.children = (parts.runs, parts.work.download_box)
        if self.seat is None:  # a one-person Studio may bring work back; a served seat's home is the room's
            self.data_tab.children = (*self.data_tab.children, widgets.Accordion(
                [parts.work.open_box], titles=(_("Open work from a zip"),)))
        self.resume_slot.children = (parts.resume,)
        self.results.try_box.children = (parts.try_it,)
        if self.tab in ("runs", "evaluate", "try"):
            self._on_tab({"new": self.tab})

    # -- limits -------------------------------------------------------------------
    def check_limits(self, cfg: TrainConfig, starting: bool = True) -> None:
        """Checks a whole config before Start, Resume or a restore: no LR sweep running, the seat's own data, the
        workshop's limits.

        Raises:
            PanelError: Naming the limit and the value.
        """
        check_limits(cfg, workshop=self.workshop, seat=self.seat, check_zip=self.data.check_zip, starting=starting,
                     lr_busy=self.lr_finder is not None and self.lr_finder.busy, extra_roots=[self.captures])

    def _check_disk(self, more_bytes: int) -> None:
        """Raises PanelError when this seat would go over the workshop's disk quota (no-op outside a seat)."""
        check_disk(self.seat, self.workshop, more_bytes)

    def _resume(self, run_dir: str) -> str | None:
        run_id = self.train.resume(run_dir)
        if run_id is None:
            assert self.resume is not None
            self.resume.notice.show(self.train.notice.text or _("Cannot resume."))
            return None
        self._show_config(self.train.session.config)  # the panels show the run that now trains
        self.show_tab("train")
        return run_id

    # -- wiring -------------------------------------------------------------------
    def _on_backbone(self, change: dict[str, Any]) -> None:
        assert self.backbone is not None and self.freeze is not None
        size = None if self.backbone._size_default else self.backbone.input_size
        self.freeze.set_backbone(self.backbone.backbone, size)
        self.train.n_blocks = len(self.freeze.blocks)

    @property
    def tab(self) -> str:
        """The key (see :data:`TABS`) of the step shown."""
        return self.steps.current

    def show_tab(self, key: str) -> None:
        """Shows the step ``key`` (one of :data:`TABS`; "backbone", "freeze" and "strategy" show "model").

        Raises:
            KeyError: ``key`` is not a step.
        """
        self.steps.select(ALIASES.get(key, key))

    def _on_tab(self, change: dict[str, Any]) -> None:
        key = change["new"]
        self.tabs.selected_index = list(TABS).index(key)
        if key == "runs" and self.runs is not None:
            self.runs.refresh()
        elif key in ("evaluate", "try") and not self.loading:
            self.results.on_enter(key)
            if key == "try" and self.try_it is not None:
                self.try_it.refresh()

    def _on_status(self, change: dict[str, Any]) -> None:
        """The run's status changed (possibly in the training pump thread): hints only, widget values only."""
        self.results.show_hints()
        self._show_missing()

    def _show_missing(self) -> None:
        """Tells the step header what each step still needs (safe from the training pump thread)."""
        self.steps.set_missing(missing_steps(self.data.report, self.loading, self.train))

    def evaluate_last_run(self) -> bool:
        """Shows the evaluation of the last finished or stopped run (see :meth:`ResultSteps.evaluate_last_run`)."""
        return self.results.evaluate_last_run()

    def use_captured(self, path: str) -> None:
        """Switches the Data step to a folder of captured samples (the capture panel's "use these samples")."""
        try:
            self.data.set_config(dataclasses.replace(self.data.config, source="folder", path=str(path)))
        except (PanelError, ConfigError) as exc:
            self.notice.show(_("Cannot use the captured samples: {reason}").format(reason=exc))
            return
        self.data.refresh()
        self.notice.show(_("The Data step now uses your captured samples."), "info")

    def _use_curation(self, path: str) -> None:
        """Switches ``data.curation`` on (the health check wrote decisions): the next run applies them."""
        try:
            self.data.set_config(dataclasses.replace(self.data.config, curation=path))
        except (PanelError, ConfigError) as exc:
            self.notice.show(_("Cannot use the curation: {reason}").format(reason=exc))

    def retrain_with_fixes(self, run_dir: str, curation: str) -> str | None:
        """Starts a child run of ``run_dir`` with ``curation`` applied, on Train (see :meth:`ResultSteps.retrain`)."""
        return self.results.retrain(run_dir, curation)

    # -- config -------------------------------------------------------------------
    @property
    def config(self) -> TrainConfig:
        """The TrainConfig the panels describe, every value re-checked: the one place it is assembled.

        Each panel returns its own part (its sub-config, with the fields it
        does not show passed through); the fields no panel shows come from
        the config the Studio was given (or last set).

        Raises:
            PanelError: A panel value failed its check, or the engine is still loading.
            ConfigError: The assembled config is invalid.
        """
        if self.backbone is None or self.freeze is None or self.strategy is None:
            raise PanelError(_("Expected the Model step to be ready. Received: TensorFlow is still loading; "
                               "wait until Start is enabled."))
        model = self.backbone.config
        if self.freeze.backbone != model.backbone:
            raise PanelError(_("Expected the freeze plan of {backbone!r}. Received: a plan for {other!r} (the backbone "
                               "changed while the freeze panel was updating)").format(
                backbone=model.backbone, other=self.freeze.backbone))
        freeze = self.freeze.config
        # replace() runs TrainConfig's checks, which rebuild every part: the result shares nothing with the panels.
        return dataclasses.replace(self._base, data=self.data.config, model=model, freeze=freeze,
                                   strategy=self.strategy.config, phases=self.train.phases(freeze),
                                   **self.train.top_level())

    def set_config(self, cfg: TrainConfig) -> None:
        """Shows ``cfg`` in every panel: the one inverse of :attr:`config` (afterwards ``config == cfg``).

        Fields no panel shows are kept from ``cfg`` too. The config is checked
        like a Start (the workshop's limits, the data roots); when a panel
        refuses a value, the panels show what they showed before.

        Raises:
            TypeError: ``cfg`` is not a TrainConfig.
            PanelError: A limit or a panel refuses a value (nothing changed then), or the engine is still loading.
        """
        if not isinstance(cfg, TrainConfig):
            raise TypeError(f"Expected a TrainConfig. Received: {type(cfg).__name__}")
        before = self.config  # also raises while the engine loads
        self.check_limits(cfg, starting=False)
        try:
            self._show_config(cfg)
        except (PanelError, ConfigError):
            self._show_config(before)
            raise

    def _show_config(self, cfg: TrainConfig) -> None:
        assert self.backbone is not None and self.freeze is not None and self.strategy is not None
        with self.hold_sync():
            self.backbone.set_config(cfg.model)  # the observer moves the freeze panel to this backbone
            if self.freeze.backbone != cfg.model.backbone:
                self.freeze.set_backbone(cfg.model.backbone, cfg.model.input_size)
            self.freeze.set_config(cfg.freeze)
            self.train.n_blocks = len(self.freeze.blocks)
            self.data.set_config(cfg.data)
            self.strategy.set_config(cfg.strategy)
            self.train.set_config(cfg)
            self._base = cfg.copy()

    def show_code(self) -> str:
        """Shows (and returns) the Python and CLI equivalents of the current config."""
        return self.code_view.show()

    # -- convenience --------------------------------------------------------------
    def start(self) -> str | None:
        """Presses Start (see :meth:`TrainPanel.start`)."""
        return self.train.start()

    def stop(self) -> None:
        """Presses Stop."""
        self.train.stop()

    @property
    def status(self) -> str:
        """The status line: ``idle``, ``running``, ``stopped``, ``finished`` or ``failed: <reason>``."""
        return self.train.status

