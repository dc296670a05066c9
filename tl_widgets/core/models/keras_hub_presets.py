"""keras-hub image backbones as registry entries (the ``keras-hub`` extra).

A keras-hub preset is a folder (``config.json``, ``metadata.json``,
``model.weights.h5``, optionally ``image_converter.json``) published on
Kaggle (``kaggle://keras/resnetv1/keras/resnet_18_imagenet/3``), Hugging Face
(``hf://…``) or kept locally (what ``backbone.save_to_preset(folder)``
writes). Any of the three can stand where a backbone name is accepted
(``model.backbone``, ``tl-widgets train --backbone``); a few well-known
presets also have short names (``hub_resnet_18``…, see :data:`NAMED_PRESETS`).
They are resolved on use, not listed in the registry's table: an entry's
sizes, parameters and preprocessing come from the preset's own files.

:func:`preset_spec` turns a preset into a
:class:`~tl_widgets.core.models.backbone_spec.BackboneSpec`: the architecture
from ``config.json`` (built without weights at the asked input size), the
weights file as its ``pretrained`` weights (so the feature cache keys on the
file's hash like any weights file), the preprocessing read from
``image_converter.json`` and blocks inferred from layer-name prefixes
(``conv1``, ``stack0``…). Remote presets are downloaded by keras-hub into
its caches (``$KAGGLEHUB_CACHE``, ``$HF_HOME``), where
``tl-widgets weights prefetch HANDLE`` puts them ahead of time; offline, a
preset that is not cached raises
:class:`~tl_widgets.core.models.backbone_spec.WeightsUnavailableError`
saying how to get it, like a missing ImageNet file.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

from tl_widgets.core.models.backbone_spec import BackboneSpec, WeightsUnavailableError

__all__ = ["NAMED_PRESETS", "is_preset", "preset_spec", "fetch_preset", "KERAS_HUB_FAMILY"]

KERAS_HUB_FAMILY = "keras_hub"
_SCHEMES = ("kaggle://", "hf://")
_FILES = ("config.json", "metadata.json", "model.weights.h5")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

# registry name: (keras-hub preset handle, parameters from keras-hub's preset metadata, description)
NAMED_PRESETS: dict[str, tuple[str, int, str]] = {
    "hub_resnet_18": ("kaggle://keras/resnetv1/keras/resnet_18_imagenet/3", 11_186_112, "keras-hub ResNet-18"),
    "hub_resnet_50": ("kaggle://keras/resnetv1/keras/resnet_50_imagenet/3", 23_561_152, "keras-hub ResNet-50"),
    "hub_efficientnet_b0": ("kaggle://keras/efficientnet/keras/efficientnet_b0_ra_imagenet/2", 5_288_548,
                            "keras-hub EfficientNet-B0 (RandAugment)"),
    "hub_mobilenet_v3_small": ("kaggle://keras/mobilenetv3/keras/mobilenet_v3_small_100_imagenet/1", 939_120,
                               "keras-hub MobileNetV3 small"),
    "hub_mobilenet_v3_large": ("kaggle://keras/mobilenetv3/keras/mobilenet_v3_large_100_imagenet/1", 2_996_352,
                               "keras-hub MobileNetV3 large"),
    "hub_densenet_121": ("kaggle://keras/densenet/keras/densenet_121_imagenet/3", 7_037_504,
                         "keras-hub DenseNet-121"),
    "hub_csp_darknet_53": ("kaggle://keras/cspdarknet/keras/csp_darknet_53_ra_imagenet/2", 27_642_184,
                           "keras-hub CSPDarkNet-53"),
}

_SPECS: dict[str, BackboneSpec] = {}
_LOCK = threading.Lock()


def is_preset(name: Any) -> bool:
    """True for a preset handle (``kaggle://``, ``hf://``), a registered keras-hub name or a local preset folder."""
    if not isinstance(name, str):
        return False
    if name in NAMED_PRESETS or name.startswith(_SCHEMES):
        return True
    folder = Path(name).expanduser()
    return (folder / "config.json").is_file() and (folder / "metadata.json").is_file()


def _keras_hub() -> Any:
    try:
        import keras_hub
    except ImportError:
        raise RuntimeError("Expected keras-hub for keras-hub backbones. Received: it is not installed; run "
                           "`pip install tl_widgets[keras-hub]`") from None
    return keras_hub


def _offline_message(handle: str, reason: str) -> str:
    return (f"Could not get the keras-hub preset {handle!r}: {reason}. Either run `tl-widgets weights prefetch "
            f"{handle}` on a machine with network and copy keras-hub's cache folder ($KAGGLEHUB_CACHE, default "
            "~/.cache/kagglehub; $HF_HOME for hf:// presets) to this machine, or use a local preset folder "
            "(what backbone.save_to_preset(folder) writes) as the backbone.")


def fetch_preset(name: str) -> Path:
    """The local folder of a preset, downloading its files into keras-hub's cache when needed.

    Raises:
        WeightsUnavailableError: A local folder that is not a preset, or a
            remote preset that is neither cached nor downloadable (offline).
    """
    handle = NAMED_PRESETS[name][0] if name in NAMED_PRESETS else name
    if not handle.startswith(_SCHEMES):
        folder = Path(handle).expanduser()
        missing = [f for f in _FILES if not (folder / f).is_file()]
        if missing:
            raise WeightsUnavailableError(_offline_message(
                handle, f"expected a keras-hub preset folder with {', '.join(_FILES)}; {', '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} missing"))
        return folder.resolve()
    _keras_hub()
    from keras_hub.src.utils.preset_utils import get_file

    try:
        paths = [Path(get_file(handle, f)) for f in _FILES]
    except Exception as exc:  # kagglehub / huggingface_hub raise many types offline; all mean "not fetched"
        raise WeightsUnavailableError(_offline_message(handle, f"{type(exc).__name__}: {_first_line(exc)}")) \
            from exc
    try:
        get_file(handle, "image_converter.json")
    except Exception:  # optional file: a backbone saved alone has none (preprocessing then defaults)
        pass
    return paths[0].parent


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _close(a: Any, b: float) -> bool:
    return isinstance(a, (int, float)) and math.isclose(float(a), b, rel_tol=1e-3, abs_tol=1e-6)


def _preprocess(folder: Path) -> str:
    """The preprocessing mode keras-hub's image converter describes (ImageNet mean/std when there is none)."""
    path = folder / "image_converter.json"
    if not path.is_file():
        return "torch"
    cfg = json.loads(path.read_text(encoding="utf-8")).get("config", {})
    scale, offset = cfg.get("scale"), cfg.get("offset")
    if _close(scale, 1 / 127.5) and _close(offset, -1.0):
        return "tf"
    if isinstance(scale, list) and len(scale) == 3 and all(_close(s, 1 / (255 * d)) for s, d in
                                                           zip(scale, _IMAGENET_STD)):
        return "torch"
    if scale is None and offset is None:
        return "none"
    return "torch"


def _input_sizes(config: dict[str, Any]) -> int:
    shape = config.get("config", {}).get("image_shape") or [None]
    return int(shape[0]) if shape and shape[0] else 224


def preset_spec(name: str) -> BackboneSpec:
    """The registry entry of a keras-hub preset (handle, registered name or local folder); cached per name.

    Raises:
        WeightsUnavailableError: The preset is not available here (see :func:`fetch_preset`).
        ValueError: The preset is not a keras-hub image backbone.
    """
    with _LOCK:
        if name in _SPECS:
            return _SPECS[name]
    folder = fetch_preset(name)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    if "image_shape" not in config.get("config", {}):
        raise ValueError(f"Expected a keras-hub image backbone (its config has image_shape). Received: {name!r}, "
                         f"a {config.get('class_name', 'model')}")
    short = name if name in NAMED_PRESETS else Path(name.rstrip("/")).name or "keras_hub_preset"
    if name.startswith(_SCHEMES):
        parts = [p for p in name.split("://", 1)[1].split("/") if p]
        short = next((p for p in reversed(parts) if not p.isdigit()), short)

    def builder(input_shape: tuple[int, int, int], weights: Any = None, **_: Any) -> Any:
        keras_hub = _keras_hub()
        model = keras_hub.models.Backbone.from_preset(str(folder), load_weights=False, image_shape=input_shape)
        if weights is not None:
            model.load_weights(str(weights))
        return model

    spec = BackboneSpec(
        name=short, family=KERAS_HUB_FAMILY, builder=builder, default_size=_input_sizes(config), min_size=32,
        params=int(meta.get("parameter_count") or 0), top1=None, preprocess=_preprocess(folder),
        pretrained=str(folder / "model.weights.h5"),
        description=f"keras-hub {config.get('class_name', 'backbone')} from {name}",
    )
    with _LOCK:
        _SPECS[name] = spec
    return spec
