"""The instructor board's pieces: every seat's curve on shared axes, status badges, a leaderboard, a CSV.

Plain data in (the dicts of :func:`tl_widgets.core.room.census.room_census`), a
Plotly figure or HTML/CSV text out. :func:`seat_state` is the one place that
says what a seat is doing (idle, capturing, queued, training, finished,
failed) and whether the instructor should look (idle or queued too long).
"""

from __future__ import annotations

import copy
import csv
import functools
import html
import io
import math
import time
from typing import Any, Mapping, Sequence

from plotly.subplots import make_subplots

from tl_widgets.core.i18n import _, current_language
from tl_widgets.core.runs.db import saved_a_model

__all__ = ["seat_state", "seat_curves_figure", "badges_html", "leaderboard_html", "room_csv", "IDLE_AFTER_S",
           "QUEUED_AFTER_S"]

IDLE_AFTER_S = 600.0
"""A seat with nothing going on for this long is flagged (10 minutes)."""
QUEUED_AFTER_S = 300.0
"""A run waiting in the queue for this long is flagged (5 minutes)."""
_COLORS = {"idle": "#6e7781", "capturing": "#8250df", "queued": "#bf8700", "training": "#0969da",
           "finished": "#1a7f37", "stopped": "#57606a", "failed": "#cf222e", "ended": "#8c959f"}


def _label(seat: Mapping[str, Any]) -> str:
    return str(seat.get("name") or seat.get("seat") or "?")


def seat_state(seat: Mapping[str, Any], now: float | None = None) -> tuple[str, str, bool]:
    """``(kind, text, needs_a_look)`` of one seat: what its badge says and whether it is flagged.

    ``kind`` is one of idle, capturing, queued, training, finished, stopped, failed, ended.
    """
    now = time.time() if now is None else now
    run = seat.get("run") or {}
    status = str(run.get("status") or "")
    quiet_s = now - float(seat.get("last_activity") or now)
    if not seat.get("alive"):
        return "ended", _("left"), False
    if status == "queued" or str(seat.get("queue") or "").startswith(_("queued")):
        waited = now - float(run.get("start_time") or now)
        return "queued", str(seat.get("queue") or _("queued")), waited > QUEUED_AFTER_S
    if status in ("running", "starting"):
        return "training", _("training {epoch}/{epochs}").format(epoch=run.get("epoch") or 0,
                                                                 epochs=run.get("total_epochs") or "?"), False
    if seat.get("capturing"):
        return "capturing", _("capturing"), False
    flagged = quiet_s > IDLE_AFTER_S
    minutes = _("(idle {m:.0f} min)").format(m=quiet_s / 60) if flagged else ""
    if status == "failed":
        return "failed", (_("failed: {reason}").format(reason=str(run.get("error") or "?"))[:120] + " " + minutes
                          ).strip(), True
    if saved_a_model(status):
        acc = run.get("val_accuracy")
        shown = f" {acc:.0%}" if isinstance(acc, (int, float)) and not math.isnan(acc) else ""
        word = _("finished") if status == "finished" else _("stopped")
        return status, (word + shown + " " + minutes).strip(), flagged
    return "idle", (_("idle") + " " + minutes).strip(), flagged


@functools.lru_cache(maxsize=8)
def _grid_layout(titles: tuple[str, ...], cols: int, language: str) -> dict[str, Any]:
    """The board's grid of small charts for these titles (``make_subplots`` costs ~0.1 s for 30: built once)."""
    rows = math.ceil(len(titles) / cols)
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes="all", shared_yaxes="all", subplot_titles=titles,
                        horizontal_spacing=0.02, vertical_spacing=min(0.08, 0.3 / rows))
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", nticks=3)
    fig.update_xaxes(nticks=4)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=110 + 150 * rows, margin={"l": 40, "r": 10, "t": 40, "b": 30},
                      title={"text": _("Validation accuracy per epoch, one chart per seat"), "font": {"size": 14}})
    return fig.to_plotly_json()["layout"]


def seat_curves_figure(seats: Sequence[Mapping[str, Any]], columns: int = 6) -> dict[str, Any]:
    """One small chart per open seat: validation accuracy per epoch of its latest run, all on the same axes.

    A figure dict (``data``, ``layout``): the board redraws it every time a seat ends an epoch, and plain dicts
    on a cached grid cost ~1 ms for 30 seats where building a ``go.Figure`` costs ~0.2 s.
    """
    shown = [s for s in seats if s.get("alive")] or list(seats)
    if not shown:
        return {"data": [], "layout": {"height": 120, "annotations": [
            {"text": _("No seats yet"), "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}]}}
    cols = max(1, min(columns, len(shown)))
    layout = copy.deepcopy(_grid_layout(tuple(_label(s)[:18] for s in shown), cols, current_language()))
    data = []
    for i, seat in enumerate(shown):
        curve = list((seat.get("run") or {}).get("curve") or [])
        axis = "" if i == 0 else str(i + 1)  # make_subplots numbers the grid's axes row by row from the top left
        data.append({"type": "scatter", "x": list(range(1, len(curve) + 1)), "y": curve, "mode": "lines+markers",
                     "line": {"color": _COLORS.get(seat_state(seat)[0], "#0969da"), "width": 2},
                     "marker": {"size": 4}, "name": _label(seat), "showlegend": False, "xaxis": "x" + axis,
                     "yaxis": "y" + axis, "hovertemplate": _("epoch %{x}: %{y:.1%}") + "<extra>"
                     + html.escape(_label(seat)) + "</extra>"})
    return {"data": data, "layout": layout}


def badges_html(seats: Sequence[Mapping[str, Any]], now: float | None = None) -> str:
    """Every seat as a small card: its name, a coloured status badge, and a flag when it needs a look."""
    cards = []
    look = html.escape(_("needs a look"))
    for seat in seats:
        kind, text, flagged = seat_state(seat, now)
        flag = f"<span class='tlw-flag' title='{look}'>⚑</span>" if flagged else ""
        cards.append(f"<div class='tlw-seat-card tlw-seat-{kind}' style='display:inline-block;margin:3px;"
                     f"padding:4px 8px;border:1px solid #d0d7de;border-radius:6px;min-width:150px;max-width:320px;"
                     f"vertical-align:top'>"
                     f"<b>{html.escape(_label(seat))}</b> {flag}<br>"
                     f"<span class='tlw-badge' style='color:#fff;background:{_COLORS[kind]};border-radius:10px;"
                     f"padding:0 7px;font-size:0.85em;display:inline-block;white-space:normal'>"
                     f"{html.escape(text)}</span></div>")
    return "<div class='tlw-seat-cards'>" + "".join(cards) + "</div>"


def leaderboard_html(seats: Sequence[Mapping[str, Any]], top: int = 10) -> str:
    """The seats ranked by their best validation accuracy (every run of theirs counts)."""
    ranked = sorted(((float(r["best"]), s) for s in seats if isinstance((r := s.get("run") or {}).get("best"),
                                                                           (int, float))),
                    key=lambda item: -item[0])[:top]
    if not ranked:
        return "<i>" + html.escape(_("No finished runs yet.")) + "</i>"
    rows = "".join(f"<tr><td>{i}.</td><td>{html.escape(_label(s))}</td><td>{best:.1%}</td>"
                   f"<td>{html.escape(str((s.get('run') or {}).get('runs') or ''))}</td></tr>"
                   for i, (best, s) in enumerate(ranked, 1))
    titles = [html.escape(t) for t in (_("seat"), _("best val accuracy"), _("runs"))]
    head = "<tr><th></th>" + "".join(f"<th>{t}</th>" for t in titles) + "</tr>"
    return f"<table class='tlw-leaderboard' cellpadding='4'>{head}{rows}</table>"


def room_csv(seats: Sequence[Mapping[str, Any]]) -> str:
    """The room's results as CSV: one row per seat (name, seat, state, latest run, its epoch and accuracy, best)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "seat", "state", "latest_run", "status", "epoch", "total_epochs", "val_accuracy",
                     "best_val_accuracy", "runs", "error"])
    for seat in seats:
        run = seat.get("run") or {}
        writer.writerow([seat.get("name") or "", seat.get("seat"), seat_state(seat)[0], run.get("run_id") or "",
                         run.get("status") or "", run.get("epoch") if run else "", run.get("total_epochs") or "",
                         run.get("val_accuracy") if run.get("val_accuracy") is not None else "",
                         run.get("best") if run.get("best") is not None else "", run.get("runs") or "",
                         run.get("error") or ""])
    return out.getvalue()
