"""`Studio`: every panel composed into one app, an editor for a :class:`TrainConfig`."""

from __future__ import annotations

import dataclasses
import html
import os
from typing import Any, Sequence

import ipywidgets as widgets

from tl_widgets.core.config.schema import ConfigError, TrainConfig, demo_config
from tl_widgets.core.settings import MAX_UPLOAD_ENV, STUDIO_EPOCHS_ENV, STUDIO_MAX_PER_CLASS_ENV, default_home
from tl_widgets.panels.backbone import BackbonePanel
from tl_widgets.panels.data import DEFAULT_MAX_UPLOAD_BYTES, DataPanel
from tl_widgets.panels.freeze import FreezePanel
from tl_widgets.panels.resume import ResumePanel
from tl_widgets.panels.job import JobPanel
from tl_widgets.panels.lr_finder import LRFinderPanel
from tl_widgets.panels.runs import RunsPanel
from tl_widgets.panels.strategy import StrategyPanel
from tl_widgets.panels.train import TrainPanel
from tl_widgets.panels.validation import Notice, PanelError

__all__ = ["Studio", "default_studio_config", "MAX_UPLOAD_ENV", "TABS"]

TABS: dict[str, str] = {
    "data": "Data",
    "backbone": "Backbone",
    "freeze": "Freeze",
    "strategy": "Strategy",
    "train": "Train",
    "runs": "Runs",
    "evaluate": "Evaluate & export",
}
"""The Studio's steps, in tab order: key -> tab title (use :meth:`Studio.show_tab` and :attr:`Studio.tab`)."""


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
    """The transfer-learning studio: Data, Backbone, Freeze, Strategy, Train and Runs tabs.

    Example::

        from tl_widgets import Studio
        studio = Studio()            # the demo: digits and the bundled demo backbone
        studio                       # shows it; press Start on the Train tab
        studio.config                # the TrainConfig the panels describe

    Args:
        config: A config to restore into the panels (None: the demo).
        data_roots: Folders the data and weights pickers may list (None:
            ``$TL_WIDGETS_DATA_ROOTS``, ``os.pathsep``-separated).
        max_upload_bytes: Largest zip accepted from the browser (None:
            ``$TL_WIDGETS_MAX_UPLOAD_BYTES``, else the workshop's, else 9 MiB).
        store: The run store of the Runs tab (None: the default home store).
        workshop: A :class:`~tl_widgets.core.workshop.Workshop` whose limits
            the panels enforce (allowed backbones, epochs, batch size, data
            roots); None reads ``$TL_WIDGETS_WORKSHOP`` (set by ``tl-widgets serve --workshop``).

    Raises:
        PanelError: ``config`` names something the panels refuse (a folder
            outside the data roots, an unknown block, ...).
        WorkshopError: ``$TL_WIDGETS_WORKSHOP`` names an invalid workshop file.
    """

    def __init__(self, config: TrainConfig | None = None, data_roots: Sequence[str | os.PathLike[str]] | None = None,
                 max_upload_bytes: int | None = None, store: Any = None, workshop: Any = None) -> None:
        from tl_widgets.core.room.seat import current_seat
        from tl_widgets.core.workshop import workshop_from_env

        self.seat = current_seat()  # served: this kernel's private home (runs, uploads, temp); else None
        if config is not None and not isinstance(config, TrainConfig):
            raise TypeError(f"Expected a TrainConfig or None. Received: {type(config).__name__}")
        self.workshop = ws = workshop if workshop is not None else workshop_from_env()
        self._base = config.copy() if config is not None else default_studio_config()
        cfg = self._base
        lowered = self._fit_to_workshop(cfg) if ws is not None else []
        if ws is not None and data_roots is None:
            data_roots = ws.data_roots
        if ws is not None:
            from tl_widgets.core.data.images import limit_pixels

            limit_pixels(ws.max_pixels)
        self.backbone = BackbonePanel(cfg.model, data_roots=data_roots, allowed=ws.allowed_backbones if ws else None)
        self.freeze = FreezePanel(cfg.model.backbone, cfg.model.input_size, cfg.freeze)
        self.data = DataPanel(cfg.data, data_roots=data_roots, max_upload_bytes=_upload_limit(max_upload_bytes, ws),
                              max_batch_size=ws.max_batch_size if ws else None,
                              max_extract_bytes=ws.max_extract_bytes if ws else None,
                              max_files=ws.max_files if ws else None, space_check=self._check_disk)
        self.strategy = StrategyPanel(cfg.strategy)
        self.train = TrainPanel(cfg, config_source=lambda: self.config, n_blocks=len(self.freeze.blocks),
                                max_epochs=ws.max_epochs if ws else None, config_check=self.check_limits,
                                store=store)
        self.lr_finder = LRFinderPanel(config_source=lambda: self.config, train_panel=self.train)
        self.job = JobPanel(config_source=lambda: self.config)
        self.strategy_tab = widgets.VBox([self.strategy, widgets.Accordion([self.job], titles=("Export a job",))])
        self.lr_finder_box = widgets.Accordion([self.lr_finder], titles=("Learning-rate finder",))
        self.train_tab = widgets.VBox([self.train, self.lr_finder_box])
        self.runs = RunsPanel(store)
        self.resume = ResumePanel(self._resume, store=self.runs.store)
        from tl_widgets.studio_sweep import attach_sweep

        self.sweep = attach_sweep(self)  # the Train tab's "Hyperparameter sweep"; "Use best" restores the panels
        self.notice = Notice()
        self.show_code_button = widgets.Button(description="Show code", icon="code")
        self.show_code_button.add_class("tlw-show-code")
        self.code = widgets.HTML()
        self.code.add_class("tlw-code")
        self.show_code_button.on_click(lambda _: self.show_code())
        self.evaluate_button = widgets.Button(description="Evaluate the last run", icon="search",
                                              layout={"width": "auto"})
        self.evaluate_button.add_class("tlw-evaluate-last")
        self.evaluate_button.on_click(lambda _: self.evaluate_last_run())
        self.evaluation = widgets.VBox([self.evaluate_button])
        from tl_widgets.panels.health import HealthPanel

        self.health = HealthPanel(lambda: self.data.config, on_curation=self._use_curation)
        self.data_tab = widgets.VBox([self.data, widgets.Accordion([self.health], titles=("Data health check",))])
        pages = {"data": self.data_tab, "backbone": self.backbone, "freeze": self.freeze, "strategy": self.strategy_tab,
                 "train": self.train_tab, "runs": self.runs, "evaluate": self.evaluation}
        self.tabs = widgets.Tab(children=[pages[key] for key in TABS], titles=tuple(TABS.values()))
        self.tabs.add_class("tlw-tabs")
        self.tabs.observe(self._on_tab, names="selected_index")
        self.backbone.observe(self._on_backbone, names=["backbone", "input_size"])
        self.data.batch_size.observe(lambda c: setattr(self.strategy, "batch_size", int(self.data.batch_size.value)),
                                     names="value")
        self.strategy.batch_size = int(self.data.batch_size.value)
        header = [widgets.HTML("<h2>Transfer-learning studio</h2>")]
        if ws is not None:
            banner = widgets.HTML(f"<i>{html.escape(ws.summary())}</i>")
            banner.add_class("tlw-workshop")
            header.append(banner)
        super().__init__([*header, self.resume, self.tabs, widgets.HBox([self.show_code_button]), self.notice,
                          self.code])
        self.add_class("tlw-studio")
        if lowered:
            self.notice.show("Lowered to the workshop's limits: " + "; ".join(lowered) + ".", "info")
        if self.seat is not None:  # a served room: the fair training queue and the instructor's controls
            from tl_widgets.studio_room import connect_room

            self.room_watcher = connect_room(self)

    # -- workshop ---------------------------------------------------------------
    def _fit_to_workshop(self, cfg: TrainConfig) -> list[str]:
        """Lowers the starting config to the workshop's limits; returns what changed."""
        ws = self.workshop
        changed = []
        if cfg.model.backbone not in ws.allowed_backbones:
            first = "demo_cnn" if "demo_cnn" in ws.allowed_backbones else ws.allowed_backbones[0]
            changed.append(f"backbone {cfg.model.backbone!r} -> {first!r}")
            cfg.model.backbone, cfg.model.input_size = first, None
            if cfg.model.weights not in ("pretrained", "none", "imagenet"):
                cfg.model.weights = "pretrained"
            from tl_widgets.core.config.schema import FreezeConfig

            cfg.freeze = FreezeConfig()
            for phase in cfg.phases:  # block names belong to the old backbone; a "top N" plan still makes sense
                phase.freeze = None if phase.freeze is None or phase.freeze.mode != "top" else \
                    dataclasses.replace(phase.freeze, block=None, overrides={})
        for phase in cfg.phases:
            if phase.epochs > ws.max_epochs:
                changed.append(f"{phase.name} epochs {phase.epochs} -> {ws.max_epochs}")
                phase.epochs = ws.max_epochs
        if cfg.data.batch_size > ws.max_batch_size:
            changed.append(f"batch size {cfg.data.batch_size} -> {ws.max_batch_size}")
            cfg.data.batch_size = ws.max_batch_size
        return changed

    def check_limits(self, cfg: TrainConfig) -> None:
        """Checks a whole config before Start or Resume: no sweep running, the seat's own data, the workshop's limits.

        Raises:
            PanelError: Naming the limit and the value.
        """
        from tl_widgets.panels.validation import check_choice, check_number

        lr_finder = getattr(self, "lr_finder", None)
        if lr_finder is not None and lr_finder.busy:
            raise PanelError("Expected no learning-rate sweep running. Received: one is running; wait for it to end")
        if cfg.data.source == "zip":
            self.data._check_zip(cfg.data.path or "")  # this seat's upload, or a zip under the data roots
        ws = self.workshop
        if ws is None:
            return
        self._check_disk(0)
        if ws.max_input_size is not None and cfg.model.input_size is not None:
            check_number(cfg.model.input_size, "input_size (workshop limit)", 32, ws.max_input_size, integer=True)
        check_choice(cfg.model.backbone, "model.backbone (workshop)", ws.allowed_backbones)
        for phase in cfg.phases:
            check_number(phase.epochs, f"{phase.name} epochs (workshop limit)", 1, ws.max_epochs, integer=True)
        check_number(cfg.data.batch_size, "batch_size (workshop limit)", 1, ws.max_batch_size, integer=True)
        if cfg.data.source == "folder":
            from tl_widgets.panels.validation import resolve_under_roots

            resolve_under_roots(cfg.data.path or "", ws.data_roots, "data folder")

    def _check_disk(self, more_bytes: int) -> None:
        """Raises PanelError when this seat would go over the workshop's disk quota (no-op outside a seat)."""
        seat, ws = getattr(self, "seat", None), self.workshop
        if seat is None or ws is None:
            return
        used, limit = seat.disk_bytes() + int(more_bytes), int(ws.max_seat_disk_mb * 2**20)
        if used > limit:
            raise PanelError(f"Expected this seat to use at most {ws.max_seat_disk_mb:g} MiB of disk (workshop "
                             f"limit). Received: {used / 2**20:.1f} MiB; delete runs in the Runs tab first")

    def _resume(self, run_dir: str) -> str | None:
        run_id = self.train.resume(run_dir)
        if run_id is None:
            self.resume.notice.show(self.train.notice.text or "Cannot resume.")
        else:
            self.show_tab("train")
        return run_id

    # -- wiring -----------------------------------------------------------------
    def _on_backbone(self, change: dict[str, Any]) -> None:
        size = None if self.backbone._size_default else self.backbone.input_size
        self.freeze.set_backbone(self.backbone.backbone, size)
        self.train.n_blocks = len(self.freeze.blocks)

    @property
    def tab(self) -> str | None:
        """The key (see :data:`TABS`) of the tab shown, None when none is."""
        index = self.tabs.selected_index
        return None if index is None else list(TABS)[index]

    def show_tab(self, key: str) -> None:
        """Shows the tab ``key`` (one of :data:`TABS`).

        Raises:
            KeyError: ``key`` is not a tab.
        """
        if key not in TABS:
            raise KeyError(f"Expected a tab in {list(TABS)}. Received: {key!r}")
        self.tabs.selected_index = list(TABS).index(key)

    def _on_tab(self, change: dict[str, Any]) -> None:
        if self.tab == "runs":
            self.runs.refresh()

    def evaluate_last_run(self) -> bool:
        """Shows the Evaluate and Export panels for the last finished or stopped run.

        Runs on the kernel's main thread (a button click), so the panels are
        created there; returns False, with a message, when there is no run yet.
        """
        from tl_widgets.panels.evaluate import EvaluatePanel
        from tl_widgets.panels.export import ExportPanel

        session = self.train.session
        result = session.result if session is not None else None
        if result is None or result.status not in ("finished", "stopped") or result.run_dir is None:
            self.notice.show("Expected a finished or stopped run to evaluate. Received: none yet — press Start "
                             "on the Train tab first.")
            return False
        shown = [c for c in self.evaluation.children if isinstance(c, (EvaluatePanel, ExportPanel))]
        if any(getattr(c, "busy", False) for c in shown):
            self.notice.show("Busy: an evaluation is already running; wait for it to end.", "warning")
            return False  # one evaluation at a time (each click would start another otherwise)
        panel = EvaluatePanel(result, auto=True)
        panel.on_retrain = self.retrain_with_fixes
        self.evaluation.children = (self.evaluate_button, panel, ExportPanel(result))
        return True

    def _use_curation(self, path: str) -> None:
        """Switches ``data.curation`` on (the health check wrote decisions): the next run applies them."""
        try:
            self.data.set_config(dataclasses.replace(self.data.config, curation=path))
        except (PanelError, ConfigError) as exc:
            self.notice.show(f"Cannot use the curation: {exc}")

    def retrain_with_fixes(self, run_dir: str, curation: str) -> str | None:
        """Starts a child run: ``run_dir``'s config with ``curation`` applied (``parent_run_id`` set), on Train.

        Returns:
            The child's run id, or None when refused (the reason is shown).
        """
        from tl_widgets.core.runs.lineage import child_config

        try:
            cfg = child_config(run_dir, curation)
        except (OSError, ValueError) as exc:
            self.notice.show(f"Cannot retrain with fixes: {exc}")
            return None
        run_id = self.train.start_with(cfg)
        if run_id is not None:
            self.show_tab("train")
        return run_id

    # -- config -----------------------------------------------------------------
    @property
    def config(self) -> TrainConfig:
        """The TrainConfig the panels describe, every value re-checked: the one place it is assembled.

        Each panel returns its own part (its sub-config, with the fields it
        does not show passed through); the fields no panel shows come from
        the config the Studio was given.

        Raises:
            PanelError: A panel value failed its check.
            ConfigError: The assembled config is invalid.
        """
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
            self.notice.show(f"Cannot show code: {exc}")
            return ""
        py, cli = python_code(cfg), cli_command(cfg)
        self.code.value = (f"<b>Python</b><pre class='tlw-code-python'>{html.escape(py)}</pre>"
                           f"<b>Command line</b><pre class='tlw-code-cli'>{html.escape(cli)}</pre>")
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


def _upload_limit(explicit: int | None, workshop: Any) -> int:
    """The upload limit: the argument, else ``$TL_WIDGETS_MAX_UPLOAD_BYTES``, else the workshop's, else the default."""
    if explicit is not None:
        return int(explicit)
    env = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise PanelError(f"Expected {MAX_UPLOAD_ENV} to be a positive number of bytes. Received: {env!r}")
        return int(env)
    return workshop.max_upload_bytes if workshop is not None else DEFAULT_MAX_UPLOAD_BYTES
