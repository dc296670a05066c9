"""Freeze panel: the layer map, a "freeze up to block" slider, per-block toggles and totals."""

from __future__ import annotations

import dataclasses
from typing import Any

import ipywidgets as widgets
import traitlets

from tl_widgets.core.config.checks import field_choices
from tl_widgets.core.config.schema import FreezeConfig
from tl_widgets.core.i18n import N_, _
from tl_widgets.panels.kit.validation import Guard, Notice, PanelError, check_choice, check_number

__all__ = ["FreezePanel"]

MODES = field_choices(FreezeConfig, "mode")
MODE_LABELS = {"all": N_("Head only"), "up_to": N_("Freeze up to block"), "top": N_("Unfreeze top N"),
               "none": N_("Train all")}
"""Button labels of the modes (a mode added to the schema shows under its own name)."""


class FreezePanel(widgets.VBox):
    """Edits ``TrainConfig.freeze`` for a backbone and shows its layer map.

    Args:
        backbone: Registered backbone name.
        input_size: Input size the blocks are computed at (None: the default).
        config: Initial freeze plan.
        engine: Answers the backbone's facts (None: this process's engine).
    """

    mode = traitlets.Unicode("all", help="'all' (head only), 'up_to' a block, 'top' N blocks train, 'none' frozen.")
    overrides = traitlets.Dict(help="Per-block overrides chosen with the toggles: block name -> trainable.")
    trainable_params = traitlets.Int(0, help="Backbone parameters that train under the plan.")
    frozen_params = traitlets.Int(0, help="Backbone parameters that stay fixed under the plan.")

    @traitlets.validate("mode")
    def _check_mode(self, proposal: dict[str, Any]) -> str:
        return check_choice(proposal["value"], "freeze.mode", MODES)

    @traitlets.validate("overrides")
    def _check_overrides(self, proposal: dict[str, Any]) -> dict[str, bool]:
        value = proposal["value"]
        for key, flag in value.items():
            check_choice(key, "freeze.overrides key", self.blocks)
            if not isinstance(flag, bool):
                raise PanelError(_("Expected true/false for override {key!r}. Received: {flag!r}").format(
                    key=key, flag=flag))
        return value

    def __init__(self, backbone: str = "demo_cnn", input_size: int | None = None,
                 config: FreezeConfig | None = None, engine: Any = None) -> None:
        from tl_widgets.core.engine import resolve_engine

        self.engine = resolve_engine(engine)
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self.blocks: list[str] = []
        self.backbone, self.size = backbone, input_size
        self._layer_overrides: dict[str, bool] = {}
        self._base = FreezeConfig()
        self.mode_picker = widgets.ToggleButtons(options=[(_(MODE_LABELS[m]) if m in MODE_LABELS else m, m) for m in MODES],
                                                 value=FreezeConfig.mode)
        self.mode_picker.add_class("tlw-freeze-mode")
        self.block_slider = widgets.SelectionSlider(options=["-"], description=_("freeze up to"), continuous_update=False,
                                                    layout={"width": "520px"})
        self.block_slider.add_class("tlw-freeze-block")
        self.top_n = widgets.IntSlider(1, min=0, max=1, description=_("top N train"), continuous_update=False)
        self.top_n.add_class("tlw-freeze-top")
        self.train_bn = widgets.Checkbox(False, description=_("train BatchNorm layers"), indent=False)
        self.train_bn.add_class("tlw-train-bn")
        self.toggles_box = widgets.HBox(layout={"flex_flow": "row wrap"})
        self.toggles: dict[str, widgets.Checkbox] = {}
        self.totals = widgets.HTML()
        self.totals.add_class("tlw-freeze-totals")
        from tl_widgets.views.widgets.chart import PlotlyChart

        self.layer_map = PlotlyChart(height=260, label=_("Layer map: which layers of the backbone train"))
        self.layer_map.add_class("tlw-layer-map")
        self.graph = PlotlyChart(height=360, label=_("Model graph: the backbone's blocks and the new head"))
        self.graph.add_class("tlw-model-graph")
        self.graph.on_click(self._on_graph_click)
        self._graph_at: dict[tuple[float, float], str] = {}
        self.graph_expand = widgets.Dropdown(options=[(_("(blocks only)"), "")], value="", description=_("show layers of"),
                                             style={"description_width": "initial"})
        self.graph_expand.add_class("tlw-graph-expand")
        self.guard.watch(self.mode_picker, lambda v: check_choice(v, "freeze.mode", MODES), self._on_mode)
        self.guard.watch(self.block_slider, lambda v: check_choice(v, "freeze.block", self.blocks),
                         lambda _: self.refresh())
        self.guard.watch(self.top_n, lambda v: check_number(v, "freeze.top_n", 0, len(self.blocks), integer=True),
                         lambda _: self.refresh())
        self.guard.watch(self.train_bn, lambda v: check_choice(v, "train_batchnorm", (True, False)),
                         lambda _: self.refresh())
        self.guard.watch(self.graph_expand, lambda v: check_choice(v, _("graph block"), ["", *self.blocks]),
                         lambda _: self.refresh())
        super().__init__([widgets.HTML(_("<h3>Freeze</h3>")), self.mode_picker, self.block_slider, self.top_n,
                          widgets.HTML(_("Blocks that train (a toggle overrides the mode):")), self.toggles_box,
                          self.train_bn, self.totals, self.notice, self.layer_map,
                          widgets.HTML(_("<b>Model graph</b>: click a block to toggle whether it trains")),
                          self.graph_expand, self.graph])
        self.add_class("tlw-freeze-panel")
        self.set_backbone(backbone, input_size)
        if config is not None:
            self.set_config(config)

    # -- backbone ---------------------------------------------------------------
    def set_backbone(self, backbone: str, input_size: int | None = None) -> None:
        """Recomputes the blocks for a backbone; overrides of vanished blocks are dropped."""
        names = self.engine.block_names(backbone, input_size)
        self.backbone, self.size = backbone, input_size
        if names == self.blocks:
            self.refresh()
            return
        self.blocks = names
        with self.hold_sync():
            self.overrides = {k: v for k, v in self.overrides.items() if k in names}
            self.guard.set_options(self.block_slider, names, names[max(0, len(names) - 2)])
            self.guard.set_options(self.graph_expand, [(_("(blocks only)"), ""), *[(n, n) for n in names]], "")
            self.top_n.max = len(names)
            self.guard.accept(self.top_n, min(self.top_n.value, len(names)))
            self.toggles = {}
            for name in names:
                box = widgets.Checkbox(False, description=name, indent=False, layout={"width": "auto"})
                box.add_class("tlw-block-toggle")
                box.add_class(f"tlw-block-{name}")
                self.guard.watch(box, lambda v: check_choice(v, _("block toggle"), (True, False)),
                                 lambda v, n=name: self._on_toggle(n, v))
                self.toggles[name] = box
            self.toggles_box.children = list(self.toggles.values())
        self.refresh()

    # -- events -----------------------------------------------------------------
    def _on_mode(self, value: str) -> None:
        self.mode = value
        self.overrides = {}
        self.refresh()

    def _on_toggle(self, name: str, value: bool) -> None:
        base = self._states(self._plan(overrides={}))
        overrides = dict(self.overrides)
        if base.get(name) == value:
            overrides.pop(name, None)
        else:
            overrides[name] = value
        self.overrides = overrides
        self.refresh()

    def _plan(self, overrides: dict[str, bool] | None = None) -> FreezeConfig:
        mode = self.mode_picker.value
        merged = {**self._layer_overrides, **(self.overrides if overrides is None else overrides)}
        return dataclasses.replace(self._base, mode=mode, block=self.block_slider.value if mode == "up_to" else None,
                                   top_n=int(self.top_n.value) if mode == "top" else 0, overrides=merged,
                                   train_batchnorm=bool(self.train_bn.value))

    def _states(self, plan: FreezeConfig) -> dict[str, bool]:
        report = self.engine.describe_freeze(self.backbone, self.size, plan)
        return {b.name: b.trainable is not False for b in report.blocks}

    def refresh(self) -> None:
        """Recomputes the report; redraws the layer map, toggles and totals."""
        from tl_widgets.core.models.freezing import FreezeError
        from tl_widgets.views.figures.basic import layer_map_figure

        mode = self.mode_picker.value
        self.block_slider.layout.display = None if mode == "up_to" else "none"
        self.top_n.layout.display = None if mode == "top" else "none"
        try:
            report = self.engine.describe_freeze(self.backbone, self.size, self._plan())
        except FreezeError as exc:
            self.notice.show(str(exc))
            return
        with self.hold_sync():
            for block in report.blocks:
                if block.name in self.toggles:
                    self.guard.accept(self.toggles[block.name], block.trainable is not False)
            self.trainable_params, self.frozen_params = report.trainable_params, report.frozen_params
            self.totals.value = _("<b>{trainable:,}</b> trainable, <b>{frozen:,}</b> frozen backbone parameters").format(
                trainable=report.trainable_params, frozen=report.frozen_params)
        self.layer_map.set_figure(layer_map_figure([b.to_dict() for b in report.blocks]))
        self._draw_graph()

    def _draw_graph(self) -> None:
        """Redraws the model graph under the plan (blocks, one of them expanded when chosen)."""
        from tl_widgets.views.figures.graph import graph_figure, graph_positions

        graph, blocks = self.engine.describe_graph(self.backbone, self.size, self._plan())
        expand = [self.graph_expand.value] if self.graph_expand.value in self.blocks else []
        graph = graph.collapse(blocks, expand)
        owner = {n.name: n.block for n in graph.nodes}
        self._graph_at = {xy: owner[name] for name, xy in graph_positions(graph).items() if owner[name]}
        figure = graph_figure(graph)
        self.graph.height = int(figure.layout.height)
        self.graph.set_figure(figure)

    def _on_graph_click(self, event: dict[str, Any]) -> None:
        """A click on a graph node toggles its block (the same override as the block's checkbox)."""
        x, y = event.get("x"), event.get("y")
        block = self._graph_at.get((x, y)) if isinstance(x, (int, float)) and isinstance(y, (int, float)) else None
        if block is None or block not in self.toggles:
            return
        self.toggles[block].value = not self.toggles[block].value

    # -- config -----------------------------------------------------------------
    def set_config(self, cfg: FreezeConfig) -> None:
        """Shows ``cfg``.

        Raises:
            PanelError: A block name that the backbone does not have, or ``top_n`` above the block count.
        """
        if cfg.mode == "up_to":
            check_choice(cfg.block, "freeze.block", self.blocks)
        if cfg.mode == "top":
            check_number(cfg.top_n, "freeze.top_n", 0, len(self.blocks), integer=True)
        from tl_widgets.core.models.freezing import FreezeError

        try:
            self.engine.describe_freeze(self.backbone, self.size, cfg)
        except FreezeError as exc:
            raise PanelError(str(exc)) from None
        with self.hold_sync():
            self.guard.accept(self.mode_picker, cfg.mode)
            self.mode = cfg.mode
            if cfg.block is not None:
                self.guard.accept(self.block_slider, cfg.block)
            self.guard.accept(self.top_n, cfg.top_n)
            self.guard.accept(self.train_bn, cfg.train_batchnorm)
            self._layer_overrides = {k: v for k, v in cfg.overrides.items() if k not in self.blocks}
            self.overrides = {k: v for k, v in cfg.overrides.items() if k in self.blocks}
        self._base = cfg
        self.refresh()

    @property
    def config(self) -> FreezeConfig:
        """This panel's part of the config: the plan the widgets show, re-checked against the backbone's blocks.

        A block name or top N that the chosen mode does not use passes through
        from the plan it was given with (when the mode is unchanged).

        Raises:
            PanelError: A value is not acceptable.
        """
        mode = check_choice(self.mode_picker.value, "freeze.mode", MODES)
        if mode == "up_to":
            check_choice(self.block_slider.value, "freeze.block", self.blocks)
        if mode == "top":
            check_number(self.top_n.value, "freeze.top_n", 0, len(self.blocks), integer=True)
        for key in self.overrides:
            check_choice(key, "freeze.overrides key", self.blocks)
        plan = self._plan()
        base = self._base
        if mode != "up_to" and base.mode == mode and base.block is not None:
            plan = dataclasses.replace(plan, block=base.block)  # an unused block name round-trips unchanged
        if mode != "top" and base.mode == mode:
            plan = dataclasses.replace(plan, top_n=base.top_n)
        return plan
