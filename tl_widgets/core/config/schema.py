"""`TrainConfig`: one serialisable object that fully describes a run.

The panels are an editor for it, the CLI takes it as a file, and the engine
reads nothing else. Every field is validated on construction and on load; a
bad value raises :class:`ConfigError` naming the field path (for example
``phases[1].learning_rate``), what was expected and what was received.

The fields declare their choices (``Literal`` types), bounds (``min``/``max``
metadata) and their one-line help (``help``, and a short ``label`` for fields a panel
edits): the one place a field is described, which the panels, the CLI's options and
the docstrings read. The rules that check values live in :mod:`tl_widgets.core.config.checks`,
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
from tl_widgets.core.i18n import N_, _

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


def _field(default: Any = dataclasses.MISSING, lo: float | None = None, hi: float | None = None, *, help: str,
           label: str | None = None, factory: Any = dataclasses.MISSING) -> Any:
    """A config field with its bounds, its one-line help and (for the panels) its short label in the metadata.

    ``help`` and ``label`` are English msgids marked with ``N_``; :func:`~tl_widgets.core.config.checks.field_help`
    and :func:`~tl_widgets.core.config.checks.field_label` translate them where they are shown.
    """
    meta = {"min": lo, "max": hi, "help": help, "label": label}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _documented(cls: type) -> type:
    """Appends an ``Attributes:`` section built from the fields' help (the one text), so ``help(cls)`` shows it."""
    lines = [f"    {f.name}: {f.metadata.get('help', '')}" for f in dataclasses.fields(cls)]
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n\n    Attributes:\n" + "\n".join(
        "    " + line for line in lines) + "\n"
    return cls


@_documented
@dataclass
class AugmentConfig:
    """Keras preprocessing-layer augmentation, applied to training batches only; a factor of 0 disables its layer."""

    flip: Literal["none", "horizontal", "vertical", "horizontal_and_vertical"] = _field(
        "none", label=N_("flip"), help=N_("Random flips of training images: none, horizontal, vertical or both."))
    rotation: float = _field(0.0, 0.0, 0.5, label=N_("rotation"), help=N_(
        "Random rotation, as a fraction of a full turn (0.1: up to 36 degrees either way; 0: off)."))
    zoom: float = _field(0.0, 0.0, 0.9, label=N_("zoom"), help=N_(
        "Random zoom in or out, as a fraction of the image size (0: off)."))
    translation: float = _field(0.0, 0.0, 0.5, label=N_("translation"), help=N_(
        "Random shift, as a fraction of the image size (0: off)."))
    contrast: float = _field(0.0, 0.0, 1.0, label=N_("contrast"), help=N_(
        "Random contrast change, as a fraction of the value range (0: off)."))
    brightness: float = _field(0.0, 0.0, 1.0, label=N_("brightness"), help=N_(
        "Random brightness change, as a fraction of the value range (0: off)."))
    crop: float = _field(0.0, 0.0, 0.5, label=N_("crop"), help=N_(
        "Random crop: the fraction of each side it may cut; the crop is resized back to the image size (0: off)."))
    hue: float = _field(0.0, 0.0, 1.0, label=N_("hue"), help=N_("Random hue shift: Keras' RandomHue factor (0: off)."))
    saturation: float = _field(0.0, 0.0, 1.0, label=N_("saturation"), help=N_(
        "Random saturation change: Keras' RandomSaturation factor (0: off)."))
    color_jitter: float = _field(0.0, 0.0, 1.0, label=N_("color_jitter"), help=N_(
        "Brightness, contrast, saturation and hue changed together at this strength (0: off)."))

    @property
    def enabled(self) -> bool:
        """True when at least one augmentation layer is active."""
        return self.flip != "none" or any(getattr(self, n) > 0 for n in AUGMENT_FACTORS)


#: The numeric augmentation factors, in the order the layers apply (0 disables one).
AUGMENT_FACTORS = ("rotation", "zoom", "translation", "contrast", "brightness", "crop", "hue", "saturation",
                   "color_jitter")


@_documented
@dataclass
class DataConfig:
    """Where the images come from and how they are split and batched."""

    source: Literal["demo", "folder", "zip", "code"] = _field("demo", help=N_(
        "Where the images come from: demo (the embedded demo), folder (one sub-folder per class), zip (an archive "
        "of such folders) or code (arrays or a dataset passed to the session from Python)."))
    path: str | None = _field(None, help=N_("The image folder (one sub-folder per class) or the zip of one."))
    demo: Literal["digits", "shapes"] = _field("digits", help=N_("Which embedded demo dataset: digits or shapes."))
    val_path: str | None = _field(None, label=N_("validation folder"), help=N_(
        "A separate folder of validation images (folder or zip data); none: the validation split is held out."))
    validation_split: float = _field(0.2, 0.0, 0.9, help=N_(
        "Fraction of the images held out for validation when there is no validation folder."))
    batch_size: int = _field(32, 1, 8192, help=N_("Batch size per replica."))
    cache: Literal["memory", "disk", "none"] = _field("memory", label=N_("image cache"), help=N_(
        "Keep decoded images in memory (if they fit in half the available memory, else on disk; the run says "
        "which), on disk, or decode them every epoch (none: least memory)."))
    class_weights: bool = _field(False, label=N_("class weights"), help=N_(
        "Weight the loss by inverse class frequency, so rare classes count as much as common ones."))
    max_per_class: int | None = _field(None, 1, None, help=N_("Use at most this many training images per class."))
    augmentation: AugmentConfig = _field(factory=AugmentConfig, help=N_(
        "Augmentation of the training batches (Keras preprocessing layers)."))
    curation: str | None = _field(None, help=N_(
        "A curation file (JSON Lines of relabel/exclude/ambiguous decisions) applied when the data load; none: "
        "the data as they are on disk."))


@_documented
@dataclass
class ModelConfig:
    """The backbone, its weights, the input size and the classification head."""

    backbone: str = _field("demo_cnn", help=N_(
        "The pretrained network to start from: a registered backbone name (see `tl-widgets backbones`) or a "
        ".keras/.h5 model file."))
    weights: str = _field("pretrained", help=N_(
        "'pretrained' (ImageNet for Keras applications, the bundled file for the demo backbone), 'imagenet', "
        "'none' (random) or a weights file."))
    input_size: int | None = _field(None, 8, 1024, help=N_(
        "Square input size in pixels (none: the backbone's default)."))
    pooling: Literal["avg", "max"] = _field("avg", label=N_("pooling"), help=N_(
        "How the backbone's feature map becomes one vector: the average or the maximum of each channel."))
    dropout: float = _field(0.2, 0.0, 0.95, label=N_("dropout"), help=N_(
        "Fraction of features dropped at random while training the head; more fights overfitting on small data."))
    hidden_units: int = _field(0, 0, 65536, label=N_("hidden units"), help=N_(
        "Size of an extra dense layer before the classifier (0: none, the classifier sits on the features)."))


@_documented
@dataclass
class FreezeConfig:
    """Which layers train. Serialised form of :class:`~tl_widgets.core.models.freezing.FreezePlan`."""

    mode: Literal["all", "up_to", "top", "none"] = _field("all", help=N_(
        "Which layers train: all freezes the whole backbone (the head trains), up_to freezes the blocks up to and "
        "including block, top trains the top top_n blocks, none trains everything."))
    block: str | None = _field(None, help=N_("The last frozen block for mode up_to."))
    top_n: int = _field(0, 0, 10_000, help=N_("How many of the top blocks train for mode top."))
    overrides: dict[str, bool] = _field(factory=dict, help=N_(
        "Per-block or per-layer overrides: name -> trainable."))
    train_batchnorm: bool = _field(False, help=N_(
        "Let BatchNormalization layers train (off by default: fine-tuning them on small data hurts)."))


@_documented
@dataclass
class PhaseConfig:
    """One training phase: a freeze plan, epochs and an optimizer."""

    name: str = _field("head", help=N_("The phase's name in charts and events."))
    epochs: int = _field(5, 0, 100_000, help=N_("Epochs in this phase."))
    learning_rate: float = _field(1e-3, 1e-8, 10.0, help=N_("The phase's peak learning rate."))
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop", "adagrad", "adamax", "nadam", "lion"] = _field(
        "adam", help=N_("The Keras optimizer."))
    freeze: FreezeConfig | None = _field(None, help=N_(
        "The phase's freeze plan; none keeps the previous phase's (the first phase then uses the run's)."))
    schedule: Literal["constant", "cosine", "onecycle"] = _field("constant", label=N_("schedule"), help=N_(
        "How the learning rate changes within the phase: constant, cosine decay, or one-cycle (up, then down)."))
    warmup_epochs: float = _field(0.0, 0.0, 1000.0, label=N_("warm-up epochs"), help=N_(
        "Epochs over which the learning rate rises linearly from zero (fractions allowed; 0: no warm-up)."))
    lr_decay_per_block: float = _field(1.0, 0.01, 1.0, label=N_("rate per block below"), help=N_(
        "Discriminative learning rates: each trainable block learns at this factor times the block above it "
        "(1: the same rate everywhere)."))
    block_lr_multipliers: dict[str, float] = _field(factory=dict, help=N_(
        "Extra per-block learning-rate factors: block name -> factor (0 keeps a block's weights still while it "
        "stays trainable)."))


@_documented
@dataclass
class StrategyConfig:
    """Devices, distribution and numerics."""

    kind: Literal["auto", "default", "one_device", "mirrored", "tpu", "data_parallel", "model_parallel"] = _field(
        "auto", help=N_("auto picks the best that works here; default, one_device, mirrored and tpu need the "
                        "TensorFlow backend, data_parallel and model_parallel the JAX backend."))
    logical_cpus: int = _field(0, 0, 64, help=N_(
        "Split the CPU into N devices to try 'mirrored' without GPUs (0: leave it alone)."))
    mixed_precision: Literal["off", "auto", "mixed_float16", "mixed_bfloat16"] = _field("off", help=N_(
        "off, auto (float16 on GPU, bfloat16 on TPU, off on CPU), mixed_float16 or mixed_bfloat16."))
    jit_compile: Literal["auto"] | bool = _field("auto", help=N_("XLA compilation: auto, on or off."))
    steps_per_execution: int = _field(1, 1, 10_000, label=N_("steps per call"), help=N_(
        "Batches run per compiled call: faster on accelerators; progress then updates once per chunk."))
    lr_scaling: Literal["none", "linear"] = _field("none", label=N_("scale learning rate"), help=N_(
        "linear: multiply learning rates by the number of replicas (the global batch grows with them)."))
    coordinator: str | None = _field(None, help=N_("HOST:PORT of process 0 for multi-process JAX."))
    num_processes: int = _field(1, 1, 4096, help=N_("Number of processes (1: a single process)."))
    process_id: int = _field(0, 0, 4095, help=N_("This process's index, from 0."))


@_documented
@dataclass
class TrainConfig:
    """Everything a run needs. Serialisable to JSON and YAML.

    Example:

    >>> cfg = TrainConfig()
    >>> TrainConfig.from_json(cfg.to_json()) == cfg
    True
    """

    data: DataConfig = _field(factory=DataConfig, help=N_(
        "Where the images come from; how they are split and batched."))
    model: ModelConfig = _field(factory=ModelConfig, help=N_("The backbone, its weights, the input size and the head."))
    freeze: FreezeConfig = _field(factory=FreezeConfig, help=N_("Which layers train (the first phase's plan)."))
    phases: list[PhaseConfig] = _field(factory=lambda: [PhaseConfig()], help=N_(
        "The training phases, in order (e.g. the head, then fine-tuning)."))
    strategy: StrategyConfig = _field(factory=StrategyConfig, help=N_("Devices, distribution and numerics."))
    seed: int | None = _field(42, 0, 2**32 - 1, label=N_("seed"), help=N_(
        "Random seed for the split, shuffling and initialisation; the same seed repeats a run. Blank: a different "
        "run each time."))
    output_dir: str = _field("runs", help=N_("The folder the run folders are written into."))
    run_name: str | None = _field(None, label=N_("run name"), help=N_(
        "A name that starts the run's id in the Runs list (blank: the backbone's name)."))
    parent_run_id: str | None = _field(None, help=N_(
        "The run this one retrains with data fixes (a curation) applied; none for a fresh run."))
    feature_cache: bool = _field(True, label=N_("cache features"), help=N_(
        "When only the head trains, compute the frozen backbone's features once and reuse them (much faster)."))
    early_stopping_patience: int = _field(0, 0, 10_000, label=N_("early stopping"), help=N_(
        "Stop a phase after this many epochs without a better validation loss (0: never stop early)."))
    reduce_lr_patience: int = _field(0, 0, 10_000, label=N_("reduce on plateau"), help=N_(
        "Halve the learning rate after this many epochs without a better validation loss (0: never)."))
    calibrate: bool = _field(True, help=N_(
        "After training, fit a temperature on the validation split and fold it into the model (calibrated "
        "probabilities)."))
    rollback: bool = _field(True, label=N_("keep the best epoch"), help=N_(
        "At the end, go back to the weights of the epoch with the best validation loss."))
    tensorboard: bool = _field(False, help=N_(
        "Log scalars, the learning rate and the model graph to <run folder>/tensorboard."))

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
            raise ConfigError("", _("Expected valid JSON. Received text that fails to parse: {error}").format(
                error=exc)) from None
        return cls.from_dict(data)

    @classmethod
    def from_yaml(cls, text: str) -> TrainConfig:
        """Parses YAML text (see :meth:`from_dict`)."""
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError("", _("Expected valid YAML. Received text that fails to parse: {error}").format(
                error=exc)) from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainConfig:
        """Loads a ``.json``, ``.yaml`` or ``.yml`` file."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError("", _("Expected an existing config file. Received: {path!r} (not found)").format(
                path=str(path)))
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
        raise ConfigError("phases", _("Expected at least one phase. Received: []"))
    if cfg.data.source in ("folder", "zip") and not cfg.data.path:
        raise ConfigError("data.path", _("Expected a path when data.source={source!r}. Received: None").format(
            source=cfg.data.source))
    if cfg.freeze.mode == "up_to" and not cfg.freeze.block:
        raise ConfigError("freeze.block", _("Expected a block name when freeze.mode='up_to'. Received: None"))
    for i, ph in enumerate(cfg.phases):
        for name, factor in ph.block_lr_multipliers.items():
            check_number(factor, "factor", 0.0, 100.0, path=f"phases[{i}].block_lr_multipliers[{name!r}]")
        if ph.freeze is not None and ph.freeze.mode == "up_to" and not ph.freeze.block:
            raise ConfigError(
                f"phases[{i}].freeze.block", _("Expected a block name when freeze.mode='up_to'. Received: None"))
    s = cfg.strategy
    if s.process_id >= s.num_processes:
        raise ConfigError("strategy.process_id", _(
            "Expected process_id < num_processes ({n}). Received: process_id={pid}").format(
            n=s.num_processes, pid=s.process_id))
    if s.num_processes > 1 and not s.coordinator:
        raise ConfigError("strategy.coordinator", _("Expected HOST:PORT when num_processes={n}. Received: None").format(
            n=s.num_processes))
    if s.coordinator is not None:
        host, sep, port = s.coordinator.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("strategy.coordinator", _(
                "Expected HOST:PORT with a port in 1-65535. Received: {value!r}").format(value=s.coordinator))
