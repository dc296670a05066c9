"""Strategy planning: the devices found, the strategies a backend offers, and what a choice would give.

Nothing here initialises anything (no logical devices, no ``jax.distributed``,
no ``tf.distribute`` strategy): it answers "what is here and what would this
config do", for the Studio's strategy panel, the config check and the CLI.
:mod:`tl_widgets.core.training.strategy` turns a config into the running
strategy (:class:`~tl_widgets.core.training.strategy.StrategyRuntime`).

Batch sizes: ``data.batch_size`` is per replica; the global batch is
``per_replica * replicas``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tl_widgets.core.config.schema import StrategyConfig
from tl_widgets.core.i18n import _

__all__ = [
    "Device",
    "StrategyOption",
    "StrategyError",
    "MULTI_WORKER_REASON",
    "backend",
    "discover_devices",
    "available_strategies",
    "resolve_mixed_precision",
    "describe_strategy",
]

MULTI_WORKER_REASON = (
    "MultiWorkerMirroredStrategy fails with Keras 3.15 + TF 2.21 (keras issue 20585); "
    "run several processes with KERAS_BACKEND=jax instead"
)


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
    """A strategy and whether it can be used here (``reason`` when not, or a note)."""

    kind: str
    label: str
    available: bool
    reason: str = ""


def backend() -> str:
    """The active Keras backend name (``"tensorflow"``, ``"jax"``, ...)."""
    import keras

    return keras.backend.backend()


def discover_devices() -> list[Device]:
    """Lists this process's devices as the active backend sees them (physical, for TensorFlow)."""
    if backend() == "jax":
        import jax

        out = []
        for d in jax.local_devices():
            stats = d.memory_stats() if d.platform != "cpu" else None
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


def available_strategies(devices: list[Device] | None = None, backend_name: str | None = None) -> list[StrategyOption]:
    """The strategies of a backend (the active one by default), each with availability and reason."""
    devices = devices if devices is not None else discover_devices()
    name = backend_name or backend()
    gpus, tpus, n = _count(devices, "gpu"), _count(devices, "tpu"), len(devices)
    opts = [StrategyOption("auto", _("Automatic (best available)"), True)]
    if name == "jax":
        return opts + [
            StrategyOption("default", _("Single device"), True),
            StrategyOption(
                "data_parallel", _("Data parallel (keras.distribution, {n} local devices)").format(n=n), True,
                "" if n > 1 else _("one local device: useful across processes (--num-processes)"),
            ),
            StrategyOption("model_parallel", _("Model parallel (LayoutMap over the head)"), n > 1,
                           "" if n > 1 else _("needs at least 2 local devices")),
            StrategyOption("one_device", "tf.distribute.OneDeviceStrategy", False, _("TensorFlow backend only")),
            StrategyOption("mirrored", "tf.distribute.MirroredStrategy", False, _("TensorFlow backend only")),
            StrategyOption("tpu", "tf.distribute.TPUStrategy", False, _("TensorFlow backend only")),
        ]
    if name != "tensorflow":
        return opts + [StrategyOption("default", _("Default (no strategy)"), True)]
    return opts + [
        StrategyOption("default", _("Default (no strategy)"), True),
        StrategyOption("one_device", _("One device"), True),
        StrategyOption(
            "mirrored",
            _("Mirrored over {n} GPUs").format(n=gpus) if gpus else _("Mirrored (logical CPU devices)"), True,
            "" if gpus > 1 else
            _("fewer than 2 GPUs: set strategy.logical_cpus >= 2 (fresh process) to mirror over CPUs"),
        ),
        StrategyOption("tpu", "TPUStrategy", tpus > 0, "" if tpus else _("no TPU found")),
        StrategyOption("data_parallel", "keras.distribution DataParallel", False,
                       _("JAX backend only (KERAS_BACKEND=jax)")),
        StrategyOption("model_parallel", "keras.distribution ModelParallel", False,
                       _("JAX backend only (KERAS_BACKEND=jax)")),
        StrategyOption("multi_worker", "MultiWorkerMirroredStrategy", False, MULTI_WORKER_REASON),
    ]


def resolve_mixed_precision(mode: str, devices: list[Device]) -> str:
    """The dtype policy name for a ``mixed_precision`` setting.

    ``"auto"`` means ``mixed_float16`` on GPUs, ``mixed_bfloat16`` on TPUs and
    ``float32`` on CPU-only machines (mixed precision slows CPUs down).

    Raises:
        StrategyError: ``mixed_float16`` without a GPU, or an unknown mode.
    """
    gpus, tpus = _count(devices, "gpu"), _count(devices, "tpu")
    if mode == "off":
        return "float32"
    if mode == "auto":
        return "mixed_float16" if gpus else "mixed_bfloat16" if tpus else "float32"
    if mode == "mixed_float16" and not gpus:
        found = sorted({d.kind for d in devices}) or ["none"]
        raise StrategyError(
            "Expected a GPU for mixed_precision='mixed_float16' (float16 is slow or unsupported on CPU and TPU). "
            f"Received devices: {', '.join(found)}. Use 'mixed_bfloat16' or 'off'"
        )
    if mode not in ("mixed_float16", "mixed_bfloat16"):
        raise StrategyError(f"Expected mixed_precision in off/auto/mixed_float16/mixed_bfloat16. Received: {mode!r}")
    return mode


def _planned_replicas(cfg: StrategyConfig, name: str, devices: list[Device]) -> tuple[str, int]:
    gpus = _count(devices, "gpu")
    kind = cfg.kind
    if name == "tensorflow":
        if kind == "auto":
            kind = "mirrored" if gpus > 1 else "default"
        if kind == "mirrored":
            return kind, gpus or cfg.logical_cpus
        return kind, _count(devices, "tpu") if kind == "tpu" else 1
    if kind == "auto":
        kind = "data_parallel" if len(devices) > 1 or cfg.num_processes > 1 else "default"
    if kind == "data_parallel":
        return kind, len(devices) * cfg.num_processes
    return kind, cfg.num_processes if kind == "model_parallel" else 1


def describe_strategy(cfg: Any, devices: list[Device] | None = None, backend_name: str | None = None) -> dict[str, Any]:
    """Plain data for the Studio: devices, options, and what ``cfg`` would give here.

    Nothing is initialised (no logical devices, no ``jax.distributed``): the
    replica count is planned from the devices this process sees, assuming
    every process has as many.

    Args:
        cfg: A :class:`~tl_widgets.core.config.schema.TrainConfig`.
        devices: Devices to plan for (default: discovered).
        backend_name: Backend to plan for (default: the active one).

    Returns:
        ``{"backend", "devices", "options", "kind", "error", "replicas", "per_replica_batch",
        "global_batch", "lr_scale", "learning_rates", "dtype_policy", "jit_compile",
        "steps_per_execution", "num_processes"}``; ``error`` is the refusal when the
        choice cannot work here (then ``replicas`` is 0).
    """
    devices = devices if devices is not None else discover_devices()
    name = backend_name or backend()
    s: StrategyConfig = cfg.strategy
    options = available_strategies(devices, name)
    by_kind = {o.kind: o for o in options}
    kind, replicas = _planned_replicas(s, name, devices)
    error, policy = "", "float32"
    try:
        policy = resolve_mixed_precision(s.mixed_precision, devices)
    except StrategyError as exc:
        error = str(exc)
    chosen = by_kind.get(s.kind)
    if s.num_processes > 1 and name != "jax":
        error = f"{s.num_processes} processes need KERAS_BACKEND=jax: " + MULTI_WORKER_REASON
    elif chosen is not None and not chosen.available:
        error = f"{chosen.label}: {chosen.reason}"
    elif name == "tensorflow" and kind == "mirrored" and replicas < 2 and not _count(devices, "gpu"):
        error = "Mirrored needs GPUs or strategy.logical_cpus >= 2"
    replicas = 0 if error else max(1, replicas)
    per = int(cfg.data.batch_size)
    scale = float(replicas) if s.lr_scaling == "linear" and replicas else 1.0
    return {
        "backend": name, "devices": [asdict(d) for d in devices], "options": [asdict(o) for o in options],
        "kind": kind, "error": error, "replicas": replicas, "per_replica_batch": per,
        "global_batch": per * replicas, "lr_scale": scale,
        "learning_rates": [p.learning_rate * scale for p in cfg.phases], "dtype_policy": policy,
        "jit_compile": s.jit_compile, "steps_per_execution": s.steps_per_execution,
        "num_processes": s.num_processes,
    }
