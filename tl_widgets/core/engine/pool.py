"""The room's workers, by lane: local processes (:class:`ProcessPool`); Ray actors live in ``ray_pool``.

A pool keeps ``lanes[lane]`` workers per lane warm, hands a free one to the
gateway (:meth:`WorkerPool.acquire`) and takes it back (:meth:`WorkerPool.release`).
A worker that died (killed, out of memory) is started again; the job it was
running fails with the reason (:class:`WorkerDied`), never the room.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any, Callable, Iterator

from tl_widgets.core.engine import wire
from tl_widgets.core.engine.worker import OOM_EXIT, WorkerSettings

__all__ = ["WorkerDied", "WorkerHandle", "WorkerPool", "ProcessPool"]


class WorkerDied(RuntimeError):
    """The worker stopped while it ran a job (killed, out of memory, crashed)."""


class WorkerHandle:
    """One worker as the gateway drives it: run a job (messages stream back), stop it."""

    def __init__(self, lane: str, index: int) -> None:
        self.lane, self.index = lane, index
        self.name = f"{lane}-{index}"
        self.ready = threading.Event()
        self.busy = False
        self.busy_seat: str | None = None
        self.jobs = 0
        self.restarts = 0
        self.last_error = ""
        self.started_at = time.monotonic()
        self.backoff = 0.0
        self.next_start = 0.0

    def run(self, job: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Sends the job and yields ``(message, raw bytes)`` up to its answer or error.

        Raises:
            WorkerDied: The worker stopped before answering.
        """
        raise NotImplementedError

    def stop(self, job_id: str) -> None:
        """Asks job ``job_id`` to stop (ignored when the worker runs another job by then)."""
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def restart(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        """What the instructor board and the benchmarks show of this worker."""
        return {"name": self.name, "lane": self.lane, "ready": self.ready.is_set(), "busy": self.busy, "seat": self.busy_seat,
                "jobs": self.jobs, "restarts": self.restarts, "last_error": self.last_error}


class WorkerPool:
    """Workers by lane, a free one handed out at a time, dead ones replaced (subclasses make the handles).

    Args:
        lanes: Workers per lane, e.g. ``{"heavy": 2, "quick": 1}``.
    """

    def __init__(self, lanes: dict[str, int]) -> None:
        if not lanes or any(int(n) < 1 for n in lanes.values()):
            raise ValueError(f"Expected at least one worker per lane. Received: {lanes!r}")
        self.lanes = {lane: int(n) for lane, n in lanes.items()}
        self.workers: dict[str, list[WorkerHandle]] = {}
        self._free = threading.Condition()
        self._closed = False
        self._monitor: threading.Thread | None = None

    def _make(self, lane: str, index: int) -> WorkerHandle:
        raise NotImplementedError

    def start(self, wait_s: float | None = None) -> None:
        """Starts every worker (and the monitor that replaces dead ones); waits for them when ``wait_s`` is set.

        Raises:
            TimeoutError: Not every worker was ready within ``wait_s``.
        """
        for lane, n in self.lanes.items():
            self.workers[lane] = [self._make(lane, i) for i in range(n)]
        self._monitor = threading.Thread(target=self._watch, name="tlw-engine-monitor", daemon=True)
        self._monitor.start()
        if wait_s is not None:
            self.wait_ready(wait_s)

    def wait_ready(self, timeout: float) -> None:
        """Blocks until every worker is warm (TimeoutError naming the ones that are not)."""
        deadline = time.monotonic() + timeout
        for handle in self.handles():
            if not handle.ready.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"Expected every engine worker warm within {timeout:g} s. Received: {handle.name} "
                                   f"not ready ({handle.last_error or 'still starting'})")

    def handles(self) -> list[WorkerHandle]:
        return [h for lane in self.workers.values() for h in lane]

    def acquire(self, lane: str, timeout: float, cancelled: threading.Event | None = None) -> WorkerHandle:
        """A free, warm worker of ``lane`` (the first one free, in order of asking).

        Raises:
            KeyError: No such lane.
            TimeoutError: None was free within ``timeout`` (or ``cancelled`` was set).
        """
        if lane not in self.lanes:
            raise KeyError(f"Expected a lane in {sorted(self.lanes)}. Received: {lane!r}")
        deadline = time.monotonic() + timeout
        with self._free:
            while True:
                for handle in self.workers.get(lane, []):
                    if not handle.busy and handle.ready.is_set() and handle.alive():
                        handle.busy = True
                        return handle
                left = deadline - time.monotonic()
                if self._closed or left <= 0 or (cancelled is not None and cancelled.is_set()):
                    raise TimeoutError(f"Expected a free {lane} worker within {timeout:g} s. Received: all "
                                       f"{self.lanes[lane]} busy or starting")
                self._free.wait(min(left, 0.5))

    def release(self, handle: WorkerHandle) -> None:
        """Gives ``handle`` back (a worker that died is replaced by the monitor first)."""
        with self._free:
            handle.busy = False
            handle.jobs += 1
            self._free.notify_all()

    def _watch(self) -> None:
        """Replaces dead workers; one that keeps dying right after its start waits longer each time (up to 60 s)."""
        while not self._closed:
            now = time.monotonic()
            for handle in self.handles():
                if self._closed or handle.alive() or handle.busy or now < handle.next_start:
                    continue
                handle.ready.clear()
                quick_death = now - handle.started_at < 30
                handle.backoff = min(60.0, max(1.0, handle.backoff * 2)) if quick_death else 0.0
                handle.next_start = now + handle.backoff
                handle.restarts += 1
                handle.restart()
                with self._free:
                    self._free.notify_all()
            time.sleep(0.5)

    def info(self) -> list[dict[str, Any]]:
        return [h.info() for h in self.handles()]

    def close(self) -> None:
        """Stops every worker."""
        self._closed = True
        with self._free:
            self._free.notify_all()
        for handle in self.handles():
            handle.close()


class _ProcessHandle(WorkerHandle):
    """A worker process (``python -m tl_widgets.core.engine.worker``) on one end of a socket pair."""

    def __init__(self, settings: WorkerSettings, lane: str, index: int, env: dict[str, str] | None = None) -> None:
        super().__init__(lane, index)
        self._settings = settings
        self._env = dict(env or {})
        self._lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: Any = None
        self.pid: int | None = None
        self.restart()

    def restart(self) -> None:
        if self.proc is not None:
            code = self.proc.poll()
            self.last_error = "out of memory" if code == OOM_EXIT else f"exit code {code}"
            self.conn.close()
        ours, theirs = socket.socketpair()
        env = {**os.environ, **self._settings.env, **self._env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tl_widgets.core.engine.worker", str(theirs.fileno()),
             json.dumps(asdict(self._settings))], pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        self.conn = Connection(ours.detach())
        self.started_at = time.monotonic()
        threading.Thread(target=self._await_ready, args=(self.conn,), name=f"tlw-ready-{self.name}",
                         daemon=True).start()

    def _await_ready(self, conn: Any) -> None:
        try:
            message = wire.loads(conn.recv_bytes())
        except (EOFError, OSError, wire.WireError) as exc:
            self.last_error = f"did not start: {type(exc).__name__}"
            return
        if message.get("op") == "ready":
            self.pid = message.get("pid")
            self.ready.set()
        else:
            self.last_error = str(message.get("message", "did not start"))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def run(self, job: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
        assert self.proc is not None
        try:
            with self._lock:
                self.conn.send_bytes(job)
            while True:
                raw = self.conn.recv_bytes()
                message = wire.loads(raw)
                yield message, raw
                if message.get("op") in ("answer", "error"):
                    return
        except (EOFError, OSError) as exc:
            try:
                code = self.proc.wait(2)
            except subprocess.TimeoutExpired:
                code = None
            why = "it ran out of memory" if code == OOM_EXIT else (
                f"it was killed (signal {-code})" if code is not None and code < 0 else f"exit code {code}")
            raise WorkerDied(f"The engine worker stopped while running this job ({why}); the room starts a new "
                             "one. Try again.") from exc

    def stop(self, job_id: str) -> None:
        try:
            with self._lock:
                self.conn.send_bytes(wire.dumps({"op": "stop", "id": job_id}))
        except OSError:
            pass  # the worker is gone: nothing left to stop

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class ProcessPool(WorkerPool):
    """Local worker processes (each a fresh interpreter that imports the backend once).

    Args:
        settings: What every worker knows (seats folder, data roots, workshop, warm-up, environment).
        lanes: Workers per lane.
        per_worker_env: More environment for one worker (e.g. the GPU it sees), by lane and index.
    """

    def __init__(self, settings: WorkerSettings, lanes: dict[str, int],
                 per_worker_env: Callable[[str, int], dict[str, str]] | None = None) -> None:
        super().__init__(lanes)
        self.settings = settings
        self._per_worker_env = per_worker_env

    def _make(self, lane: str, index: int) -> WorkerHandle:
        env = self._per_worker_env(lane, index) if self._per_worker_env is not None else None
        return _ProcessHandle(self.settings, lane, index, env)

    def pids(self) -> list[int]:
        """The worker processes' ids (for memory measurements and tests)."""
        return [h.proc.pid for h in self.handles() if isinstance(h, _ProcessHandle) and h.proc is not None]
