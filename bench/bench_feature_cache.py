"""Memory of the feature cache: features held in memory vs streamed to a memory-mapped file on disk.

Each arm runs in its own fresh subprocess, so its peak is its own:

* ``memory``: the batches collected in a list and concatenated (what the cache did before);
* ``disk``: :class:`~tl_widgets.core.training.feature_store.FeatureWriter` streams the batches into
  memory-mapped ``.npy`` files, publishes them, then one epoch of
  :class:`~tl_widgets.core.training.feature_store.FeatureBatches` reads every batch back, shuffled
  (what the head trains on).

Features are synthetic (the backbone's cost is not what is measured). Reported per arm: peak resident
memory (``VmHWM``, which counts the file pages mapped at the time: reclaimable page cache) and peak
anonymous memory (``RssAnon``, sampled after every batch: what cannot be given back without swap).

Usage: ``python bench/bench_feature_cache.py [--rows 100000] [--dim 1280] [--batch 64]``;
``--quick``: 5,000 rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _status() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0])  # kB
    return out


def _batches(rows: int, dim: int, batch: int):
    rng = np.random.default_rng(0)
    for lo in range(0, rows, batch):
        n = min(batch, rows - lo)
        yield rng.standard_normal((n, dim), dtype="float32"), rng.integers(0, 10, n)


def _arm(mode: str, rows: int, dim: int, batch: int, folder: str) -> dict:
    """Runs one arm in this process; returns its memory and time."""
    import keras  # noqa: F401  (loaded before the baseline: the engine has it loaded when it trains)

    from tl_widgets.core.training.feature_store import FeatureBatches, FeatureWriter, open_entry

    base = _status()
    peak_anon = base["RssAnon"]
    t = time.perf_counter()

    def sample(it):
        nonlocal peak_anon
        for item in it:
            yield item
            peak_anon = max(peak_anon, _status()["RssAnon"])

    if mode == "memory":
        feats, labels = [], []
        for f, y in sample(_batches(rows, dim, batch)):
            feats.append(f)
            labels.append(y)
        x, y = np.concatenate(feats), np.concatenate(labels)
        peak_anon = max(peak_anon, _status()["RssAnon"])  # the list and the joined copy, both alive
        del feats, labels
    else:
        writer = FeatureWriter(Path(folder) / "entry")
        writer.write_split("train", sample(_batches(rows, dim, batch)), rows=rows)
        writer.publish()
        x, y = open_entry(Path(folder) / "entry")["train"]
    written = time.perf_counter() - t
    seq = FeatureBatches(x, y, batch, shuffle=True, seed=0)
    checksum = 0.0
    for i in sample(range(len(seq))):
        xb, _ = seq[i]
        checksum += float(xb[0, 0])
    peak_anon = max(peak_anon, _status()["RssAnon"])
    end = _status()
    return {"mode": mode, "rows": rows, "dim": dim, "feature_mb": rows * dim * 4 / 2**20,
            "baseline_rss_mb": base["VmRSS"] / 1024, "peak_rss_mb": end["VmHWM"] / 1024,
            "peak_anon_mb": peak_anon / 1024, "anon_growth_mb": (peak_anon - base["RssAnon"]) / 1024,
            "write_s": written, "epoch_read_s": time.perf_counter() - t - written, "checksum": checksum}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=None, help="feature rows (default 100,000; --quick 5,000)")
    p.add_argument("--dim", type=int, default=1280, help="features per row (MobileNetV2 pools to 1,280)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--arm", choices=("memory", "disk"), help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    rows = a.rows or (5_000 if a.quick else 100_000)
    if a.arm:
        print(json.dumps(_arm(a.arm, rows, a.dim, a.batch, a.folder)))
        return {}
    res = {}
    for arm in ("memory", "disk"):
        with tempfile.TemporaryDirectory(prefix="tlw-feature-bench-") as d:
            out = subprocess.run([sys.executable, __file__, "--arm", arm, "--folder", d, "--rows", str(rows),
                                  "--dim", str(a.dim), "--batch", str(a.batch)],
                                 capture_output=True, text=True, check=True)
            res[arm] = json.loads(out.stdout.strip().splitlines()[-1])
    m, d = res["memory"], res["disk"]
    if abs(m["checksum"] - d["checksum"]) > 1e-3 * max(1.0, abs(m["checksum"])):
        raise RuntimeError(f"Expected the same batches from both arms. Received checksums {m['checksum']} "
                           f"and {d['checksum']}")
    print(f"{rows} x {a.dim} float32 features = {m['feature_mb']:.0f} MB")
    print(f"{'arm':<8}{'peak RSS MB':>13}{'peak anon MB':>14}{'anon growth MB':>16}{'write s':>9}{'epoch s':>9}")
    for r in (m, d):
        print(f"{r['mode']:<8}{r['peak_rss_mb']:>13.0f}{r['peak_anon_mb']:>14.0f}{r['anon_growth_mb']:>16.0f}"
              f"{r['write_s']:>9.2f}{r['epoch_read_s']:>9.2f}")
    result = {"rows": rows, "feature_mb": m["feature_mb"], "memory_anon_growth_mb": m["anon_growth_mb"],
              "disk_anon_growth_mb": d["anon_growth_mb"], "memory_peak_rss_mb": m["peak_rss_mb"],
              "disk_peak_rss_mb": d["peak_rss_mb"]}
    print(json.dumps(result))
    return result

if __name__ == "__main__":
    main()
