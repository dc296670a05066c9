"""Large folders: tl_widgets' load_datasets vs keras.utils.image_dataset_from_directory, side by side.

For each folder size it measures, per arm: set-up (listing + checks, until the
dataset object exists), the first epoch (decode + resize; ours also fills its
cache and checks the files it decodes), a second, cached epoch (Keras decodes
again: it has no cache unless one is added by hand) and the peak resident
memory of the process. Every arm runs in its own subprocess (so peak RSS is the
arm's own; TensorFlow is imported before the clock starts), arms are
interleaved and their order rotates each repeat; medians and spreads are printed.
Folders come from bench/make_image_folder.py (written once into a temporary
folder unless --folder names existing ones). The last line printed is JSON.

    python bench/bench_large_folders.py --quick                 # 2,000 images, 3 repeats per arm process
    python bench/bench_large_folders.py --sizes 10000 100000    # full size (by hand)

Arms: ``keras`` (image_dataset_from_directory, shuffle on), ``ours`` (cache
"memory": memory if it fits the budget, else disk), ``ours_disk`` (cache "disk"),
``ours_nocache`` (cache "none"). Besides wall-clock rates it reports each epoch's
process CPU time per image (all threads): on a shared machine that is the steadier
measure of the work done; wall-clock rates there depend on what else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))

ARMS = ("keras", "ours", "ours_disk", "ours_nocache")
_CACHE = {"ours": "memory", "ours_disk": "disk", "ours_nocache": "none"}


def _drain(ds) -> int:
    n = 0
    for _, y in ds:
        n += int(y.shape[0])
    return n


def run_arm(arm: str, folder: str, image_size: int, batch: int, work: str) -> dict:
    """One arm in this process: returns seconds, images and peak RSS (MB)."""
    import tensorflow as tf  # noqa: F401  (outside the clock for every arm)

    import keras

    from tl_widgets.core.config.schema import DataConfig
    from tl_widgets.core.data.loading import load_datasets

    notes: list[str] = []
    t = time.perf_counter()
    if arm == "keras":
        ds = keras.utils.image_dataset_from_directory(
            folder, image_size=(image_size, image_size), batch_size=batch, seed=0, verbose=False)
    else:
        cfg = DataConfig(source="folder", path=folder, validation_split=0.0, batch_size=batch,
                         cache=_CACHE[arm])
        data = load_datasets(cfg, image_size, seed=0, work_dir=work)
        ds = data.train
        notes = [text for _, text in data.notices]
    setup = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    first = _drain(ds)
    epoch1, epoch1_cpu = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    second = _drain(ds)
    epoch2, epoch2_cpu = time.perf_counter() - t, time.process_time() - c
    skipped = len(data.report.skipped) if arm != "keras" else None
    return {"arm": arm, "setup_s": setup, "epoch1_s": epoch1, "epoch2_s": epoch2, "epoch1_cpu_s": epoch1_cpu,
            "epoch2_cpu_s": epoch2_cpu, "images": first,
            "images_epoch2": second, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "skipped": skipped, "notes": notes}


def _subprocess(arm: str, folder: str, image_size: int, batch: int, inner: int) -> list[dict]:
    """``inner`` repeats of one arm in a fresh process (each with its own work folder)."""
    with tempfile.TemporaryDirectory(prefix="tlw-bench-work-") as work:
        out = subprocess.run(
            [sys.executable, __file__, "--arm", arm, "--folder", folder, "--image-size", str(image_size),
             "--batch", str(batch), "--work", work, "--repeats", str(inner)],
            capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"arm {arm} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def measure(folder: str, n: int, arms: list[str], repeats: int, image_size: int, batch: int,
            inner: int = 1) -> dict:
    """Interleaved repeats of every arm on one folder; per-arm medians and ratios against Keras.

    Each of the ``repeats`` rounds starts one process per arm that measures it ``inner`` times.
    """
    runs: dict[str, list[dict]] = {a: [] for a in arms}
    for r in range(repeats):
        for arm in arms[r % len(arms):] + arms[: r % len(arms)]:
            for res in _subprocess(arm, folder, image_size, batch, inner):
                runs[arm].append(res)
                print(f"  n={n} round {r + 1} {arm}: set-up {res['setup_s']:.2f} s, epoch 1 {res['epoch1_s']:.2f} s,"
                      f" epoch 2 {res['epoch2_s']:.2f} s, {res['images']} images, peak RSS "
                      f"{res['peak_rss_mb']:.0f} MB", flush=True)
    out: dict = {"images": n, "repeats": repeats * inner}
    for arm, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs)
               for k in ("setup_s", "epoch1_s", "epoch2_s", "epoch1_cpu_s", "epoch2_cpu_s", "peak_rss_mb")}
        out[arm] = {
            "setup_s": round(med["setup_s"], 3),
            "first_epoch_ips": round(rs[0]["images"] / med["epoch1_s"], 1),
            "first_epoch_with_setup_ips": round(rs[0]["images"] / (med["epoch1_s"] + med["setup_s"]), 1),
            "cached_epoch_ips": round(rs[0]["images_epoch2"] / med["epoch2_s"], 1),
            "first_epoch_cpu_ms_per_image": round(1000 * med["epoch1_cpu_s"] / rs[0]["images"], 4),
            "cached_epoch_cpu_ms_per_image": round(1000 * med["epoch2_cpu_s"] / rs[0]["images_epoch2"], 4),
            "peak_rss_mb": round(med["peak_rss_mb"]),
            "spread": {k: _spread([r[k] for r in rs]) for k in ("setup_s", "epoch1_s", "epoch2_s", "epoch1_cpu_s")},
            "images": rs[0]["images"], "skipped": rs[0]["skipped"], "notes": rs[0]["notes"],
        }
    if "keras" in out:
        k = out["keras"]
        for arm in (a for a in arms if a != "keras"):
            o = out[arm]
            out[f"{arm}_over_keras"] = {
                "first_epoch": round(o["first_epoch_ips"] / k["first_epoch_ips"], 2),
                "first_epoch_with_setup": round(o["first_epoch_with_setup_ips"] / k["first_epoch_with_setup_ips"], 2),
                "cached_epoch": round(o["cached_epoch_ips"] / k["cached_epoch_ips"], 2),
                "first_epoch_by_cpu_time": round(k["first_epoch_cpu_ms_per_image"] / o["first_epoch_cpu_ms_per_image"], 2),
                "setup_time": round(o["setup_s"] / k["setup_s"], 2),
                "peak_rss": round(o["peak_rss_mb"] / k["peak_rss_mb"], 2),
            }
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2,000 images; each arm's repeats in one process (CI size)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="folder sizes (default 10000 100000)")
    parser.add_argument("--folder", nargs="+", default=None, help="existing folders, one per size (else generated)")
    parser.add_argument("--arms", default="keras,ours", help=f"comma-separated, from {','.join(ARMS)}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arm:  # the child process: one arm, --repeats times
        print(json.dumps([run_arm(args.arm, args.folder[0], args.image_size, args.batch, str(Path(args.work) / str(i)))
                          for i in range(args.repeats)]))
        return {}
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    bad = [a for a in arms if a not in ARMS]
    if bad:
        parser.error(f"expected arms from {ARMS}; received {bad}")
    sizes = args.sizes or ([2000] if args.quick else [10000, 100000])
    if args.folder and len(args.folder) != len(sizes):
        parser.error("expected one --folder per size")
    results = {}
    with tempfile.TemporaryDirectory(prefix="tlw-bench-folders-") as tmp:
        for k, n in enumerate(sizes):
            folder = args.folder[k] if args.folder else str(Path(tmp) / f"images_{n}")
            if not args.folder:
                import make_image_folder

                made = make_image_folder.write_folder(folder, n)
                print(f"wrote {n} JPEGs ({made['mean_kb']} KB each on average) in {made['seconds']} s", flush=True)
            # --quick: one process per arm measuring it 3 times (TensorFlow's import paid once per arm)
            outer, inner = (1, args.repeats) if args.quick else (args.repeats, 1)
            results[str(n)] = measure(folder, n, arms, outer, args.image_size, args.batch, inner)
            print(f"n={n}:", json.dumps(results[str(n)]), flush=True)
    summary = {f"{n}_{arm}_{k}": v for n, r in results.items() for arm, ratios in r.items()
               if arm.endswith("_over_keras") for k, v in ratios.items()}
    print(json.dumps(summary))
    return results


if __name__ == "__main__":
    main()
