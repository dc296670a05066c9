"""Image embeddings from a backbone, and the pairs of images that look alike (cosine similarity).

:func:`embed_files` runs a backbone (the bundled demo CNN by default) up to
its global pooling over image files and caches the vectors on disk under
``$TL_WIDGETS_HOME/feature_cache/embeddings`` keyed by the backbone and every
file's content hash, so a second check of the same folder costs only the
hashing. :func:`similar_pairs` finds every pair above a cosine threshold
with an exact, blocked matrix product in numpy over the upper triangle only
(each pair once), thresholded before ranking: faster than scikit-learn's brute
``NearestNeighbors`` and ball tree and than faiss's exact flat index at 10k and
100k vectors on two cores, and about as fast as faiss's approximate HNSW
index at 100k (``bench/bench_neighbours.py``, figures in docs/PERFORMANCE.md);
exact (a missed leak is worse than a slow check) and with no extra
dependency. The work is n²/2: about a second at 10k, about a minute at 100k
on two cores.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.fileio import atomic_save
from tl_widgets.core.settings import home_path

__all__ = ["file_digest", "embed_files", "embed_arrays", "similar_pairs", "normalise", "standardise", "cache_folder"]

_BLOCK = 2048


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (exact duplicates share it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    x = np.asarray(x, np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def standardise(x: np.ndarray) -> np.ndarray:
    """Each dimension centred on the dataset's mean and scaled by its spread.

    Pooled ReLU features are all positive, so raw cosine similarities crowd
    near 1 for any two images of a domain; standardising first spreads them
    (measured on the test dataset: near duplicates >= 0.94, other pairs
    <= 0.83, against 0.99 and 0.99 raw).
    """
    x = np.asarray(x, np.float32)
    if len(x) < 2:
        return x
    return (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)


def similar_pairs(emb: np.ndarray, threshold: float, *, max_per_item: int = 10,
                  block: int = _BLOCK) -> list[tuple[int, int, float]]:
    """Every pair ``(i, j, similarity)`` with ``i < j`` and cosine similarity >= ``threshold``.

    At most ``max_per_item`` partners are kept per item among the items after
    it (the most similar), so a folder of thousands of identical images cannot
    blow up the result. Only the upper triangle of the similarity matrix is
    computed (each pair once).

    Args:
        emb: ``[N, D]`` vectors (any scale: they are normalised here).
        threshold: Cosine similarity in ``(-1, 1]``.
        max_per_item: Partners kept per item.
        block: Rows per matrix-product block (bounds memory to ``block * N`` floats).
    """
    if not -1.0 < threshold <= 1.0:
        raise ValueError(f"Expected a cosine threshold in (-1, 1]. Received: {threshold!r}")
    x = normalise(emb)
    n = len(x)
    found: dict[tuple[int, int], float] = {}
    k = max(1, int(max_per_item))
    for start in range(0, n, block):
        stop = min(n, start + block)
        # Upper triangle only: row i meets columns j >= start (pairs with earlier rows were found there).
        sims = x[start:stop] @ x[start:].T
        # Pairs above the threshold are rare: find them with one comparison, then keep each row's k best.
        r_idx, c_idx = np.nonzero(sims >= threshold - 1e-6)
        later = c_idx > r_idx  # not oneself, nor pairs already seen from the earlier row
        r_idx, c_idx = r_idx[later], c_idx[later]
        if not len(r_idx):
            continue
        vals = sims[r_idx, c_idx]
        order = np.lexsort((-vals, r_idx))
        r_idx, c_idx, vals = r_idx[order], c_idx[order], vals[order]
        first = np.searchsorted(r_idx, r_idx, side="left")
        keep = (np.arange(len(r_idx)) - first) < k
        for r, c, v in zip(r_idx[keep], c_idx[keep], vals[keep]):
            i, j = start + int(r), start + int(c)
            found[(min(i, j), max(i, j))] = float(v)
    return sorted(((i, j, s) for (i, j), s in found.items()), key=lambda t: (-t[2], t[0], t[1]))


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


def embed_files(paths: Sequence[str | os.PathLike[str]], digests: Sequence[str] | None = None, *,
                backbone: str = "demo_cnn", input_size: int | None = None, batch_size: int = 64,
                cache: bool = True) -> np.ndarray:
    """Pooled backbone features ``[N, D]`` of image files (cached on disk by content).

    Args:
        paths: Image files (readable: check them first).
        digests: Their :func:`file_digest` (computed when None).
        backbone: A registered backbone (``"demo_cnn"`` runs offline in seconds).
        input_size: Its input side (None: the backbone's default).
        batch_size: Images per forward pass.
        cache: Read and write the on-disk cache.
    """
    from tl_widgets.core.data.images import load_rgb

    digests = list(digests) if digests is not None else [file_digest(p) for p in paths]
    key = hashlib.sha256(f"{backbone}|{input_size}|v1|".encode() + "\n".join(digests).encode()).hexdigest()[:32]
    file = cache_folder() / f"{key}.npy"
    if cache and file.is_file():
        return np.load(file)
    model, size = _extractor(backbone, input_size)
    from PIL import Image

    feats = []
    for start in range(0, len(paths), batch_size):
        batch = [np.asarray(Image.fromarray(load_rgb(p)).resize((size, size)), np.float32)
                 for p in paths[start:start + batch_size]]
        feats.append(np.asarray(model.predict_on_batch(np.stack(batch)), np.float32))
    emb = np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)
    if cache:
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(file, lambda tmp: np.save(tmp, emb))
    return emb


def cache_folder() -> Path:
    """Where embeddings are cached."""
    return home_path("embeddings")
