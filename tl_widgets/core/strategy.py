"""Devices, distribution strategies per Keras backend, mixed precision and XLA.

Only engines that exist are used: ``tf.distribute`` on one host (TensorFlow
backend) and ``keras.distribution`` over ``jax.distributed`` across processes
and hosts (JAX backend). What cannot work here is refused with the reason.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any, Iterator

from tl_widgets.core.config import StrategyConfig

__all__ = [
    "Device",
    "StrategyOption",
    "StrategyError",
    "StrategyRuntime",
    "backend",
    "discover_devices",
    "available_strategies",
    "resolve_mixed_precision",
]


class StrategyError(ValueError):
    """A strategy or option that cannot work with this backend or these devices."""


@dataclass(frozen=True)
class Device:
    """One accelerator or CPU device.

    Attributes:
        kind: ``"cpu"``, ``"gpu"`` or ``"tpu"``.
        name: The framework's device name.
        memory_bytes: Device memory when known.
    """

    kind: str
    name: str
    memory_bytes: int | None = None


@dataclass(frozen=True)
class StrategyOption:
    """A strategy and whether it can be used here (``reason`` when not)."""

    kind: str
    label: str
    available: bool
    reason: str = ""


def backend() -> str:
    """The active Keras backend name (``"tensorflow"``, ``"jax"``, ...)."""
    import keras

    return keras.backend.backend()


def discover_devices() -> list[Device]:
    """Lists the devices the active backend sees (without initialising more than needed)."""
    if backend() == "jax":
        import jax

        out = []
        for d in jax.devices():
            stats = d.memory_stats() if hasattr(d, "memory_stats") else None
            mem = (stats or {}).get("bytes_limit")
            out.append(Device(d.platform, str(d), int(mem) if mem else None))
        return out
    import tensorflow as tf

    out = []
    for d in tf.config.list_physical_devices():
        kind = d.device_type.lower()
        if kind not in ("cpu", "gpu", "tpu"):
            continue
        mem = None
        if kind == "gpu":
            details = tf.config.experimental.get_device_details(d)
            mem = details.get("memory_limit") if isinstance(details, dict) else None
        out.append(Device(kind, d.name, mem))
    return out


def _count(devices: list[Device], kind: str) -> int:
    return sum(1 for d in devices if d.kind == kind)


def available_strategies(devices: list[Device] | None = None) -> list[StrategyOption]:
    """The strategies of the active backend, each with availability and reason."""
    devices = devices if devices is not None else discover_devices()
    gpus, tpus = _count(devices, "gpu"), _count(devices, "tpu")
    opts = [StrategyOption("auto", "Automatic (best available)", True)]
    if backend() == "jax":
        n = len(devices)
        opts += [
            StrategyOption("default", "Single device", True),
            StrategyOption(
                "data_parallel", f"Data parallel (keras.distribution, {n} devices)", True,
                "" if n > 1 else "one device here; also spans processes with --num-processes",
            ),
            StrategyOption(
                "model_parallel", "Model parallel (LayoutMap)", n > 1,
                "" if n > 1 else "needs at least 2 devices",
            ),
            StrategyOption("mirrored", "tf.distribute.MirroredStrategy", False, "TensorFlow backend only"),
            StrategyOption("tpu", "TPUStrategy", False, "TensorFlow backend only"),
        ]
        return opts
    opts += [
        StrategyOption("default", "Default (no strategy)", True),
        StrategyOption("one_device", "One device", True),
        StrategyOption(
            "mirrored", f"Mirrored over {gpus} GPUs" if gpus else "Mirrored (logical CPU devices)", True,
            "" if gpus > 1 else "no GPUs: mirrors over logical CPU devices (strategy.logical_cpus)",
        ),
        StrategyOption("tpu", "TPUStrategy", tpus > 0, "" if tpus else "no TPU found"),
        StrategyOption("data_parallel", "keras.distribution DataParallel", False, "JAX backend only (KERAS_BACKEND=jax)"),
        StrategyOption("model_parallel", "keras.distribution ModelParallel", False, "JAX backend only (KERAS_BACKEND=jax)"),
        StrategyOption(
            "multi_worker", "MultiWorkerMirroredStrategy", False,
            "fails with Keras 3.15 + TF 2.21 (keras issue 20585); use the JAX backend for several processes",
        ),
    ]
    return opts


def resolve_mixed_precision(mode: str, devices: list[Device]) -> str:
    """The dtype policy name for a ``mixed_precision`` setting.

    ``"auto"`` means ``mixed_float16`` on GPUs, ``mixed_bfloat16`` on TPUs and
    ``float32`` on CPU-only machines (mixed precision slows CPUs down).
    """
    if mode == "off":
        return "float32"
    if mode == "auto":
        if _count(devices, "gpu"):
            return "mixed_float16"
        if _count(devices, "tpu"):
            return "mixed_bfloat16"
        return "float32"
    return mode


@dataclass
class StrategyRuntime:
    """A resolved strategy: enter :meth:`scope` in the worker thread to build and fit.

    Attributes:
        kind: The strategy actually used.
        num_replicas: Replicas a global batch is split over.
        dtype_policy: Keras dtype policy name to set in the building thread.
        jit_compile: The value for ``model.compile(jit_compile=...)``.
        steps_per_execution: Batches per compiled call.
        process_id: This process's index (0 writes the run folder).
        num_processes: Processes taking part.
    """

    kind: str
    num_replicas: int = 1
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

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Sets the dtype policy and distribution for the current thread."""
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
            raise StrategyError(f"Expected strategy 'auto' or 'default' on the {name} backend. Received: {cfg.kind!r}")
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
            "Expected num_processes=1 on the TensorFlow backend: MultiWorkerMirroredStrategy fails with "
            "Keras 3.15 + TF 2.21 (keras issue 20585). Received: num_processes="
            f"{cfg.num_processes}. Run several processes with KERAS_BACKEND=jax instead."
        )
    if cfg.kind in ("data_parallel", "model_parallel"):
        raise StrategyError(f"Expected a TensorFlow strategy. Received: {cfg.kind!r}, which needs KERAS_BACKEND=jax")
    if cfg.logical_cpus:
        _setup_logical_cpus(cfg.logical_cpus)
    devices = discover_devices()
    gpus = [d for d in tf.config.list_logical_devices("GPU")]
    kind, strategy = cfg.kind, None
    if kind == "auto":
        kind = "mirrored" if len(gpus) > 1 else "default"
    if kind == "one_device":
        strategy = tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    elif kind == "mirrored":
        if gpus:
            strategy = tf.distribute.MirroredStrategy()
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
        kind, num_replicas=replicas, dtype_policy=resolve_mixed_precision(cfg.mixed_precision, devices),
        jit_compile=cfg.jit_compile, steps_per_execution=cfg.steps_per_execution, _tf_strategy=strategy,
    )


def _create_jax(cfg: StrategyConfig) -> StrategyRuntime:
    import jax
    import keras

    if cfg.kind in ("mirrored", "tpu", "one_device"):
        raise StrategyError(f"Expected a JAX strategy. Received: {cfg.kind!r}, which needs KERAS_BACKEND=tensorflow")
    if cfg.num_processes > 1:
        _init_jax_distributed(cfg)
    devices = jax.devices()
    kind = cfg.kind
    if kind == "auto":
        kind = "data_parallel" if len(devices) > 1 else "default"
    distribution = None
    if kind == "data_parallel":
        distribution = keras.distribution.DataParallel(devices=devices)
    elif kind == "model_parallel":
        if len(devices) < 2:
            raise StrategyError(f"Expected at least 2 devices for 'model_parallel'. Received: {len(devices)}")
        mesh = keras.distribution.DeviceMesh((1, len(devices)), ("batch", "model"), devices=devices)
        layout = keras.distribution.LayoutMap(mesh)
        # Shard the head's dense kernels over the "model" axis; everything else is replicated.
        layout[".*(predictions|head_hidden|dense).*kernel"] = (None, "model")
        distribution = keras.distribution.ModelParallel(layout_map=layout, batch_dim_name="batch")
    found = [Device(d.platform, str(d)) for d in jax.local_devices()]
    replicas = len(devices) if kind == "data_parallel" else 1
    return StrategyRuntime(
        kind, num_replicas=replicas, dtype_policy=resolve_mixed_precision(cfg.mixed_precision, found),
        jit_compile=cfg.jit_compile, steps_per_execution=cfg.steps_per_execution,
        process_id=cfg.process_id, num_processes=cfg.num_processes, _distribution=distribution,
    )


_JAX_INITIALISED: dict[str, Any] = {}


def _init_jax_distributed(cfg: StrategyConfig) -> None:
    import jax

    key = f"{cfg.coordinator}/{cfg.num_processes}/{cfg.process_id}"
    if _JAX_INITIALISED.get("key") == key:
        return
    if _JAX_INITIALISED:
        raise StrategyError(
            f"Expected one multi-process setup per process. Received: {key} after {_JAX_INITIALISED['key']}"
        )
    # Must run before any JAX computation; only affects CPU devices.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    timeout = int(os.environ.get("TL_WIDGETS_INIT_TIMEOUT", "120"))
    jax.distributed.initialize(
        coordinator_address=cfg.coordinator, num_processes=cfg.num_processes, process_id=cfg.process_id,
        initialization_timeout=timeout,
    )
    _JAX_INITIALISED["key"] = key
