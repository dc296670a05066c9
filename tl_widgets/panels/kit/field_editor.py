"""Advanced settings: one widget per config field, built from the schema, each with a one-line help text.

A :class:`FieldEditor` edits one field of a config dataclass: the widget is
chosen from the field's type (``Literal`` -> dropdown, ``bool`` -> checkbox,
bounded numbers -> bounded boxes, ``X | None`` -> a box left blank for None),
its choices and bounds come from the schema (:mod:`tl_widgets.core.config.checks`),
and every value from the browser is re-checked by the one validator
(:func:`~tl_widgets.core.config.checks.check_value`). A :class:`FieldGroup`
edits several fields of one dataclass; :func:`advanced_box` wraps groups in an
"Advanced" accordion, closed by default, which the panel owning the sub-config
shows. The labels and help texts are the schema's own (``label``/``help`` field metadata, read through
:func:`~tl_widgets.core.config.checks.field_label` and :func:`~tl_widgets.core.config.checks.field_help`).
"""

from __future__ import annotations

import dataclasses
import html
import types
import typing
from typing import Any, Sequence

import ipywidgets as widgets

from tl_widgets.core.config import checks
from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.labels import choice_options
from tl_widgets.panels.kit.validation import Guard, PanelError

__all__ = ["FieldEditor", "FieldGroup", "advanced_box", "find_editors"]

def _field(cls: type, name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def _optional(tp: Any) -> tuple[Any, bool]:
    """``(inner type, True)`` for ``X | None``; ``(tp, False)`` otherwise."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(args) < len(typing.get_args(tp)):
            return args[0], True
    return tp, False


class FieldEditor(widgets.VBox):
    """Edits field ``name`` of config dataclass ``cls``; shows its label, widget and one-line help.

    Args:
        cls: The config dataclass (e.g. :class:`~tl_widgets.core.config.schema.ModelConfig`).
        name: The field.
        guard: Checks every value from the browser (refusals go to its notice).
        path: The field's path in a :class:`TrainConfig` (``model.dropout``, ``phases[1].schedule``).
        css: The widget's ``tlw-`` class.
        options: ``(label, value)`` pairs for a field whose choices are not in its type (e.g. folders); the
            value ``""`` stands for None.
        check: An extra check of a non-None value (e.g. "inside the data roots"); returns the value to keep.

    Raises:
        KeyError: ``cls.name`` declares no help in the schema.
    """

    def __init__(self, cls: type, name: str, guard: Guard, path: str, css: str,
                 options: Sequence[tuple[str, str]] | None = None, check: Any = None) -> None:
        self.cls, self.name, self.path, self.guard = cls, name, path, guard
        self.help_text = checks.field_help(cls, name)
        f = _field(cls, name)
        self.meta = f.metadata
        self.hint = checks.type_hints(cls)[name]
        self.inner, self.optional = _optional(self.hint)
        self._extra_check = check
        lo, hi = self.meta.get("min"), self.meta.get("max")
        common = {"description": checks.field_label(cls, name), "tooltip": self.help_text,
                  "style": {"description_width": "150px"}}
        if options is not None:
            self.kind = "options"
            self.control: widgets.Widget = widgets.Dropdown(options=list(options), layout={"width": "480px"},
                                                            **common)
        elif typing.get_origin(self.inner) is typing.Literal or self.inner is bool and not self.optional:
            self.kind = "bool" if self.inner is bool else "choice"
            if self.kind == "bool":
                self.control = widgets.Checkbox(False, indent=True, layout={"width": "auto"}, **common)
            else:
                self.control = widgets.Dropdown(options=choice_options(checks.field_choices(cls, name)),
                                                layout={"width": "300px"}, **common)
        elif self.optional or lo is None or hi is None:
            self.kind = "text"
            self.control = widgets.Text("", placeholder=_("(blank: none)") if self.optional else "",
                                        layout={"width": "300px"}, **common)
        elif self.inner is int:
            self.kind = "int"
            self.control = widgets.BoundedIntText(int(lo), min=lo, max=hi, layout={"width": "260px"}, **common)
        else:
            self.kind = "float"
            self.control = widgets.BoundedFloatText(float(lo), min=lo, max=hi, step=0.05 if hi <= 1 else 0.5,
                                                    layout={"width": "260px"}, **common)
        self.control.add_class(css)
        self.help = widgets.HTML(f'<small style="color:#555">{html.escape(self.help_text)}</small>',
                                 layout={"margin": "0 0 4px 158px"})
        self.help.add_class("tlw-help")
        guard.watch(self.control, self.parse)
        super().__init__([self.control, self.help])
        self.add_class("tlw-field")
        self.show(f.default if f.default is not dataclasses.MISSING else f.default_factory())  # type: ignore[misc]

    def parse(self, value: Any) -> Any:
        """The widget value ``value`` checked (for the guard): returns the widget value to keep.

        Raises:
            PanelError: Naming the field, what was expected and what was received.
        """
        self.to_config(value)
        return value

    def to_config(self, value: Any) -> Any:
        """The config value a widget value stands for, checked by the schema's validator.

        Raises:
            PanelError: Naming the field, what was expected and what was received.
        """
        if self.kind in ("text", "options") and isinstance(value, str) and value.strip() == "" and self.optional:
            return None
        if self.kind == "text" and isinstance(value, str) and self.inner in (int, float):
            try:
                value = self.inner(value.strip())
            except ValueError:
                kind = _("an integer") if self.inner is int else _("a number")
                raise PanelError(_("Expected {name} to be {kind}. Received: {value!r}").format(
                    name=self.path, kind=kind, value=value)) from None
        try:
            out = checks.check_value(self.hint, value, self.path, self.meta)
        except checks.ConfigError as exc:
            raise PanelError(str(exc)) from None
        if out is not None and self._extra_check is not None:
            out = self._extra_check(out)
        return out

    def show(self, value: Any) -> None:
        """Shows config value ``value`` (from a restored config; the extra check runs on it).

        Raises:
            PanelError: The extra check refuses it (e.g. a folder outside the data roots).
        """
        if value is not None and self._extra_check is not None:
            value = self._extra_check(value)
        shown = self.widget_value(value)
        if self.kind == "options" and shown not in [v for _, v in self.control.options]:
            self.guard.set_options(self.control, [*self.control.options, (shown, shown)], self.control.value)
        self.guard.accept(self.control, shown)

    def widget_value(self, value: Any) -> Any:
        """The widget value that stands for config value ``value`` (text boxes: ``""`` for None)."""
        if self.kind in ("text", "options"):
            return "" if value is None else str(value)
        return value

    @property
    def value(self) -> Any:
        """The config value shown, re-checked.

        Raises:
            PanelError: The value fails its check.
        """
        return self.to_config(self.control.value)


class FieldGroup:
    """Editors for several fields of one config dataclass.

    Args:
        cls: The config dataclass.
        names: Its fields shown here, in order.
        guard: Checks every value from the browser.
        path: The dataclass's path in a :class:`TrainConfig` (``""`` for the top level, ``"phases[0]"``).
        css_prefix: Prefix of the widgets' classes (``tlw-adv-{prefix}{field}``).
        options: Per field, ``(label, value)`` choices (see :class:`FieldEditor`).
        checks_: Per field, an extra check (see :class:`FieldEditor`).
    """

    def __init__(self, cls: type, names: Sequence[str], guard: Guard, path: str = "", css_prefix: str = "",
                 options: dict[str, Sequence[tuple[str, str]]] | None = None,
                 checks_: dict[str, Any] | None = None) -> None:
        self.cls = cls
        options, checks_ = options or {}, checks_ or {}
        self.editors: dict[str, FieldEditor] = {
            n: FieldEditor(cls, n, guard, f"{path}.{n}" if path else n,
                           f"tlw-adv-{css_prefix}{n.replace('_', '-')}", options.get(n), checks_.get(n))
            for n in names}

    @property
    def widgets(self) -> list[FieldEditor]:
        return list(self.editors.values())

    def show(self, obj: Any) -> None:
        """Shows the fields of ``obj`` (a ``cls``)."""
        for name, editor in self.editors.items():
            editor.show(getattr(obj, name))

    def values(self) -> dict[str, Any]:
        """``{field: value}`` shown, re-checked.

        Raises:
            PanelError: A value fails its check.
        """
        return {name: editor.value for name, editor in self.editors.items()}

    def apply(self, obj: Any) -> Any:
        """A copy of ``obj`` with the values shown here; other fields pass through.

        Raises:
            PanelError: A value fails its check.
        """
        return dataclasses.replace(obj, **self.values())


def advanced_box(*sections: tuple[str | None, Sequence[widgets.Widget]], title: str | None = None) -> widgets.Accordion:
    """An accordion (closed) titled "Advanced" holding ``(heading, widgets)`` sections (heading None: none)."""
    children: list[widgets.Widget] = []
    for heading, items in sections:
        if heading:
            children.append(widgets.HTML(f"<b>{html.escape(heading)}</b>"))
        children.extend(items)
    box = widgets.Accordion([widgets.VBox(children)], titles=(title or _("Advanced"),))
    box.selected_index = None
    box.add_class("tlw-advanced")
    return box


def find_editors(root: widgets.Widget) -> list[FieldEditor]:
    """Every :class:`FieldEditor` under ``root`` (walking ``children``), in display order."""
    out: list[FieldEditor] = []
    stack = [root]
    seen: set[int] = set()
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        if isinstance(w, FieldEditor):
            out.append(w)
            continue
        stack.extend(reversed(list(getattr(w, "children", ()) or ())))
    return out
