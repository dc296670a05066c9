"""The running strategy: dtype policy, distribution scope and multi-process start-up.

:meth:`StrategyRuntime.create` resolves a
:class:`~tl_widgets.core.config.schema.StrategyConfig` for the active Keras
backend and the devices found. Only engines that exist are used:
``tf.distribute`` on one host (TensorFlow backend) and ``keras.distribution``
over ``jax.distributed`` across processes and hosts (JAX backend). What cannot
work here is refused with the reason (:class:`StrategyError`). Discovery and
the plain-data description for the Studio live in
:mod:`tl_widgets.core.training.strategy_planning`.

Batch sizes: ``data.batch_size`` is per replica. A process feeds
``per_replica * local_replicas`` images per step (:meth:`StrategyRuntime.local_batch_size`)
and a step consumes ``per_replica * num_replicas`` (the global batch).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any, Iterator

from tl_widgets.core.config.schema import StrategyConfig
from tl_widgets.core.settings import HEARTBEAT_TIMEOUT_ENV, INIT_TIMEOUT_ENV, SHUTDOWN_TIMEOUT_ENV
from tl_widgets.core.training.strategy_planning import (
    MULTI_WORKER_REASON,
    Device,
    StrategyError,
    backend,
    discover_devices,
    resolve_mixed_precision,
)

__all__ = ["StrategyRuntime", "StrategyError", "distributed_timeouts"]


def distributed_timeouts() -> dict[str, int]:
    """Seconds for ``jax.distributed``: start-up, peer heartbeat and shutdown barrier.

    Read from ``TL_WIDGETS_INIT_TIMEOUT`` (120), ``TL_WIDGETS_HEARTBEAT_TIMEOUT``
    (30: a dead peer is detected within about this long) and
    ``TL_WIDGETS_SHUTDOWN_TIMEOUT`` (30).
    """
    out = {}
    for key, env, default in (("init", INIT_TIMEOUT_ENV, 120), ("heartbeat", HEARTBEAT_TIMEOUT_ENV, 30),
                              ("shutdown", SHUTDOWN_TIMEOUT_ENV, 30)):
        raw = os.environ.get(env, str(default))
        if not raw.isdigit() or int(raw) < 1:
            raise StrategyError(f"Expected a positive integer of seconds in ${env}. Received: {raw!r}")
        out[key] = int(raw)
    return out


@dataclass
class StrategyRuntime:
    """A resolved strategy: enter :meth:`scope` in the worker thread to build and fit.

    Attributes:
        kind: The strategy actually used.
        num_replicas: Replicas a global batch is split over (all processes).
        local_replicas: Replicas fed by this process's input pipeline.
        dtype_policy: Keras dtype policy name to set in the building thread.
        jit_compile: The value for ``model.compile(jit_compile=...)``.
        steps_per_execution: Batches per compiled call.
        process_id: This process's index (0 writes the run folder).
        num_processes: Processes taking part.
    """

    kind: str
    num_replicas: int = 1
    local_replicas: int = 1
    dtype_policy: str = "float32"
    jit_compile: Any = "auto"
    steps_per_execution: int = 1
    process_id: int = 0
    num_processes: int = 1
    _tf_strategy: Any = field(default=None, repr=False)
    _distribution: Any = field(default=None, repr=False)

    @property
    def is_chief(self) -> bool:
        """True for the process that writes outputs."""
        return self.process_id == 0

    def local_batch_size(self, per_replica: int) -> int:
        """Images this process's pipeline must yield per step."""
        return per_replica * self.local_replicas

    def global_batch_size(self, per_replica: int) -> int:
        """Images one optimizer step consumes across all replicas and processes."""
        return per_replica * self.num_replicas

    def lr_scale(self, lr_scaling: str) -> float:
        """The learning-rate multiplier: the replica count for ``"linear"``, else 1."""
        return float(self.num_replicas) if lr_scaling == "linear" else 1.0

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Sets the dtype policy and distribution for the current thread (Keras state is thread-local)."""
        import keras

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.dtype_policy)
        try:
            if self._tf_strategy is not None:
                with self._tf_strategy.scope():
                    yield
            elif self._distribution is not None:
                with self._distribution.scope():
                    yield
            else:
                yield
        finally:
            keras.config.set_dtype_policy(previous)

    @classmethod
    def create(cls, cfg: StrategyConfig) -> StrategyRuntime:
        """Resolves ``cfg`` for the active backend and the devices found.

        Raises:
            StrategyError: The choice cannot work here; the message says why.
        """
        name = backend()
        if name == "jax":
            return _create_jax(cfg)
        if name == "tensorflow":
            return _create_tf(cfg)
        if cfg.kind not in ("auto", "default") or cfg.num_processes > 1:
            raise StrategyError(
                f"Expected strategy 'auto' or 'default' and one process on the {name} backend. "
                f"Received: kind={cfg.kind!r}, num_processes={cfg.num_processes}"
            )
        return cls("default", dtype_policy=resolve_mixed_precision(cfg.mixed_precision, []),
                   jit_compile=cfg.jit_compile, steps_per_execution=cfg.steps_per_execution)


def _setup_logical_cpus(n: int) -> None:
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0])
    if current is not None and len(current) == n:
        return
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as exc:
        have = len(tf.config.list_logical_devices("CPU"))
        if have == n:
            return
        raise StrategyError(
            f"Expected to split the CPU into {n} logical devices before TensorFlow starts. Received: TensorFlow "
            f"already initialised with {have} CPU device(s); set strategy.logical_cpus in a fresh process"
        ) from exc


def _create_tf(cfg: StrategyConfig) -> StrategyRuntime:
    import tensorflow as tf

    if cfg.num_processes > 1:
        raise StrategyError(
            f"Expected num_processes=1 on the TensorFlow backend. Received: num_processes={cfg.num_processes}. "
            + MULTI_WORKER_REASON
        )
    if cfg.kind in ("data_parallel", "model_parallel"):
        raise StrategyError(f"Expected a TensorFlow strategy. Received: {cfg.kind!r}, which needs KERAS_BACKEND=jax")
    if cfg.logical_cpus:
        _setup_logical_cpus(cfg.logical_cpus)
    devices = discover_devices()
    policy = resolve_mixed_precision(cfg.mixed_precision, devices)
    gpus = tf.config.list_logical_devices("GPU")
    kind, strategy = cfg.kind, None
    if kind == "auto":
        kind = "mirrored" if len(gpus) > 1 else "default"
    if kind == "one_device":
        strategy = tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    elif kind == "mirrored":
        if gpus:
            strategy = tf.distribute.MirroredStrategy([d.name for d in gpus])
        else:
            cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
            if len(cpus) < 2:
                raise StrategyError(
                    "Expected GPUs or strategy.logical_cpus >= 2 for 'mirrored'. Received: "
                    f"{len(cpus)} CPU device and no GPU"
                )
            strategy = tf.distribute.MirroredStrategy(cpus)
    elif kind == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError) as exc:
            raise StrategyError(f"Expected a TPU for strategy 'tpu'. Received: none found ({exc})") from exc
        strategy = tf.distribute.TPUStrategy(resolver)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    return StrategyRuntime(
        kind, num_replicas=replicas, local_replicas=replicas, dtype_policy=policy,
        jit_compile=cfg.jit_compile, steps_per_execution=cfg.steps_per_execution, _tf_strategy=strategy,
    )


def _check_processes(cfg: StrategyConfig) -> None:
    if cfg.num_processes == 1:
        return
    if not 0 <= cfg.process_id < cfg.num_processes:
        raise StrategyError(
            f"Expected 0 <= process_id < num_processes. Received: process_id={cfg.process_id}, "
            f"num_processes={cfg.num_processes}"
        )
    if cfg.kind not in ("auto", "data_parallel", "model_parallel"):
        raise StrategyError(
            f"Expected strategy 'data_parallel' or 'model_parallel' with {cfg.num_processes} processes. "
            f"Received: {cfg.kind!r} (each process would train its own model)"
        )
    coordinator = cfg.coordinator or ""
    host, _, port = coordinator.rpartition(":")
    if not coordinator and "SLURM_JOB_ID" in os.environ:
        return  # jax.distributed finds the coordinator from SLURM's environment
    if not host or not port.isdigit():
        raise StrategyError(
            "Expected strategy.coordinator as HOST:PORT of process 0 (--coordinator or $TL_WIDGETS_COORDINATOR) "
            f"with {cfg.num_processes} processes. Received: {cfg.coordinator!r}"
        )


def _create_jax(cfg: StrategyConfig) -> StrategyRuntime:
    import jax
    import keras
    import numpy as np

    if cfg.kind in ("mirrored", "tpu", "one_device"):
        raise StrategyError(f"Expected a JAX strategy. Received: {cfg.kind!r}, which needs KERAS_BACKEND=tensorflow")
    if cfg.logical_cpus:
        raise StrategyError(
            f"Expected strategy.logical_cpus=0 on the JAX backend. Received: {cfg.logical_cpus}; set "
            "XLA_FLAGS=--xla_force_host_platform_device_count=N before JAX starts instead"
        )
    _check_processes(cfg)
    if cfg.num_processes > 1:
        _init_jax_distributed(cfg)
    local = jax.local_devices()
    policy = resolve_mixed_precision(cfg.mixed_precision, [Device(d.platform, str(d)) for d in local])
    devices = jax.devices()
    kind = cfg.kind
    if kind == "auto":
        kind = "data_parallel" if len(devices) > 1 else "default"
    distribution, replicas, local_replicas = None, 1, 1
    multi = cfg.num_processes > 1
    if kind == "data_parallel":
        # The runner already gives each process its own shard: Keras must not shard again.
        distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=not multi)
        replicas, local_replicas = len(devices), len(local)
    elif kind == "model_parallel":
        if len(local) < 2:
            raise StrategyError(f"Expected at least 2 local devices for 'model_parallel'. Received: {len(local)}")
        # The batch is split over processes, the head's kernels over each process's devices.
        grid = np.array(devices, dtype=object).reshape(cfg.num_processes, len(local))
        mesh = keras.distribution.DeviceMesh(grid.shape, ("batch", "model"), devices=grid)
        layout = keras.distribution.LayoutMap(mesh)
        # Input-feature axis of the head's dense kernels: pooled widths are multiples of 8.
        layout[".*(predictions|head_hidden).*kernel"] = ("model", None)
        distribution = keras.distribution.ModelParallel(layout_map=layout, batch_dim_name="batch",
                                                        auto_shard_dataset=not multi)
        replicas = cfg.num_processes
    return StrategyRuntime(
        kind, num_replicas=replicas, local_replicas=local_replicas, dtype_policy=policy,
        jit_compile=cfg.jit_compile, steps_per_execution=cfg.steps_per_execution,
        process_id=cfg.process_id, num_processes=cfg.num_processes, _distribution=distribution,
    )


def _init_jax_distributed(cfg: StrategyConfig) -> None:
    import jax

    if jax.distributed.is_initialized():
        if (jax.process_count(), jax.process_index()) != (cfg.num_processes, cfg.process_id):
            raise StrategyError(
                f"Expected one multi-process setup per process. Received: process {cfg.process_id} of "
                f"{cfg.num_processes} after process {jax.process_index()} of {jax.process_count()}"
            )
        return
    t = distributed_timeouts()
    # Must run before any JAX computation; only affects CPU devices (GPUs use NCCL).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(
            coordinator_address=cfg.coordinator, num_processes=cfg.num_processes, process_id=cfg.process_id,
            initialization_timeout=t["init"], heartbeat_timeout_seconds=t["heartbeat"],
            shutdown_timeout_seconds=t["shutdown"],
        )
    except RuntimeError as exc:
        raise StrategyError(
            f"Expected {cfg.num_processes} processes to join the coordinator {cfg.coordinator} within "
            f"{t['init']} s ($TL_WIDGETS_INIT_TIMEOUT). Received: {exc}"
        ) from exc
