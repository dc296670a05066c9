"""Train panel: phases, Start/Stop, progress with ETA, live charts and the run status line."""

from __future__ import annotations

import dataclasses
import html
import time
from typing import Any, Callable

import ipywidgets as widgets
import traitlets

from tl_widgets.core.config.checks import ConfigError, field_bounds
from tl_widgets.core.config.schema import FreezeConfig, PhaseConfig, TrainConfig
from tl_widgets.core.i18n import _
from tl_widgets.core.runs.db import saved_a_model
from tl_widgets.panels.kit.phase_editor import PhaseEditor
from tl_widgets.panels.kit.labels import status_label
from tl_widgets.panels.train_advanced import TrainAdvanced
from tl_widgets.panels.kit.validation import Guard, Notice, PanelError, check_choice, check_number

__all__ = ["TrainPanel"]


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return _("ETA --")
    seconds = int(round(seconds))
    return _("ETA {minutes}:{seconds:02d}").format(minutes=seconds // 60, seconds=seconds % 60)


class TrainPanel(widgets.VBox):
    """Runs training: head phase, optional fine-tune phase, Start/Stop and live charts.

    Args:
        config: The base config (phases are edited here; every other field passes through).
        config_source: Called on Start to get the full config (the Studio passes
            its ``config`` assembler); None runs ``config`` with this panel's
            :meth:`phases`.
        n_blocks: Blocks of the backbone, the bound of the fine-tune's top N.
        max_epochs: Most epochs per phase (a workshop's limit; None: the config's bound).
        config_check: Checks the config of every Start and resumed run (e.g. against a workshop's
            limits); raises :class:`PanelError` to refuse it.
        store: The run store runs are recorded in (None: the default home store).
        engine: Where runs train (None: this process, in a worker thread).
    """

    status = traitlets.Unicode("idle", help="'idle', 'running', 'stopped', 'finished' or 'failed: <reason>'.")
    run_id = traitlets.Unicode(None, allow_none=True, help="The id of the latest run started here.")
    n_blocks = traitlets.Int(0, help="Blocks of the selected backbone (bounds the fine-tune's top N).")

    def __init__(self, config: TrainConfig | None = None, config_source: Callable[[], TrainConfig] | None = None,
                 n_blocks: int = 0, max_epochs: int | None = None,
                 config_check: Callable[[TrainConfig], None] | None = None, store: Any = None,
                 engine: Any = None) -> None:
        from tl_widgets.core.engine import resolve_engine
        from tl_widgets.views.live import LiveTrainingCharts

        self.engine = resolve_engine(engine)

        self.notice = Notice()
        self.guard = Guard(self.notice)
        self._base = config.copy() if config is not None else TrainConfig()
        self._source = config_source
        self._check = config_check
        self.store = store
        self.session: Any = None
        self.head = PhaseEditor(self.guard, "", 5, 1e-3, max_epochs)
        self.fine_tune = widgets.Checkbox(False, description=_("then fine-tune the top blocks"), indent=False)
        self.fine_tune.add_class("tlw-fine-tune")
        self.ft = PhaseEditor(self.guard, "ft-", 3, 1e-4, max_epochs)
        top_lo, top_hi = field_bounds(FreezeConfig, "top_n")
        self.ft_top = widgets.BoundedIntText(2, min=top_lo, max=top_hi, description=_("top N blocks"),
                                             layout={"width": "200px"})
        self.ft_top.add_class("tlw-ft-top")
        self.guard.watch(self.fine_tune, lambda v: check_choice(v, "fine_tune", (True, False)),
                         lambda _: self._show_ft())
        self.guard.watch(self.ft_top, lambda v: check_number(v, _("top N"), *self._top_bounds(), integer=True))
        self.tensorboard = widgets.Checkbox(False, description=_("log to TensorBoard (run folder's tensorboard/)"),
                                            indent=False, layout={"width": "auto"})
        self.tensorboard.add_class("tlw-tensorboard")
        self.tensorboard.tooltip = _("Scalars per batch and epoch, the learning rate and the model graph; "
                                     "view with `tl-widgets runs tensorboard RUN`")
        self.guard.watch(self.tensorboard, lambda v: check_choice(v, "tensorboard", (True, False)))
        self.calibrate = widgets.Checkbox(True, description=_("calibrate probabilities (temperature on validation)"),
                                          indent=False, layout={"width": "auto"})
        self.calibrate.add_class("tlw-calibrate")
        self.calibrate.tooltip = _("After training, fit one temperature on the validation split so the model's "
                                   "confidence matches its accuracy; the top-1 class never changes")
        self.guard.watch(self.calibrate, lambda v: check_choice(v, "calibrate", (True, False)))
        self.start_button = widgets.Button(description=_("Start"), button_style="success", icon="play")
        self.start_button.add_class("tlw-start")
        self.stop_button = widgets.Button(description=_("Stop"), button_style="danger", icon="stop", disabled=True)
        self.stop_button.add_class("tlw-stop")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.progress_bar = widgets.FloatProgress(0.0, min=0.0, max=1.0, layout={"width": "360px"})
        self.progress_bar.add_class("tlw-progress")
        self.progress_text = widgets.HTML()
        self.progress_text.add_class("tlw-progress-text")
        self.status_line = widgets.HTML(status_label("idle"))
        self.status_line.add_class("tlw-status")
        self.charts = LiveTrainingCharts()
        self.charts.observe(self._on_progress, names="progress")
        self._ft_box = widgets.HBox([*self.ft.widgets, self.ft_top])
        self.advanced = TrainAdvanced(self.guard)  # schedules, warm-up, per-block rates, seed, early stopping, ...
        self._run_notice = ""  # the "started"/"stopping" notice of the run, replaced when it ends
        super().__init__([
            widgets.HTML("<h3>" + _("Train") + "</h3>"), widgets.HBox(self.head.widgets), self.fine_tune, self._ft_box,
            widgets.HBox([self.tensorboard, self.calibrate]), self.advanced.box,
            widgets.HBox([self.start_button, self.stop_button, self.progress_bar, self.progress_text]),
            widgets.HBox([widgets.HTML(_("status:") + "&nbsp;"), self.status_line]), self.notice, self.charts,
        ])
        self.add_class("tlw-train-panel")
        self.set_config(self._base)

    # -- config -----------------------------------------------------------------
    def _show_ft(self) -> None:
        self._ft_box.layout.display = None if self.fine_tune.value else "none"
        self.advanced.show_fine_tune(bool(self.fine_tune.value))

    def set_config(self, cfg: TrainConfig) -> None:
        """Shows the phases of ``cfg`` (the first is the head phase, the second the fine-tune)."""
        self._base = cfg.copy()
        with self.hold_sync():
            self.head.show(cfg.phases[0])
            self.guard.accept(self.fine_tune, len(cfg.phases) > 1)
            self.guard.accept(self.tensorboard, cfg.tensorboard)
            self.guard.accept(self.calibrate, cfg.calibrate)
            if len(cfg.phases) > 1:
                ft = cfg.phases[1]
                self.ft.show(ft)
                if ft.freeze is not None and ft.freeze.mode == "top":
                    self.guard.accept(self.ft_top, ft.freeze.top_n)
            self.advanced.show(cfg)
        self._show_ft()

    def _top_bounds(self) -> tuple[int, int]:
        """Bounds of the fine-tune's top N: the schema's, capped at the backbone's block count when known."""
        lo, hi = field_bounds(FreezeConfig, "top_n")
        return lo, max(self.n_blocks, 0) or hi

    def phases(self, freeze: FreezeConfig | None = None) -> list[PhaseConfig]:
        """This panel's part of the config: the phases shown, re-checked, every field it does not show kept.

        The base config is not changed. Phases after the second pass through
        while "fine-tune" is on.

        Args:
            freeze: The run's first freeze plan (None: the base config's); a
                fine-tune phase this panel adds copies its ``train_batchnorm``.

        Raises:
            PanelError: A value failed its check.
        """
        base = self._base.phases
        phases = [self.advanced.apply_phase(0, self.head.apply(base[0]))]
        if self.fine_tune.value:
            template = base[1] if len(base) > 1 else PhaseConfig(name="fine_tune")
            top = check_number(self.ft_top.value, _("top N"), *self._top_bounds(), integer=True)
            old = template.freeze
            if old is None:
                first = freeze if freeze is not None else self._base.freeze
                plan: FreezeConfig | None = FreezeConfig(mode="top", top_n=top, train_batchnorm=first.train_batchnorm)
            elif old.mode == "top":
                plan = dataclasses.replace(old, top_n=top, overrides=dict(old.overrides))
            else:
                plan = old  # a plan this panel does not show passes through
            phases.append(self.advanced.apply_phase(1, self.ft.apply(template, freeze=plan)))
            phases.extend(base[2:])
        return phases

    def _run_config(self) -> TrainConfig:
        """The config Start runs: the ``config_source``'s (the Studio's assembler), else the base with these phases.

        Raises:
            PanelError: A panel value failed its check.
            ConfigError: The config is invalid.
        """
        if self._source is not None:
            return self._source()
        return dataclasses.replace(self._base, phases=self.phases(), **self.top_level())

    def top_level(self) -> dict[str, Any]:
        """This panel's top-level fields (TensorBoard, calibration, seed, early stopping, ...); raises PanelError."""
        return {"tensorboard": bool(self.tensorboard.value), "calibrate": bool(self.calibrate.value),
                **self.advanced.top_level()}

    # -- running ----------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while a run started here is training."""
        return self.session is not None and self.session.running

    def start(self) -> str | None:
        """Builds the config from every panel and starts a run.

        Returns:
            The run id, or None when refused (the reason is shown).
        """
        if self._refuse_if_running():
            return None
        try:
            cfg = self._run_config()
        except (PanelError, ConfigError) as exc:
            self.notice.show(_("Cannot start: {reason}").format(reason=exc))
            return None
        return self.start_with(cfg)

    def start_with(self, cfg: TrainConfig) -> str | None:
        """Starts a run of a config assembled elsewhere (a retrain with data fixes), checked like Start's.

        Returns:
            The run id, or None when refused (the reason is shown).
        """
        if self._refuse_if_running():
            return None
        try:
            if self._check is not None:
                self._check(cfg)
        except (PanelError, ConfigError) as exc:
            self.notice.show(_("Cannot start: {reason}").format(reason=exc))
            return None
        return self._launch(lambda bus: self.engine.session(cfg, bus=bus, source="studio", store=self.store), "started")

    def resume(self, run_dir: str) -> str | None:
        """Continues an interrupted run from its last epoch checkpoint, with the same live charts.

        Args:
            run_dir: The run folder (the caller took it from the run store).

        Returns:
            The run id, or None when refused (the reason is shown).
        """
        if self._refuse_if_running():
            return None

        def make(bus: Any) -> Any:
            session = self.engine.session(None, bus=bus, source="studio", store=self.store, resume_dir=run_dir)
            if self._check is not None:
                self._check(session.config)
            return session

        return self._launch(make, "resumed")

    def _refuse_if_running(self) -> bool:
        if self.running:
            self.guard.refusals += 1
            self.notice.show(_("Refused: a run is already active ({run_id}); press Stop first.").format(
                run_id=self.session.run_id))
            return True
        return False

    def _launch(self, make: Callable[[Any], Any], verb: str) -> str | None:
        """Builds a session on a fresh bus the charts listen to, and starts it."""
        from tl_widgets.core.events import EventBus
        from tl_widgets.core.training.session import SessionBusyError

        self.charts.detach()
        self.charts.reset()
        bus = EventBus()
        previous = (self.session, self.status)
        try:
            session = make(bus)
            # The charts read the session's history (the kernel's one copy) and listen before the run starts.
            self.charts.attach(bus, history=session.history_recorder)
            # Session and "running" are set before the worker starts: a run that fails at once is reported by
            # the pump thread, and that "failed" must not be overwritten by a late "running" from here.
            self.session = session
            self._set_status("running")
            self.progress_bar.value = 0.0
            self.progress_text.value = ""
            run_id = session.start()
        except (SessionBusyError, PanelError, ValueError, OSError) as exc:  # ConfigError is a ValueError
            self.charts.detach()
            self.session = previous[0]
            self._set_status(previous[1])
            why = _("Cannot start: {reason}") if verb == "started" else _("Cannot resume: {reason}")
            self.notice.show(why.format(reason=exc))
            return None
        # The status went out before the notice: a page that sees the new notice also sees "running".
        self.run_id = run_id
        note = _("Run {run_id} started.") if verb == "started" else _("Run {run_id} resumed.")
        self._note_run(note.format(run_id=run_id))
        return run_id

    def stop(self) -> None:
        """Asks the active run to stop after the current batch."""
        if not self.running:
            self.notice.show(_("Nothing to stop: no run is active."), "warning")
            return
        self._note_run(_("Stopping after the current batch..."))  # before stop(): the end's notice replaces it
        self.session.stop()

    def _note_run(self, text: str) -> None:
        """Shows a notice about the run that its end replaces (an error shown meanwhile stays)."""
        self._run_notice = text
        self.notice.show(text, "info")

    def wait(self, timeout: float = 300.0) -> str:
        """Blocks until the run ends and the status line shows it; returns the status (for tests and scripts)."""
        if self.session is None:
            return self.status
        deadline = time.monotonic() + timeout
        self.session.wait(timeout)
        while time.monotonic() < deadline and self.status == "running":
            time.sleep(0.05)
        return self.status

    def _set_status(self, text: str) -> None:
        self.status = text
        self.status_line.value = html.escape(status_label(text))
        running = text == "running"
        self.start_button.disabled = running
        self.stop_button.disabled = not running

    def _on_progress(self, change: dict[str, Any]) -> None:
        """Runs in the pump thread: sets widget values only."""
        p = change["new"]
        if p.status == "idle" and p.message and self.session is not None and self.status == "running":
            self.progress_text.value = html.escape(p.message)  # before the run starts: its place in a room's queue
            self.status_line.value = status_label("queued")
            return
        if p.status == "idle" or self.session is None or (p.run_id and p.run_id != self.session.run_id):
            return
        if self.status_line.value == status_label("queued"):
            self.status_line.value = html.escape(status_label(self.status))
        frac = p.fraction
        if frac is not None:
            self.progress_bar.value = frac
        speed = _("{n:,.0f} images/s").format(n=p.images_per_sec) if p.images_per_sec else ""
        self.progress_text.value = html.escape(_("epoch {epoch}/{epochs}  step {step}/{steps}").format(
            epoch=p.epoch, epochs=p.total_epochs or "?", step=p.step, steps=p.steps_per_epoch or "?")
            + f"  {speed}  {_eta(p.eta_seconds)}")
        if p.status == "failed":
            self._set_status("failed: " + (p.message or _("unknown error")))
        elif saved_a_model(p.status):
            if p.status == "finished":
                self.progress_bar.value = 1.0
            if self.notice.text == self._run_notice:  # not "Stopping after the current batch..." once stopped
                done = _("Run {run_id} finished.") if p.status == "finished" else _("Run {run_id} stopped.")
                self._note_run(done.format(run_id=self.session.run_id))
            if p.warning:  # the room stopped it (its time limit): say why, above the run's end
                self.notice.show(p.warning, "warning")
            self._set_status(p.status)  # after the notice: whoever sees the status sees the notice too
        elif self.status != "running":
            self._set_status("running")
