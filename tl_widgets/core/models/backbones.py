"""The backbone registry, in the style of keras-hub presets.

Every ``keras.applications`` family is registered with its input sizes,
parameter count, ImageNet top-1 accuracy (from the Keras applications docs),
preprocessing and block rule. The demo backbone registers itself from
:mod:`tl_widgets.core.models.demo_backbone`. A model file (``.keras``/``.h5``) can stand in for
a registered name anywhere a backbone name is accepted.
"""

from __future__ import annotations

import difflib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tl_widgets.core.models.blocks import Block, blocks_for

__all__ = [
    "BackboneSpec",
    "UnknownBackboneError",
    "register",
    "list_backbones",
    "get_backbone",
    "resolve_backbone",
    "build_backbone",
    "custom_backbone_spec",
]

# Preprocessing modes: how raw 0-255 RGB becomes what the backbone expects.
#   "tf":    x / 127.5 - 1
#   "torch": x / 255, then ImageNet mean/std per channel
#   "caffe": RGB -> BGR, minus ImageNet BGR means
#   "none":  the backbone has its preprocessing built in (EfficientNet, ConvNeXt, MobileNetV3)
PREPROCESS_MODES = ("tf", "torch", "caffe", "none")


class UnknownBackboneError(KeyError):
    """No backbone of that name is registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


@dataclass(frozen=True)
class BackboneSpec:
    """One registered backbone.

    Attributes:
        name: Registry name (snake case), e.g. ``"mobilenet_v2"``.
        family: Block-rule family (see :data:`tl_widgets.core.models.blocks.BLOCK_RULES`).
        builder: ``builder(input_shape=..., weights=...)`` returning a Keras model
            without its classification top.
        default_size: Default square input size.
        min_size: Smallest input size the architecture accepts.
        params: Parameter count with the ImageNet top, from the Keras docs.
        top1: ImageNet top-1 accuracy in percent, from the Keras docs (None
            when not published).
        preprocess: One of ``"tf"``, ``"torch"``, ``"caffe"``, ``"none"``.
        pretrained: What ``weights="pretrained"`` means: ``"imagenet"`` or a
            path to a bundled weights file.
        description: One line for tables.
        model_file: For custom backbones, the model file they come from.
    """

    name: str
    family: str | None
    builder: Callable[..., Any] = field(repr=False, compare=False)
    default_size: int
    min_size: int
    params: int
    top1: float | None
    preprocess: str
    pretrained: str = "imagenet"
    description: str = ""
    model_file: str | None = None

    def blocks(self, model: Any) -> list[Block]:
        """Returns the named blocks of a model built from this spec."""
        return blocks_for(self.family, [layer.name for layer in model.layers])

    def as_row(self) -> dict[str, Any]:
        """A plain dict for tables (panels, CLI)."""
        return {
            "name": self.name,
            "family": self.family or "custom",
            "params_m": round(self.params / 1e6, 1),
            "top1": self.top1,
            "default_size": self.default_size,
            "min_size": self.min_size,
            "pretrained": "imagenet" if self.pretrained == "imagenet" else "bundled",
            "description": self.description,
        }


_REGISTRY: dict[str, BackboneSpec] = {}
_LOCK = threading.Lock()


def register(spec: BackboneSpec, *, overwrite: bool = False) -> BackboneSpec:
    """Adds ``spec`` to the registry.

    Raises:
        ValueError: If the name is taken (and ``overwrite`` is False) or the
            preprocessing mode is unknown.
    """
    if spec.preprocess not in PREPROCESS_MODES:
        raise ValueError(f"Expected preprocess in {PREPROCESS_MODES}. Received: {spec.preprocess!r}")
    if not 1 <= spec.min_size <= spec.default_size:
        raise ValueError(
            f"Expected 1 <= min_size <= default_size. Received: min_size={spec.min_size}, "
            f"default_size={spec.default_size}"
        )
    with _LOCK:
        if spec.name in _REGISTRY and not overwrite:
            raise ValueError(f"Backbone {spec.name!r} is already registered")
        _REGISTRY[spec.name] = spec
    return spec


def _ensure_builtin() -> None:
    if "mobilenet_v2" not in _REGISTRY:
        _register_keras_applications()
    if "demo_cnn" not in _REGISTRY:
        from tl_widgets.core.models import demo_backbone as demo

        demo.register_demo_backbone()


def list_backbones(family: str | None = None) -> list[BackboneSpec]:
    """Returns registered specs, optionally of one family, sorted by params."""
    _ensure_builtin()
    with _LOCK:
        specs = list(_REGISTRY.values())
    if family is not None:
        specs = [s for s in specs if s.family == family]
    return sorted(specs, key=lambda s: (s.family != "demo", s.params))


def get_backbone(name: str) -> BackboneSpec:
    """Returns the spec registered as ``name``.

    Raises:
        UnknownBackboneError: Naming close matches.
    """
    _ensure_builtin()
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    with _LOCK:
        spec = _REGISTRY.get(key)
        names = sorted(_REGISTRY)
    if spec is None:
        close = difflib.get_close_matches(str(key), names, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else " Run `tl-widgets backbones` for the list."
        raise UnknownBackboneError(f"Expected a registered backbone name or a model file. Received: {name!r}.{hint}")
    return spec


def resolve_backbone(name_or_path: str) -> BackboneSpec:
    """Returns the registered spec, or a custom spec for a model file path."""
    if isinstance(name_or_path, str) and name_or_path.endswith((".keras", ".h5")):
        return custom_backbone_spec(name_or_path)
    return get_backbone(name_or_path)


def custom_backbone_spec(path: str) -> BackboneSpec:
    """A spec for a backbone saved as a ``.keras`` or ``.h5`` model file.

    The model is used as it is (its own input size); blocks come from
    layer-name prefixes. Its preprocessing must be built in ("none").

    Raises:
        FileNotFoundError: If the file is missing.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"Expected a .keras or .h5 backbone model file. Received: {path!r} (not found)")

    import keras

    try:
        probe = keras.saving.load_model(p, compile=False)
    except Exception as exc:
        raise ValueError(f"Expected a Keras model file (.keras or .h5). Received: {path!r}, which fails to load: {exc}") from exc
    shape = probe.input_shape if isinstance(probe.input_shape, tuple) else probe.input_shape[0]
    size = int(shape[1]) if len(shape) == 4 and shape[1] else 224
    params = int(probe.count_params())
    del probe

    def builder(input_shape: tuple[int, int, int] | None = None, weights: Any = None, **_: Any) -> Any:
        return keras.saving.load_model(p, compile=False)

    return BackboneSpec(
        name=p.stem,
        family=None,
        builder=builder,
        default_size=size,
        min_size=1,
        params=params,
        top1=None,
        preprocess="none",
        pretrained=str(p),
        description=f"custom model from {p.name}",
        model_file=str(p),
    )


def build_backbone(spec: BackboneSpec, input_size: int, weights: Any) -> Any:
    """Builds ``spec`` without its top for square ``input_size`` inputs.

    Args:
        spec: The backbone.
        input_size: Input height and width.
        weights: What ``spec.builder`` accepts: None, ``"imagenet"`` or a path.

    Raises:
        ValueError: If ``input_size`` is below ``spec.min_size``.
    """
    if spec.model_file is None and input_size < spec.min_size:
        raise ValueError(
            f"Expected input_size >= {spec.min_size} for backbone {spec.name!r}. Received: input_size={input_size}"
        )
    return spec.builder(input_shape=(input_size, input_size, 3), weights=weights)


# -- keras.applications ----------------------------------------------------

# name, keras attribute, family, default size, min size, params, top1, preprocess
_KERAS_APPS: list[tuple[str, str, str, int, int, int, float | None, str]] = [
    ("xception", "Xception", "xception", 299, 71, 22_900_000, 79.0, "tf"),
    ("vgg16", "VGG16", "vgg", 224, 32, 138_400_000, 71.3, "caffe"),
    ("vgg19", "VGG19", "vgg", 224, 32, 143_700_000, 71.3, "caffe"),
    ("resnet50", "ResNet50", "resnet", 224, 32, 25_600_000, 74.9, "caffe"),
    ("resnet101", "ResNet101", "resnet", 224, 32, 44_700_000, 76.4, "caffe"),
    ("resnet152", "ResNet152", "resnet", 224, 32, 60_400_000, 76.6, "caffe"),
    ("resnet50_v2", "ResNet50V2", "resnet", 224, 32, 25_600_000, 76.0, "tf"),
    ("resnet101_v2", "ResNet101V2", "resnet", 224, 32, 44_700_000, 77.2, "tf"),
    ("resnet152_v2", "ResNet152V2", "resnet", 224, 32, 60_400_000, 78.0, "tf"),
    ("inception_v3", "InceptionV3", "inception_v3", 299, 75, 23_900_000, 77.9, "tf"),
    ("inception_resnet_v2", "InceptionResNetV2", "inception_resnet_v2", 299, 75, 55_900_000, 80.3, "tf"),
    ("mobilenet", "MobileNet", "mobilenet", 224, 32, 4_300_000, 70.4, "tf"),
    ("mobilenet_v2", "MobileNetV2", "mobilenet_v2", 224, 32, 3_500_000, 71.3, "tf"),
    ("mobilenet_v3_small", "MobileNetV3Small", "mobilenet_v3", 224, 32, 2_900_000, 68.1, "none"),
    ("mobilenet_v3_large", "MobileNetV3Large", "mobilenet_v3", 224, 32, 5_400_000, 75.6, "none"),
    ("densenet121", "DenseNet121", "densenet", 224, 32, 8_100_000, 75.0, "torch"),
    ("densenet169", "DenseNet169", "densenet", 224, 32, 14_300_000, 76.2, "torch"),
    ("densenet201", "DenseNet201", "densenet", 224, 32, 20_200_000, 77.3, "torch"),
    ("nasnet_mobile", "NASNetMobile", "nasnet", 224, 32, 5_300_000, 74.4, "tf"),
    ("nasnet_large", "NASNetLarge", "nasnet", 331, 32, 88_900_000, 82.5, "tf"),
    ("efficientnet_b0", "EfficientNetB0", "efficientnet", 224, 32, 5_300_000, 77.1, "none"),
    ("efficientnet_b1", "EfficientNetB1", "efficientnet", 240, 32, 7_900_000, 79.1, "none"),
    ("efficientnet_b2", "EfficientNetB2", "efficientnet", 260, 32, 9_200_000, 80.1, "none"),
    ("efficientnet_b3", "EfficientNetB3", "efficientnet", 300, 32, 12_300_000, 81.6, "none"),
    ("efficientnet_b4", "EfficientNetB4", "efficientnet", 380, 32, 19_500_000, 82.9, "none"),
    ("efficientnet_b5", "EfficientNetB5", "efficientnet", 456, 32, 30_600_000, 83.6, "none"),
    ("efficientnet_b6", "EfficientNetB6", "efficientnet", 528, 32, 43_300_000, 84.0, "none"),
    ("efficientnet_b7", "EfficientNetB7", "efficientnet", 600, 32, 66_700_000, 84.3, "none"),
    ("efficientnet_v2_b0", "EfficientNetV2B0", "efficientnet", 224, 32, 7_200_000, 78.7, "none"),
    ("efficientnet_v2_b1", "EfficientNetV2B1", "efficientnet", 240, 32, 8_200_000, 79.8, "none"),
    ("efficientnet_v2_b2", "EfficientNetV2B2", "efficientnet", 260, 32, 10_200_000, 80.5, "none"),
    ("efficientnet_v2_b3", "EfficientNetV2B3", "efficientnet", 300, 32, 14_500_000, 82.0, "none"),
    ("efficientnet_v2_s", "EfficientNetV2S", "efficientnet", 384, 32, 21_600_000, 83.9, "none"),
    ("efficientnet_v2_m", "EfficientNetV2M", "efficientnet", 480, 32, 54_400_000, 85.3, "none"),
    ("efficientnet_v2_l", "EfficientNetV2L", "efficientnet", 480, 32, 119_000_000, 85.7, "none"),
    ("convnext_tiny", "ConvNeXtTiny", "convnext", 224, 32, 28_600_000, 81.3, "none"),
    ("convnext_small", "ConvNeXtSmall", "convnext", 224, 32, 50_200_000, 82.3, "none"),
    ("convnext_base", "ConvNeXtBase", "convnext", 224, 32, 88_500_000, 85.3, "none"),
    ("convnext_large", "ConvNeXtLarge", "convnext", 224, 32, 197_700_000, 86.3, "none"),
    ("convnext_xlarge", "ConvNeXtXLarge", "convnext", 224, 32, 350_100_000, 86.7, "none"),
]


def _keras_builder(attr: str) -> Callable[..., Any]:
    def builder(input_shape: tuple[int, int, int], weights: Any = None, **kwargs: Any) -> Any:
        import keras

        fn = getattr(keras.applications, attr)
        return fn(include_top=False, weights=weights, input_shape=input_shape, **kwargs)

    builder.__name__ = f"build_{attr}"
    return builder


def _register_keras_applications() -> None:
    for name, attr, family, default, minimum, params, top1, prep in _KERAS_APPS:
        register(
            BackboneSpec(
                name=name,
                family=family,
                builder=_keras_builder(attr),
                default_size=default,
                min_size=minimum,
                params=params,
                top1=top1,
                preprocess=prep,
                description=f"keras.applications.{attr}",
            ),
            overwrite=True,
        )
