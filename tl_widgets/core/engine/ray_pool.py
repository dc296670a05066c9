"""The room's workers as Ray actors: the same :class:`~tl_widgets.core.engine.worker.WorkerCore`, on a cluster.

``tl-widgets serve --engine ray://HOST:PORT`` (and ``Studio(engine="ray://…")``)
use :class:`RayPool` instead of local processes. Each worker is an actor that
keeps TensorFlow warm. A job starts with one actor call; its wire messages
(events, then the answer) are fetched with long polls (``next``: whatever
arrived, waiting up to a second for the first), which works through Ray Client
(``ray://``), where streaming generators do not; a stop is another call on the
same (threaded) actor. An actor that
dies fails its job (:class:`~tl_widgets.core.engine.pool.WorkerDied`) and is
started again. Ray is an extra: ``pip install "tl_widgets[ray]"``. Paths in
requests are the seats' own, so the cluster's nodes must see the room's seats
folder and data roots at the same paths (a shared file system; docs/SCALE_OUT.md).
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from dataclasses import asdict
from typing import Any, Iterator

from tl_widgets.core.engine import wire
from tl_widgets.core.engine.pool import WorkerDied, WorkerHandle, WorkerPool
from tl_widgets.core.engine.worker import WorkerSettings

__all__ = ["RayPool", "NAMESPACE", "require_ray"]

NAMESPACE = "tl_widgets"


def require_ray() -> Any:
    """The ``ray`` module, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError('Expected Ray for a Ray engine (`pip install "tl_widgets[ray]"`). Received: '
                          f"{exc}") from exc
    return ray


@functools.lru_cache(maxsize=1)
def _actor_class() -> Any:
    ray = require_ray()

    @ray.remote(max_concurrency=4)
    class EngineActor:
        """A warm worker: one job at a time (a second call only stops it)."""

        def __init__(self, settings: dict[str, Any]) -> None:
            from tl_widgets.core.engine.worker import WorkerCore

            settings = dict(settings)
            settings["data_roots"] = tuple(settings.get("data_roots") or ())
            settings["warm"] = tuple(tuple(p) for p in settings.get("warm") or ())
            self.core = WorkerCore(WorkerSettings(**settings))
            self.current: tuple[Any, threading.Event] | None = None

        def ready(self) -> int:
            return os.getpid()

        def start(self, job: bytes) -> bool:
            """Starts one job in a thread; its messages queue up for :meth:`next`."""
            message = wire.loads(job)
            stop = threading.Event()
            out: queue.Queue[Any] = queue.Queue()
            self.current = (message.get("id") if isinstance(message, dict) else None, stop)
            self.out = out

            def work() -> None:
                keep = self.core.run(message, out.put, stop)
                if not keep:
                    self.exit_after = True

            threading.Thread(target=work, name="tlw-engine-job", daemon=True).start()
            return True

        def next(self, wait_s: float = 1.0) -> list[bytes]:
            """The job's messages that arrived (waiting up to ``wait_s`` for the first)."""
            items: list[bytes] = []
            try:
                items.append(self.out.get(timeout=wait_s))
                while True:
                    items.append(self.out.get_nowait())
            except queue.Empty:
                pass  # nothing more for now
            return items

        def exit_if_spent(self) -> None:
            """Ends this actor after an out-of-memory job (a fresh one frees the accelerator)."""
            if getattr(self, "exit_after", False):
                ray.actor.exit_actor()

        def stop(self, job_id: str) -> None:
            current = self.current
            if current is not None and current[0] == job_id:
                current[1].set()

    return EngineActor


class _RayHandle(WorkerHandle):
    def __init__(self, pool: RayPool, lane: str, index: int) -> None:
        super().__init__(lane, index)
        self._pool = pool
        self.actor: Any = None
        self._dead = False
        self.restart()

    def restart(self) -> None:
        ray = require_ray()
        if self.actor is not None:
            self.last_error = self.last_error or "the actor died"
            try:
                ray.kill(self.actor)
            except Exception:  # already gone: nothing to kill  # noqa: BLE001
                self.last_error += " (already gone)"
        options: dict[str, Any] = {"num_cpus": self._pool.cpus[self.lane]}
        if self._pool.gpus.get(self.lane):
            options["num_gpus"] = self._pool.gpus[self.lane]
        self.actor = _actor_class().options(**options).remote(asdict(self._pool.settings))
        self._dead = False
        threading.Thread(target=self._await_ready, name=f"tlw-ray-ready-{self.name}", daemon=True).start()

    def _await_ready(self) -> None:
        ray = require_ray()
        try:
            self.pid = ray.get(self.actor.ready.remote())
        except Exception as exc:  # the actor could not start (no resources, an import error): shown on the board  # noqa: BLE001
            self.last_error = f"did not start: {type(exc).__name__}: {exc}"[:500]
            self._dead = True
            return
        self.ready.set()

    def alive(self) -> bool:
        return self.actor is not None and not self._dead

    def run(self, job: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
        ray = require_ray()
        try:
            ray.get(self.actor.start.remote(job))
            while True:
                for raw in ray.get(self.actor.next.remote(1.0)):
                    message = wire.loads(raw)
                    yield message, raw
                    if message.get("op") in ("answer", "error"):
                        self.actor.exit_if_spent.remote()
                        return
        except ray.exceptions.RayError as exc:
            self._dead = True
            self.last_error = type(exc).__name__
            raise WorkerDied("The engine worker (a Ray actor) stopped while running this job; the room starts a "
                             "new one. Try again.") from exc

    def stop(self, job_id: str) -> None:
        self.actor.stop.remote(job_id)

    def close(self) -> None:
        if self.actor is not None:
            require_ray().kill(self.actor)


class RayPool(WorkerPool):
    """Workers as Ray actors on the cluster at ``address``.

    Args:
        settings: What every worker knows.
        lanes: Workers per lane.
        address: ``ray://HOST:PORT`` (Ray Client to a cluster's head), or ``"ray"`` to join or start one here.
        cpus: CPUs each lane's actor reserves (default: 1 heavy, 0.5 quick).
        gpus: GPUs (or a fraction) each lane's actor reserves (default: none).
    """

    def __init__(self, settings: WorkerSettings, lanes: dict[str, int], address: str = "ray",
                 cpus: dict[str, float] | None = None, gpus: dict[str, float] | None = None) -> None:
        super().__init__(lanes)
        self.settings, self.address = settings, address
        self.cpus = {"heavy": 1.0, "quick": 0.5, **(cpus or {})}
        self.gpus = dict(gpus or {})

    def start(self, wait_s: float | None = None) -> None:
        ray = require_ray()
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            if self.address == "ray":  # join a cluster started on this machine, else start a local one
                ray.init(namespace=NAMESPACE, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
            else:
                ray.init(address=self.address, namespace=NAMESPACE, logging_level="WARNING", log_to_driver=False)
        super().start(wait_s)

    def _make(self, lane: str, index: int) -> WorkerHandle:
        return _RayHandle(self, lane, index)

    def close(self) -> None:
        """Ends the actors and this process's connection to the cluster."""
        super().close()
        ray = require_ray()
        if getattr(self, "_owns_ray", False) and ray.is_initialized():
            ray.shutdown()
