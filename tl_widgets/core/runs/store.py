"""The run store: every training run, its progress and metrics, in SQLite.

:class:`RunStore` reads and manages runs; :class:`RunRecorder` is an
:class:`~tl_widgets.core.events.EventBus` subscriber that writes them::

    store = RunStore()                       # $TL_WIDGETS_HOME or ~/.tl_widgets
    bus.subscribe(RunRecorder(store, source="cli"))
    store.list_runs(status="running")

The store is safe for several kernels and processes at once (see
:mod:`tl_widgets.core.runs.db`). A run whose process died without a terminal
event is reported as ``"interrupted"``, never as running forever.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from tl_widgets.core.settings import default_home, home_path

from tl_widgets.core.runs import db
from tl_widgets.core.runs.db import MAX_BATCH_POINTS, SOURCES, STATUSES, json_safe
from tl_widgets.core.runs.recorder import RunRecorder

__all__ = [
    "RunStore",
    "RunRecorder",
    "RunNotFoundError",
    "RunActiveError",
    "STATUSES",
    "SOURCES",
    "MAX_BATCH_POINTS",
    "json_safe",
    "RUN_ID_PATTERN",
]

# What a run id looks like: the REST API refuses anything else, so sessions
# must make ids that match (e.g. ``20261128-213000-demo-ab12``).
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"


class RunNotFoundError(KeyError):
    """No run with this id is in the store."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else "run not found"


class RunActiveError(RuntimeError):
    """The run is still training, so it cannot be deleted."""


class RunStore:
    """Runs recorded on this machine, in ``<home>/runs.sqlite``.

    Args:
        home: The folder holding the database; ``None`` uses
            :func:`default_home`. Created when missing.

    Raises:
        OSError: The home folder cannot be created.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(
                f"Expected a writable run-store folder (TL_WIDGETS_HOME). Received: {str(self.home)!r} "
                f"({exc.strerror or exc})"
            ) from exc
        self.path = home_path("run_store", self.home)
        try:
            db.ensure_schema(self.path)
        except sqlite3.DatabaseError as exc:  # a damaged or foreign file: say which, as an OSError callers expect
            raise OSError(f"Expected a run-store database. Received: {str(self.path)!r} ({exc}); move it away "
                          "to start a fresh store") from exc

    def __repr__(self) -> str:
        return f"RunStore(home={str(self.home)!r})"

    # -- reading -----------------------------------------------------------

    def list_runs(self, *, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Runs, newest first, without config, traceback and per-step metrics (with ``parent_run_id``).

        Args:
            status: Only runs with this effective status (one of
                :data:`STATUSES`); a dead ``running`` run counts as
                ``"interrupted"``.
            limit: At most this many runs (>= 1).

        Raises:
            ValueError: Unknown ``status`` or ``limit`` < 1.
        """
        if status is not None and status not in STATUSES:
            raise ValueError(f"Expected status in {STATUSES}. Received: status={status!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"Expected an integer limit >= 1. Received: limit={limit!r}")
        # The stored status of an interrupted run is still "running": query both
        # and filter on the effective status.
        stored = None if status is None else (("running", "interrupted") if status in ("running", "interrupted") else (status,))

        def query(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            sql = "SELECT * FROM runs"
            args: list[Any] = []
            if stored:
                sql += f" WHERE status IN ({','.join('?' * len(stored))})"
                args.extend(stored)
            sql += " ORDER BY start_time DESC, run_id DESC"
            if status not in ("running", "interrupted"):
                sql += " LIMIT ?"
                args.append(limit)
            return conn.execute(sql, args).fetchall()

        now = time.time()
        out = []
        for row in db.read(self.path, query):
            d = db.run_row_to_dict(row, now)
            if status is not None and d["status"] != status:
                continue
            config = d.pop("config")
            d["parent_run_id"] = config.get("parent_run_id") if isinstance(config, dict) else None
            d.pop("traceback")
            out.append(d)
            if len(out) >= limit:
                break
        return out

    def get_run(self, run_id: str) -> dict[str, Any]:
        """One run with ``config``, ``epochs``, ``batches`` and ``artifacts``.

        Raises:
            RunNotFoundError: No such run.
        """

        def query(conn: sqlite3.Connection) -> tuple[Any, ...]:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                return (None, [], [], [])
            epochs = conn.execute("SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,)).fetchall()
            batches = conn.execute("SELECT * FROM batches WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
            arts = conn.execute("SELECT kind, path, time FROM artifacts WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
            return (row, epochs, batches, arts)

        row, epochs, batches, arts = db.read(self.path, query)
        if row is None:
            raise self._not_found(run_id)
        out = db.run_row_to_dict(row)
        out["epochs"] = [
            {
                "epoch": e["epoch"],
                "phase": e["phase"],
                "metrics": db.loads(e["metrics"], {}),
                "duration": e["duration"],
                "learning_rate": e["learning_rate"],
                "time": e["time"],
            }
            for e in epochs
        ]
        out["batches"] = [
            {
                "global_step": b["global_step"],
                "epoch": b["epoch"],
                "step": b["step"],
                "metrics": db.loads(b["metrics"], {}),
                "images_per_sec": b["images_per_sec"],
                "learning_rate": b["learning_rate"],
                "time": b["time"],
            }
            for b in batches
        ]
        out["artifacts"] = [dict(a) for a in arts]
        return out

    def compare(self, run_ids: list[str], metric: str = "val_accuracy") -> dict[str, list[tuple[int, float]]]:
        """Per-epoch ``metric`` of several runs: ``{run_id: [(epoch, value), ...]}``.

        A run that never logged ``metric`` maps to an empty list.

        Raises:
            RunNotFoundError: One of the ids is not in the store.
        """
        ids = list(dict.fromkeys(run_ids))

        def query(conn: sqlite3.Connection) -> tuple[set[str], list[sqlite3.Row]]:
            marks = ",".join("?" * len(ids))
            known = {r[0] for r in conn.execute(f"SELECT run_id FROM runs WHERE run_id IN ({marks})", ids)}
            rows = conn.execute(
                f"SELECT run_id, epoch, metrics FROM epochs WHERE run_id IN ({marks}) ORDER BY epoch", ids
            ).fetchall()
            return known, rows

        known, rows = db.read(self.path, query) if ids else (set(), [])
        missing = [r for r in ids if r not in known]
        if missing:
            raise self._not_found(missing[0])
        out: dict[str, list[tuple[int, float]]] = {r: [] for r in ids}
        for row in rows:
            value = db.loads(row["metrics"], {}).get(metric)
            if value is not None:
                out[row["run_id"]].append((int(row["epoch"]), float(value)))
        return out

    # -- changing ----------------------------------------------------------

    def tag_sweep(self, run_id: str, sweep_id: str, trial: int) -> None:
        """Records that a run is trial ``trial`` of sweep ``sweep_id`` (see :mod:`tl_widgets.core.sweeps`).

        Raises:
            RunNotFoundError: No such run.
        """
        changed = db.write(self.path, lambda c: c.execute(
            "UPDATE runs SET sweep_id = ?, trial = ? WHERE run_id = ?", (str(sweep_id), int(trial), run_id)).rowcount)
        if not changed:
            raise self._not_found(run_id)

    def sweep_runs(self, sweep_id: str) -> list[dict[str, Any]]:
        """The runs of one sweep, by trial number (without config, traceback and per-step metrics)."""
        rows = db.read(self.path, lambda c: c.execute(
            "SELECT * FROM runs WHERE sweep_id = ? ORDER BY trial, start_time", (str(sweep_id),)).fetchall())
        out = []
        for row in rows:
            d = db.run_row_to_dict(row)
            d.pop("config")
            d.pop("traceback")
            out.append(d)
        return out

    def add_artifact(self, run_id: str, kind: str, path: str) -> None:
        """Records a file produced by a run (a saved model, an export...).

        Raises:
            RunNotFoundError: No such run.
            ValueError: Empty ``kind`` or ``path``.
        """
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"Expected a non-empty artifact kind. Received: kind={kind!r}")
        if not str(path):
            raise ValueError(f"Expected a non-empty artifact path. Received: path={path!r}")

        def insert(conn: sqlite3.Connection) -> bool:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                return False
            conn.execute(
                "INSERT INTO artifacts (run_id, kind, path, time) VALUES (?, ?, ?, ?)",
                (run_id, kind, str(path), time.time()),
            )
            return True

        if not db.write(self.path, insert):
            raise self._not_found(run_id)

    def delete_run(self, run_id: str, *, delete_files: bool = False) -> None:
        """Removes a run from the store, and optionally its run folder.

        Args:
            run_id: The run.
            delete_files: Also delete the run's folder. Only a folder named
                after the run (``<output_dir>/<run_id>``) is ever deleted.

        Raises:
            RunNotFoundError: No such run.
            RunActiveError: The run is still training.
            ValueError: ``delete_files`` with a run folder not named after the run,
                relative, or a symbolic link (nothing is deleted then).
        """
        run = self.get_run(run_id)
        if run["status"] == "running":
            raise RunActiveError(
                f"Expected a run that is not training. Received: run {run_id!r} with status 'running' "
                f"(pid {run['pid']} on {run['host']}); stop it first"
            )
        run_dir = Path(run["run_dir"]) if run["run_dir"] else None
        if delete_files and run_dir is not None and run_dir.exists() and run_dir.name != run_id:
            raise ValueError(
                f"Expected a run folder named after the run ({run_id!r}). Received: {str(run_dir)!r}; "
                "not deleting files outside the run's own folder"
            )
        if delete_files and run_dir is not None:
            if not run_dir.is_absolute():
                raise ValueError(f"Expected an absolute run folder. Received: {str(run_dir)!r} (relative to an "
                                 "unknown working folder); delete its files by hand")
            if run_dir.is_symlink():
                raise ValueError(f"Expected a real run folder. Received: {str(run_dir)!r} is a symbolic link; "
                                 "not following it")
            if run_dir.is_dir():
                shutil.rmtree(run_dir)  # files first: a failure here leaves the row, so nothing is lost track of
        deleted = db.write(self.path, lambda c: c.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)).rowcount)
        if not deleted:
            raise self._not_found(run_id)

    def _not_found(self, run_id: str) -> RunNotFoundError:
        return RunNotFoundError(f"Expected the id of a recorded run. Received: {run_id!r} (not in {str(self.path)!r})")
