"""The instructor's room panel: every seat live (and the ended ones), stop a seat's run, shut a seat down,
push a config to every seat.

Served by ``tl-widgets serve --workshop`` on its own URL and token (students
never get it). It reads the seats through :mod:`tl_widgets.core.room.census`
every few seconds (seats whose kernel ended stay listed with their last run)
and acts through :mod:`tl_widgets.core.room.control`.
"""

from __future__ import annotations

import html
import json
import threading
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from tl_widgets.core.config.schema import ConfigError, TrainConfig, demo_config
from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.labels import status_label
from tl_widgets.panels.kit.validation import Notice, PanelError, check_choice

__all__ = ["RoomPanel"]


def _fmt(value: Any, pattern: str = "{:.3f}") -> str:
    return "" if value is None else pattern.format(value)


class RoomPanel(widgets.VBox):
    """Every seat of a room, refreshed every ``every_s`` seconds.

    Args:
        seats_root: The folder holding the seats (``$TL_WIDGETS_SEATS`` of the served Studio).
        every_s: Seconds between refreshes (0: only on Refresh).
    """

    def __init__(self, seats_root: str | Path, every_s: float = 2.0) -> None:
        self.root = Path(seats_root)
        self.seats: list[dict[str, Any]] = []
        self.notice = Notice()
        self.table = widgets.HTML()
        self.table.add_class("tlw-room-table")
        self.refresh_button = widgets.Button(description=_("Refresh"), icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.seat_picker = widgets.Dropdown(options=[], description=_("seat"))
        self.seat_picker.add_class("tlw-room-seat")
        self.stop_button = widgets.Button(description=_("Stop its run"), icon="stop", button_style="danger")
        self.stop_button.add_class("tlw-room-stop")
        self.stop_button.on_click(lambda _: self.stop_seat(self.seat_picker.value))
        self.shutdown_button = widgets.Button(description=_("Shut the seat down"), icon="power-off",
                                              tooltip=_("Ends the seat's kernel (its runs stay): frees a seat "
                                                        "of the room"))
        self.shutdown_button.add_class("tlw-room-shutdown")
        self.shutdown_button.on_click(lambda _: self.shutdown_seat(self.seat_picker.value))
        self.config_text = widgets.Textarea(json.dumps(demo_config().to_dict(), indent=1), rows=10,
                                            layout={"width": "700px"})
        self.config_text.add_class("tlw-room-config")
        self.push_button = widgets.Button(description=_("Push to every seat"), icon="share")
        self.push_button.add_class("tlw-room-push")
        self.push_button.on_click(lambda _: self.push(self.config_text.value))
        super().__init__([
            widgets.HTML(_("<h2>Room</h2>")), self.refresh_button, self.table,
            widgets.HBox([self.seat_picker, self.stop_button, self.shutdown_button]),
            widgets.HTML(_("<h3>Push a config</h3><p>JSON of a TrainConfig (demo or folder data). Each seat checks "
                           "it against the workshop's limits and shows it in its panels (not while it trains).</p>")),
            self.config_text, self.push_button, self.notice,
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

    def refresh(self) -> None:
        """Re-reads every seat (the open ones first, then those whose kernel ended)."""
        from tl_widgets.core.room.census import feature_cache_bytes, room_census

        seats = room_census(self.root, include_ended=True)
        self.seats = [s for s in seats if s["alive"]] + [s for s in seats if not s["alive"]]
        rows = []
        for s in self.seats:
            run = s["run"] or {}
            epoch = f"{run.get('epoch', 0)}/{run.get('total_epochs') or '?'}" if run else ""
            status = status_label(str(run.get("status", ""))) if run else _("no run yet")
            cells = [s["seat"], _("open") if s["alive"] else _("ended"), status, epoch,
                     _fmt(run.get("val_accuracy")), _fmt(run.get("images_per_sec"), "{:.0f}"),
                     _fmt(s["pss_bytes"] and s["pss_bytes"] / 2**20, "{:.0f} MiB"), s["queue"]]
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        head = "".join(f"<th>{h}</th>" for h in (_("seat"), _("kernel"), _("status"), _("epoch"), _("val accuracy"),
                                                  _("images/s"), _("memory (PSS)"), _("queue")))
        alive = [s["seat"] for s in self.seats if s["alive"]]
        opened = _("{n} seats open").format(n=len(alive))
        ended = _("{n} ended").format(n=len(self.seats) - len(alive))
        cache = _("shared feature cache: {mib:.0f} MiB").format(mib=feature_cache_bytes(self.root) / 2**20)
        self.table.value = (f"<p>{html.escape(opened)}, {html.escape(ended)}; {html.escape(cache)}</p>"
                            f"<table cellpadding='6'><tr>{head}</tr>{''.join(rows)}</table>")
        keep = self.seat_picker.value if self.seat_picker.value in alive else (alive[0] if alive else None)
        self.seat_picker.options = alive
        self.seat_picker.value = keep

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
