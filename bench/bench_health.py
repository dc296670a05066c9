"""The health check at scale: one folder checked twice, each in a fresh process (the decode pass, then cached).

The first check decodes every image once (embeddings and image quality in the same pass) and caches the
results under the home; the second finds them by content hash and runs everything else: scan, hashing,
duplicates, leaks, image quality, outliers, label errors. "Beyond the feature pass" is the second check's wall
time. Peak memory is each process's maximum resident set (``ru_maxrss``). Then the recall of the approximate
near-duplicate index against the exact search, on the folder's own embeddings: every pair above the threshold
that involves one of ``--queries`` sampled images, found exactly (those rows against all), and the share of
them the index also finds.

    python bench/make_image_folder.py /tmp/f100k --n 100000
    python bench/bench_health.py /tmp/f100k [--home /tmp/bench-home] [--queries 2000]

The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

_CHILD = """
import json, resource, sys, time
t = time.perf_counter()
from tl_widgets.core.data.health import check_dataset
imported = time.perf_counter() - t
t = time.perf_counter()
report = check_dataset(sys.argv[1])
wall = time.perf_counter() - t
print(json.dumps({"wall_s": round(wall, 2), "import_s": round(imported, 2), "stages": report.seconds,
                  "decoded": report.decoded, "images": report.images,
                  "findings": {f.kind: len(f.files) for f in report.findings},
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def check_in_child(folder: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, folder], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def index_recall(folder: str, queries: int, threshold: float, seed: int = 0) -> dict:
    """Recall of the inverted-file index against the exact search, on the folder's cached embeddings."""
    from tl_widgets.core.data.embeddings import cached_entry
    from tl_widgets.core.data.neighbours import normalise, similar_pairs, standardise

    with np.load(cached_entry(str(os.path.realpath(folder)), "demo_cnn", None)) as z:
        emb = z["embeddings"][z["failed"] == ""]
    x = normalise(standardise(emb))
    n = len(x)
    rng = np.random.default_rng(seed)
    sample = rng.choice(n, min(queries, n), replace=False)
    exact = set()
    for s in range(0, len(sample), 512):
        rows = sample[s:s + 512]
        sims = x[rows] @ x.T
        r, c = np.nonzero(sims >= threshold - 1e-6)
        for i, j in zip(rows[r], c):
            if i != j:
                exact.add((min(int(i), int(j)), max(int(i), int(j))))
    t = time.perf_counter()
    found = {(i, j) for i, j, _s in similar_pairs(standardise(emb), threshold, max_per_item=10**6,
                                                   exact=False)}
    seconds = time.perf_counter() - t
    hit = len(exact & found)
    return {"n": n, "queries": len(sample), "exact_pairs": len(exact), "found": hit,
            "recall": round(hit / len(exact), 4) if exact else None, "index_s": round(seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--home", default=None, help="the home whose cache is used (default: a new temporary one)")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--threshold", type=float, default=0.92)
    args = parser.parse_args()
    home = args.home or tempfile.mkdtemp(prefix="tlw-bench-health-")
    env = dict(os.environ, TL_WIDGETS_HOME=home, PYTHONPATH=os.pathsep.join(
        [os.path.join(os.path.dirname(__file__), ".."), os.environ.get("PYTHONPATH", "")]))
    load = os.getloadavg()
    results = {"cpus": os.cpu_count(), "load_before": [round(v, 2) for v in load]}
    results["first"] = check_in_child(args.folder, env)
    print("first check (decode pass):", json.dumps(results["first"]), flush=True)
    results["second"] = check_in_child(args.folder, env)
    print("second check (cached):", json.dumps(results["second"]), flush=True)
    os.environ["TL_WIDGETS_HOME"] = home
    results["index"] = index_recall(args.folder, args.queries, args.threshold)
    print("index recall:", json.dumps(results["index"]), flush=True)
    results["load_after"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
