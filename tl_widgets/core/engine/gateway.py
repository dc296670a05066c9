"""The room's engine gateway: the one door from the seats to the warm workers.

``tl-widgets serve`` starts it beside Voilà. It listens on a Unix socket in a
private folder (mode 0700; the room's key is required to connect) and, for
every connection, reads one job request and treats it as hostile until checked:

- **who asks**: the peer's process id (``SO_PEERCRED``) must be one of the
  live kernels of the seat the request names (``seat.json``: every tab of
  that student), and that seat must be a folder of this room;
- **what**: a known job with keyword arguments (the worker re-checks every path
  and config against the seat);
- **how much**: one job per lane per seat at a time (a second tab or a
  double-click gets "busy"); a heavy job has already passed the room's fair
  queue in the seat, and the heavy lane has as many workers as the queue has slots.

It then hands the job to a free worker of the job's lane and relays its events
and answer. A seat that closes its connection (Stop, or its kernel ended)
stops its job; a worker that dies fails the job with the reason and is
replaced by the pool.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import struct
import tempfile
import threading
from multiprocessing.connection import Listener
from pathlib import Path
from typing import Any

from tl_widgets.core.engine import wire
from tl_widgets.core.engine.client import AUTHKEY_FILE
from tl_widgets.core.engine.jobs import JOBS
from tl_widgets.core.engine.pool import WorkerDied, WorkerPool
from tl_widgets.core.engine.worker import error_message

__all__ = ["EngineGateway", "SOCKET_FILE", "peer_pid"]

SOCKET_FILE = "engine.sock"
WAIT_S = {"quick": 120.0, "heavy": 600.0}
"""How long a request waits for a free worker of its lane."""


def peer_pid(conn: Any) -> tuple[int, int]:
    """``(pid, uid)`` of the process at the other end of a Unix-socket connection."""
    sock = socket.socket(fileno=os.dup(conn.fileno()))
    try:
        pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                              struct.calcsize("3i")))
    finally:
        sock.close()
    return pid, uid


class EngineGateway:
    """Accepts seats' requests and runs them on a pool's workers.

    Args:
        pool: The workers (started by the caller).
        seats_root: The room's seats folder.
        folder: Where the socket and the key go (None: a new private folder under the system's temp).

    Attributes:
        address: The socket's path (``$TL_WIDGETS_ENGINE`` for the seats).
    """

    def __init__(self, pool: WorkerPool, seats_root: str | os.PathLike[str], folder: str | None = None) -> None:
        self.pool = pool
        self.seats_root = Path(seats_root).resolve()
        self.folder = Path(folder or tempfile.mkdtemp(prefix="tlw-engine-"))
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self.authkey = secrets.token_bytes(32)
        key = self.folder / AUTHKEY_FILE
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.authkey)
        self.address = str(self.folder / SOCKET_FILE)
        self._listener = Listener(self.address, family="AF_UNIX", authkey=self.authkey)
        os.chmod(self.address, 0o600)
        self._inflight: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.refused = 0
        self.served = 0
        self._thread = threading.Thread(target=self._accept, name="tlw-engine-gateway", daemon=True)

    def start(self) -> EngineGateway:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stops accepting (workers are the pool's to close)."""
        self._closed.set()
        try:
            self._listener.close()
        except OSError:
            pass  # already closed
        for name in (SOCKET_FILE, AUTHKEY_FILE):
            (self.folder / name).unlink(missing_ok=True)

    # -- accepting --------------------------------------------------------------------------------------------
    def _accept(self) -> None:
        from multiprocessing import AuthenticationError

        while not self._closed.is_set():
            try:
                conn = self._listener.accept()
            except AuthenticationError:
                self.refused += 1
                continue
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(conn,), name="tlw-engine-request", daemon=True).start()

    def _serve(self, conn: Any) -> None:
        try:
            self._handle(conn)
        except (EOFError, OSError):
            pass  # the seat went away mid-answer: nothing left to tell it
        finally:
            conn.close()

    def _refuse(self, conn: Any, exc: BaseException) -> None:
        self.refused += 1
        conn.send_bytes(wire.dumps(error_message(exc)))

    def _check(self, conn: Any) -> tuple[dict[str, Any], str, str]:
        """The request on ``conn`` as ``(message, seat home, lane)`` once it passed every check (else raises)."""
        from tl_widgets.core.engine.base import EngineError

        if not conn.poll(10):
            raise EngineError("Expected a job request within 10 s. Received: nothing")
        message = wire.loads(conn.recv_bytes(wire.MAX_MESSAGE_BYTES))
        if not isinstance(message, dict) or message.get("op") != "job":
            raise EngineError(f"Expected a job request. Received: {type(message).__name__}")
        job, kwargs = message.get("job"), message.get("kwargs")
        if job not in JOBS or not isinstance(kwargs, dict):
            raise EngineError(f"Expected a job in {sorted(JOBS)} with keyword arguments. Received: {job!r}")
        home = self._seat_of(conn, message.get("seat"))
        job_id = secrets.token_hex(8)
        return {"op": "job", "job": job, "kwargs": kwargs, "seat": home, "id": job_id}, home, JOBS[job].lane

    def _seat_of(self, conn: Any, seat: Any) -> str:
        """The seat home ``seat`` names, when the asking process is the one that opened it."""
        from tl_widgets.core.engine.base import EngineError
        from tl_widgets.core.room.seat import SEAT_FILE

        pid, uid = peer_pid(conn)
        if not isinstance(seat, str) or "\x00" in seat:
            raise EngineError(f"Expected a seat folder. Received: {seat!r}")
        home = Path(seat).resolve()
        if uid != os.getuid() or home.parent != self.seats_root or not home.name.startswith("seat-"):
            raise EngineError(f"Expected a seat of this room. Received: {seat!r}")
        try:
            info = json.loads((home / SEAT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EngineError(f"Expected a seat of this room. Received: {seat!r} ({type(exc).__name__})") from None
        from tl_widgets.core.room.seat import seat_pids

        if not isinstance(info, dict) or info.get("ended") or pid not in seat_pids(info):
            raise EngineError(f"Expected the request from a kernel of {home.name}. Received: process {pid}")
        return str(home)

    def _handle(self, conn: Any) -> None:
        from tl_widgets.core.engine.base import EngineBusyError, EngineError

        try:
            message, home, lane = self._check(conn)
        except (wire.WireError, EngineError) as exc:
            self._refuse(conn, exc)
            return
        key = (home, lane)
        with self._lock:
            if key in self._inflight:
                busy = EngineError(f"Expected one {lane} job at a time per seat. Received: another while one runs")
                self._refuse(conn, busy)
                return
            self._inflight.add(key)
        gone = threading.Event()
        last: bytes | None = None
        try:
            try:
                handle = self.pool.acquire(lane, WAIT_S.get(lane, 120.0), cancelled=gone)
            except TimeoutError as exc:
                last = wire.dumps(error_message(EngineBusyError(str(exc))))
                self.refused += 1
                return
            handle.busy_seat = Path(home).name
            watcher = threading.Thread(target=self._watch_seat, args=(conn, handle, message["id"], gone), daemon=True)
            watcher.start()
            try:
                for reply, raw in handle.run(wire.dumps(message)):
                    if reply.get("op") in ("answer", "error"):
                        last = raw  # sent once the seat's place is free: it may ask again at once
                    elif not gone.is_set():
                        conn.send_bytes(raw)
            except WorkerDied as exc:
                last = wire.dumps(error_message(EngineError(str(exc))))
            except Exception as exc:  # the pool could not run it (a cluster error): the seat hears why
                last = wire.dumps(error_message(EngineError(f"The room's engine could not run this job: "
                                                            f"{type(exc).__name__}: {exc}")))
            finally:
                handle.busy_seat = None
                self.pool.release(handle)
                self.served += 1
        finally:
            gone.set()
            with self._lock:
                self._inflight.discard(key)
            if last is not None:
                conn.send_bytes(last)

    def _watch_seat(self, conn: Any, handle: Any, job_id: str, gone: threading.Event) -> None:
        """Reads the seat's side while its job runs: ``stop``, or the seat gone (its kernel ended) stops the job.

        A stop names its job: one that reaches the worker after the job ended is ignored there.
        """
        while not gone.is_set():
            try:
                if not conn.poll(0.2):
                    continue
                message = wire.loads(conn.recv_bytes(4096))
            except (EOFError, OSError):
                gone.set()
                handle.stop(job_id)
                return
            except wire.WireError:
                continue
            if isinstance(message, dict) and message.get("op") == "stop":
                handle.stop(job_id)
