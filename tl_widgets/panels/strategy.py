"""Strategy panel: devices, distribution strategies of the active backend, mixed precision and XLA."""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import ipywidgets as widgets
import traitlets

from tl_widgets.core.config.checks import field_bounds, field_choices, field_help
from tl_widgets.core.config.schema import StrategyConfig
from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.field_editor import FieldGroup, advanced_box
from tl_widgets.panels.kit.labels import choice_options
from tl_widgets.panels.kit.validation import Guard, Notice, check_choice, check_number

__all__ = ["StrategyPanel"]

PRECISIONS = field_choices(StrategyConfig, "mixed_precision")
XLA = {{True: "on", False: "off"}.get(v, v): v for v in field_choices(StrategyConfig, "jit_compile")}
"""Button label -> ``jit_compile`` value (``"auto"``, on = True, off = False)."""


def _xla_label(value: str | bool) -> str:
    """The button label of a ``jit_compile`` value (``True`` is "on", not the ``1`` it equals)."""
    return next(label for label, v in XLA.items() if v == value and type(v) is type(value))


class StrategyPanel(widgets.VBox):
    """Edits ``TrainConfig.strategy``; strategies that cannot work here are listed with the reason.

    Args:
        config: Initial strategy settings.
        engine: The engine whose devices and strategies are shown (None: this process's).
    """

    kind = traitlets.Unicode("auto", help="The strategy kind (only those available with this backend).")
    batch_size = traitlets.Int(32, help="Batch size per replica (set by the Data panel).")
    replicas = traitlets.Int(1, help="Replicas the selected strategy would use.")

    def __init__(self, config: StrategyConfig | None = None, engine: Any = None) -> None:
        from tl_widgets.core.engine import resolve_engine

        self.engine = resolve_engine(engine)

        self.notice = Notice()
        self.guard = Guard(self.notice)
        facts = self.engine.devices()  # asked once: the engine's devices and its backend's strategies
        self.devices, self.options = facts.devices, facts.strategies
        self.allowed = [o.kind for o in self.options if o.available]
        self._base = StrategyConfig()
        dev_rows = "".join(f"<li>{html.escape(d.kind.upper())}: {html.escape(d.name)}"
                           + (f" ({d.memory_bytes / 2**30:.1f} GiB)" if d.memory_bytes else "") + "</li>"
                           for d in self.devices)
        self.devices_html = widgets.HTML(_("Keras backend <b>{backend}</b>; devices:").format(
            backend=html.escape(facts.backend)) + f"<ul>{dev_rows}</ul>")
        self.devices_html.add_class("tlw-devices")
        self.picker = widgets.Dropdown(options=[(o.label, o.kind) for o in self.options if o.available],
                                       value=StrategyConfig.kind, description=_("strategy"), layout={"width": "460px"})
        self.picker.add_class("tlw-strategy")
        unavailable = _(" (unavailable)")
        notes = "".join(
            f"<li style='color:{'#333' if o.available else '#666'}'>{html.escape(o.label)}"
            f"{'' if o.available else unavailable}{': ' + html.escape(o.reason) if o.reason else ''}</li>"
            for o in self.options)
        self.reasons = widgets.HTML(f"<ul>{notes}</ul>")
        self.reasons.add_class("tlw-strategy-reasons")
        lo, hi = field_bounds(StrategyConfig, "logical_cpus")
        self.logical_cpus = widgets.BoundedIntText(0, min=lo, max=hi, description=_("logical CPUs"),
                                                   tooltip=field_help(StrategyConfig, "logical_cpus"))
        self.logical_cpus.add_class("tlw-logical-cpus")
        self.precision = widgets.Dropdown(options=choice_options(PRECISIONS), value=StrategyConfig.mixed_precision,
                                          description=_("precision"))
        self.precision.add_class("tlw-precision")
        self.xla = widgets.ToggleButtons(options=choice_options(XLA), value=_xla_label(StrategyConfig.jit_compile),
                                         description="XLA")
        self.xla.add_class("tlw-xla")
        self.global_batch = widgets.HTML()
        self.global_batch.add_class("tlw-global-batch")
        self.more = FieldGroup(StrategyConfig, ("steps_per_execution", "lr_scaling"), self.guard, "strategy")
        self.guard.watch(self.picker, lambda v: check_choice(v, "strategy.kind", self.allowed), self._on_kind)
        self.guard.watch(self.logical_cpus, lambda v: check_number(v, "logical_cpus", lo, hi, integer=True),
                         lambda _: self._update_batch())
        self.guard.watch(self.precision, lambda v: check_choice(v, "mixed_precision", PRECISIONS))
        self.guard.watch(self.xla, lambda v: check_choice(v, "jit_compile", list(XLA)))
        self.observe(lambda _: self._update_batch(), names="batch_size")
        super().__init__([widgets.HTML(_("<h3>Devices and strategy</h3>")), self.devices_html, self.picker,
                          self.reasons, self.logical_cpus, self.precision, self.xla, self.global_batch,
                          advanced_box((None, self.more.widgets)), self.notice])
        self.add_class("tlw-strategy-panel")
        self._update_batch()
        if config is not None:
            self.set_config(config)

    def _on_kind(self, value: str) -> None:
        self.kind = value
        self._update_batch()

    def _update_batch(self) -> None:
        gpus = sum(1 for d in self.devices if d.kind == "gpu")
        kind = self.picker.value
        if kind in ("mirrored",):
            replicas = gpus if gpus > 1 else max(1, self.logical_cpus.value)
        elif kind in ("data_parallel", "model_parallel", "auto") and len(self.devices) > 1 and gpus > 1:
            replicas = gpus
        else:
            replicas = 1
        self.replicas = replicas
        self.global_batch.value = _("batch per replica <b>{batch}</b> x {replicas} replica(s) = global batch "
                                    "<b>{total}</b>").format(batch=self.batch_size, replicas=replicas,
                                                             total=self.batch_size * replicas)

    def set_config(self, cfg: StrategyConfig) -> None:
        """Shows ``cfg``.

        Raises:
            PanelError: The strategy is not available with this backend and these devices.
        """
        kind = check_choice(cfg.kind, "strategy.kind", self.allowed)
        with self.hold_sync():
            self.guard.accept(self.picker, kind)
            self.kind = kind
            self.guard.accept(self.logical_cpus, cfg.logical_cpus)
            self.guard.accept(self.precision, cfg.mixed_precision)
            self.guard.accept(self.xla, _xla_label(cfg.jit_compile))
            self.more.show(cfg)
        self._base = cfg
        self._update_batch()

    @property
    def config(self) -> StrategyConfig:
        """This panel's part of the config, re-checked; fields it does not show pass through.

        Raises:
            PanelError: A value failed its check.
        """
        kind = check_choice(self.picker.value, "strategy.kind", self.allowed)
        lo, hi = field_bounds(StrategyConfig, "logical_cpus")
        return dataclasses.replace(
            self._base, kind=kind,
            logical_cpus=check_number(self.logical_cpus.value, "logical_cpus", lo, hi, integer=True),
            mixed_precision=check_choice(self.precision.value, "mixed_precision", PRECISIONS),
            jit_compile=XLA[check_choice(self.xla.value, "jit_compile", list(XLA))], **self.more.values())

    def describe(self) -> dict[str, Any]:
        """Devices and options as plain data (for tests and the code view)."""
        return {"devices": [d.__dict__ for d in self.devices], "allowed": list(self.allowed)}

