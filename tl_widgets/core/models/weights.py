"""Backbone weights: ImageNet through Keras' own downloader and cache, local files, none.

ImageNet files are fetched by ``keras.utils.get_file`` into
``$KERAS_HOME/models`` (``~/.keras/models`` by default), exactly where
``keras.applications`` looks, so a prefetched file is used without network.
The file name and URL of each backbone are read from Keras itself (by asking
the application builder which file it would fetch), never hard-coded.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tl_widgets.core.models.backbones import BackboneSpec, build_backbone, resolve_backbone
from tl_widgets.core.models.backbone_spec import WeightsUnavailableError
from tl_widgets.core.models.keras_hub_presets import fetch_preset, is_preset

__all__ = [
    "WeightsUnavailableError",
    "WeightsFile",
    "keras_cache_dir",
    "weights_file",
    "cache_status",
    "prefetch",
    "resolve_weights",
    "load_backbone",
]


@dataclass(frozen=True)
class WeightsFile:
    """Where Keras keeps (or would fetch) one backbone's ImageNet weights.

    Attributes:
        backbone: Registry name.
        fname: File name inside the cache's ``models`` folder.
        origin: The download URL Keras uses.
        file_hash: The checksum Keras verifies, if any.
    """

    backbone: str
    fname: str
    origin: str
    file_hash: str | None

    def path(self, cache_dir: str | os.PathLike[str] | None = None) -> Path:
        """The cached file's path under ``cache_dir`` (default: Keras home)."""
        return Path(cache_dir or keras_cache_dir()) / "models" / self.fname

    def is_cached(self, cache_dir: str | os.PathLike[str] | None = None) -> bool:
        """True when the file is present (and non-empty) in the cache."""
        p = self.path(cache_dir)
        return p.is_file() and p.stat().st_size > 0


def keras_cache_dir() -> Path:
    """Keras' cache folder: ``$KERAS_HOME`` or ``~/.keras``, as Keras read it when it was imported."""
    from keras.src.backend import config

    return Path(config.keras_home()).expanduser()


class _Captured(Exception):
    def __init__(self, fname: str, origin: str, file_hash: str | None) -> None:
        super().__init__(fname)
        self.fname, self.origin, self.file_hash = fname, origin, file_hash


_PROBE_LOCK = threading.Lock()
_FILES: dict[tuple[str, int], WeightsFile] = {}


def weights_file(name: str, input_size: int | None = None) -> WeightsFile:
    """Returns the ImageNet weights file Keras would fetch for ``name``.

    Asks the Keras application builder itself by intercepting its call to
    ``get_file``; nothing is downloaded.

    Raises:
        ValueError: If the backbone has no ImageNet weights (e.g. the demo).
    """
    spec = resolve_backbone(name)
    if spec.pretrained != "imagenet":
        raise ValueError(f"Expected a backbone with ImageNet weights. Received: {spec.name!r} ({spec.pretrained})")
    size = input_size or spec.default_size
    key = (spec.name, size)
    if key in _FILES:
        return _FILES[key]
    from keras.src.utils import file_utils

    def capture(fname: str | None = None, origin: str | None = None, *args: Any, **kwargs: Any) -> str:
        raise _Captured(str(fname or Path(str(origin)).name), str(origin), kwargs.get("file_hash"))

    with _PROBE_LOCK:
        original = file_utils.get_file
        file_utils.get_file = capture
        try:
            build_backbone(spec, size, "imagenet")
        except _Captured as cap:
            found = WeightsFile(spec.name, cap.fname, cap.origin, cap.file_hash)
        else:
            raise RuntimeError(f"Keras built {spec.name!r} with ImageNet weights without fetching a file")
        finally:
            file_utils.get_file = original
    _FILES[key] = found
    return found


def cache_status(names: list[str] | None = None, cache_dir: str | None = None) -> dict[str, bool]:
    """Which backbones' ImageNet weights are cached (name -> bool)."""
    from tl_widgets.core.models.backbones import list_backbones

    if names is None:
        names = [s.name for s in list_backbones() if s.pretrained == "imagenet"]
    return {n: weights_file(n).is_cached(cache_dir) for n in names}


def _offline_message(spec: BackboneSpec, wf: WeightsFile, cache_dir: str | None, reason: str) -> str:
    return (
        f"Could not get ImageNet weights for backbone {spec.name!r}: {reason}. "
        f"Expected the file {str(wf.path(cache_dir))!r} (downloaded from {wf.origin}). "
        f"Either run `tl-widgets weights prefetch {spec.name}` on a machine with network and copy that file "
        f"into the cache folder (set KERAS_HOME to use another cache), "
        f"or pass a local weights file: weights='/path/to/{wf.fname}'."
    )


def prefetch(names: list[str], cache_dir: str | None = None, input_size: int | None = None) -> dict[str, Path]:
    """Downloads the ImageNet weights of ``names`` into the Keras cache (keras-hub presets into keras-hub's).

    Args:
        names: Backbone names, or keras-hub preset handles (``kaggle://…``, ``hf://…``, ``hub_*`` names).
        cache_dir: Cache root (default: ``$KERAS_HOME`` or ``~/.keras``).
        input_size: Input size (some families, e.g. MobileNetV2, have one
            file per size); default: each backbone's default size.

    Returns:
        name -> path of the cached file.

    Raises:
        WeightsUnavailableError: A download failed (e.g. no network); the
            message names the file, the URL and the two ways to supply it.
    """
    import keras

    out: dict[str, Path] = {}
    for name in names:
        if is_preset(name):  # a keras-hub preset: its files go into keras-hub's own cache
            out[name] = fetch_preset(name)
            continue
        spec = resolve_backbone(name)
        wf = weights_file(spec.name, input_size)
        if wf.is_cached(cache_dir):
            out[spec.name] = wf.path(cache_dir)
            continue
        try:
            path = keras.utils.get_file(
                wf.fname, wf.origin, cache_subdir="models", file_hash=wf.file_hash,
                cache_dir=str(cache_dir) if cache_dir else None,
            )
        except Exception as exc:  # urllib raises several types; all mean "not fetched"
            raise WeightsUnavailableError(_offline_message(spec, wf, cache_dir, _first_line(exc))) from exc
        out[spec.name] = Path(path)
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def resolve_weights(spec: BackboneSpec, weights: str) -> str | None:
    """Maps a config ``weights`` value to what the builder takes.

    Returns None (random init), ``"imagenet"`` or a file path.

    Raises:
        FileNotFoundError: A weights path that does not exist.
        ValueError: ``imagenet`` asked of a backbone that has none.
    """
    w = weights.strip()
    if w.lower() == "none":
        return None
    if w.lower() == "pretrained":
        return spec.pretrained
    if w.lower() == "imagenet":
        if spec.pretrained != "imagenet":
            raise ValueError(
                f"Expected weights 'pretrained', 'none' or a file for backbone {spec.name!r}, which has no "
                f"ImageNet weights. Received: weights={weights!r}"
            )
        return "imagenet"
    path = Path(w).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected weights 'pretrained', 'imagenet', 'none' or an existing weights file. Received: {weights!r} "
            "(no such file)"
        )
    return str(path)


def load_backbone(spec: BackboneSpec, input_size: int, weights: str) -> Any:
    """Builds the backbone and loads its weights.

    Raises:
        WeightsUnavailableError: ImageNet weights not cached and not downloadable.
        FileNotFoundError: A weights file that does not exist.
    """
    resolved = resolve_weights(spec, weights)
    if resolved == "imagenet":
        wf = weights_file(spec.name, input_size)
        if not wf.is_cached():
            prefetch([spec.name], input_size=input_size)  # raises the clear offline error
        return build_backbone(spec, input_size, "imagenet")
    if resolved is None:
        return build_backbone(spec, input_size, None)
    if spec.family == "demo" or spec.model_file is not None or resolved.endswith(".weights.h5"):
        model = build_backbone(spec, input_size, None)
        model.load_weights(resolved)
        return model
    return build_backbone(spec, input_size, resolved)
