"""Accessibility fixes for a whole widget box, done once in the page (an anywidget).

ipywidgets 8 leaves a few gaps that a screen reader or a keyboard user meets at once:
slider handles (noUiSlider) have no accessible name, Font Awesome icon glyphs are read
as part of a button's name, and accordion headers can be clicked but not reached with
the keyboard. :class:`AccessibilityHelper` is an invisible widget: put it in a box
(the Studio does) and its browser side (``a11y.js``) watches that box and

- names every slider handle, and every other control still without a name, after its
  widget's description or tooltip;
- hides icon glyphs inside buttons and accordion headers from the accessibility tree;
- makes accordion headers buttons: focusable with Tab, ``aria-expanded``, opened with
  Enter or Space.

Its stylesheet (``a11y.css``) raises, inside the Studio (``.tlw-studio``), the ipywidgets colours that fail WCAG AA contrast
(white text on the green, orange, red and light-blue button styles) and shows a visible
focus ring. A control that has neither a description nor a tooltip stays unnamed: give
it a ``tooltip`` in Python (``tests/browser/test_accessibility.py`` finds such controls).

Example::

    box = widgets.VBox([widgets.FloatSlider(description="rate"), AccessibilityHelper()])
"""

from __future__ import annotations

import pathlib
from typing import Any

import anywidget
import traitlets

from tl_widgets.core.i18n import _

__all__ = ["AccessibilityHelper"]


class AccessibilityHelper(anywidget.AnyWidget):
    """An invisible widget that fixes accessible names and keyboard access in the box that holds it.

    Args:
        **kwargs: Passed to ``anywidget.AnyWidget``.
    """

    _esm = pathlib.Path(__file__).with_name("a11y.js")
    _css = pathlib.Path(__file__).with_name("a11y.css")
    texts = traitlets.Dict(help="Words the page adds to names: 'lower'/'upper' for a range slider's handles."
                           ).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(texts={"lower": _("from"), "upper": _("to")}, **kwargs)
        self.layout.display = "none"
        self.add_class("tlw-a11y")
