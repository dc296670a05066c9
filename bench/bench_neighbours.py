"""Health-check costs, side by side: backbone embeddings and near-duplicate search at 10k and 100k images.

(a) Embeddings: the demo backbone (``demo_cnn`` at 48 px, what ``tl-widgets data check`` uses by default)
    over synthetic images already in memory (file decoding excluded; see bench_pipeline.py for that).
(b) Neighbour search over synthetic 128-d vectors (the demo backbone's width) with planted near
    duplicates: every pair above a cosine threshold, three ways:
      numpy    - tl_widgets.core.data.neighbours.similar_pairs(exact=True): exact, blocked upper-triangle matrix
                 product, thresholded before ranking;
      ivf      - similar_pairs(exact=False): the inverted-file index the health check uses above 20k vectors;
      sk-brute - scikit-learn NearestNeighbors(metric="cosine", algorithm="brute").kneighbors, k=11;
      sk-ball  - scikit-learn BallTree on unit vectors (Euclidean), query_radius (10k only: it does not
                 scale in 128 dimensions).
    At 100k the scikit-learn methods run only with --sklearn-100k (many minutes on 2 shared cores).
    With --faiss (needs ``pip install faiss-cpu``; not a dependency of the project), also:
      faiss-flat - faiss IndexFlatIP.range_search on unit vectors: exact;
      faiss-hnsw - faiss IndexHNSWFlat (M=32, efConstruction=80, efSearch=64), k=11: approximate.
    Recall of the planted pairs is printed for each, so a fast wrong answer cannot win.

The last line printed is JSON with the timings and named ratios.

Embeddings at 100k are timed on 10k images and scaled x10 (printed as an extrapolation) unless --embed-100k.

Usage: python bench/bench_neighbours.py [--quick] [--sklearn-100k] [--embed-100k] [--faiss]   (--quick: 10k only)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def vectors(n: int, dim: int = 128, planted: int = 500, seed: int = 0) -> tuple[np.ndarray, set[tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    src = rng.choice(n - planted, planted, replace=False)
    dst = np.arange(n - planted, n)
    x[dst] = x[src] + 0.05 * rng.standard_normal((planted, dim)).astype(np.float32)
    return x, {(int(min(a, b)), int(max(a, b))) for a, b in zip(src, dst)}


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def recall(found: set[tuple[int, int]], planted: set[tuple[int, int]]) -> float:
    return len(found & planted) / len(planted)


def faiss_search(x: np.ndarray, planted: set[tuple[int, int]], threshold: float, out: dict) -> None:
    import faiss

    from tl_widgets.core.data.neighbours import normalise

    n, u = len(x), normalise(x)

    def flat():
        index = faiss.IndexFlatIP(u.shape[1])
        index.add(u)
        lims, _, idx = index.range_search(u, threshold)
        return {(min(i, int(j)), max(i, int(j))) for i in range(n) for j in idx[lims[i]:lims[i + 1]] if j != i}

    def hnsw():
        index = faiss.IndexHNSWFlat(u.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.add(u)
        index.hnsw.efSearch = 64
        sims, idx = index.search(u, 11)
        return {(min(i, int(j)), max(i, int(j))) for i in range(n) for s, j in zip(sims[i], idx[i])
                if j != i and j >= 0 and s >= threshold}

    found, out["faiss_flat_s"] = timed(flat)
    out["faiss_flat_recall"] = recall(found, planted)
    found, out["faiss_hnsw_s"] = timed(hnsw)
    out["faiss_hnsw_recall"] = recall(found, planted)


def search(n: int, threshold: float = 0.95, sklearn: bool = True, with_faiss: bool = False) -> dict:
    from sklearn.neighbors import BallTree, NearestNeighbors

    from tl_widgets.core.data.neighbours import normalise, similar_pairs

    x, planted = vectors(n)
    out: dict = {"n": n}
    pairs, out["numpy_s"] = timed(lambda: similar_pairs(x, threshold, exact=True))
    out["numpy_recall"] = recall({(i, j) for i, j, _ in pairs}, planted)
    pairs, out["ivf_s"] = timed(lambda: similar_pairs(x, threshold, exact=False))
    out["ivf_recall"] = recall({(i, j) for i, j, _ in pairs}, planted)
    if with_faiss:
        faiss_search(x, planted, threshold, out)

    def sk_brute():
        nn = NearestNeighbors(n_neighbors=11, metric="cosine", algorithm="brute", n_jobs=-1).fit(x)
        dist, idx = nn.kneighbors(x)
        return {(min(i, int(j)), max(i, int(j))) for i in range(n) for d, j in zip(dist[i], idx[i])
                if j != i and 1 - d >= threshold}

    if not sklearn:
        return out
    found, out["sk_brute_s"] = timed(sk_brute)
    out["sk_brute_recall"] = recall(found, planted)
    if n <= 20_000:
        u = normalise(x)
        radius = float(np.sqrt(2 - 2 * threshold))

        def ball():
            tree = BallTree(u)
            idx = tree.query_radius(u, r=radius)
            return {(min(i, int(j)), max(i, int(j))) for i in range(n) for j in idx[i] if j != i}

        found, out["sk_ball_s"] = timed(ball)
        out["sk_ball_recall"] = recall(found, planted)
    return out


def embed(n: int) -> dict:
    from tl_widgets.core.data.embeddings import embed_arrays

    rng = np.random.default_rng(1)
    embed_arrays(rng.integers(0, 255, (64, 48, 48, 3), dtype=np.uint8))  # build + warm up
    imgs = rng.integers(0, 255, (n, 48, 48, 3), dtype=np.uint8)
    _, seconds = timed(lambda: embed_arrays(imgs, batch_size=256))
    return {"n": n, "embed_s": seconds, "images_per_s": n / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k only")
    parser.add_argument("--sklearn-100k", action="store_true", help="also time scikit-learn at 100k")
    parser.add_argument("--embed-100k", action="store_true", help="embed 100k images instead of scaling 10k")
    parser.add_argument("--faiss", action="store_true", help="also time faiss (flat exact and HNSW)")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    results = {"cpus": os.cpu_count(), "search": [], "embed": []}
    for n in sizes:
        r = search(n, sklearn=n <= 10_000 or args.sklearn_100k, with_faiss=args.faiss)
        results["search"].append(r)
        line = (f"search n={n:>7}: numpy {r['numpy_s']:.2f}s (recall {r['numpy_recall']:.3f})  "
                f"ivf {r['ivf_s']:.2f}s (recall {r['ivf_recall']:.3f})")
        if "sk_brute_s" in r:
            r["ratio_sk_brute_over_numpy"] = r["sk_brute_s"] / r["numpy_s"]
            line += f"  sklearn brute {r['sk_brute_s']:.2f}s (recall {r['sk_brute_recall']:.3f})"
        if "sk_ball_s" in r:
            r["ratio_sk_ball_over_numpy"] = r["sk_ball_s"] / r["numpy_s"]
            line += f"  sklearn BallTree {r['sk_ball_s']:.2f}s (recall {r['sk_ball_recall']:.3f})"
        for key in ("faiss_flat", "faiss_hnsw"):
            if f"{key}_s" in r:
                r[f"ratio_{key}_over_numpy"] = r[f"{key}_s"] / r["numpy_s"]
                line += f"  {key} {r[f'{key}_s']:.2f}s (recall {r[f'{key}_recall']:.3f})"
        print(line, flush=True)
    e = embed(100_000 if args.embed_100k else 10_000)
    results["embed"].append(e)
    print(f"embed  n={e['n']:>7}: {e['embed_s']:.1f}s ({e['images_per_s']:.0f} images/s, demo_cnn 48px)", flush=True)
    if not args.quick and not args.embed_100k:
        results["embed_100k_extrapolated_s"] = 100_000 / e["images_per_s"]
        print(f"embed  n= 100000: ~{results['embed_100k_extrapolated_s']:.0f}s (extrapolated from 10k)", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
