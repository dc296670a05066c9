"""Neighbours in embedding space: the pairs of images that look alike, and how far each image is from the rest.

:func:`similar_pairs` finds every pair above a cosine threshold. Up to
:data:`EXACT_MAX` vectors it is exact: a blocked matrix product in numpy over
the upper triangle only (each pair once), thresholded before ranking (the
work is n²/2: ~0.4 s at 10k, ~40 s at 100k on two cores). Above that it
searches an inverted-file index built here in numpy (the IVF scheme of
faiss's ``IndexIVFFlat``): a spherical k-means of about ``2·sqrt(n)``
centroids on a sample; every vector is filed under its nearest centroid's
list and searched, exactly, in the lists of its :data:`PROBES` nearest
centroids. Two images only meet when one lies in a list the other searches,
so the search is approximate: its recall of the exact pairs is measured in
``bench/bench_health.py`` (figures in docs/PERFORMANCE.md) and checked in the
tests. No index library is needed:
at 100k x 128 it takes seconds.

:func:`knn_distance` scores how far each image is from its ``k`` nearest
neighbours (mean Euclidean distance), against every image up to
:data:`REFERENCE` images and against a seeded sample of that many above
(one blocked pass: ``n x REFERENCE`` products, bounded memory). cleanlab's
``OutOfDistribution`` scores a mean neighbour distance too but searches every pair
with scikit-learn (n² at 100k); the sample keeps it to seconds, and a small
group of strange images stays strange because few of them fall in the sample.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["similar_pairs", "knn_distance", "normalise", "standardise", "EXACT_MAX", "PROBES", "REFERENCE"]

_BLOCK = 2048
EXACT_MAX = 20_000
"""Up to this many vectors the pair search is exact."""
PROBES = 8
"""Lists each vector is searched in by the approximate search (it is filed under its nearest one)."""
REFERENCE = 2_500
"""Images the k-nearest-neighbour distance is measured against (all of them up to this many)."""


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


def _pairs_among(x: np.ndarray, ids: np.ndarray, threshold: float, k: int,
                 found: dict[tuple[int, int], float], block: int = _BLOCK) -> None:
    """Adds to ``found`` the pairs of rows of unit vectors ``x`` (global ids ``ids``) above ``threshold``: each
    row keeps its ``k`` most similar partners among the rows after it."""
    n = len(x)
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
            i, j = int(ids[start + r]), int(ids[start + c])
            key = (min(i, j), max(i, j))
            found[key] = max(found.get(key, -1.0), float(v))


def _pairs_between(x: np.ndarray, queries: np.ndarray, ids: np.ndarray, threshold: float, k: int,
                   found: dict[tuple[int, int], float], block: int = _BLOCK) -> None:
    """Adds to ``found`` the pairs of a query row and a list member above ``threshold`` (each query row keeps its
    ``k`` most similar members)."""
    members = x[ids]
    for start in range(0, len(queries), block):
        q = queries[start:start + block]
        sims = x[q] @ members.T
        r_idx, c_idx = np.nonzero(sims >= threshold - 1e-6)
        other = q[r_idx] != ids[c_idx]
        r_idx, c_idx = r_idx[other], c_idx[other]
        if not len(r_idx):
            continue
        vals = sims[r_idx, c_idx]
        order = np.lexsort((-vals, r_idx))
        r_idx, c_idx, vals = r_idx[order], c_idx[order], vals[order]
        keep = (np.arange(len(r_idx)) - np.searchsorted(r_idx, r_idx, side="left")) < k
        for i, j, v in zip(q[r_idx[keep]], ids[c_idx[keep]], vals[keep]):
            key = (int(min(i, j)), int(max(i, j)))
            found[key] = max(found.get(key, -1.0), float(v))


def _kmeans(x: np.ndarray, n_lists: int, seed: int, iterations: int = 8) -> np.ndarray:
    """Spherical k-means centroids (unit rows) of unit vectors ``x``, trained on a sample of at most 64 per list."""
    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), min(len(x), 64 * n_lists), replace=False)]
    cent = sample[rng.choice(len(sample), n_lists, replace=False)].copy()
    for _ in range(iterations):
        assign = np.argmax(sample @ cent.T, axis=1)
        sums = np.zeros_like(cent)
        np.add.at(sums, assign, sample)
        empty = np.bincount(assign, minlength=n_lists) == 0
        sums[empty] = sample[rng.choice(len(sample), int(empty.sum()))]  # restart empty lists on random points
        cent = normalise(sums)
    return cent


def _nearest_lists(x: np.ndarray, cent: np.ndarray, probes: int, block: int = 8192) -> np.ndarray:
    out = np.empty((len(x), probes), np.int64)
    for s in range(0, len(x), block):
        sims = x[s:s + block] @ cent.T
        out[s:s + block] = np.argpartition(-sims, probes - 1, axis=1)[:, :probes]
    return out


def similar_pairs(emb: np.ndarray, threshold: float, *, max_per_item: int = 10, exact: bool | None = None,
                  probes: int = PROBES, seed: int = 0, block: int = _BLOCK) -> list[tuple[int, int, float]]:
    """Every pair ``(i, j, similarity)`` with ``i < j`` and cosine similarity >= ``threshold``.

    At most ``max_per_item`` partners are kept per item among the items after
    it (the most similar), so a folder of thousands of identical images cannot
    blow up the result.

    Args:
        emb: ``[N, D]`` vectors (any scale: they are normalised here).
        threshold: Cosine similarity in ``(-1, 1]``.
        max_per_item: Partners kept per item.
        exact: True: the exact search; False: the inverted-file index; None: exact up to :data:`EXACT_MAX`.
        probes: Lists each vector is searched in (the index only).
        seed: The index's k-means seed.
        block: Rows per matrix-product block (bounds memory to ``block * N`` floats).

    Raises:
        ValueError: ``threshold`` is outside ``(-1, 1]``.
    """
    if not -1.0 < threshold <= 1.0:
        raise ValueError(f"Expected a cosine threshold in (-1, 1]. Received: {threshold!r}")
    x = normalise(emb)
    n = len(x)
    found: dict[tuple[int, int], float] = {}
    k = max(1, int(max_per_item))
    if exact or (exact is None and n <= EXACT_MAX) or n < 64:
        _pairs_among(x, np.arange(n), threshold, k, found, block)
    else:
        n_lists = max(2, int(2 * math.sqrt(n)))
        near = _nearest_lists(x, _kmeans(x, n_lists, seed), max(1, min(int(probes), n_lists)))
        home = near[:, 0]  # each vector is filed under its nearest list, and searched from its `probes` nearest
        members = np.argsort(home, kind="stable")
        bounds = np.searchsorted(home[members], np.arange(n_lists + 1))
        flat = np.argsort(near.ravel(), kind="stable")
        qbounds = np.searchsorted(near.ravel()[flat], np.arange(n_lists + 1))
        for c in range(n_lists):
            ids = members[bounds[c]:bounds[c + 1]]
            queries = flat[qbounds[c]:qbounds[c + 1]] // near.shape[1]
            if len(ids) and len(queries):
                _pairs_between(x, queries, ids, threshold, k, found, block)
    return sorted(((i, j, s) for (i, j), s in found.items()), key=lambda t: (-t[2], t[0], t[1]))


def knn_distance(emb: np.ndarray, k: int = 10, *, reference: int = REFERENCE, seed: int = 0,
                 block: int = 4096) -> np.ndarray:
    """Mean Euclidean distance of each vector to its ``k`` nearest others (among a sample of ``reference``).

    Euclidean, not cosine: an image of another kind often shows as unusual activation strength, which
    normalising would hide (measured on the tests' injected images: ranked 0-8 of 264 by Euclidean distance on
    standardised embeddings, 2-138 by cosine).

    Args:
        emb: ``[N, D]`` vectors (standardise them first).
        k: Neighbours averaged.
        reference: Vectors compared against (every one when N is at most this).
        seed: The sample's seed.
        block: Rows per product (memory: ``block x reference`` floats).

    Returns:
        ``[N]`` distances (NaN with fewer than 2 vectors).
    """
    x = np.asarray(emb, np.float32)
    n = len(x)
    if n < 2:
        return np.full(n, np.nan, np.float32)
    ref_ids = np.arange(n) if n <= reference else np.sort(np.random.default_rng(seed).choice(n, reference, False))
    ref = x[ref_ids]
    ref_sq = (ref * ref).sum(axis=1)
    kk = max(1, min(int(k), len(ref_ids) - 1))
    position = np.full(n, -1, np.int64)
    position[ref_ids] = np.arange(len(ref_ids))
    out = np.empty(n, np.float32)
    for s in range(0, n, block):
        rows_x = x[s:s + block]
        d2 = (rows_x * rows_x).sum(axis=1)[:, None] + ref_sq[None, :] - 2.0 * (rows_x @ ref.T)
        rows = np.arange(len(d2))
        me = position[s:s + block]
        d2[rows[me >= 0], me[me >= 0]] = np.inf  # never one's own neighbour
        near = np.partition(d2, kk - 1, axis=1)[:, :kk]
        out[s:s + block] = np.sqrt(np.maximum(near, 0.0)).mean(axis=1)
    return out
