"""The health check's one pass over the pixels: every image decoded once, for its embedding and its quality.

:func:`image_features` decodes each file (through
:func:`~tl_widgets.core.data.image_open.open_image`; a JPEG at the smallest
DCT scale still at least as large as needed), measures its quality
(:func:`~tl_widgets.core.data.image_quality.quality_stats`) and runs a
backbone up to its global pooling on it. Decoding runs in a thread pool one
chunk ahead of the backbone. Files that fail to decode are reported with
their reason (the scan before reads headers only).

Everything is cached per dataset under ``$TL_WIDGETS_HOME/feature_cache/embeddings``
(one ``.npz`` per dataset folder and backbone) and looked up by each file's
content hash (:func:`file_digest`): the next check of the same folder decodes
only files that are new or changed, and a check with some files excluded or
relabelled (a curation, a child run's check) decodes none.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.data.image_quality import QUALITY_FIELDS, THUMB, quality_stats
from tl_widgets.core.fileio import atomic_save
from tl_widgets.core.settings import home_path

__all__ = ["ImageFeatures", "file_digest", "digests_of", "image_features", "embed_arrays", "cache_folder",
           "cached_entry"]

CACHE_VERSION = "v4"
_CHUNK = 512


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (exact duplicates share it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _workers() -> int:
    from tl_widgets.core.data.scanning import check_workers

    return check_workers()


def digests_of(paths: Sequence[str]) -> list[str]:
    """:func:`file_digest` of every file, read in a thread pool (results in input order)."""
    if len(paths) < 256:
        return [file_digest(p) for p in paths]
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        return list(pool.map(file_digest, paths, chunksize=256))


@dataclass
class ImageFeatures:
    """What the decode pass learned about each file, in input order.

    Attributes:
        embeddings: ``[N, D]`` pooled backbone features (``[N, 0]`` without a backbone); zero rows for failures.
        quality: ``[N, len(QUALITY_FIELDS)]`` (NaN rows for files that failed).
        failed: Index -> the reason a file could not be decoded.
        decoded: How many files were decoded now (the rest came from the cache).
        seconds: Wall time of the pass.
    """

    embeddings: np.ndarray
    quality: np.ndarray
    failed: dict[int, str] = field(default_factory=dict)
    decoded: int = 0
    seconds: float = 0.0


def cache_folder() -> Path:
    """Where the decode pass caches embeddings and quality."""
    return home_path("embeddings")


def cached_entry(dataset: str, backbone: str | None, input_size: int | None) -> Path:
    """The cache file of one dataset folder (its resolved path) for one backbone and input size."""
    tag = hashlib.sha256(f"{backbone}|{input_size}|{CACHE_VERSION}".encode()).hexdigest()[:12]
    key = hashlib.sha256(str(dataset).encode()).hexdigest()[:24]
    return cache_folder() / f"{key}-{tag}.npz"


def _extractor(backbone: str, input_size: int | None) -> tuple[Any, int]:
    import keras

    from tl_widgets.core.config.schema import ModelConfig
    from tl_widgets.core.models.assembly import build_model

    assembled = build_model(ModelConfig(backbone=backbone, input_size=input_size), 2)
    model = assembled.model
    size = int(model.input_shape[1])
    return keras.Model(model.inputs, model.get_layer("pool").output, name="embedder"), size


def embed_arrays(images: Any, backbone: str = "demo_cnn", input_size: int | None = None,
                 batch_size: int = 64) -> np.ndarray:
    """Pooled backbone features of ``uint8`` RGB images already resized to the backbone's input."""
    model, _ = _extractor(backbone, input_size)
    x = np.asarray(images)  # converted to float32 one batch at a time (100k images stay uint8 in memory)
    out = [np.asarray(model.predict_on_batch(np.asarray(x[i:i + batch_size], np.float32)), np.float32)
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _decode(path: str, size: int | None) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """``(pixels at size x size or None, quality, None)`` or ``(None, None, reason)``."""
    from PIL import Image

    from tl_widgets.core.data.image_open import ImageRefused, open_image
    from tl_widgets.core.data.images import pil_to_rgb

    need = max(size or 0, THUMB)
    try:
        with open_image(path) as im:
            if im.format == "JPEG":
                im.draft(im.mode, (need, need))  # decode at 1/2..1/8 scale while still >= need
            rgb = pil_to_rgb(im)
    except ImageRefused as exc:
        return None, None, exc.reason
    small = np.asarray(Image.fromarray(rgb).resize((size, size))) if size else None
    return small, quality_stats(rgb), None


def _load(entry: Path) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    if not entry.is_file():
        return {}
    try:
        with np.load(entry, allow_pickle=False) as z:
            digests, emb, quality, failed = z["digests"], z["embeddings"], z["quality"], z["failed"]
    except (OSError, ValueError, KeyError):
        return {}  # a damaged or older cache file: computed again (and rewritten)
    return {str(d): (emb[i], quality[i], str(failed[i])) for i, d in enumerate(digests)}


def image_features(paths: Sequence[str], digests: Sequence[str], *, dataset: str, backbone: str | None = "demo_cnn",
                   input_size: int | None = None, batch_size: int = 64, cache: bool = True) -> ImageFeatures:
    """Embeddings and quality of image files, each decoded at most once (cached per dataset by content).

    Args:
        paths: The image files.
        digests: Their :func:`file_digest`.
        dataset: The dataset folder (names the cache file).
        backbone: A registered backbone, or None for quality only.
        input_size: The backbone's input side (None: its default).
        batch_size: Images per forward pass.
        cache: Read and write the cache.
    """
    t0 = time.perf_counter()
    entry = cached_entry(dataset, backbone, input_size)
    known = _load(entry) if cache else {}
    todo = [i for i, d in enumerate(digests) if d not in known]
    model, size = _extractor(backbone, input_size) if (backbone and todo) else (None, None)
    fresh: dict[int, tuple[np.ndarray, np.ndarray, str]] = {}
    chunks = [todo[s:s + _CHUNK] for s in range(0, len(todo), _CHUNK)]
    if chunks:
        with ThreadPoolExecutor(max_workers=_workers()) as pool:
            pending = pool.map(lambda i: _decode(paths[i], size), chunks[0])
            for c, chunk in enumerate(chunks):
                decoded = list(pending)
                if c + 1 < len(chunks):  # the next chunk decodes while this one runs through the backbone
                    pending = pool.map(lambda i: _decode(paths[i], size), chunks[c + 1])
                _embed_chunk(model, chunk, decoded, batch_size, fresh)
    dim = max((len(v[0]) for v in (*fresh.values(), *known.values())), default=0)
    n = len(paths)
    emb = np.zeros((n, dim), np.float32)
    quality = np.full((n, len(QUALITY_FIELDS)), np.nan, np.float32)
    failed: dict[int, str] = {}
    for i, d in enumerate(digests):
        e, q, reason = fresh[i] if i in fresh else known[d]
        if reason:
            failed[i] = reason
            continue
        if dim and len(e) == dim:
            emb[i] = e
        quality[i] = q
    if cache and todo:
        # Keep the cached rows of files left out this time (a curation's exclusions), at most as many as checked.
        checked = set(digests)
        extra = [d for d in known if d not in checked][:n]
        rows = [known[d] for d in extra]
        _save(entry, [*digests, *extra],
              np.concatenate([emb, np.array([r[0] if len(r[0]) == dim else np.zeros(dim, np.float32) for r in rows],
                                            np.float32).reshape(len(rows), dim)]),
              np.concatenate([quality, np.array([r[1] for r in rows], np.float32).reshape(len(rows), quality.shape[1])]),
              {**failed, **{n + k: r[2] for k, r in enumerate(rows) if r[2]}})
    return ImageFeatures(emb, quality, failed, len(todo), round(time.perf_counter() - t0, 3))


def _embed_chunk(model: Any, chunk: list[int], decoded: list[Any], batch_size: int,
                 out: dict[int, tuple[np.ndarray, np.ndarray, str]]) -> None:
    good = [(i, px, q) for i, (px, q, _r) in zip(chunk, decoded) if q is not None]
    feats: list[np.ndarray] = []
    if model is not None and good:
        for s in range(0, len(good), batch_size):
            batch = np.stack([px for _i, px, _q in good[s:s + batch_size]]).astype(np.float32)
            feats.append(np.asarray(model.predict_on_batch(batch), np.float32))
    emb = np.concatenate(feats) if feats else np.zeros((len(good), 0), np.float32)
    for row, (i, _px, q) in enumerate(good):
        out[i] = (emb[row], q, "")
    nothing = np.zeros(emb.shape[1], np.float32)
    for i, (_px, _q, reason) in zip(chunk, decoded):
        if reason is not None:
            out[i] = (nothing, np.full(len(QUALITY_FIELDS), np.nan, np.float32), reason)


def _save(entry: Path, digests: Sequence[str], emb: np.ndarray, quality: np.ndarray, failed: dict[int, str]) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    reasons = np.array([failed.get(i, "") for i in range(len(digests))])

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, digests=np.array(list(digests)), embeddings=emb, quality=quality, failed=reasons)

    atomic_save(entry, write)
