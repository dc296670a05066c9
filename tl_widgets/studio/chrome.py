"""A guided flow's chrome: the step header (where you are, what is missing, Back/Next) and the run bar.

:class:`StepHeader` shows numbered steps plus un-numbered extras (e.g. "Runs")
as one row of buttons, the current one highlighted, and a line saying what the
current step is for and what it still needs ("Pick a dataset first."). Its
``current`` trait is the key shown; the owner swaps its pages when it changes.

:class:`RunBar` takes a :class:`~tl_widgets.panels.train.TrainPanel`'s Start and
Stop buttons, progress bar, progress text, status line and notice out of that
panel and shows them in one row, so a run can be started, watched and stopped
from every step (one launch path: the buttons stay the train panel's own).
While the training engine loads, :meth:`RunBar.set_loading` disables Start and
says so.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Mapping

import ipywidgets as widgets
import traitlets

from tl_widgets.core.i18n import _

__all__ = ["StepHeader", "RunBar", "CodeView", "NameBox", "loading_text", "room_header"]


class StepHeader(widgets.VBox):
    """Step buttons, a hint line and Back/Next.

    Args:
        steps: Numbered steps in order: key -> title (already translated).
        extras: Un-numbered entries after the steps (key -> title), reachable
            by their button but skipped by Back/Next.
        help: Key -> one sentence saying what the step is for.
        title: Shown first in the row of step buttons (one row less than a heading of its own).

    Example::

        header = StepHeader({"data": "Data", "train": "Train"}, {"runs": "Runs"})
        header.observe(lambda c: print(c["new"]), names="current")
        header.set_missing({"train": "Pick a dataset first."})
    """

    current = traitlets.Unicode(help="The key of the step shown.")

    def __init__(self, steps: Mapping[str, str], extras: Mapping[str, str] | None = None,
                 help: Mapping[str, str] | None = None, title: str = "") -> None:
        if not steps:
            raise ValueError("Expected at least one step. Received: none")
        self.steps, self.extras = dict(steps), dict(extras or {})
        self.order = [*self.steps, *self.extras]
        self.help = dict(help or {})
        self.missing: dict[str, str] = {}
        self.buttons: dict[str, widgets.Button] = {}
        for i, (key, label) in enumerate(self.steps.items()):
            self.buttons[key] = self._button(key, f"{i + 1}. {label}")
        for key, label in self.extras.items():
            self.buttons[key] = self._button(key, label)
            self.buttons[key].add_class("tlw-step-extra")
        self.back = widgets.Button(description=_("Back"), icon="arrow-left", layout={"width": "auto"})
        self.back.add_class("tlw-step-back")
        self.next = widgets.Button(description=_("Next"), icon="arrow-right", layout={"width": "auto"})
        self.next.add_class("tlw-step-next")
        self.back.on_click(lambda _b: self.go(-1))
        self.next.on_click(lambda _b: self.go(1))
        self.hint = widgets.HTML(layout={"flex": "1 1 auto", "margin": "0 8px"})
        self.hint.add_class("tlw-step-hint")
        numbered = list(self.buttons.values())[:len(self.steps)]
        extra = list(self.buttons.values())[len(self.steps):]
        spacer = widgets.Box(layout={"flex": "1 1 auto"})
        heading = [widgets.HTML(f"<b style='font-size:1.15em;margin-right:12px'>{html.escape(title)}</b>")] \
            if title else []
        row = widgets.HBox([*heading, *numbered, spacer, *extra],
                           layout={"flex_flow": "row wrap", "align_items": "center"})
        row.add_class("tlw-step-buttons")
        nav = widgets.HBox([self.back, self.hint, self.next], layout={"align_items": "center"})
        nav.add_class("tlw-step-nav")
        super().__init__([row, nav])
        self.add_class("tlw-steps")
        self.observe(self._on_current, names="current")
        self.current = self.order[0]

    def _button(self, key: str, label: str) -> widgets.Button:
        button = widgets.Button(description=label, layout={"width": "auto"})
        button.add_class("tlw-step")
        button.add_class(f"tlw-step-{key}")
        button.on_click(lambda _b, k=key: self.select(k))
        return button

    @traitlets.validate("current")
    def _check_current(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]
        if value not in self.order:
            raise traitlets.TraitError(f"Expected a step in {self.order}. Received: {value!r}")
        return value

    def select(self, key: str) -> None:
        """Shows step ``key``.

        Raises:
            KeyError: ``key`` is not a step.
        """
        if key not in self.order:
            raise KeyError(f"Expected a step in {self.order}. Received: {key!r}")
        self.current = key

    def go(self, delta: int) -> None:
        """Moves ``delta`` numbered steps (Back: -1, Next: +1); from an extra, Back returns to the last step."""
        order = list(self.steps)
        if self.current not in order:
            if delta < 0:
                self.current = order[-1]
            return
        index = min(max(order.index(self.current) + delta, 0), len(order) - 1)
        self.current = order[index]

    def set_missing(self, missing: Mapping[str, str]) -> None:
        """Says what each step still needs (key -> sentence); steps not named need nothing. Safe from any thread."""
        self.missing = {k: v for k, v in missing.items() if k in self.buttons and v}
        self._render()

    def _on_current(self, change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        key = self.current
        order = list(self.steps)
        for k, button in self.buttons.items():
            button.button_style = "primary" if k == key else ""
            button.tooltip = self.missing.get(k, self.help.get(k, ""))
            if k in self.missing and k != key:
                button.add_class("tlw-step-missing")
            else:
                button.remove_class("tlw-step-missing")
        if key in order:
            i = order.index(key)
            where = _("Step {n} of {total}: {title}.").format(n=i + 1, total=len(order), title=self.steps[key])
            self.back.disabled = i == 0
            self.next.disabled = i == len(order) - 1
            following = order[i + 1] if i + 1 < len(order) else None
            self.next.tooltip = (_("Next: {title}").format(title=self.steps[following]) if following else "")
        else:
            where = f"{self.extras[key]}."
            self.back.disabled, self.next.disabled = False, True
            self.next.tooltip = ""
        text = f"<b>{html.escape(where)}</b> {html.escape(self.help.get(key, ''))}"
        if key in self.missing:
            text += (f" <span class='tlw-step-missing-text' style='color:#8a4b00;font-weight:600'>"
                     f"{html.escape(self.missing[key])}</span>")
        self.hint.value = text


class RunBar(widgets.VBox):
    """Start/Stop, progress and the run status of a train panel, in one row shown above every step.

    Args:
        train: A :class:`~tl_widgets.panels.train.TrainPanel`; its ``start_button``,
            ``stop_button``, ``progress_bar``, ``progress_text``, ``status_line``
            and ``notice`` move here (the rows that held them leave the panel).
    """

    def __init__(self, train: Any) -> None:
        self.train = train
        taken = [train.start_button, train.stop_button, train.progress_bar, train.progress_text, train.status_line,
                 train.notice]
        ids = {id(w) for w in taken}
        train.children = tuple(c for c in train.children if id(c) not in ids
                               and not any(id(w) in ids for w in getattr(c, "children", ())))
        train.progress_bar.layout.width = "240px"
        train.start_button.layout.min_width = "90px"
        train.start_button.layout.flex = "0 0 auto"
        self.status_label = widgets.HTML(_("status:") + "&nbsp;", layout={"margin": "0 0 0 8px"})
        row = widgets.HBox([train.start_button, train.stop_button, train.progress_bar, train.progress_text,
                            self.status_label, train.status_line],
                           layout={"align_items": "center", "flex_flow": "row wrap", "flex": "0 0 auto"})
        row.add_class("tlw-run-row")
        train.notice.add_class("tlw-run-notice")
        super().__init__([row, train.notice], layout={"border": "1px solid #d0d7de", "padding": "4px 8px",
                                                       "margin": "4px 0", "flex": "0 0 auto"})
        self.add_class("tlw-run-controls")  # not "tlw-run-bar": the lab extension's CSS styles that as a 3px bar
        self.loading = False

    def set_loading(self, loading: bool, text: str | None = None) -> None:
        """Disables Start and says why (``text``, e.g. "Loading TensorFlow…") while ``loading``; restores it after."""
        start = self.train.start_button
        self.loading = bool(loading)
        if loading:
            start.description = text or _("Loading TensorFlow…")
            start.tooltip = start.description
            start.layout.width = "220px"  # the whole text, not "Loading TensorFl…"
            start.icon = "hourglass-half"
            start.disabled = True
            start.add_class("tlw-start-loading")
        else:
            start.description = _("Start")
            start.tooltip = _("Start")
            start.layout.width = None
            start.icon = "play"
            start.disabled = bool(self.train.running)
            start.remove_class("tlw-start-loading")


class CodeView(widgets.VBox):
    """"Show code": the Python and CLI equivalents of the config a ``config_source`` assembles.

    Args:
        config_source: The Studio's assembler (raises PanelError or ConfigError on a bad value).
        notice: Where a refusal is shown.
    """

    def __init__(self, config_source: Callable[[], Any], notice: Any) -> None:
        self._source, self._notice = config_source, notice
        self.button = widgets.Button(description=_("Show code"), icon="code")
        self.button.add_class("tlw-show-code")
        self.code = widgets.HTML()
        self.code.add_class("tlw-code")
        self.button.on_click(lambda _b: self.show())
        super().__init__([widgets.HBox([self.button]), self.code])

    def show(self) -> str:
        """Shows (and returns) the code; "" with the reason in the notice when the config is refused."""
        from tl_widgets.core.config.codegen import cli_command, python_code
        from tl_widgets.core.config.schema import ConfigError
        from tl_widgets.panels.kit.validation import PanelError

        try:
            cfg = self._source()
        except (PanelError, ConfigError) as exc:
            self._notice.show(_("Cannot show code: {reason}").format(reason=exc))
            return ""
        py, cli = python_code(cfg), cli_command(cfg)
        self.code.value = (f"<b>Python</b><pre class='tlw-code-python'>{html.escape(py)}</pre>"
                           + "<b>" + html.escape(_("Command line")) + "</b>"
                           + f"<pre class='tlw-code-cli'>{html.escape(cli)}</pre>")
        return py + "\n" + cli


def loading_text() -> widgets.HTML:
    """The placeholder of a step that waits for the engine: "Loading TensorFlow…"."""
    box = widgets.HTML("<i>" + html.escape(_("Loading TensorFlow…")) + "</i>")
    box.add_class("tlw-loading")
    return box


class NameBox(widgets.HBox):
    """A served seat's "Your name" line: the name the instructor sees for this seat (kept with the seat).

    Args:
        name: The name already recorded ("" when none).
        on_name: Records a name; returns it as recorded (cleaned) or raises ValueError.
    """

    def __init__(self, name: str, on_name: Callable[[str], str]) -> None:
        self._on_name = on_name
        self.text = widgets.Text(value=name, placeholder=_("Your name (your teacher sees it)"),
                                 layout={"width": "260px"})
        self.text.add_class("tlw-seat-name")
        self.button = widgets.Button(description=_("Save name"), icon="user", layout={"width": "auto"})
        self.button.add_class("tlw-seat-name-save")
        self.said = widgets.HTML()
        self.said.add_class("tlw-seat-name-said")
        self.button.on_click(lambda _b: self.save())
        self.text.on_submit(lambda _t: self.save())
        super().__init__([self.text, self.button, self.said], layout={"align_items": "center"})
        self.add_class("tlw-seat-name-box")
        self._show(name)

    def save(self) -> None:
        """Records the name typed (checked in Python: the browser can send any text)."""
        value = self.text.value if isinstance(self.text.value, str) else ""
        try:
            name = self._on_name(value)
        except (ValueError, OSError) as exc:
            self.said.value = html.escape(_("Cannot save the name: {reason}").format(reason=exc))
            return
        self.text.value = name
        self._show(name)

    def _show(self, name: str) -> None:
        self.said.value = html.escape(_("Hello, {name}!").format(name=name)) if name else ""


def room_header(seat: Any, workshop: Any, notice: Any) -> tuple[list[widgets.Widget], NameBox | None, widgets.HTML]:
    """The lines above the steps: in a served seat the "Your name" line (and "welcome back" after a reload), the
    workshop's banner, the line where the instructor's message to the room appears; returns them, the name line
    (None outside a seat) and the message line (hidden until there is a message)."""
    message = widgets.HTML(layout={"display": "none"})
    message.add_class("tlw-broadcast")
    header: list[widgets.Widget] = []
    name_box = None
    if seat is not None:
        from tl_widgets.core.room.seat import set_display_name

        name_box = NameBox(seat.display_name, lambda name: set_display_name(seat.home, name))
        header.append(name_box)
        if seat.rejoined:
            notice.show(_("Welcome back: your runs, captures and uploads are here."), "info")
    if workshop is not None and workshop.summary():  # a room served without a workshop file: limits, no banner
        banner = widgets.HTML(f"<i>{html.escape(workshop.summary())}</i>")
        banner.add_class("tlw-workshop")
        header.append(banner)
    return [*header, message], name_box, message
