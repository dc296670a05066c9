"""What the instructor board costs for a room of N seats: CPU per refresh and what it sends to the page.

Builds a real room on disk — N seats opened with :func:`tl_widgets.core.room.seat.open_seat` (this process is
every seat's "kernel", so each is open and its PSS is read from /proc like a real one's), each with a name and a
run recorded in its own SQLite run store through the store's recorder — then refreshes a real
:class:`tl_widgets.panels.room.RoomPanel` the way its 2-second loop does, in two phases:

* ``quiet``: nothing changes between refreshes (a room reading its results);
* ``busy``: between two refreshes a third of the seats end one more epoch (a room training: at most
  ``max_trainings`` train at once, so this is the worst case of a queue with 10 slots at one epoch per 2 s).

Every widget message the board sends is counted where ipywidgets sends it (``Widget._send``), with its JSON size.
Prints per-refresh CPU (``time.process_time``: census, figures and serialisation, all in this process), messages
and bytes, then the rates at the board's cadence, and one JSON line.

    .venv/bin/python bench/bench_board.py            # 30 seats, 20 refreshes per phase
    .venv/bin/python bench/bench_board.py --seats 60 --refreshes 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build_room(root: Path, n: int) -> list:
    """N seats with names; a third training (a run and a curve), a third finished, a third idle."""
    from tl_widgets.core.events import EpochEnd, RunFinished, RunStarted
    from tl_widgets.core.room.seat import open_seat, set_display_name
    from tl_widgets.core.runs.store import RunRecorder, RunStore

    training = []
    for i in range(n):
        seat = open_seat(root)
        set_display_name(seat.home, f"Student {i + 1}")
        if i % 3 == 2:
            continue
        rec = RunRecorder(RunStore(seat.home))
        run_id = f"run-{i}"
        rec(RunStarted(run_id, config={}, run_dir=None, total_epochs=400, steps_per_epoch=4))
        for epoch in range(5):
            rec(EpochEnd(run_id, phase=0, epoch=epoch, metrics={"val_accuracy": 0.3 + 0.1 * epoch},
                         duration=1.0))
        if i % 3 == 1:
            rec(RunFinished(run_id, metrics={"val_accuracy": 0.7}, run_dir=None, duration=10.0))
        else:
            training.append([rec, run_id, 5])
    return training


def advance(training: list) -> None:
    from tl_widgets.core.events import EpochEnd

    for item in training:
        rec, run_id, epoch = item
        rec(EpochEnd(run_id, phase=0, epoch=epoch, metrics={"val_accuracy": min(0.95, 0.3 + 0.01 * epoch)},
                     duration=1.0))
        item[2] = epoch + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--refreshes", type=int, default=20, help="refreshes per phase (default 20)")
    parser.add_argument("--every-s", type=float, default=2.0, help="the board's cadence, for the rates (default 2)")
    args = parser.parse_args()
    if args.seats < 1 or args.refreshes < 2:
        parser.error(f"Expected --seats >= 1 and --refreshes >= 2. Received: {args.seats}, {args.refreshes}")

    import ipywidgets as widgets
    from ipywidgets.widgets.widget import _remove_buffers

    sent = {"messages": 0, "bytes": 0}
    original = widgets.Widget._send

    def counting_send(self, msg, buffers=None):  # type: ignore[no-untyped-def]
        state, buffer_paths, extracted = _remove_buffers(msg.get("state", {})) if "state" in msg else ({}, [], [])
        sent["messages"] += 1
        sent["bytes"] += len(json.dumps({**msg, "state": state} if "state" in msg else msg, default=str))
        sent["bytes"] += sum(len(memoryview(b).cast("B")) for b in (buffers or []) + list(extracted))
        return original(self, msg, buffers)

    widgets.Widget._send = counting_send  # type: ignore[method-assign]

    from tl_widgets.core.settings import HOME_ENV
    from tl_widgets.panels.room import RoomPanel

    with tempfile.TemporaryDirectory(prefix="tlw-board-") as tmp:
        root = Path(tmp) / "seats"
        os.environ[HOME_ENV] = str(Path(tmp) / "home")
        t0 = time.perf_counter()
        training = build_room(root, args.seats)
        print(f"room: {args.seats} seats ({len(training)} training) built in {time.perf_counter() - t0:.1f} s")
        panel = RoomPanel(root, every_s=0)
        results = {}
        for phase in ("quiet", "busy"):
            cpu, msgs, size = [], [], []
            for _ in range(args.refreshes):
                if phase == "busy":
                    advance(training)
                before = dict(sent)
                c0 = time.process_time()
                panel.refresh()
                cpu.append(time.process_time() - c0)
                msgs.append(sent["messages"] - before["messages"])
                size.append(sent["bytes"] - before["bytes"])
            p95 = sorted(cpu)[max(0, int(round(0.95 * len(cpu))) - 1)]
            results[phase] = {
                "cpu_ms_median": round(1000 * statistics.median(cpu), 1), "cpu_ms_p95": round(1000 * p95, 1),
                "messages_per_refresh": round(statistics.mean(msgs), 2),
                "kib_per_refresh": round(statistics.mean(size) / 1024, 1),
                "messages_per_s": round(statistics.mean(msgs) / args.every_s, 2),
                "kib_per_s": round(statistics.mean(size) / 1024 / args.every_s, 1),
                "cpu_share_of_a_core": round(statistics.median(cpu) / args.every_s, 4),
            }
            r = results[phase]
            print(f"{phase:5s}: CPU per refresh median {r['cpu_ms_median']} ms (p95 {r['cpu_ms_p95']} ms) = "
                  f"{100 * r['cpu_share_of_a_core']:.1f} % of a core every {args.every_s:g} s; "
                  f"{r['messages_per_refresh']} messages ({r['kib_per_refresh']} KiB) per refresh = "
                  f"{r['messages_per_s']} msg/s, {r['kib_per_s']} KiB/s")
        panel.close()
    print(json.dumps({"bench": "board", "seats": args.seats, "training": len(training), **results}))


if __name__ == "__main__":
    main()
