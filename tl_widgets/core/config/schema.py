"""`TrainConfig`: one serialisable object that fully describes a run.

The panels are an editor for it, the CLI takes it as a file, and the engine
reads nothing else. Every field is validated on construction and on load; a
bad value raises :class:`ConfigError` naming the field path (for example
``phases[1].learning_rate``), what was expected and what was received.

The fields declare their choices (``Literal`` types) and bounds (``min``/``max``
metadata); the rules that check them live in :mod:`tl_widgets.core.config.checks`,
the one validator, which the panels and the workshop file use too. This module
adds only the checks between fields (``_cross_checks``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tl_widgets.core.config.checks import ConfigError, build_dataclass, check_number, validate_fields

__all__ = [
    "ConfigError",
    "AugmentConfig",
    "DataConfig",
    "ModelConfig",
    "FreezeConfig",
    "PhaseConfig",
    "StrategyConfig",
    "TrainConfig",
    "demo_config",
]


def _bounded(default: Any, lo: float | None = None, hi: float | None = None, **kw: Any) -> Any:
    return field(default=default, metadata={"min": lo, "max": hi, **kw})


@dataclass
class AugmentConfig:
    """Keras preprocessing-layer augmentation, applied to training batches only.

    Factors follow the Keras layers: ``rotation`` is a fraction of 2π,
    ``zoom``/``translation`` fractions of the image size, ``contrast`` and
    ``brightness`` fractions of the value range. ``crop`` is the fraction
    of each side a random crop may cut (the crop is resized back to the
    image size); ``hue``, ``saturation`` and ``color_jitter`` are the Keras
    colour layers' factors (``color_jitter`` applies brightness, contrast,
    saturation and hue together at that strength). 0 disables a layer.
    """

    flip: Literal["none", "horizontal", "vertical", "horizontal_and_vertical"] = "none"
    rotation: float = _bounded(0.0, 0.0, 0.5)
    zoom: float = _bounded(0.0, 0.0, 0.9)
    translation: float = _bounded(0.0, 0.0, 0.5)
    contrast: float = _bounded(0.0, 0.0, 1.0)
    brightness: float = _bounded(0.0, 0.0, 1.0)
    crop: float = _bounded(0.0, 0.0, 0.5)
    hue: float = _bounded(0.0, 0.0, 1.0)
    saturation: float = _bounded(0.0, 0.0, 1.0)
    color_jitter: float = _bounded(0.0, 0.0, 1.0)

    @property
    def enabled(self) -> bool:
        """True when at least one augmentation layer is active."""
        return self.flip != "none" or any(getattr(self, n) > 0 for n in AUGMENT_FACTORS)


#: The numeric augmentation factors, in the order the layers apply (0 disables one).
AUGMENT_FACTORS = ("rotation", "zoom", "translation", "contrast", "brightness", "crop", "hue", "saturation",
                   "color_jitter")


@dataclass
class DataConfig:
    """Where the images come from and how they are split and batched.

    Attributes:
        source: ``"demo"`` (the embedded demo), ``"folder"`` (one sub-folder
            per class), ``"zip"`` (an archive of such folders) or ``"code"``
            (arrays or a dataset passed to the session from Python).
        path: The folder or zip for ``folder``/``zip``.
        demo: Which embedded demo dataset: ``"digits"`` or ``"shapes"``.
        val_path: Optional separate validation folder.
        validation_split: Fraction held out when there is no ``val_path``.
        batch_size: Batch size per replica.
        cache: ``"memory"`` (if the decoded images fit half of the available
            memory, else disk; the run says which), ``"disk"`` or ``"none"``.
        class_weights: Weight the loss by inverse class frequency.
        max_per_class: Use at most this many training images per class.
        curation: A curation file (JSON Lines of relabel/exclude/ambiguous
            decisions, see :mod:`tl_widgets.core.data.curation`) applied at
            load; None: the data as they are on disk.
    """

    source: Literal["demo", "folder", "zip", "code"] = "demo"
    path: str | None = None
    demo: Literal["digits", "shapes"] = "digits"
    val_path: str | None = None
    validation_split: float = _bounded(0.2, 0.0, 0.9)
    batch_size: int = _bounded(32, 1, 8192)
    cache: Literal["memory", "disk", "none"] = "memory"
    class_weights: bool = False
    max_per_class: int | None = _bounded(None, 1, None)
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)
    curation: str | None = None


@dataclass
class ModelConfig:
    """The backbone, its weights, the input size and the classification head.

    Attributes:
        backbone: A registered backbone name (see ``tl-widgets backbones``) or
            a path to a ``.keras``/``.h5`` model file.
        weights: ``"pretrained"`` (ImageNet for Keras applications, the
            bundled file for the demo backbone), ``"imagenet"``, ``"none"``,
            or a path to a weights file.
        input_size: Square input size in pixels; None uses the backbone's
            default.
        pooling: Global pooling of the backbone's feature map.
        dropout: Dropout rate before the classifier.
        hidden_units: Units of an optional hidden dense layer (0: none).
    """

    backbone: str = "demo_cnn"
    weights: str = "pretrained"
    input_size: int | None = _bounded(None, 8, 1024)
    pooling: Literal["avg", "max"] = "avg"
    dropout: float = _bounded(0.2, 0.0, 0.95)
    hidden_units: int = _bounded(0, 0, 65536)


@dataclass
class FreezeConfig:
    """Which layers train. Serialised form of :class:`~tl_widgets.core.models.freezing.FreezePlan`.

    Attributes:
        mode: ``"all"`` freezes the whole backbone (train the head only);
            ``"up_to"`` freezes blocks up to and including ``block``;
            ``"top"`` unfreezes the top ``top_n`` blocks; ``"none"`` trains
            everything.
        block: Block name for ``up_to``.
        top_n: Number of top blocks to unfreeze for ``top``.
        overrides: Per-block or per-layer overrides, name -> trainable.
        train_batchnorm: Let BatchNormalization layers train (off by
            default: fine-tuning them on small data hurts).
    """

    mode: Literal["all", "up_to", "top", "none"] = "all"
    block: str | None = None
    top_n: int = _bounded(0, 0, 10_000)
    overrides: dict[str, bool] = field(default_factory=dict)
    train_batchnorm: bool = False


@dataclass
class PhaseConfig:
    """One training phase: a freeze plan, epochs and an optimizer.

    Attributes:
        name: Label shown in charts and events.
        epochs: Epochs in this phase.
        learning_rate: Peak learning rate.
        optimizer: Keras optimizer name.
        freeze: The freeze plan for this phase; None keeps the previous one
            (the first phase then uses ``TrainConfig.freeze``).
        schedule: Learning-rate schedule within the phase.
        warmup_epochs: Linear warm-up length (fractional epochs allowed).
        lr_decay_per_block: Discriminative learning rates: the top trainable
            block learns at the phase's rate, each trainable block below it at
            this factor times the one above (1.0: the same rate everywhere).
        block_lr_multipliers: Extra per-block factors (block name -> factor;
            0 keeps a block's weights still while it stays trainable).
    """

    name: str = "head"
    epochs: int = _bounded(5, 0, 100_000)
    learning_rate: float = _bounded(1e-3, 1e-8, 10.0)
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop", "adagrad", "adamax", "nadam", "lion"] = "adam"
    freeze: FreezeConfig | None = None
    schedule: Literal["constant", "cosine", "onecycle"] = "constant"
    warmup_epochs: float = _bounded(0.0, 0.0, 1000.0)
    lr_decay_per_block: float = _bounded(1.0, 0.01, 1.0)
    block_lr_multipliers: dict[str, float] = field(default_factory=dict)


@dataclass
class StrategyConfig:
    """Devices, distribution and numerics.

    Attributes:
        kind: ``"auto"`` picks the best that works here; ``"default"``,
            ``"one_device"``, ``"mirrored"``, ``"tpu"`` (TensorFlow backend),
            ``"data_parallel"`` and ``"model_parallel"`` (JAX backend).
        logical_cpus: Split the CPU into this many logical devices (testing
            ``mirrored`` without GPUs); 0 leaves it alone.
        mixed_precision: ``"off"``, ``"auto"`` (float16 on GPU, bfloat16 on
            TPU, off on CPU), ``"mixed_float16"`` or ``"mixed_bfloat16"``.
        jit_compile: XLA compilation: ``"auto"``, True or False.
        steps_per_execution: Batches per compiled call; batch events then
            arrive once per chunk.
        lr_scaling: ``"linear"`` multiplies learning rates by the replica count.
        coordinator: ``HOST:PORT`` of process 0 for multi-process JAX.
        num_processes: Number of processes (1: single process).
        process_id: This process's index.
    """

    kind: Literal["auto", "default", "one_device", "mirrored", "tpu", "data_parallel", "model_parallel"] = "auto"
    logical_cpus: int = _bounded(0, 0, 64)
    mixed_precision: Literal["off", "auto", "mixed_float16", "mixed_bfloat16"] = "off"
    jit_compile: Literal["auto"] | bool = "auto"
    steps_per_execution: int = _bounded(1, 1, 10_000)
    lr_scaling: Literal["none", "linear"] = "none"
    coordinator: str | None = None
    num_processes: int = _bounded(1, 1, 4096)
    process_id: int = _bounded(0, 0, 4095)


@dataclass
class TrainConfig:
    """Everything a run needs. Serialisable to JSON and YAML.

    Example:

    >>> cfg = TrainConfig()
    >>> TrainConfig.from_json(cfg.to_json()) == cfg
    True
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    phases: list[PhaseConfig] = field(default_factory=lambda: [PhaseConfig()])
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    seed: int | None = _bounded(42, 0, 2**32 - 1)
    output_dir: str = "runs"
    run_name: str | None = None
    # The run this one retrains with data fixes (a curation) applied; None for a fresh run.
    parent_run_id: str | None = None
    feature_cache: bool = True
    early_stopping_patience: int = _bounded(0, 0, 10_000)
    reduce_lr_patience: int = _bounded(0, 0, 10_000)
    # Fit a temperature on the validation split after training and fold it into the model (calibrated probabilities).
    calibrate: bool = True
    rollback: bool = True
    tensorboard: bool = False

    def __post_init__(self) -> None:
        validate(self)

    # -- serialisation -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Returns a plain, JSON-ready dict."""
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        """Returns the config as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_yaml(self) -> str:
        """Returns the config as YAML text."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        """Builds a config from a dict; missing keys take defaults.

        Raises:
            ConfigError: On an unknown key, a wrong type or a value out of range.
        """
        cfg = build_dataclass(cls, data)
        _cross_checks(cfg)
        return cfg

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Parses JSON text (see :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError("", f"Expected valid JSON. Received text that fails to parse: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_yaml(cls, text: str) -> TrainConfig:
        """Parses YAML text (see :meth:`from_dict`)."""
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError("", f"Expected valid YAML. Received text that fails to parse: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainConfig:
        """Loads a ``.json``, ``.yaml`` or ``.yml`` file."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError("", f"Expected an existing config file. Received: {str(path)!r} (not found)")
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() in (".yaml", ".yml"):
            return cls.from_yaml(text)
        return cls.from_json(text)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the config as JSON or YAML (by extension), atomically."""
        p = Path(path)
        text = self.to_yaml() if p.suffix.lower() in (".yaml", ".yml") else self.to_json()
        from tl_widgets.core.fileio import atomic_write_text

        atomic_write_text(p, text)
        return p

    def copy(self) -> TrainConfig:
        """Returns an independent deep copy."""
        return TrainConfig.from_dict(self.to_dict())

    @property
    def total_epochs(self) -> int:
        """Epochs over all phases."""
        return sum(p.epochs for p in self.phases)


def demo_config(epochs: int = 6, fine_tune_epochs: int = 4) -> TrainConfig:
    """A ready config for the embedded demo: digits, demo backbone, two phases.

    Args:
        epochs: Head-only epochs on the frozen backbone.
        fine_tune_epochs: Epochs with the top blocks unfrozen (0: skip).
    """
    phases = [PhaseConfig(name="head", epochs=epochs, learning_rate=3e-3)]
    if fine_tune_epochs:
        phases.append(
            PhaseConfig(
                name="fine_tune",
                epochs=fine_tune_epochs,
                learning_rate=3e-4,
                freeze=FreezeConfig(mode="top", top_n=2),
            )
        )
    return TrainConfig(
        data=DataConfig(source="demo", demo="digits", batch_size=32),
        model=ModelConfig(backbone="demo_cnn", weights="pretrained"),
        freeze=FreezeConfig(mode="all"),
        phases=phases,
        run_name="demo",
    )


# -- validation ------------------------------------------------------------

def validate(cfg: Any, path: str = "") -> None:
    """Validates a config dataclass in place (types, choices, bounds; see :mod:`~tl_widgets.core.config.checks`).

    Raises:
        ConfigError: Naming the first bad field.
    """
    validate_fields(cfg, path)
    if isinstance(cfg, TrainConfig):
        _cross_checks(cfg)


def _cross_checks(cfg: TrainConfig) -> None:
    if not cfg.phases:
        raise ConfigError("phases", "Expected at least one phase. Received: []")
    if cfg.data.source in ("folder", "zip") and not cfg.data.path:
        raise ConfigError("data.path", f"Expected a path when data.source={cfg.data.source!r}. Received: None")
    if cfg.freeze.mode == "up_to" and not cfg.freeze.block:
        raise ConfigError("freeze.block", "Expected a block name when freeze.mode='up_to'. Received: None")
    for i, ph in enumerate(cfg.phases):
        for name, factor in ph.block_lr_multipliers.items():
            check_number(factor, "factor", 0.0, 100.0, path=f"phases[{i}].block_lr_multipliers[{name!r}]")
        if ph.freeze is not None and ph.freeze.mode == "up_to" and not ph.freeze.block:
            raise ConfigError(
                f"phases[{i}].freeze.block", "Expected a block name when freeze.mode='up_to'. Received: None"
            )
    s = cfg.strategy
    if s.process_id >= s.num_processes:
        raise ConfigError(
            "strategy.process_id",
            f"Expected process_id < num_processes ({s.num_processes}). Received: process_id={s.process_id}",
        )
    if s.num_processes > 1 and not s.coordinator:
        raise ConfigError(
            "strategy.coordinator",
            f"Expected HOST:PORT when num_processes={s.num_processes}. Received: None",
        )
    if s.coordinator is not None:
        host, sep, port = s.coordinator.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                "strategy.coordinator", f"Expected HOST:PORT with a port in 1-65535. Received: {s.coordinator!r}"
            )
