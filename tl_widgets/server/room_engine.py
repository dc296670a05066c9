"""``tl-widgets serve``'s engine: warm workers and the gateway the seats reach them through.

:func:`start_room_engine` starts, before any student arrives, a
:class:`~tl_widgets.core.engine.pool.ProcessPool` (local worker processes:
``heavy`` lane = the room's training slots, ``quick`` lane = one worker for
predictions and facts) — or, for ``--engine ray://HOST:PORT``, Ray actors on a
cluster — and the :class:`~tl_widgets.core.engine.gateway.EngineGateway`
whose socket the seats' kernels find in ``$TL_WIDGETS_ENGINE``. The workers
own the accelerator: TensorFlow's memory growth and JAX's no-preallocation are
set before their backend starts, and with ``gpus`` each worker sees one GPU
(round robin), so a room of seats never holds one CUDA context per student.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from tl_widgets.core.engine.worker import GPU_ENV
from tl_widgets.core.settings import ENGINE_ENV

__all__ = ["RoomEngine", "EngineOptions", "engine_options", "start_room_engine", "worker_env", "GPU_ENV", "READY_S"]

READY_S = 600.0
"""``serve`` waits this long for its workers to be warm before it serves (students arrive to a ready room)."""


@dataclass
class EngineOptions:
    """How the room's engine runs.

    Attributes:
        address: ``"local"`` (worker processes on this machine) or ``ray://HOST:PORT`` (a Ray cluster).
        heavy: Workers for trainings and other heavy jobs (the room's training slots).
        quick: Workers for predictions, Grad-CAM, facts and evaluations (never behind a training).
        threads: CPU threads each worker's backend may use (None: the backend's default).
        gpus: GPUs on this machine to spread workers over (0: none; each worker sees one, round robin).
        gpu_memory_fraction: With JAX, the share of a GPU's memory each worker may take (None: as needed).
        gpus_per_worker: On Ray, the GPUs (or a fraction) each heavy actor reserves (0: none).
        warm: ``(backbone, input_size)`` whose facts every worker builds at start.
        ready_s: Seconds to wait for the workers before serving (None: don't wait).
    """

    address: str = "local"
    heavy: int = 1
    quick: int = 1
    threads: int | None = None
    gpus: int = 0
    gpu_memory_fraction: float | None = None
    gpus_per_worker: float = 0.0
    warm: Sequence[tuple[str, int | None]] = field(default_factory=list)
    ready_s: float | None = None


def engine_options(where: str, workshop: str | os.PathLike[str] | None, *, threads: int | None = None,
                   gpus: int = 0, gpu_memory_fraction: float | None = None,
                   gpus_per_worker: float = 0.0) -> EngineOptions | None:
    """The room engine's options for ``serve --engine WHERE`` (None for ``in-process``).

    One heavy worker per training slot of the workshop (else half the CPU cores), one quick worker; each heavy
    worker gets an equal share of the cores unless ``threads`` says otherwise; every worker warms the allowed
    backbones (else the demo's).

    Raises:
        ValueError: An option is invalid.
    """
    where = str(where).strip()
    if where == "in-process":
        return None
    if where != "local" and not where.startswith("ray://"):
        raise ValueError(f"Expected --engine local, in-process or ray://HOST:PORT. Received: {where!r}")
    if not 0 <= int(gpus) <= 64:
        raise ValueError(f"Expected --gpus between 0 and 64. Received: {gpus}")
    if gpu_memory_fraction is not None and not 0 < gpu_memory_fraction <= 1:
        raise ValueError(f"Expected --gpu-memory-fraction in (0, 1]. Received: {gpu_memory_fraction}")
    if not 0 <= gpus_per_worker <= 64:
        raise ValueError(f"Expected --gpus-per-worker between 0 and 64. Received: {gpus_per_worker}")
    from tl_widgets.core.room.workshop import load_workshop

    ws = load_workshop(workshop) if workshop else None
    heavy = ws.training_slots if ws is not None else max(1, (os.cpu_count() or 1) // 2)
    per_worker = threads if threads is not None else max(1, (os.cpu_count() or 1) // heavy)
    warm = [(name, None) for name in (ws.allowed_backbones if ws is not None else ["demo_cnn"])]
    return EngineOptions(address=where, heavy=heavy, quick=1, threads=per_worker, gpus=int(gpus),
                         gpu_memory_fraction=gpu_memory_fraction, gpus_per_worker=float(gpus_per_worker), warm=warm,
                         ready_s=READY_S)


def worker_env(opts: EngineOptions) -> dict[str, str]:
    """The environment every worker starts with: GPU memory growth, thread limits, and the JAX memory share."""
    from tl_widgets.server.voila_launch import THREAD_ENV_VARS

    env = dict(GPU_ENV)
    if opts.threads is not None:
        env.update({name: str(int(opts.threads)) for name in THREAD_ENV_VARS})
    if opts.gpu_memory_fraction is not None:
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{float(opts.gpu_memory_fraction):g}"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


class RoomEngine:
    """A started pool and its gateway; :meth:`env` is what the kernels need, :meth:`close` stops both."""

    def __init__(self, pool: Any, gateway: Any) -> None:
        self.pool, self.gateway = pool, gateway

    def env(self) -> dict[str, str]:
        """``{$TL_WIDGETS_ENGINE: the gateway's socket}`` for the kernels."""
        return {ENGINE_ENV: self.gateway.address}

    def close(self) -> None:
        self.gateway.close()
        self.pool.close()

    def __enter__(self) -> RoomEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_room_engine(seats: str | os.PathLike[str], opts: EngineOptions, *, data_roots: Sequence[Path] = (),
                      workshop: str | os.PathLike[str] | None = None) -> RoomEngine:
    """Starts the workers and the gateway for the room whose seats live in ``seats``.

    Raises:
        ValueError: ``opts.address`` is neither ``local`` nor ``ray://HOST:PORT``.
        TimeoutError: The workers were not warm within ``opts.ready_s``.
        ImportError: Ray is asked for and not installed (``pip install "tl_widgets[ray]"``).
    """
    from tl_widgets.core.engine.gateway import EngineGateway
    from tl_widgets.core.engine.worker import WorkerSettings

    settings = WorkerSettings(seats_root=str(Path(seats).resolve()), data_roots=tuple(str(r) for r in data_roots),
                              workshop=str(workshop) if workshop else None, warm=tuple(opts.warm),
                              env=worker_env(opts))
    lanes = {"heavy": int(opts.heavy), "quick": int(opts.quick)}
    if opts.address == "local":
        from tl_widgets.core.engine.pool import ProcessPool

        gpus = int(opts.gpus)
        pool: Any = ProcessPool(settings, lanes, per_worker_env=(
            (lambda lane, i: {"CUDA_VISIBLE_DEVICES": str((i + (opts.heavy if lane == "quick" else 0)) % gpus)})
            if gpus > 0 else None))
    elif opts.address.startswith("ray://") or opts.address == "ray":
        from tl_widgets.core.engine.ray_pool import RayPool

        pool = RayPool(settings, lanes, address=opts.address,
                       gpus={"heavy": opts.gpus_per_worker} if opts.gpus_per_worker else None)
    else:
        raise ValueError(f"Expected --engine local or ray://HOST:PORT. Received: {opts.address!r}")
    pool.start(wait_s=opts.ready_s)
    try:
        gateway = EngineGateway(pool, seats).start()
    except BaseException:
        pool.close()
        raise
    return RoomEngine(pool, gateway)
