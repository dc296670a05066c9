"""The feature cache: run a frozen backbone once, then train the head on its features.

With the backbone frozen and no augmentation, every epoch of the usual recipe
recomputes the same backbone outputs. Here they are computed once, stored on
disk under ``$TL_WIDGETS_HOME/feature_cache`` keyed by everything that changes
them (backbone, weights file hash, input size, preprocessing, pooling and a
dataset fingerprint), and the head trains on them at tens of thousands of
images per second. They are streamed to disk batch by batch and read back
memory-mapped (:mod:`~tl_widgets.core.training.feature_store`), so a
100k-image set never has to fit in memory. The head layers are shared with the full model, so the
saved model is the same whole assembled model as without the cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from tl_widgets.core.config.schema import FreezeConfig, TrainConfig
from tl_widgets.core.settings import home_path
from tl_widgets.core.training.feature_cache_trim import touch_entry, trim_cache
from tl_widgets.core.training.feature_store import FeatureBatches, FeatureWriter, open_entry

__all__ = ["cache_applies", "feature_key", "FeatureSet", "feature_batches", "compute_features", "load_or_compute",
           "head_fit_args", "head_model", "HEAD_LAYER_NAMES", "cache_dir", "cache_budget"]

HEAD_LAYER_NAMES = ("head_dropout", "head_hidden", "head_hidden_dropout", "predictions")


def cache_dir() -> Path:
    """``$TL_WIDGETS_HOME/feature_cache`` (default ``~/.tl_widgets/feature_cache``)."""
    return home_path("feature_cache")


def cache_applies(cfg: TrainConfig, freeze: FreezeConfig) -> tuple[bool, str]:
    """Whether a phase with ``freeze`` can train on cached features, and why not.

    Returns:
        ``(True, "")`` or ``(False, reason)``.
    """
    if not cfg.feature_cache:
        return False, "feature cache is off"
    if freeze.mode != "all" or any(freeze.overrides.values()):
        return False, "part of the backbone trains in this phase"
    if cfg.data.augmentation.enabled:
        return False, "augmentation changes the images every epoch"
    if cfg.strategy.num_processes > 1:
        return False, "multi-process runs stream their shard"
    return True, ""


def _sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _weights_identity(cfg: TrainConfig, spec: Any) -> str:
    from tl_widgets.core.models.weights import resolve_weights, weights_file

    resolved = resolve_weights(spec, cfg.model.weights)
    if resolved is None:
        return f"random-init-seed-{cfg.seed}"
    if resolved == "imagenet":
        wf = weights_file(spec.name, cfg.model.input_size)
        return f"imagenet:{wf.fname}:{wf.file_hash or ''}"
    return f"file:{_sha256_file(resolved)}"


def _dataset_fingerprint(cfg: TrainConfig, code_data: Any) -> str | None:
    d = cfg.data
    parts: dict[str, Any] = {
        "source": d.source, "demo": d.demo, "split": d.validation_split, "max_per_class": d.max_per_class,
        "val_path": d.val_path, "seed": cfg.seed,
    }
    if d.curation:  # the decisions change labels and membership: part of the data's identity
        cur = Path(d.curation)
        parts["curation"] = hashlib.sha256(cur.read_bytes()).hexdigest() if cur.is_file() else "missing"
    if d.source in ("folder", "zip"):
        root = Path(d.path or "")
        h = hashlib.sha256()
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for p in files:
            st = p.stat()
            h.update(f"{p.relative_to(root) if root.is_dir() else p.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        parts["files"] = h.hexdigest()
    elif d.source == "code":
        if not (isinstance(code_data, tuple) and all(isinstance(a, np.ndarray) for a in code_data[:2])):
            return None  # datasets and PyDatasets have no cheap identity: compute in memory only
        h = hashlib.sha256()
        for a in code_data[:2]:
            h.update(str(a.shape).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        parts["arrays"] = h.hexdigest()
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def feature_key(cfg: TrainConfig, spec: Any, input_size: int, code_data: Any = None) -> str | None:
    """The cache key of a run's features, or None when the data have no identity."""
    fp = _dataset_fingerprint(cfg, code_data)
    if fp is None:
        return None
    parts = {
        "backbone": spec.model_file and _sha256_file(spec.model_file) or spec.name,
        "weights": _weights_identity(cfg, spec), "input_size": input_size, "preprocess": spec.preprocess,
        "pooling": cfg.model.pooling, "data": fp, "version": 2,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class FeatureSet:
    """Pooled backbone features and labels for the train and validation splits.

    The arrays are memory-mapped from the disk cache (read-only) when the run
    has a cache key, in memory otherwise.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    from_cache: bool = False
    seconds: float = 0.0
    on_disk: bool = False


def _feature_model(model: Any) -> Any:
    import keras

    return keras.Model(model.inputs, model.get_layer("pool").output, name="feature_extractor")


def feature_batches(model: Any, dataset: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Runs the frozen part of ``model`` (up to pooling) over ``dataset`` once, yielding one batch at a time."""
    import keras

    extractor = _feature_model(model)
    # One pass (the training set reshuffles on every pass, so images and labels are read together);
    # predict_on_batch runs the compiled predict function instead of eager calls.
    for x, y in dataset:
        out = extractor.predict_on_batch(np.asarray(x))  # numpy in: every backend accepts it
        yield np.asarray(keras.ops.convert_to_numpy(out), dtype="float32"), np.asarray(y)


def compute_features(model: Any, dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of ``dataset`` in memory (the path for data with no cache key)."""
    feats, labels = [], []
    for f, y in feature_batches(model, dataset):
        feats.append(f)
        labels.append(y)
    if not feats:
        raise ValueError("Expected a non-empty dataset to compute features from. Received: 0 batches")
    return np.concatenate(feats), np.concatenate(labels).astype("int32")


def load_or_compute(model: Any, data: Any, key: str | None) -> FeatureSet:
    """Features from the disk cache under ``key``, or computed (streamed to disk under ``key``).

    With a key, features go batch by batch into memory-mapped ``.npy`` files
    in ``cache_dir()/key`` (published with one rename) and come back mapped
    read-only: memory holds one batch, not the whole set. Without a key (data
    with no identity) they are computed in memory.
    """
    import time

    t0 = time.perf_counter()
    if key is None:
        xt, yt = compute_features(model, data.train)
        xv = yv = None
        if data.val is not None:
            xv, yv = compute_features(model, data.val)
        return FeatureSet(xt, yt, xv, yv, False, time.perf_counter() - t0)
    folder = cache_dir() / key
    entry = open_entry(folder)
    computed = entry is None
    if computed:
        writer = FeatureWriter(folder)
        writer.write_split("train", feature_batches(model, data.train), rows=data.train_count)
        if data.val is not None:
            writer.write_split("val", feature_batches(model, data.val), rows=data.val_count)
        writer.publish()
        entry = open_entry(folder)
        if entry is None:
            raise RuntimeError(f"Expected the feature cache entry {str(folder)!r} after writing it. Received: none")
    touch_entry(folder)
    budget = cache_budget()
    if budget is not None:  # a room's shared cache: least recently used entries go first (never this one)
        trim_cache(cache_dir(), budget, keep=[key])
    xt, yt = entry["train"]
    xv, yv = entry.get("val", (None, None))
    return FeatureSet(xt, yt, xv, yv, not computed, time.perf_counter() - t0, on_disk=True)


def cache_budget() -> int | None:
    """Bytes the feature cache may hold: the workshop's ``max_feature_cache_mb`` in a served room, else None."""
    from tl_widgets.core.room.workshop import workshop_from_env

    ws = workshop_from_env()
    return ws.max_feature_cache_bytes if ws is not None else None


def head_fit_args(feats: FeatureSet, batch_size: int, seed: int | None) -> dict[str, Any]:
    """The ``fit`` arguments that train the head on ``feats``, batch by batch (shuffled each epoch by ``seed``)."""
    val = FeatureBatches(feats.x_val, feats.y_val, batch_size) if feats.x_val is not None else None
    return {"x": FeatureBatches(feats.x_train, feats.y_train, batch_size, shuffle=True, seed=seed),
            "validation_data": val}


def head_model(model: Any, features_dim: int) -> Any:
    """A model from pooled features to probabilities that shares ``model``'s head layers."""
    import keras

    inputs = keras.Input((features_dim,), name="features")
    x = inputs
    names = {layer.name for layer in model.layers}
    for name in HEAD_LAYER_NAMES:
        if name in names:
            x = model.get_layer(name)(x)
    return keras.Model(inputs, x, name="head_on_features")
