"""What every seat of a room is doing, for the instructor view: one plain dict per seat.

Reads each seat's run store (latest run, its last epoch's validation accuracy
and last batch's images/s), the room's queue, and the kernel's memory as
PSS (proportional set size: shared library pages split between the
processes that share them, so the seats' figures add up).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tl_widgets.core.room.queue import QUEUE_FILE, TrainingQueue
from tl_widgets.core.room.seat import ROOM_FEATURE_CACHE, list_seats, seat_alive, seat_pids
from tl_widgets.core.runs import db
from tl_widgets.core.i18n import _
from tl_widgets.core.settings import home_path

__all__ = ["room_census", "kernel_pss_bytes", "feature_cache_bytes"]


def kernel_pss_bytes(pid: int) -> int | None:
    """The PSS of process ``pid`` in bytes (None when it is gone or unreadable)."""
    import psutil

    try:
        return int(psutil.Process(pid).memory_full_info().pss)
    except (psutil.Error, AttributeError):
        return None


def feature_cache_bytes(seats_root: str | Path) -> int:
    """Bytes of the room's shared feature cache (bounded by the workshop's ``max_feature_cache_mb``)."""
    from tl_widgets.core.training.feature_cache_trim import cache_bytes

    return cache_bytes(Path(seats_root) / ROOM_FEATURE_CACHE)


def _latest_run(home: Path) -> dict[str, Any] | None:
    path = home_path("run_store", home)
    if not path.exists():
        return None

    def query(conn: sqlite3.Connection) -> dict[str, Any] | None:
        row = conn.execute("SELECT * FROM runs ORDER BY start_time DESC LIMIT 1").fetchone()
        if row is None:
            return None
        run = db.run_row_to_dict(row)
        epoch = conn.execute("SELECT metrics FROM epochs WHERE run_id = ? ORDER BY epoch DESC LIMIT 1",
                             (row["run_id"],)).fetchone()
        batch = conn.execute("SELECT images_per_sec FROM batches WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
                             (row["run_id"],)).fetchone()
        metrics = db.loads(epoch["metrics"], {}) if epoch is not None else {}
        curve = [db.loads(r["metrics"], {}).get("val_accuracy") for r in conn.execute(
            "SELECT metrics FROM epochs WHERE run_id = ? ORDER BY epoch", (row["run_id"],)).fetchall()]
        best = conn.execute("SELECT MAX(best_metric) AS best, COUNT(*) AS n FROM runs").fetchone()
        return {"run_id": run["run_id"], "status": run["status"], "epoch": run["epoch"],
                "total_epochs": run["total_epochs"], "val_accuracy": metrics.get("val_accuracy"),
                "images_per_sec": batch["images_per_sec"] if batch is not None else None,
                "error": run.get("error"), "start_time": run.get("start_time"), "end_time": run.get("end_time"),
                "curve": [v for v in curve if isinstance(v, (int, float))], "best": best["best"], "runs": best["n"]}

    try:
        return db.read(path, query)
    except sqlite3.Error:
        return None  # a seat whose store is being created or is damaged: shown without a run


def _capturing(home: Path, within_s: float = 20.0) -> bool:
    """True when the seat wrote a webcam frame in the last ``within_s`` seconds."""
    import time

    captures = home_path("captures", home)
    try:
        latest = max((d.stat().st_mtime for d in captures.glob("*/*") if d.is_dir()), default=0.0)
    except OSError:
        return False
    return time.time() - latest < within_s


def _last_activity(home: Path, info: dict[str, Any], run: dict[str, Any] | None) -> float:
    """When the seat last did something the room sees: a run's start or end, a capture, or its opening."""
    times = [float(info.get("started") or 0.0)]
    if run:
        times += [float(run.get("start_time") or 0.0), float(run.get("end_time") or 0.0)]
    captures = home_path("captures", home)
    try:
        times += [d.stat().st_mtime for d in captures.glob("*/*") if d.is_dir()]
    except OSError:
        pass  # a capture folder removed while reading: the other times stand
    return max(times)


def room_census(seats_root: str | Path, *, include_ended: bool = False) -> list[dict[str, Any]]:
    """One dict per seat (oldest first): ``seat``, ``name``, ``home``, ``alive``, ``tabs``, ``pss_bytes`` (its kernels'
    together), ``last_activity`` (seconds since the epoch), ``capturing``, ``run`` (its latest: status, epoch,
    validation accuracy and its curve per epoch, error, the seat's best and number of runs) and ``queue``.

    ``queue`` is ``"training"``, ``"queued (#N in line)"`` (in the user's language) or ``""``. A seat whose
    queued run is not in its store yet gets that run with status ``"starting"`` (holding a training slot) or ``"queued"``.
    """
    root = Path(seats_root)
    tickets = []
    if (root / QUEUE_FILE).exists():
        tickets = TrainingQueue(root / QUEUE_FILE, slots=1).snapshot()
    waiting = [t for t in tickets if t["state"] == "waiting"]
    out = []
    for home, info in list_seats(root):
        alive = seat_alive(info) and not info.get("ended")
        if not alive and not include_ended:
            continue
        mine = next((t for t in tickets if t["seat"] == home.name), None)
        queue = ""
        run = _latest_run(home)
        if mine is not None:
            place = 1 + sum(t["ticket"] < mine["ticket"] for t in waiting)
            queue = _("training") if mine["state"] == "training" else _("queued (#{n} in line)").format(n=place)
            if run is None or run["run_id"] != mine["run_id"]:
                # The queued run has not reached the seat's store yet (or an older run is the latest there):
                # say what the queue says, not "no run yet" or the old run's status.
                run = {"run_id": mine["run_id"], "status": "starting" if mine["state"] == "training" else "queued",
                       "epoch": 0, "total_epochs": None, "val_accuracy": None, "images_per_sec": None}
        pids = seat_pids(info) if alive else []
        activity = _last_activity(home, info, run)
        pss = [kernel_pss_bytes(pid) for pid in pids]
        out.append({"seat": home.name, "name": str(info.get("name") or ""), "home": str(home), "alive": alive,
                    "tabs": len(pids), "pss_bytes": sum(p for p in pss if p) if alive else None,
                    "last_activity": activity, "capturing": _capturing(home),
                    "run": run, "queue": queue})
    return out
