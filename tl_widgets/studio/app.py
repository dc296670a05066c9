"""`Studio`: every panel composed into one guided app, an editor for a :class:`TrainConfig`.

The steps (Data → Model → Train → Evaluate → Try it & export, and Runs) sit
behind a :class:`~tl_widgets.studio.chrome.StepHeader`; Start/Stop, status and
progress live in a :class:`~tl_widgets.studio.chrome.RunBar` above every step.
In a kernel, the Data step is drawn before TensorFlow loads: the Model step
and the panels that need the engine are built when it has loaded (see
:mod:`tl_widgets.studio.loading`), and Start says "Loading TensorFlow…" until then.
"""

from __future__ import annotations

import dataclasses
import html
import os
from typing import Any, Sequence

import ipywidgets as widgets

from tl_widgets.core.config.schema import ConfigError, TrainConfig, demo_config
from tl_widgets.core.i18n import N_, _
from tl_widgets.core.settings import MAX_UPLOAD_ENV, STUDIO_EPOCHS_ENV, STUDIO_MAX_PER_CLASS_ENV, captures_home, \
    default_home
from tl_widgets.panels.data import DataPanel
from tl_widgets.studio.chrome import RunBar, StepHeader
from tl_widgets.panels.train import TrainPanel
from tl_widgets.panels.kit.validation import Notice, PanelError
from tl_widgets.panels.kit.validation import data_roots as resolve_data_roots
from tl_widgets.studio.results import ResultSteps, missing_steps
from tl_widgets.studio.limits import check_disk, check_limits, disk_left, fit_to_workshop, upload_limit
from tl_widgets.views.widgets.a11y import AccessibilityHelper

__all__ = ["Studio", "default_studio_config", "MAX_UPLOAD_ENV", "TABS", "STEPS"]

STEPS: dict[str, str] = {
    "data": N_("Data"),
    "model": N_("Model"),
    "train": N_("Train"),
    "evaluate": N_("Evaluate"),
    "try": N_("Try it & export"),
}
"""The guided flow's steps, in order: key -> title (shown translated)."""

TABS: dict[str, str] = {**STEPS, "runs": N_("Runs")}
"""Every page: the steps, then "Runs" (every run so far, reachable from any step, not a step of its own)."""

_ALIASES = {"backbone": "model", "freeze": "model", "strategy": "model"}  # the tabs before the guided flow

_HELP = {
    "data": N_("The images to learn from: the demo digits are ready; or pick a folder, upload a zip, or "
               "capture from your webcam."),
    "model": N_("The pretrained network to start from, which of its layers keep learning, and the device."),
    "train": N_("How long and how fast to learn; live charts while it trains."),
    "evaluate": N_("How the trained model does on images it did not train on."),
    "try": N_("Try the model on your own pictures, then download it."),
    "runs": N_("Every run so far: compare them, resume one."),
}


def default_studio_config() -> TrainConfig:
    """The demo config, writing runs under the run-store home (not the kernel's working folder).

    ``$TL_WIDGETS_STUDIO_EPOCHS`` keeps only the head phase with that many epochs and
    ``$TL_WIDGETS_STUDIO_MAX_PER_CLASS`` caps the training images per class (short runs for tests and demos).

    Raises:
        ConfigError: One of those variables is not a valid value for its field.
    """
    from tl_widgets.core.room.seat import current_seat

    current_seat()  # a served kernel's private home (no-op outside `tl-widgets serve`)
    cfg = demo_config()
    cfg.output_dir = str(default_home() / "runs")
    epochs = os.environ.get(STUDIO_EPOCHS_ENV, "").strip()
    if epochs:
        cfg.phases = [dataclasses.replace(cfg.phases[0], epochs=_env_int(STUDIO_EPOCHS_ENV, epochs))]
    per_class = os.environ.get(STUDIO_MAX_PER_CLASS_ENV, "").strip()
    if per_class:
        cfg.data = dataclasses.replace(cfg.data, max_per_class=_env_int(STUDIO_MAX_PER_CLASS_ENV, per_class))
    return TrainConfig.from_dict(cfg.to_dict())


def _env_int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(name, f"Expected an integer. Received: {name}={text!r}") from None


class Studio(widgets.VBox):
    """The transfer-learning studio: a guided flow from data to a model you can try and export.

    Example::

        from tl_widgets import Studio
        studio = Studio()            # the demo: digits and the bundled demo backbone
        studio                       # shows it; Start (above every step) trains the demo
        studio.config                # the TrainConfig the panels describe
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

    Raises:
        PanelError: ``config`` names something the panels refuse (a folder
            outside the data roots, an unknown block, ...).
        WorkshopError: ``$TL_WIDGETS_WORKSHOP`` names an invalid workshop file.
    """

    def __init__(self, config: TrainConfig | None = None, data_roots: Sequence[str | os.PathLike[str]] | None = None,
                 max_upload_bytes: int | None = None, store: Any = None, workshop: Any = None,
                 background: bool | None = None) -> None:
        from tl_widgets.core.room.seat import current_seat
        from tl_widgets.core.room.workshop import workshop_from_env
        from tl_widgets.studio.loading import engine_loaded, running_loop

        loop = running_loop()
        if background is None:
            background = loop is not None and not engine_loaded()
        if background and loop is None:
            raise RuntimeError("Expected a running asyncio loop for background=True. Received: none in this thread")
        self.loading = bool(background)  # until the engine's steps are built (see studio_engine)
        self.seat = current_seat()  # served: this kernel's private home (runs, uploads, temp); else None
        if config is not None and not isinstance(config, TrainConfig):
            raise TypeError(f"Expected a TrainConfig or None. Received: {type(config).__name__}")
        self.workshop = ws = workshop if workshop is not None else workshop_from_env()
        self._base = config.copy() if config is not None else default_studio_config()
        cfg = self._base
        self._lowered = fit_to_workshop(cfg, ws) if ws is not None else []
        if ws is not None and data_roots is None:
            data_roots = ws.data_roots
        if ws is not None:
            from tl_widgets.core.data.images import limit_pixels

            limit_pixels(ws.max_pixels)
        self._roots, self._store = data_roots, store
        self.captures = captures_home()
        self.captures.mkdir(parents=True, exist_ok=True)
        picker_roots = [*(resolve_data_roots(data_roots)), self.captures]
        self.backbone: Any = None
        self.freeze: Any = None
        self.strategy: Any = None
        self.lr_finder: Any = None
        self.runs: Any = None
        self.try_it: Any = None  # these wait for the engine (studio_engine.build_model_step / build_extras)
        self.notice = Notice()
        # -- first paint: the Data step, the run bar and the Train panel (none of them imports Keras) --------
        self.data = DataPanel(cfg.data, data_roots=picker_roots, max_upload_bytes=upload_limit(max_upload_bytes, ws),
                              max_batch_size=ws.max_batch_size if ws else None,
                              max_extract_bytes=ws.max_extract_bytes if ws else None,
                              max_files=ws.max_files if ws else None, space_check=self._check_disk)
        self.train = TrainPanel(cfg, config_source=lambda: self.config, n_blocks=0,
                                max_epochs=ws.max_epochs if ws else None, config_check=self.check_limits,
                                store=store)
        self.run_bar = RunBar(self.train)
        from tl_widgets.panels.capture import CapturePanel
        from tl_widgets.panels.health import HealthPanel

        self.capture = CapturePanel(default_home(), on_dataset=self.use_captured, space_left=lambda: disk_left(self))
        self.health = HealthPanel(lambda: self.data.config, on_curation=self._use_curation)
        # The webcam first (one closed line): found before the demo's long report and augmentation settings.
        self.data_tab = widgets.VBox([widgets.Accordion([self.capture], titles=(_("Capture from your webcam"),)),
                                      self.data, widgets.Accordion([self.health], titles=(_("Data health check"),))])
        self.model_tab = widgets.VBox([self._loading_text()])
        self.model_tab.add_class("tlw-model-step")
        self.train_tab = widgets.VBox([self.train])
        self.results = ResultSteps(self)
        self.evaluation, self.evaluate_button = self.results.evaluation, self.results.evaluate_button
        self.runs_tab = widgets.VBox([self._loading_text()])
        pages = {"data": self.data_tab, "model": self.model_tab, "train": self.train_tab,
                 "evaluate": self.evaluation, "try": self.results.try_page, "runs": self.runs_tab}
        self.tabs = widgets.Stack([pages[key] for key in TABS], selected_index=0)
        self.tabs.add_class("tlw-pages")
        self.steps = StepHeader({k: _(t) for k, t in STEPS.items()}, {"runs": _(TABS["runs"])},
                                help={k: _(t) for k, t in _HELP.items()}, title=_("Transfer-learning studio"))
        self.steps.observe(self._on_tab, names="current")
        self.show_code_button = widgets.Button(description=_("Show code"), icon="code")
        self.show_code_button.add_class("tlw-show-code")
        self.code = widgets.HTML()
        self.code.add_class("tlw-code")
        self.show_code_button.on_click(lambda _b: self.show_code())
        self.resume_slot = widgets.VBox()
        header: list[widgets.Widget] = []
        if ws is not None and ws.summary():  # a room served without a workshop file has limits, no banner
            banner = widgets.HTML(f"<i>{html.escape(ws.summary())}</i>")
            banner.add_class("tlw-workshop")
            header.append(banner)
        super().__init__([*header, self.resume_slot, self.steps, self.run_bar, self.tabs, self.notice,
                          widgets.HBox([self.show_code_button]), self.code, AccessibilityHelper()])
        self.add_class("tlw-studio")
        self.data.observe(lambda _c: self._show_missing(), names="report")
        self.train.observe(self._on_status, names="status")
        # -- the engine-dependent part: now, or once Keras has loaded -----------------------------------------
        self.engine_error: BaseException | None = None
        self.ready_future: Any = None
        if background:
            from tl_widgets.studio.loading import load_engine

            self.run_bar.set_loading(True)
            self.ready_future = load_engine(loop, self._warm_engine, self._engine_loaded)
        else:
            self._build_engine_steps()
        self._show_missing()

    def _loading_text(self) -> widgets.HTML:
        box = widgets.HTML("<i>" + html.escape(_("Loading TensorFlow…")) + "</i>")
        box.add_class("tlw-loading")
        return box

    # -- engine-dependent steps -----------------------------------------------------
    def _warm_engine(self) -> None:
        """In the loading thread: builds the starting backbone's block list into its cache (no widgets)."""
        from tl_widgets.core.models.freezing import block_names

        block_names(self._base.model.backbone, self._base.model.input_size)

    def _engine_loaded(self, error: BaseException | None) -> None:
        """On the kernel's thread once Keras has loaded: builds the Model step and enables Start."""
        from tl_widgets.studio.loading import engine_steps_loaded

        engine_steps_loaded(self, error)

    def _build_engine_steps(self) -> None:
        """Builds Model (backbone, freeze, strategy, job export), the Train step's extras, Runs and Resume."""
        from tl_widgets.studio.loading import build_engine_steps

        build_engine_steps(self)

    # -- limits -------------------------------------------------------------------
    def check_limits(self, cfg: TrainConfig) -> None:
        """Checks a whole config before Start or Resume: no sweep running, the seat's own data, the workshop's limits.

        Raises:
            PanelError: Naming the limit and the value.
        """
        check_limits(self, cfg, extra_roots=[self.captures])

    def _check_disk(self, more_bytes: int) -> None:
        """Raises PanelError when this seat would go over the workshop's disk quota (no-op outside a seat)."""
        check_disk(self, more_bytes)

    def _resume(self, run_dir: str) -> str | None:
        run_id = self.train.resume(run_dir)
        if run_id is None:
            self.resume.notice.show(self.train.notice.text or _("Cannot resume."))
        else:
            self.show_tab("train")
        return run_id

    # -- wiring -------------------------------------------------------------------
    def _on_backbone(self, change: dict[str, Any]) -> None:
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
        key = _ALIASES.get(key, key)
        if key not in TABS:
            raise KeyError(f"Expected a tab in {list(TABS)}. Received: {key!r}")
        self.steps.select(key)

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
        self.steps.set_missing(missing_steps(self))

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
        """Starts a child run: ``run_dir``'s config with ``curation`` applied (``parent_run_id`` set), on Train.

        Returns:
            The child's run id, or None when refused (the reason is shown).
        """
        from tl_widgets.core.runs.lineage import child_config

        try:
            cfg = child_config(run_dir, curation)
        except (OSError, ValueError) as exc:
            self.notice.show(_("Cannot retrain with fixes: {reason}").format(reason=exc))
            return None
        run_id = self.train.start_with(cfg)
        if run_id is not None:
            self.show_tab("train")
        return run_id

    # -- config -------------------------------------------------------------------
    @property
    def config(self) -> TrainConfig:
        """The TrainConfig the panels describe, every value re-checked: the one place it is assembled.

        Each panel returns its own part (its sub-config, with the fields it
        does not show passed through); the fields no panel shows come from
        the config the Studio was given.

        Raises:
            PanelError: A panel value failed its check, or the engine is still loading.
            ConfigError: The assembled config is invalid.
        """
        if self.backbone is None:
            raise PanelError(_("Expected the Model step to be ready. Received: TensorFlow is still loading; "
                               "wait until Start is enabled."))
        model = self.backbone.config
        if self.freeze.backbone != model.backbone:
            raise PanelError(f"Expected the freeze plan of {model.backbone!r}. Received: a plan for "
                             f"{self.freeze.backbone!r} (the backbone changed while the freeze panel was updating)")
        freeze = self.freeze.config
        # replace() runs TrainConfig's checks, which rebuild every part: the result shares nothing with the panels.
        return dataclasses.replace(self._base, data=self.data.config, model=model, freeze=freeze,
                                   strategy=self.strategy.config, phases=self.train.phases(freeze),
                                   **self.train.top_level())

    def show_code(self) -> str:
        """Shows (and returns) the Python and CLI equivalents of the current config."""
        from tl_widgets.core.config.codegen import cli_command, python_code

        try:
            cfg = self.config
        except (PanelError, ConfigError) as exc:
            self.notice.show(_("Cannot show code: {reason}").format(reason=exc))
            return ""
        py, cli = python_code(cfg), cli_command(cfg)
        self.code.value = (f"<b>Python</b><pre class='tlw-code-python'>{html.escape(py)}</pre>"
                           + "<b>" + html.escape(_("Command line")) + "</b>"
                           + f"<pre class='tlw-code-cli'>{html.escape(cli)}</pre>")
        return py + "\n" + cli

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

