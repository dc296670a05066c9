"""Backbone panel: a searchable table of registered backbones, weights and input size."""

from __future__ import annotations

import dataclasses
import html
import os
from pathlib import Path
from typing import Any, Sequence

import ipywidgets as widgets
import traitlets

from tl_widgets.core.config.checks import field_bounds
from tl_widgets.core.config.schema import ModelConfig
from tl_widgets.core.i18n import N_, _
from tl_widgets.core.models.backbones import BackboneSpec, get_backbone, list_backbones
from tl_widgets.panels.kit.field_editor import FieldGroup, advanced_box
from tl_widgets.panels.kit.validation import Guard, Notice, PanelError, check_choice, check_number, resolve_under_roots
from tl_widgets.panels.kit.validation import data_roots as _data_roots

__all__ = ["BackbonePanel"]

WEIGHT_CHOICES = ("pretrained", "none", "file")
"""The panel's weight picker (``ModelConfig.weights`` is free text: a keyword or a file)."""
WEIGHT_SUFFIXES = (".h5", ".keras")
MIN_SIZE, MAX_SIZE = field_bounds(ModelConfig, "input_size")


def _label(spec: BackboneSpec) -> str:
    row = spec.as_row()
    top1 = f"{row['top1']:.1f}%" if row["top1"] is not None else "n/a"
    return _("{name:<22} {params:>6.1f}M params  top-1 {top1:>6}  {size}px").format(
        name=row["name"], params=row["params_m"], top1=top1, size=row["default_size"])


def _weight_files(roots: Sequence[Path]) -> list[tuple[str, str]]:
    out = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            if len(Path(dirpath).relative_to(root).parts) > 2:
                dirnames[:] = []
            for f in sorted(filenames):
                if f.endswith(WEIGHT_SUFFIXES):
                    p = Path(dirpath) / f
                    out.append((f"{root.name}/{p.relative_to(root).as_posix()}", str(p)))
    return out


class BackbonePanel(widgets.VBox):
    """Edits ``TrainConfig.model``: backbone, weights and input size.

    Args:
        config: Initial model settings.
        data_roots: Folders a weights file may come from (None: ``$TL_WIDGETS_DATA_ROOTS``).
        allowed: The only backbone names offered and accepted (a workshop's
            list; None: every registered backbone).

    Raises:
        PanelError: ``allowed`` names an unregistered backbone.
    """

    backbone = traitlets.Unicode("demo_cnn", help="Registered name of the selected backbone.")
    input_size = traitlets.Int(48, help="Square input size in pixels (>= the backbone's min size).")

    @traitlets.validate("backbone")
    def _check_backbone(self, proposal: dict[str, Any]) -> str:
        return check_choice(proposal["value"], "model.backbone", self.names)

    def __init__(self, config: ModelConfig | None = None,
                 data_roots: Sequence[str | os.PathLike[str]] | None = None,
                 allowed: Sequence[str] | None = None) -> None:
        self.roots = _data_roots(data_roots)
        self.specs = {s.name: s for s in list_backbones()}
        if allowed is not None:
            for name in allowed:
                check_choice(name, "allowed backbone", list(self.specs))
            self.specs = {n: s for n, s in self.specs.items() if n in allowed}
            if not self.specs:
                raise PanelError("Expected at least one allowed backbone. Received: allowed=[]")
        self.names = list(self.specs)
        first = "demo_cnn" if "demo_cnn" in self.specs else self.names[0]
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self._base = ModelConfig()
        self._size_default = True  # None in the config: the backbone's default size

        self.filter = widgets.Text(placeholder=_("filter: name or family"), description=_("search"))
        self.filter.add_class("tlw-backbone-filter")
        self.select = widgets.Select(options=self._options(""), value=first, rows=10,
                                     layout={"width": "560px"},
                                     tooltip=_("Backbone: the pretrained network to start from"))
        self.select.add_class("tlw-backbone")
        self.select.style.font_family = "monospace"  # type: ignore[attr-defined]
        self.weights = widgets.ToggleButtons(options=[(_("Pretrained"), "pretrained"), (_("None (random)"), "none"),
                                                      (_("File"), "file")], value="pretrained")
        self.weights.add_class("tlw-weights")
        self.weights_file = widgets.Dropdown(options=_weight_files(self.roots) or [(_("(no weight files)"), "")],
                                             description=_("file"), layout={"width": "420px", "display": "none"})
        self.weights_file.add_class("tlw-weights-file")
        self.weights_status = widgets.HTML()
        self.weights_status.add_class("tlw-weights-status")
        self.size = widgets.BoundedIntText(48, min=MIN_SIZE, max=MAX_SIZE, description=_("input size"))
        self.size.add_class("tlw-input-size")
        self.details = widgets.HTML()
        self.head = FieldGroup(ModelConfig, ("pooling", "dropout", "hidden_units"), self.guard, "model")
        self.advanced = advanced_box((None, self.head.widgets))

        self.filter.observe(lambda c: self._refilter(), names="value")
        self.guard.watch(self.select, lambda v: check_choice(v, "model.backbone", self.names), self._on_backbone)
        self.guard.watch(self.weights, lambda v: check_choice(v, "weights", WEIGHT_CHOICES), lambda _: self._on_weights())
        self.guard.watch(self.weights_file, self._check_weights_file, lambda _: self._on_weights())
        self.guard.watch(self.size, self._check_size, self._on_size)
        # The table is padded text in a Select: a monospace font keeps its columns aligned.
        header = widgets.HTML("<h3>" + _("Backbone") + "</h3>"
                              "<style>.tlw-backbone select { font-family: monospace; }</style>")
        super().__init__([header, self.filter, self.select, self.details, self.size,
                          self.weights, self.weights_file, self.weights_status, self.advanced, self.notice])
        self.add_class("tlw-backbone-panel")
        self._on_backbone(first)
        if config is not None:
            self.set_config(config)

    # -- helpers ----------------------------------------------------------------
    def _options(self, text: str) -> list[tuple[str, str]]:
        text = text.strip().lower()
        keep = [s for s in self.specs.values() if not text or text in s.name or text in (s.family or "")]
        current = getattr(self, "select", None)
        if current is not None and current.value and current.value not in [s.name for s in keep]:
            keep.insert(0, self.specs[current.value])
        return [(_label(s), s.name) for s in keep]

    def _refilter(self) -> None:
        self.guard.set_options(self.select, self._options(self.filter.value), self.select.value)

    def _check_size(self, value: Any) -> int:
        spec = self.specs[self.select.value]
        return check_number(value, "model.input_size", spec.min_size, MAX_SIZE, integer=True)

    def _check_weights_file(self, value: Any) -> str:
        if value == "":
            return value
        path = resolve_under_roots(value, self.roots, N_("weights file"))
        if not path.name.endswith(WEIGHT_SUFFIXES) or not path.is_file():
            raise PanelError(_("Expected a .h5 or .keras file. Received: {value!r}").format(value=value))
        return str(path)

    # -- events -----------------------------------------------------------------
    def _on_backbone(self, name: str) -> None:
        spec = self.specs[name]
        row = spec.as_row()
        self.details.value = _("{name} ({family}): {description}; min input {size}px").format(
            name=f"<b>{html.escape(name)}</b>", family=html.escape(row["family"]),
            description=html.escape(_(row["description"]) if row["description"] else ""), size=spec.min_size)
        self.size.min = spec.min_size
        self.guard.accept(self.size, spec.default_size)
        self._size_default = True
        with self.hold_trait_notifications():
            self.backbone = name
            self.input_size = spec.default_size
        self._on_weights()

    def _on_size(self, value: int) -> None:
        self._size_default = False
        self.input_size = value

    def _on_weights(self) -> None:
        choice = self.weights.value
        self.weights_file.layout.display = None if choice == "file" else "none"
        spec = self.specs[self.select.value]
        if choice == "none":
            text = _("random initialisation (no pretrained weights)")
        elif choice == "file":
            text = (_("weights from {file}").format(file=self.weights_file.value) if self.weights_file.value
                    else _("pick a weights file"))
        elif spec.pretrained != "imagenet":
            text = _("bundled weights (always available)")
        else:
            from tl_widgets.core.models.weights import weights_file

            try:
                cached = weights_file(spec.name, self.size.value).is_cached()
            except (ValueError, RuntimeError) as exc:
                text = _("cache status unknown: {reason}").format(reason=exc)
            else:
                text = (_("ImageNet weights cached") if cached else
                        _("ImageNet weights not cached: downloaded at the first run (needs network; "
                          "or `tl-widgets weights prefetch`)"))
        self.weights_status.value = html.escape(text)

    # -- config -----------------------------------------------------------------
    def set_config(self, cfg: ModelConfig) -> None:
        """Shows ``cfg``.

        Raises:
            PanelError: Unknown backbone, a size below its minimum, or a weights file outside the data roots.
        """
        name = check_choice(cfg.backbone, "model.backbone", self.names)
        if cfg.weights not in ("pretrained", "none", "imagenet"):
            path = self._check_weights_file(cfg.weights)
            if path not in [v for _, v in self.weights_file.options]:
                self.guard.set_options(self.weights_file, [*self.weights_file.options, (path, path)], self.weights_file.value)
        with self.hold_sync():
            self.guard.accept(self.select, name)
            self._refilter()
            self._on_backbone(name)
            if cfg.input_size is not None:
                self.guard.accept(self.size, self._check_size(cfg.input_size))
                self._size_default = False
                self.input_size = cfg.input_size
            if cfg.weights in ("pretrained", "imagenet", "none"):
                self.guard.accept(self.weights, "none" if cfg.weights == "none" else "pretrained")
            else:
                self.guard.accept(self.weights, "file")
                self.guard.accept(self.weights_file, path)
            self.head.show(cfg)
        self._base = cfg
        self._on_weights()

    @property
    def config(self) -> ModelConfig:
        """This panel's part of the config, re-checked; fields it does not show pass through.

        Raises:
            PanelError: A value failed its check.
        """
        name = check_choice(self.select.value, "model.backbone", self.names)
        get_backbone(name)
        size = None if self._size_default else self._check_size(self.size.value)
        choice = check_choice(self.weights.value, "weights", WEIGHT_CHOICES)
        if choice == "file":
            if not self.weights_file.value:
                raise PanelError(_("Expected a weights file picked under the data roots. Received: none"))
            weights = self._check_weights_file(self.weights_file.value)
        elif choice == "pretrained" and self._base.weights == "imagenet":
            weights = "imagenet"
        else:
            weights = choice
        return dataclasses.replace(self._base, backbone=name, weights=weights, input_size=size, **self.head.values())

    @property
    def effective_size(self) -> int:
        """The input size in use (the default when the config leaves it None)."""
        return int(self.size.value)
