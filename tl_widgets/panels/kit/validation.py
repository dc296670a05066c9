"""Python-side checks for every value that comes from the browser.

The browser can set any synced widget value (including ``min``/``max`` and
``disabled``), so panels never trust a widget's own bounds: each editable
widget is watched by a :class:`Guard` that checks the new value against the
:class:`~tl_widgets.core.config.schema.TrainConfig` bounds or a whitelist, resets a
refused value to the last good one and shows why in a :class:`Notice`.
The rules themselves live in :mod:`tl_widgets.core.config.checks` (the one
validator); :func:`check_number` and :func:`check_choice` only turn its
``ConfigError`` into a :class:`PanelError`.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import ipywidgets as widgets

from tl_widgets.core.config import checks
from tl_widgets.core.i18n import N_, _
from tl_widgets.core.settings import DATA_ROOTS_ENV

__all__ = [
    "PanelError",
    "Notice",
    "Guard",
    "check_number",
    "check_choice",
    "data_roots",
    "resolve_under_roots",
]



class PanelError(ValueError):
    """A value from the browser (or a restored config) is not acceptable."""


class Notice(widgets.HTML):
    """A one-line message area (class ``tlw-message``); safe to set from any thread."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("tlw-message")
        self.text = ""

    def show(self, text: str, level: str = "error") -> None:
        """Shows ``text``; ``level`` is ``"error"``, ``"warning"`` or ``"info"``."""
        colour = {"error": "#b00020", "warning": "#8a6d00", "info": "#355"}.get(level, "#355")
        self.text = text
        self.value = f'<span class="tlw-{level}" style="color:{colour}">{html.escape(text)}</span>' if text else ""

    def clear(self) -> None:
        """Empties the message."""
        self.show("")


class Guard:
    """Watches widgets and refuses values that fail a Python check.

    Args:
        notice: Where refusals are reported.

    Example::

        guard = Guard(notice)
        guard.watch(epochs, lambda v: check_number(v, "epochs", 0, 1000, integer=True))
    """

    def __init__(self, notice: Notice) -> None:
        self.notice = notice
        self.refusals = 0
        self._last: dict[int, Any] = {}
        self._busy: set[int] = set()

    def watch(self, widget: widgets.Widget, check: Callable[[Any], Any], after: Callable[[Any], None] | None = None) -> None:
        """Checks every new ``widget.value``; ``after(value)`` runs for accepted values.

        Args:
            widget: A widget with a ``value`` trait.
            check: Returns the accepted (possibly normalised) value or raises
                :class:`PanelError`/``ValueError`` with the reason.
            after: Called with each accepted value.
        """
        self._last[id(widget)] = widget.value

        def on_change(change: dict[str, Any]) -> None:
            key = id(widget)
            if key in self._busy:
                return
            try:
                value = check(change["new"])
            except (PanelError, ValueError, TypeError) as exc:
                self.refusals += 1
                self._set(widget, self._last[key])
                self.notice.show(_("Refused: {reason}").format(reason=exc))
                return
            self._last[key] = value
            if value != change["new"]:
                self._set(widget, value)
            if after is not None:
                after(value)

        widget.observe(on_change, names="value")

    def accept(self, widget: widgets.Widget, value: Any) -> None:
        """Sets a value the caller has already checked (e.g. from a restored config)."""
        self._last[id(widget)] = value
        self._set(widget, value)

    def set_options(self, widget: widgets.Widget, options: Any, value: Any) -> None:
        """Replaces a selection widget's options and selects ``value`` (already checked)."""
        self._busy.add(id(widget))
        try:
            widget.options = options
            widget.value = value
        finally:
            self._busy.discard(id(widget))
        self._last[id(widget)] = value

    def _set(self, widget: widgets.Widget, value: Any) -> None:
        self._busy.add(id(widget))
        try:
            widget.value = value
        finally:
            self._busy.discard(id(widget))


def check_number(value: Any, name: str, lo: float | None, hi: float | None, *, integer: bool = False) -> Any:
    """Returns ``value`` if it is a finite number within ``[lo, hi]`` (the core validator's rule).

    Raises:
        PanelError: Naming the field, the bounds and the value received.
    """
    try:
        return checks.check_number(value, name, lo, hi, integer=integer)
    except checks.ConfigError as exc:
        raise PanelError(str(exc)) from None


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Returns ``value`` if it is one of ``choices`` (the core validator's rule).

    Raises:
        PanelError: Listing (up to 8 of) the allowed values.
    """
    try:
        return checks.check_choice(value, name, choices)
    except checks.ConfigError as exc:
        raise PanelError(str(exc)) from None


def data_roots(roots: Sequence[str | os.PathLike[str]] | None = None) -> list[Path]:
    """The folders a user may pick data from, resolved.

    Args:
        roots: Explicit roots; None reads ``$TL_WIDGETS_DATA_ROOTS``
            (``os.pathsep``-separated). Missing folders are left out.
    """
    if roots is None:
        env = os.environ.get(DATA_ROOTS_ENV, "")
        roots = [r for r in env.split(os.pathsep) if r.strip()]
    out: list[Path] = []
    for root in roots:
        path = Path(root).expanduser().resolve()
        if path.is_dir() and path not in out:
            out.append(path)
    return out


def resolve_under_roots(path: str | os.PathLike[str], roots: Sequence[Path], what: str = N_("folder")) -> Path:
    """Resolves ``path`` (symlinks, ``..``) and checks it lies inside one of ``roots`` (the core rule).

    Args:
        path: The path from the browser or a restored config.
        roots: The folders it may lie in.
        what: What the path names, as an English msgid marked with ``N_`` (translated in the message).

    Raises:
        PanelError: The path escapes every root, or no root is configured.
    """
    try:
        return checks.check_under_roots(path, roots, what)
    except checks.ConfigError as exc:
        raise PanelError(str(exc)) from None
