"""A seat's side of the room's engine: :class:`WorkerEngine` and its training :class:`RemoteSession`.

The seat (a student's thin kernel) never imports TensorFlow: each request
opens a connection to the room's gateway (a Unix socket in a private folder,
with the room's key), sends the job and reads back its events and its answer.
A :class:`RemoteSession` is what the Train panel drives instead of a
:class:`~tl_widgets.core.training.session.TrainingSession`: it waits its turn
in the room's fair queue, re-publishes the worker's events on the seat's own
bus (the run store's recorder, the history and the live charts listen there as
before), and turns a worker that died into a failed run with the reason.
"""

from __future__ import annotations

import builtins
import importlib
import os
import threading
import time
from multiprocessing.connection import Client
from pathlib import Path
from typing import Any, Callable

from tl_widgets.core.engine import wire
from tl_widgets.core.engine.base import Engine, EngineError
from tl_widgets.core.engine.worker import GPU_ENV

__all__ = ["WorkerEngine", "PoolEngine", "RemoteSession", "rebuild_error", "AUTHKEY_FILE"]

AUTHKEY_FILE = "authkey"
"""The room's key, beside the gateway's socket (mode 0600)."""

_BUILTIN_ERRORS = {"ValueError", "TypeError", "KeyError", "OSError", "FileNotFoundError", "PermissionError",
                   "RuntimeError", "MemoryError", "IndexError", "NotImplementedError", "TimeoutError"}


def rebuild_error(type_path: Any, message: Any) -> BaseException:
    """The exception a job raised on the other side, as a local one of the same class when that class is a
    builtin error or one of ``tl_widgets.core`` (so panels catch what they caught before), else EngineError."""
    text = str(message)
    module, _, name = str(type_path).rpartition(".")
    cls: Any = None
    if module == "builtins" and name in _BUILTIN_ERRORS:
        cls = getattr(builtins, name)
    elif module.startswith("tl_widgets.core") and name.isidentifier():
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            cls = None
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        return EngineError(text)
    exc = cls.__new__(cls)
    exc.args = (text,)
    return exc


class WorkerEngine(Engine):
    """The room's warm workers, reached through its gateway.

    Args:
        address: The gateway's Unix socket (``$TL_WIDGETS_ENGINE``).
        seat_home: This seat's folder (the gateway checks that this process owns it).
        authkey: The room's key (None: read from ``authkey`` beside the socket).
    """

    kind = "workers"
    remote = True

    def __init__(self, address: str | os.PathLike[str], seat_home: str | os.PathLike[str],
                 authkey: bytes | None = None) -> None:
        super().__init__()
        self.address = str(address)
        self.seat_home = str(Path(seat_home).resolve())
        self._authkey = authkey

    @property
    def authkey(self) -> bytes:
        if self._authkey is None:
            try:
                self._authkey = (Path(self.address).parent / AUTHKEY_FILE).read_bytes()
            except OSError as exc:
                raise EngineError(f"Expected the room's engine key beside {self.address!r}. Received: {exc}") from exc
        return self._authkey

    def open(self, job: str, kwargs: dict[str, Any]) -> Any:
        """A connection to the gateway with job ``job`` sent on it.

        Raises:
            EngineError: The gateway does not answer.
        """
        try:
            conn = Client(self.address, family="AF_UNIX", authkey=self.authkey)
        except (OSError, EOFError) as exc:
            raise EngineError(f"Expected the room's training engine at {self.address!r}. Received: {exc} — is "
                              "`tl-widgets serve` still running?") from exc
        conn.send_bytes(wire.dumps({"op": "job", "seat": self.seat_home, "job": job, "kwargs": kwargs}))
        return conn

    def call(self, job: str, **kwargs: Any) -> Any:
        """Runs ``job`` in the room's workers; a heavy one first waits its turn in the room's fair queue (the one
        gate trainings pass), so an export or a health check never runs beside everyone's trainings unqueued."""
        import secrets

        from tl_widgets.core.engine.jobs import JOBS
        from tl_widgets.core.training.session import start_gate

        gate = start_gate() if JOBS.get(job) is not None and JOBS[job].lane == "heavy" else None
        release = None
        if gate is not None:
            release = gate(f"{job.replace('_', '-')}-{secrets.token_hex(6)}", threading.Event(), lambda *a, **k: None)
        try:
            return self._call(job, kwargs)
        finally:
            if release is not None:
                release()

    def _call(self, job: str, kwargs: dict[str, Any]) -> Any:
        conn = self.open(job, kwargs)
        try:
            while True:
                message = _receive(conn)
                op = message.get("op")
                if op == "answer":
                    return message.get("value")
                if op == "error":
                    raise rebuild_error(message.get("type"), message.get("message"))
        finally:
            conn.close()

    def session(self, config: Any, *, bus: Any = None, source: str = "studio", store: Any = None,
                resume_dir: str | None = None) -> RemoteSession:
        return RemoteSession(self, config, bus=bus, source=source, store=store, resume_dir=resume_dir)


class _PoolChannel:
    """One job on a pool's worker, read like a gateway connection (``recv_bytes``, ``send_bytes``, ``close``)."""

    def __init__(self, pool: Any, home: str, job: str, kwargs: dict[str, Any]) -> None:
        import secrets

        from tl_widgets.core.engine.jobs import JOBS

        if job not in JOBS:
            raise EngineError(f"Expected a job in {sorted(JOBS)}. Received: {job!r}")
        self.pool, self.job_id = pool, secrets.token_hex(8)
        self.handle = pool.acquire(JOBS[job].lane, 600.0)
        message = {"op": "job", "job": job, "kwargs": kwargs, "seat": home, "id": self.job_id}
        self._replies = self.handle.run(wire.dumps(message))
        self._open = True

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        from tl_widgets.core.engine.pool import WorkerDied

        try:
            _message, raw = next(self._replies)
        except StopIteration:
            raise EOFError("the job ended") from None
        except WorkerDied as exc:
            return wire.dumps({"op": "error", "type": "tl_widgets.core.engine.base.EngineError", "message": str(exc)})
        return raw

    def send_bytes(self, data: bytes) -> None:
        message = wire.loads(data)
        if isinstance(message, dict) and message.get("op") == "stop":
            self.handle.stop(self.job_id)

    def close(self) -> None:
        if self._open:
            self._open = False
            self.handle.stop(self.job_id)  # ignored by the worker when the job has ended
            self._replies.close()
            self.pool.release(self.handle)


class PoolEngine(WorkerEngine):
    """One person's own workers (no gateway): e.g. ``Studio(engine="ray://HOST:PORT")`` in a notebook, whose
    Keras work then runs on a Ray cluster's GPUs while the kernel never imports TensorFlow.

    Args:
        pool: A started pool whose workers serve only ``home`` (``WorkerSettings.seat_home``).
        home: The person's tl_widgets home (runs, uploads; on a file system the workers see at the same path).
    """

    kind = "pool"

    def __init__(self, pool: Any, home: str | os.PathLike[str]) -> None:
        super().__init__(address="", seat_home=home, authkey=b"")
        self.pool = pool

    def open(self, job: str, kwargs: dict[str, Any]) -> Any:
        return _PoolChannel(self.pool, self.seat_home, job, kwargs)

    @classmethod
    def on_ray(cls, address: str, home: str | os.PathLike[str] | None = None, *,
               data_roots: tuple[str, ...] = (), gpus: float = 0.0, cpus: float = 1.0) -> PoolEngine:
        """One heavy and one quick Ray actor on the cluster at ``address`` for the person at ``home``.

        Args:
            address: ``ray://HOST:PORT`` (Ray Client) or ``"ray"`` (this machine).
            home: The tl_widgets home (None: the default home).
            data_roots: Folders the workers may also read.
            gpus: GPUs (or a fraction: 0.25 lets four people share one) the heavy actor reserves.
            cpus: CPUs the heavy actor reserves (the quick one half of it).
        """
        from tl_widgets.core.engine.ray_pool import RayPool
        from tl_widgets.core.engine.worker import WorkerSettings
        from tl_widgets.core.settings import default_home

        folder = Path(home).resolve() if home is not None else default_home().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        settings = WorkerSettings(seats_root=str(folder.parent), data_roots=tuple(data_roots), seat_home=str(folder),
                                  env=dict(GPU_ENV))
        pool = RayPool(settings, {"heavy": 1, "quick": 1}, address=address, gpus={"heavy": gpus} if gpus else None,
                       cpus={"heavy": cpus, "quick": cpus / 2})
        pool.start()
        return cls(pool, folder)

    def close(self) -> None:
        """Ends this person's actors."""
        self.pool.close()


def _receive(conn: Any) -> dict[str, Any]:
    try:
        message = wire.loads(conn.recv_bytes(wire.MAX_MESSAGE_BYTES))
    except (EOFError, OSError) as exc:
        raise EngineError("The room's training engine closed the connection before answering "
                          f"({type(exc).__name__}).") from exc
    if not isinstance(message, dict):
        raise EngineError(f"Expected a message from the engine. Received: {type(message).__name__}")
    return message


class RemoteSession:
    """A training run in the room's workers, driven like a :class:`TrainingSession` (start, stop, wait).

    Args:
        engine: The seat's :class:`WorkerEngine`.
        config: The run's config (None with ``resume_dir``).
        bus: The seat's event bus (a new one when None): the worker's events are published on it.
        source: Where the run comes from, for the run store.
        store: The seat's run store (None: the home store).
        resume_dir: An interrupted run folder to continue instead.
    """

    def __init__(self, engine: WorkerEngine, config: Any = None, *, bus: Any = None, source: str = "studio",
                 store: Any = None, resume_dir: str | None = None) -> None:
        from tl_widgets.core.config.schema import TrainConfig
        from tl_widgets.core.events import EventBus
        from tl_widgets.core.runs.folder import ResumePoint
        from tl_widgets.core.training.history import HistoryRecorder

        self.engine = engine
        self.resume_point = ResumePoint.read(Path(resume_dir)) if resume_dir is not None else None
        self.config: TrainConfig = self.resume_point.config if self.resume_point is not None else config
        if not isinstance(self.config, TrainConfig):
            raise TypeError(f"Expected a TrainConfig. Received: {type(self.config).__name__}")
        self.bus = bus if bus is not None else EventBus()
        self.source, self.store = source, store
        self.status = "idle"
        self.run_id: str | None = None
        self.run_dir: Path | None = None
        self.model: Any = None  # the model stays in the worker's run folder (model.keras)
        self.result: Any = None
        self.history_recorder = HistoryRecorder()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._conn_lock = threading.Lock()

    @property
    def history(self) -> dict[str, dict[str, list[Any]]]:
        return self.history_recorder.history

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def start(self) -> str:
        """Queues the run for a worker and returns its id (the worker trains under it).

        Raises:
            SessionBusyError: This session already runs.
            ConfigError: The config is invalid.
        """
        from tl_widgets.core.config.schema import validate
        from tl_widgets.core.runs.store import RunRecorder, RunStore
        from tl_widgets.core.training.session import SessionBusyError, new_run_id

        if self.running:
            raise SessionBusyError(f"A run is already active in this session (run {self.run_id}); stop it first")
        cfg = self.config.copy()
        validate(cfg)
        point = self.resume_point
        self.run_id = point.run_id if point is not None else \
            new_run_id(cfg.run_name or cfg.model.backbone.rsplit("/", 1)[-1])
        self.status, self.result = "running", None
        self._stop.clear()
        self._done.clear()
        self.history_recorder.begin(self.run_id, point.epoch_history if point is not None else None)
        store = self.store if self.store is not None else RunStore()
        undo = [self.bus.subscribe(self.history_recorder), self.bus.subscribe(RunRecorder(store, source=self.source))]
        kwargs: dict[str, Any] = {"run_id": self.run_id, "source": self.source}
        if point is not None:
            kwargs["resume_dir"] = str(point.run_dir)
        else:
            kwargs["config"] = cfg
        self._thread = threading.Thread(target=self._work, args=(kwargs, undo), name=f"tlw-remote-{self.run_id}",
                                        daemon=True)
        self._thread.start()
        return self.run_id

    def stop(self) -> None:
        """Asks the run to end after the current batch (in the queue: leaves it)."""
        if not self.running:
            return
        self._stop.set()
        self._send_stop()

    def _forward_stop(self) -> None:
        """While the run trains: a stop flag set by anyone (Stop, the room's time limit) reaches the worker."""
        while not self._done.is_set():
            if self._stop.wait(0.5):
                self._send_stop()
                return

    def _send_stop(self) -> None:
        with self._conn_lock:
            if self._conn is not None:
                try:
                    self._conn.send_bytes(wire.dumps({"op": "stop"}))
                except OSError:
                    pass  # the connection is closing: the run is ending anyway

    def wait(self, timeout: float | None = None) -> Any:
        """Blocks until the run ends; returns its result, or None on timeout."""
        if self._thread is None:
            return self.result
        return self.result if self._done.wait(timeout) else None

    def _work(self, kwargs: dict[str, Any], undo: list[Callable[[], None]]) -> None:
        from tl_widgets.core.events import Message, RunFailed, RunStopped
        from tl_widgets.core.training.control import RunResult
        from tl_widgets.core.training.session import start_gate

        run_id = str(self.run_id)
        t0 = time.time()
        result: Any = None
        release = None
        try:
            gate = start_gate()
            if gate is not None:
                release = gate(run_id, self._stop, lambda text, level="info": self.bus.publish(
                    Message(run_id, level=level, text=text)))
            if gate is not None and release is None:  # stopped while queued: nothing was trained or written
                result = RunResult(run_id=run_id, status="stopped", metrics={}, history=self.history, run_dir=None,
                                   duration=time.time() - t0)
                self.bus.publish(RunStopped(run_id, metrics={}, run_dir=None, duration=result.duration))
            else:
                result = self._train(kwargs)
        except Exception as exc:  # no worker, a dead worker, a refusal: the run fails with the reason
            error = str(exc) or type(exc).__name__
            result = RunResult(run_id=run_id, status="failed", metrics={}, history=self.history, run_dir=None,
                               duration=time.time() - t0, error=error)
            self.bus.publish(RunFailed(run_id, error=error, traceback="", run_dir=None, duration=result.duration))
        finally:
            if release is not None:
                release()
        self.run_dir = result.run_dir
        self.result = result
        self.status = result.status
        for off in undo:
            off()
        self._done.set()

    def _train(self, kwargs: dict[str, Any]) -> Any:
        conn = self.engine.open("train", kwargs)
        with self._conn_lock:
            self._conn = conn
        # Stop pressed, or the room's time limit set the stop flag itself: the worker is told either way.
        threading.Thread(target=self._forward_stop, name="tlw-remote-stop", daemon=True).start()
        try:
            while True:
                message = _receive(conn)
                op = message.get("op")
                if op == "event":
                    self.bus.publish(message["event"])
                elif op == "answer":
                    return message["value"]
                elif op == "error":
                    raise rebuild_error(message.get("type"), message.get("message"))
        finally:
            with self._conn_lock:
                self._conn = None
            conn.close()
