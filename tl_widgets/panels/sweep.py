"""The sweep panel: pick fields and ranges, run an Optuna sweep, watch trials arrive, use the best config.

Standalone::

    panel = SweepPanel(config_source=lambda: my_config)
    panel            # tick fields, set ranges, press "Start sweep"

In the Studio it sits in the Train tab: the sweep starts from the Studio's
current config and "Use best" restores the best trial's config into every
panel. The sweep (:class:`tl_widgets.core.sweeps.runner.SweepRunner`) runs in
a worker thread that only sets widget values; each trial is a normal run (it
appears in the Runs tab). Every value from the browser is checked in Python:
the ranges against the schema's bounds (:class:`~tl_widgets.core.sweeps.spec.SweepSpec`
refuses a range the config would refuse).
"""

from __future__ import annotations

import html
import time
from typing import Any, Callable

import ipywidgets as widgets

from tl_widgets.core.config.checks import ConfigError
from tl_widgets.core.config.schema import TrainConfig
from tl_widgets.core.i18n import N_, _, ngettext
from tl_widgets.panels.kit.labels import choice_options
from tl_widgets.panels.kit.validation import Notice, PanelError, check_number
from tl_widgets.panels.kit.worker import BackgroundWork
from tl_widgets.views.widgets.chart import PlotlyChart

__all__ = ["SweepPanel", "FIELDS", "TRIALS_BOUNDS"]

# path: (label, kind, default low, default high, log, searched by default)
FIELDS: dict[str, tuple[str, str, float, float, bool, bool]] = {
    "phases[0].learning_rate": (N_("Head learning rate"), "float", 1e-4, 3e-2, True, True),
    "phases[1].learning_rate": (N_("Fine-tune learning rate"), "float", 1e-5, 1e-3, True, False),
    "phases[1].freeze.top_n": (N_("Fine-tune: top blocks"), "int", 0, 3, False, False),
    "model.dropout": (N_("Dropout"), "float", 0.0, 0.5, False, True),
    "model.hidden_units": (N_("Hidden units"), "int", 0, 128, False, False),
    "data.augmentation.rotation": (N_("Rotation"), "float", 0.0, 0.2, False, False),
}
"""The fields the panel offers, with their starting ranges."""
TRIALS_BOUNDS = (1, 500)
PRUNERS = ("median", "successive_halving", "none")


class _Row:
    """One field: searched?, low, high, log."""

    def __init__(self, path: str, label: str, kind: str, low: float, high: float, log: bool, on: bool) -> None:
        self.path, self.kind = path, kind
        text = widgets.IntText if kind == "int" else widgets.FloatText
        self.on = widgets.Checkbox(value=on, description=_(label), indent=False, layout={"width": "220px"})
        self.low = text(value=low, description=_("from"), layout={"width": "170px"})
        self.high = text(value=high, description=_("to"), layout={"width": "170px"})
        self.log = widgets.Checkbox(value=log, description=_("log scale"), indent=False, disabled=kind == "int",
                                    layout={"width": "110px"})
        for w, name in ((self.on, "on"), (self.low, "low"), (self.high, "high"), (self.log, "log")):
            w.add_class(f"tlw-sweep-{name}")
        self.box = widgets.HBox([self.on, self.low, self.high, self.log])
        self.box.add_class("tlw-sweep-row")

    def entry(self) -> dict[str, Any]:
        """This row as a sweep-file entry, its numbers checked."""
        integer = self.kind == "int"
        low = check_number(self.low.value, _("{path} from").format(path=self.path), None, None, integer=integer)
        high = check_number(self.high.value, _("{path} to").format(path=self.path), None, None, integer=integer)
        out: dict[str, Any] = {"type": self.kind, "low": low, "high": high}
        if self.kind == "float" and bool(self.log.value):
            out["log"] = True
        return out


class SweepPanel(BackgroundWork, widgets.VBox):
    """Runs an Optuna sweep over the config the Studio describes.

    Args:
        config_source: Returns the base config (called on the kernel's main
            thread when "Start sweep" is pressed; may raise ``PanelError``/``ConfigError``).
        on_use_best: Called with the best trial's :class:`TrainConfig` when
            "Use best" is pressed (the Studio restores it into its panels).
        store: The run store trials are recorded in (None: the home store).
        busy: Returns True while another run trains here (a sweep is then refused).
        storage: The Optuna database URL (None: the home SQLite file).
    """

    def __init__(self, config_source: Callable[[], TrainConfig], on_use_best: Callable[[TrainConfig], None] | None = None,
                 *, store: Any = None, busy: Callable[[], bool] | None = None, storage: str | None = None) -> None:
        if not callable(config_source):
            raise TypeError(f"Expected a callable config source. Received: {config_source!r}")
        self.config_source, self.on_use_best, self.store = config_source, on_use_best, store
        self.other_busy = busy or (lambda: False)
        self.storage = storage
        self.notice = Notice()
        self.rows = {path: _Row(path, *spec) for path, spec in FIELDS.items()}
        self.trials = widgets.BoundedIntText(value=8, min=TRIALS_BOUNDS[0], max=TRIALS_BOUNDS[1], description=_("trials"),
                                             layout={"width": "160px"})
        self.trials.add_class("tlw-sweep-trials")
        self.pruner = widgets.Dropdown(options=choice_options(PRUNERS), value="median", description=_("pruner"), layout={"width": "260px"})
        self.start_button = widgets.Button(description=_("Start sweep"), icon="play", button_style="primary")
        self.start_button.add_class("tlw-sweep-start")
        self.stop_button = widgets.Button(description=_("Stop"), icon="stop", disabled=True)
        self.stop_button.add_class("tlw-sweep-stop")
        self.best_button = widgets.Button(description=_("Use best"), icon="check", disabled=True)
        self.best_button.add_class("tlw-sweep-best")
        self.status = widgets.HTML(_("Tick the fields to search, set their ranges, press Start sweep."))
        self.status.add_class("tlw-sweep-status")
        self.table = widgets.HTML()
        self.table.add_class("tlw-sweep-table")
        labels = {"history": _("Sweep: score of each trial"), "parallel": _("Sweep: settings of each trial"),
                  "importance": _("Sweep: how much each setting mattered")}
        self.charts = {key: PlotlyChart(height=320, label=text) for key, text in labels.items()}
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.best_button.on_click(lambda _: self.use_best())
        self.refusal: str | None = None  # set by the host to switch sweeps off (e.g. in a served room)
        self.runner: Any = None
        self.study: Any = None
        self.outcomes: list[Any] = []
        super().__init__([
            widgets.HTML(_("<b>Search hyperparameters with Optuna</b>: every trial is a normal run (Runs tab); "
                           "weak trials are stopped early by the pruner.")),
            *[r.box for r in self.rows.values()],
            widgets.HBox([self.trials, self.pruner]),
            widgets.HBox([self.start_button, self.stop_button, self.best_button]),
            self.status, self.notice, self.table,
            widgets.Tab(children=list(self.charts.values()),
                        titles=(_("Optimisation history"), _("Parallel coordinates"), _("Parameter importances"))),
        ])
        self.add_class("tlw-sweep")

    # -- the sweep ---------------------------------------------------------------
    def sweep_spec(self) -> Any:
        """The :class:`~tl_widgets.core.sweeps.spec.SweepSpec` the panel describes, every value checked.

        Raises:
            PanelError: A value failed its check (the message names the field).
        """
        from tl_widgets.core.sweeps.spec import SweepSpec

        base = self.config_source()
        space = {path: row.entry() for path, row in self.rows.items() if row.on.value}
        trials = check_number(self.trials.value, "trials", *TRIALS_BOUNDS, integer=True)
        pruner = self.pruner.value if self.pruner.value in PRUNERS else "median"
        try:
            return SweepSpec.from_dict({"name": f"studio-{time.strftime('%Y%m%d-%H%M%S')}", "trials": trials,
                                        "pruner": pruner, "config": base.to_dict(), "space": space})
        except ConfigError as exc:
            raise PanelError(str(exc)) from None

    def start(self) -> bool:
        """Presses "Start sweep": returns False (with the reason shown) when refused."""
        from tl_widgets.core.sweeps.runner import SweepRunner

        if self.refusal:
            self.notice.show(self.refusal)
            return False
        if self.busy:
            self.notice.show(_("A sweep is already running: stop it first."))
            return False
        if self.other_busy():
            self.notice.show(_("A run is training: wait for it or stop it before starting a sweep."))
            return False
        try:
            spec = self.sweep_spec()
        except (PanelError, ConfigError) as exc:
            self.notice.show(_("Cannot start the sweep: {reason}").format(reason=exc))
            return False
        self.notice.clear()
        self.outcomes = []
        self.table.value = ""
        self.best_button.disabled = True
        self.runner = SweepRunner(spec, storage=self.storage, store=self.store, source="studio",
                                  on_trial=self._on_trial, on_event=self._on_event)
        self.status.value = _("Sweep {name}: starting {n} trials…").format(name=html.escape(spec.study_name), n=spec.trials)
        self.stop_button.disabled = False
        self._run_in_background(self._work, name="tl-widgets-sweep", buttons=[self.start_button],
                                failure=_("The sweep failed: "))
        return True

    def _work(self) -> None:
        from tl_widgets.core.sweeps.study import open_study

        try:
            self.study = open_study(self.runner.spec, self.storage)
            self.runner.run()
            self._refresh()
        finally:
            self.stop_button.disabled = True
        done = len(self.outcomes)
        stopped = self.runner.stop_event.is_set()
        text = (ngettext("Sweep {name} stopped: {n} trial.", "Sweep {name} stopped: {n} trials.", done) if stopped
                else ngettext("Sweep {name} done: {n} trial.", "Sweep {name} done: {n} trials.", done))
        self.status.value = text.format(name=html.escape(self.runner.spec.study_name), n=done) + " " + self._best_line()

    def stop(self) -> None:
        """Presses Stop: the trial under way ends after its current batch; no other starts."""
        if self.runner is not None:
            self.runner.stop()

    def _on_event(self, event: Any) -> None:
        if event.kind == "epoch_end":
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in event.metrics.items() if k in ("accuracy", "val_accuracy"))
            self.status.value = _("Trial {i} of {n}: epoch {epoch} ({metrics})").format(
                i=len(self.outcomes), n=self.runner.spec.trials, epoch=event.epoch + 1, metrics=html.escape(metrics))

    def _on_trial(self, outcome: Any) -> None:
        self.outcomes.append(outcome)
        self._refresh()

    def _refresh(self) -> None:
        from tl_widgets.core.sweeps.runner import trial_rows
        from tl_widgets.views.figures.sweep import sweep_figures

        if self.study is None:
            return
        rows = trial_rows(self.study)
        self.table.value = _table(rows)
        for key, fig in sweep_figures(self.study).items():
            self.charts[key].set_figure(fig)
        self.best_button.disabled = not any(r["state"] == "complete" for r in rows)

    def _best_line(self) -> str:
        complete = [o for o in self.outcomes if o.state == "complete"]
        if not complete:
            return _("No complete trial.")
        best = max(complete, key=lambda o: o.value)
        return _("Best: trial {number}, {metric} {value:.4f}.").format(
            number=best.number, metric=self.runner.spec.metric, value=best.value)

    def best_config(self) -> TrainConfig:
        """The best trial's config.

        Raises:
            PanelError: No sweep, or no complete trial yet.
        """
        from tl_widgets.core.sweeps.runner import best_config

        if self.study is None:
            raise PanelError(_("Expected a sweep with a complete trial. Received: no sweep yet"))
        try:
            return best_config(self.study)
        except ValueError as exc:
            raise PanelError(str(exc)) from None

    def use_best(self) -> TrainConfig | None:
        """Presses "Use best": hands the best trial's config to ``on_use_best``; returns it (None when refused)."""
        try:
            cfg = self.best_config()
            if self.on_use_best is not None:
                self.on_use_best(cfg)
        except (PanelError, ConfigError) as exc:
            self.notice.show(_("Cannot use the best trial: {reason}").format(reason=exc))
            return None
        self.notice.show(_("The best trial's config is now in the panels."), "info")
        return cfg


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    names = sorted({k for r in rows for k in r["params"]})
    head = "".join(f"<th>{html.escape(n)}</th>" for n in [_("trial"), _("state"), _("value"), _("epochs"), *names])
    body = "".join(
        f"<tr class='tlw-sweep-trial tlw-sweep-{html.escape(r['state'])}'><td>{r['number']}</td>"
        f"<td>{html.escape(r['state'])}</td><td>{_fmt(r['value']) if r['value'] is not None else '-'}</td>"
        f"<td>{r['epochs']}</td>" + "".join(f"<td>{_fmt(r['params'].get(n, '-'))}</td>" for n in names) + "</tr>"
        for r in rows)
    return f"<table class='tlw-table'><tr>{head}</tr>{body}</table>"
