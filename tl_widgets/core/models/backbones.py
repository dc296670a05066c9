"""The backbone registry, in the style of keras-hub presets.

Every backbone is a keyed preset entry (a :class:`BackboneSpec`: name, family,
builder, input sizes, parameter count, ImageNet top-1, preprocessing, block
rule). Preset modules hold the entries; this module registers them with
:func:`register_presets` and answers look-ups:

* :mod:`tl_widgets.core.models.keras_app_presets`: every ``keras.applications`` family;
* :mod:`tl_widgets.core.models.demo_backbone`: the small demo CNN, just another entry;
* :mod:`tl_widgets.core.models.keras_hub_presets`: keras-hub image backbones, resolved on use from a preset
  handle, a local preset folder or a ``hub_*`` name (not listed: each needs its preset's files to describe it).

A model file (``.keras``/``.h5``) can stand in for a registered name anywhere
a backbone name is accepted (:func:`resolve_backbone`).
"""

from __future__ import annotations

import difflib
import threading
from pathlib import Path
from typing import Any, Mapping

from tl_widgets.core.models import demo_backbone, keras_app_presets, keras_hub_presets
from tl_widgets.core.models.backbone_spec import PREPROCESS_MODES, BackboneSpec

__all__ = [
    "BackboneSpec",
    "UnknownBackboneError",
    "register",
    "register_presets",
    "list_backbones",
    "get_backbone",
    "resolve_backbone",
    "build_backbone",
    "custom_backbone_spec",
]


class UnknownBackboneError(KeyError):
    """No backbone of that name is registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


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


def register_presets(presets: Mapping[str, BackboneSpec], *, overwrite: bool = False) -> list[BackboneSpec]:
    """Registers every entry of a keyed preset table (``{name: spec}``).

    Args:
        presets: Preset entries keyed by their registry name.
        overwrite: Replace entries already registered under the same names.

    Returns:
        The registered specs, in table order.

    Raises:
        ValueError: A key differs from its entry's name, or :func:`register` refuses an entry.
    """
    for key, spec in presets.items():
        if key != spec.name:
            raise ValueError(f"Expected each preset keyed by its name. Received: key {key!r} for {spec.name!r}")
    return [register(spec, overwrite=overwrite) for spec in presets.values()]


def list_backbones(family: str | None = None) -> list[BackboneSpec]:
    """Returns registered specs, optionally of one family, sorted by params."""
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
    """Returns the registered spec, a custom spec for a model file path, or a keras-hub preset's spec.

    A keras-hub preset handle (``kaggle://…``, ``hf://…``), local preset folder
    or registered ``hub_*`` name is loaded by
    :func:`~tl_widgets.core.models.keras_hub_presets.preset_spec`.
    """
    if isinstance(name_or_path, str) and name_or_path.endswith((".keras", ".h5")):
        return custom_backbone_spec(name_or_path)
    if keras_hub_presets.is_preset(name_or_path):
        return keras_hub_presets.preset_spec(name_or_path)
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


# The built-in presets. Registering them here (not from the preset modules) keeps imports one-way.
register_presets(keras_app_presets.backbone_presets)
register_presets(demo_backbone.backbone_presets)
