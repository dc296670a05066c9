"""An engine worker: a warm process (TensorFlow/Keras imported once) that runs one job at a time for any seat.

:class:`WorkerCore` is the work itself, shared by the local worker process
(:func:`process_main`, started by :class:`~tl_widgets.core.engine.pool.ProcessPool`)
and the Ray actor (:mod:`tl_widgets.core.engine.ray_pool`). It gets a job
message from the room's gateway — the job, its keyword arguments and the seat
it runs for (the gateway checked who asked) — and answers with the job's
events, then its answer or its error. A worker serves many seats, so each job
runs in a :class:`~tl_widgets.core.engine.scope.SeatScope` (every path
re-checked against that seat's home and the data roots; configs against the
workshop) and with the seat's home as ``$TL_WIDGETS_HOME`` and its ``tmp/``
as the temporary folder for the job's duration (one job at a time per worker:
what a job writes lands in its seat). A job that ran out of memory makes the
worker exit after answering: the pool starts a fresh one.
"""

from __future__ import annotations

import os
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tl_widgets.core.engine import wire

__all__ = ["WorkerSettings", "WorkerCore", "process_main", "main", "error_message", "OOM_EXIT", "GPU_ENV"]

GPU_ENV = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
"""Set in every worker before its backend starts: GPU memory is taken as needed, not all at once."""

OOM_EXIT = 75
"""The worker's exit code after a job ran out of memory (the pool replaces it)."""


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker of a room knows.

    Attributes:
        seats_root: The room's seats folder (every seat home lies directly in it).
        data_roots: Folders every seat may read.
        workshop: The workshop file (None: no limits beyond the seat's folder).
        warm: ``(backbone, input_size)`` pairs whose facts are built at start.
        env: Environment set before the backend starts (threads, GPU memory growth, visible devices).
        seat_home: Serve this one seat only (a person's own workers, e.g. ``Studio(engine="ray://…")``):
            every job runs in its scope whatever the request names.
    """

    seats_root: str
    data_roots: tuple[str, ...] = ()
    workshop: str | None = None
    warm: tuple[tuple[str, int | None], ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    seat_home: str | None = None


def error_message(exc: BaseException) -> dict[str, Any]:
    """The wire form of a job's error: its class (module and name) and its message."""
    cls = type(exc)
    return {"op": "error", "type": f"{cls.__module__}.{cls.__qualname__}", "message": str(exc) or cls.__name__}


def _is_oom(exc: BaseException | None, answer: Any = None) -> bool:
    from tl_widgets.core.training.session import is_out_of_memory

    if exc is not None:
        return is_out_of_memory(exc)
    error = getattr(answer, "error", None) or ""
    return getattr(answer, "status", "") == "failed" and error.startswith("Out of memory")


class WorkerCore:
    """Runs jobs for seats; one at a time.

    Args:
        settings: The room's settings (the backend is imported here, with ``settings.env`` set first).
    """

    def __init__(self, settings: WorkerSettings) -> None:
        os.environ.update(settings.env)
        self.settings = settings
        self.seats_root = Path(settings.seats_root).resolve()
        self.workshop = None
        if settings.workshop:
            from tl_widgets.core.room.workshop import load_workshop

            self.workshop = load_workshop(settings.workshop)
        from tl_widgets.core.engine.jobs import JobContext, run_job

        self.backend = run_job("warm_up", JobContext(), {"backbones": list(settings.warm)})
        self.busy = threading.Lock()

    def scope(self, seat: Any) -> Any:
        """The :class:`SeatScope` of ``seat`` (a seat home directly in the room's seats folder)."""
        from tl_widgets.core.engine.scope import ScopeError, SeatScope

        home = Path(str(seat)).resolve()
        if self.settings.seat_home is not None:
            home = Path(self.settings.seat_home).resolve()  # one person's own workers: their home, always
        elif home.parent != self.seats_root or not home.name.startswith("seat-") or not home.is_dir():
            raise ScopeError("", f"Expected a seat folder of this room. Received: {str(seat)!r}")
        roots = [Path(r) for r in self.settings.data_roots]
        if self.workshop is not None:
            roots += [Path(r) for r in self.workshop.data_roots]
        return SeatScope(home, roots, self.workshop)

    def run(self, message: Any, send: Callable[[bytes], None], stop: threading.Event) -> bool:
        """Runs one job message and sends its events and answer; returns False when the worker must exit (OOM).

        Never raises: a bad message or a failed job is answered with an error.
        """
        from tl_widgets.core.engine.jobs import JobContext, run_job

        if not self.busy.acquire(blocking=False):
            send(wire.dumps({"op": "error", "type": "tl_widgets.core.engine.base.EngineError",
                             "message": "Expected one job at a time on a worker. Received: a second one"}))
            return True
        from tl_widgets.core.settings import HOME_ENV

        saved = (os.environ.get(HOME_ENV), os.environ.get("TMPDIR"), tempfile.tempdir)
        exc: BaseException | None = None
        answer: Any = None
        try:
            if not isinstance(message, dict) or message.get("op") != "job":
                raise wire.WireError(f"Expected a job message. Received: {type(message).__name__}")
            scope = self.scope(message.get("seat"))
            _enter_home(scope.home)

            def emit(event: Any) -> None:
                send(wire.dumps({"op": "event", "event": event}))

            answer = run_job(message.get("job"), JobContext(scope, stop, emit), message.get("kwargs") or {})
            send(wire.dumps({"op": "answer", "value": answer}))
        except BaseException as error:  # answered to the seat; the worker goes on (or exits after an OOM)
            exc = error
            send(wire.dumps(error_message(error) | {"trace": traceback.format_exc(limit=8)}))
        finally:
            _leave_home(saved)
            self.busy.release()
        return not _is_oom(exc, answer)


def _enter_home(home: Path) -> None:
    from tl_widgets.core.settings import HOME_ENV, home_path

    tmp = home_path("tmp", home)
    tmp.mkdir(mode=0o700, exist_ok=True)
    os.environ[HOME_ENV] = str(home)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)


def _leave_home(saved: tuple[str | None, str | None, str | None]) -> None:
    from tl_widgets.core.settings import HOME_ENV

    for name, value in ((HOME_ENV, saved[0]), ("TMPDIR", saved[1])):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    tempfile.tempdir = saved[2]


def process_main(conn: Any, settings: WorkerSettings) -> None:
    """A local worker process: warm up, say ``ready``, then serve job messages from ``conn`` until it closes.

    A job runs in a thread so that a ``stop`` message can reach it; the process
    exits with :data:`OOM_EXIT` after a job that ran out of memory.
    """
    send_lock = threading.Lock()

    def send(data: bytes) -> None:
        with send_lock:
            conn.send_bytes(data)

    try:
        core = WorkerCore(settings)
    except BaseException as exc:  # the pool reads why the worker could not start
        send(wire.dumps(error_message(exc) | {"trace": traceback.format_exc()}))
        raise SystemExit(1) from None
    send(wire.dumps({"op": "ready", "pid": os.getpid(), "backend": core.backend}))
    pending: list[Any] = []  # a job message that arrived while the previous job's thread was still ending
    while True:
        if pending:
            message = pending.pop(0)
        else:
            try:
                message = wire.loads(conn.recv_bytes())
            except (EOFError, OSError):
                return
            except wire.WireError as exc:
                send(wire.dumps(error_message(exc)))
                continue
        if isinstance(message, dict) and message.get("op") == "stop":
            continue  # a stop that arrived after its job ended
        stop = threading.Event()
        keep: list[bool] = [True]
        job = threading.Thread(target=lambda m=message: keep.__setitem__(0, core.run(m, send, stop)),
                               name="tlw-engine-job", daemon=True)
        job.start()
        while job.is_alive():  # a stop message while the job runs
            if not conn.poll(0.1):
                continue
            try:
                extra = wire.loads(conn.recv_bytes())
            except (EOFError, OSError):  # the gateway is gone: stop the job and end
                stop.set()
                job.join()
                return
            except wire.WireError:
                continue
            if isinstance(extra, dict) and extra.get("op") == "stop":
                if extra.get("id") == message.get("id"):
                    stop.set()
            else:
                pending.append(extra)  # the next job, sent as soon as this one answered
        if not keep[0]:
            os._exit(OOM_EXIT)  # a fresh process frees the accelerator's memory


def main(argv: list[str] | None = None) -> None:
    """``python -m tl_widgets.core.engine.worker FD SETTINGS_JSON``: serve the pool on socket ``FD``."""
    import json
    import sys
    from multiprocessing.connection import Connection

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[0].isdigit():
        raise SystemExit("Expected: python -m tl_widgets.core.engine.worker FD SETTINGS_JSON")
    data = json.loads(args[1])
    data["data_roots"] = tuple(data.get("data_roots") or ())
    data["warm"] = tuple(tuple(pair) for pair in data.get("warm") or ())
    process_main(Connection(int(args[0])), WorkerSettings(**data))


if __name__ == "__main__":
    main()
