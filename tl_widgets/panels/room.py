"""The instructor's board: the whole room live, and the instructor's controls.

Served by ``tl-widgets serve --workshop`` on its own URL and token (students
never get it). Every few seconds it reads the seats through
:mod:`tl_widgets.core.room.census` (seats whose kernel ended stay listed) and
shows: a status badge per seat (idle, capturing, queued N, training e/E,
finished, failed with the reason; a flag on who has been idle or queued too
long), one small chart per seat on shared axes, a leaderboard, the room's
queue and memory. It acts through :mod:`tl_widgets.core.room.control`: stop a
seat's run, shut a seat down, send the config of the instructor's own Studio
to every seat (checked against the workshop first; each seat applies it
through its one config setter), show one line to every seat, and download the
room's results as CSV. A refresh sends only what changed.
"""

from __future__ import annotations

import html
import json
import threading
from pathlib import Path
from typing import Any, Callable

import ipywidgets as widgets

from tl_widgets.core.config.schema import ConfigError, TrainConfig, demo_config
from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.validation import Notice, PanelError, check_choice

__all__ = ["RoomPanel"]


class RoomPanel(widgets.VBox):
    """The room, refreshed every ``every_s`` seconds.

    Args:
        seats_root: The folder holding the seats (``$TL_WIDGETS_SEATS`` of the served Studio).
        every_s: Seconds between refreshes (0: only on Refresh).
        config_source: The instructor's own Studio's config (``lambda: studio.config``): "Send to the room".
        workshop: The room's limits a sent config is checked against (None: ``$TL_WIDGETS_WORKSHOP``).
    """

    def __init__(self, seats_root: str | Path, every_s: float = 2.0, config_source: Callable[[], Any] | None = None,
                 workshop: Any = None) -> None:
        from tl_widgets.core.room.workshop import workshop_from_env
        from tl_widgets.views.widgets.chart import PlotlyChart
        from tl_widgets.views.widgets.download import Download

        self.root = Path(seats_root)
        self.workshop = workshop if workshop is not None else workshop_from_env()
        self.config_source = config_source
        self.seats: list[dict[str, Any]] = []
        self.updates = 0  # widget values changed by refreshes (each one message to the page)
        self._shown: dict[str, Any] = {}
        self.notice = Notice()
        self.summary = widgets.HTML()
        self.summary.add_class("tlw-room-summary")
        self.badges = widgets.HTML()
        self.badges.add_class("tlw-room-badges")
        self.table = widgets.VBox([self.summary, self.badges])  # the room at a glance: counts, then every seat
        self.table.add_class("tlw-room-table")
        self.curves = PlotlyChart(height=260, label=_("Validation accuracy per epoch of every seat"))
        self.curves.add_class("tlw-room-curves")
        self.leaderboard = widgets.HTML()
        self.leaderboard.add_class("tlw-room-leaderboard")
        self.refresh_button = widgets.Button(description=_("Refresh"), icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.seat_picker = widgets.Dropdown(options=[], description=_("seat"))
        self.seat_picker.add_class("tlw-room-seat")
        self.stop_button = widgets.Button(description=_("Stop its run"), icon="stop", button_style="danger")
        self.stop_button.add_class("tlw-room-stop")
        self.stop_button.on_click(lambda _: self.stop_seat(self.seat_picker.value))
        self.shutdown_button = widgets.Button(description=_("Shut the seat down"), icon="power-off",
                                              layout={"width": "auto"},
                                              tooltip=_("Ends the seat's kernel (its runs stay): frees a seat "
                                                        "of the room"))
        self.shutdown_button.add_class("tlw-room-shutdown")
        self.shutdown_button.on_click(lambda _: self.shutdown_seat(self.seat_picker.value))
        self.message = widgets.Text(placeholder=_("One line every student sees, e.g. 'Stop training: we look at "
                                                  "the results together'"), layout={"width": "560px"})
        self.message.add_class("tlw-room-message")
        self.say_button = widgets.Button(description=_("Show to every seat"), icon="bullhorn", layout={"width": "auto"})
        self.say_button.add_class("tlw-room-say")
        self.say_button.on_click(lambda _: self.say(self.message.value))
        self.unsay_button = widgets.Button(description=_("Take down"), icon="eraser")
        self.unsay_button.on_click(lambda _: self.say(""))
        self.send_button = widgets.Button(description=_("Send my Studio's config to the room"), icon="share",
                                          button_style="primary", disabled=config_source is None,
                                          layout={"width": "auto", "align_self": "flex-start"})
        self.send_button.add_class("tlw-room-send")
        self.send_button.on_click(lambda _: self.send_config())
        self.config_text = widgets.Textarea(json.dumps(demo_config().to_dict(), indent=1), rows=10,
                                            layout={"width": "700px"})
        self.config_text.add_class("tlw-room-config")
        self.push_button = widgets.Button(description=_("Push to every seat"), icon="share")
        self.push_button.add_class("tlw-room-push")
        self.push_button.on_click(lambda _: self.push(self.config_text.value))
        self.csv = Download()
        self.csv_button = widgets.Button(description=_("Download results (CSV)"), icon="table",
                                         layout={"width": "auto"})
        self.csv_button.add_class("tlw-room-csv")
        self.csv_button.on_click(lambda _: self.download_csv())
        json_box = widgets.Accordion([widgets.VBox([
            widgets.HTML(_("JSON of a TrainConfig (demo or folder data). Each seat checks it against the workshop's "
                           "limits and shows it in its panels (not while it trains).")),
            self.config_text, self.push_button])], titles=(_("Push a config as JSON"),))
        super().__init__([
            widgets.HTML(_("<h2>Room</h2>")), widgets.HBox([self.refresh_button, self.csv_button, self.csv]),
            self.table, self.curves,
            widgets.HTML("<h3>" + html.escape(_("Leaderboard")) + "</h3>"), self.leaderboard,
            widgets.HTML("<h3>" + html.escape(_("Act")) + "</h3>"),
            widgets.HBox([self.seat_picker, self.stop_button, self.shutdown_button]),
            widgets.HBox([self.message, self.say_button, self.unsay_button]),
            self.send_button, json_box, self.notice,
        ])
        self.add_class("tlw-room-panel")
        self.refresh()
        self._halt = threading.Event()
        if every_s > 0:
            threading.Thread(target=self._loop, args=(every_s,), name="tlw-room", daemon=True).start()

    def _loop(self, every_s: float) -> None:
        while not self._halt.wait(every_s):
            try:
                self.refresh()
            except Exception as exc:  # keep refreshing; show why this one failed
                self.notice.show(_("Could not read the room: {reason}").format(reason=exc))

    def close(self) -> None:
        """Stops refreshing and closes the widgets."""
        self._halt.set()
        super().close()

    def _set(self, key: str, value: Any, apply: Callable[[Any], None]) -> None:
        """Sends ``value`` to the page only when it changed since the last refresh."""
        if self._shown.get(key) != value:
            self._shown[key] = value
            apply(value)
            self.updates += 1

    def refresh(self) -> None:
        """Re-reads every seat (the open ones first, then those whose kernel ended) and updates what changed."""
        import psutil

        from tl_widgets.core.room.census import feature_cache_bytes, room_census
        from tl_widgets.views.figures.board import badges_html, leaderboard_html, seat_curves_figure

        seats = room_census(self.root, include_ended=True)
        self.seats = [s for s in seats if s["alive"]] + [s for s in seats if not s["alive"]]
        alive = [s["seat"] for s in self.seats if s["alive"]]
        training = sum(1 for s in self.seats if s["queue"] == _("training"))
        waiting = sum(1 for s in self.seats if s["queue"] and s["queue"] != _("training"))
        memory = psutil.virtual_memory()
        seats_pss = sum(s["pss_bytes"] or 0 for s in self.seats)
        line = _("Seats open: {open}, ended: {ended}; queue: {training} training, {waiting} waiting; memory used "
                 "{used:.1f} of {total:.1f} GiB (seats {seats:.1f} GiB); shared feature cache {cache:.0f} MiB").format(
            open=len(alive), ended=len(self.seats) - len(alive), training=training, waiting=waiting,
            used=(memory.total - memory.available) / 2**30, total=memory.total / 2**30, seats=seats_pss / 2**30,
            cache=feature_cache_bytes(self.root) / 2**20)
        self._set("summary", html.escape(line), lambda v: setattr(self.summary, "value", v))
        self._set("badges", badges_html(self.seats), lambda v: setattr(self.badges, "value", v))
        curves = [(s["seat"], s.get("name"), s["alive"], tuple((s["run"] or {}).get("curve") or ()),
                   (s["run"] or {}).get("status")) for s in self.seats]
        self._set("curves", curves, lambda _v: self.curves.set_figure(seat_curves_figure(self.seats)))
        self._set("leaderboard", leaderboard_html(self.seats), lambda v: setattr(self.leaderboard, "value", v))
        keep = self.seat_picker.value if self.seat_picker.value in alive else (alive[0] if alive else None)
        labels = [(f"{s.get('name') or s['seat']} ({s['seat']})" if s.get("name") else s["seat"], s["seat"])
                  for s in self.seats if s["alive"]]
        self._set("picker", (tuple(labels), keep), lambda v: self._show_picker(*v))

    def _show_picker(self, labels: tuple[tuple[str, str], ...], keep: str | None) -> None:
        with self.hold_sync():
            self.seat_picker.options = list(labels)
            self.seat_picker.value = keep

    def say(self, text: Any) -> bool:
        """Shows one line to every seat ("" takes it down); False with the reason when refused."""
        from tl_widgets.core.room.control import broadcast

        try:
            line = broadcast(self.root, text)
        except ValueError as exc:
            self.notice.show(_("Refused: {reason}").format(reason=exc))
            return False
        self.notice.show(_("Every seat now shows: {line}").format(line=line) if line else
                         _("The message is taken down."), "info")
        return True

    def send_config(self) -> bool:
        """Sends the instructor's Studio's config to every seat, checked against the workshop's limits first."""
        from tl_widgets.core.config.checks import ConfigError as CheckError
        from tl_widgets.core.room.limits import check_run_limits

        if self.config_source is None:
            self.notice.show(_("Refused: there is no Studio on this page to send a config from."))
            return False
        try:
            cfg = self.config_source()
            if self.workshop is not None:
                check_run_limits(cfg, self.workshop)
        except (PanelError, CheckError, ValueError) as exc:
            self.notice.show(_("Refused: the Studio's config does not fit the room: {reason}").format(reason=exc))
            return False
        return self.push(json.dumps(cfg.to_dict()))

    def download_csv(self) -> None:
        """The room's results as a CSV file saved by the browser."""
        from tl_widgets.views.figures.board import room_csv

        self.csv.send(room_csv(self.seats).encode("utf-8"), "room-results.csv", mime="text/csv")
        self.notice.show(_("Downloaded the results of {n} seats.").format(n=len(self.seats)), "info")

    def _open_seat(self, seat: Any) -> str | None:
        """The name of an open seat picked (None, with the reason shown, for anything else)."""
        try:
            return str(check_choice(seat, "seat", [s["seat"] for s in self.seats if s["alive"]]))
        except PanelError as exc:
            self.notice.show(str(exc))
            return None

    def stop_seat(self, seat: Any) -> bool:
        """Asks one seat to stop its run; False (with the reason shown) for a seat that is not open."""
        from tl_widgets.core.room.control import request_stop

        name = self._open_seat(seat)
        if name is not None:
            request_stop(self.root / name)
            self.notice.show(_("Asked {seat} to stop its run.").format(seat=name), "info")
        return name is not None

    def shutdown_seat(self, seat: Any) -> bool:
        """Asks the room's server to end one seat's kernel (its runs stay); False (with the reason) for a bad seat."""
        from tl_widgets.core.room.control import request_shutdown

        name = self._open_seat(seat)
        if name is not None:
            request_shutdown(self.root / name)
            self.notice.show(_("Asked the room's server to shut {seat} down; it leaves the open seats within "
                               "seconds.").format(seat=name), "info")
        return name is not None

    def push(self, text: str) -> bool:
        """Checks ``text`` as a TrainConfig (JSON) and offers it to every seat; False with the reason if refused."""
        from tl_widgets.core.room.control import push_config

        try:
            cfg = TrainConfig.from_dict(json.loads(text))
        except (ValueError, ConfigError) as exc:  # json.JSONDecodeError is a ValueError
            self.notice.show(_("Refused: expected the JSON of a valid TrainConfig. Received: {reason}").format(reason=exc))
            return False
        if cfg.data.source not in ("demo", "folder"):
            self.notice.show(_("Refused: expected demo or folder data. Received: data.source={source}").format(
                source=repr(cfg.data.source)))
            return False
        push_config(self.root, cfg.to_dict())
        self.notice.show(_("Pushed to {n} seats (and to seats opened later).").format(n=len(self.seats)), "info")
        return True
