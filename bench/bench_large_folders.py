"""Large folders and camera photos: tl_widgets.image_dataset vs keras.utils.image_dataset_from_directory vs the
decode limit, side by side.

For each folder it measures, per arm: set-up (until the dataset object exists), the first epoch (decode +
resize; ours also checks what it decodes and, with a cache, fills it), a second epoch (Keras and ``ours``
decode again; the cache arms read their cache) and the peak resident memory of the process. Every arm runs
in its own subprocess (peak RSS is the arm's own; TensorFlow is imported before the clock starts), arms are
interleaved and their order rotates each round; medians and spreads are printed, with the load average
around each arm (the machine may be shared). Besides wall-clock rates it reports each epoch's process CPU
time per image (all threads): on a shared machine that is the steadier measure of the work done.

Arms:

* ``keras``: ``keras.utils.image_dataset_from_directory`` (shuffle on, seed 0).
* ``ours``: ``tl_widgets.image_dataset`` with the same arguments (no cache, as Keras; bad files skipped).
* ``ours_memory`` / ``ours_disk``: the same with ``cache="memory"`` (memory if it fits the budget) / ``"disk"``.
* ``decode_limit``: the same files decoded with Pillow (libjpeg-turbo) at the reduced-decode ratio ours
  chooses for each file (``Image.draft``), nothing else, in a tight loop on every core (one process per core);
  CPU time is the workers' sum. No pipeline can decode these files faster than this.
* ``data_report``: the Studio's Data step report of the folder (``folder_preview``: the header-only scan plus
  one sample thumbnail per class); set-up time only.

Folders come from bench/make_image_folder.py (written once into a temporary folder unless --folder names
existing ones). The last line printed is JSON.

    python bench/bench_large_folders.py --quick                              # 2,000 small images (CI size)
    python bench/bench_large_folders.py --sizes 10000 100000                 # small images at 96 px (by hand)
    python bench/bench_large_folders.py --photos 240 --image-size 224        # camera photos (by hand)
    python bench/bench_large_folders.py --sizes 100000 --epochs 0 --arms keras,ours,data_report   # set-up only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))

ARMS = ("keras", "ours", "ours_memory", "ours_disk", "decode_limit", "data_report")
_CACHE = {"ours": None, "ours_memory": "memory", "ours_disk": "disk"}


def _drain(ds) -> int:
    n = 0
    for _, y in ds:
        n += int(y.shape[0])
    return n


def _decode_share(job: tuple[list[str], list[int]]) -> tuple[float, int]:
    """One worker of the decode limit: decodes its files at their ratios; returns (CPU seconds, images)."""
    from tl_widgets.core.data.image_open import open_image

    paths, ratios = job
    t = time.process_time()
    for path, ratio in zip(paths, ratios):
        with open_image(path) as im:
            if ratio > 1:
                im.draft("RGB", (-(-im.width // ratio), -(-im.height // ratio)))
            im.load()
    return time.process_time() - t, len(paths)


def _decode_limit(folder: str, image_size: int) -> dict:
    """The decode-limit arm: the files image_dataset lists, each at the ratio it chooses, on every core."""
    from concurrent.futures import ProcessPoolExecutor

    import numpy as np

    from tl_widgets.core.data.decoding import jpeg_ratios
    from tl_widgets.core.data.image_dataset import list_image_files
    from tl_widgets.core.data.images import DEFAULT_MAX_PIXELS, ImageInfo
    from tl_widgets.core.data.scanning import check_files

    t = time.perf_counter()
    paths, _labels, _names = list_image_files(folder)
    infos = [i for i in check_files(paths, DEFAULT_MAX_PIXELS, deep=False) if isinstance(i, ImageInfo)]
    ratios = jpeg_ratios([i.width for i in infos], [i.height for i in infos],
                         [i.format == "JPEG" and not i.convert for i in infos], image_size)
    setup = time.perf_counter() - t
    workers = os.cpu_count() or 1
    jobs = [([i.path for i in infos[k::workers]], [int(r) for r in ratios[k::workers]]) for k in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_decode_share, [([], [])] * workers))  # start the workers outside the clock
        t = time.perf_counter()
        done = list(pool.map(_decode_share, jobs))
        wall = time.perf_counter() - t
    groups = {int(r): int(c) for r, c in zip(*np.unique(ratios, return_counts=True))}
    return {"setup_s": setup, "epoch1_s": wall, "epoch1_cpu_s": sum(c for c, _ in done),
            "images": sum(n for _, n in done), "ratios": groups}


def run_arm(arm: str, folder: str, image_size: int, batch: int, work: str, epochs: int = 2) -> dict:
    """One arm in this process (``epochs`` 0: set-up only): seconds, CPU seconds, images and peak RSS (MB)."""
    import tensorflow as tf  # noqa: F401  (outside the clock for every arm)

    import keras

    import tl_widgets

    load = os.getloadavg()[0]
    out: dict = {"arm": arm, "epoch1_s": None, "epoch1_cpu_s": None, "epoch2_s": None, "epoch2_cpu_s": None,
                 "images_epoch2": None, "skipped": None, "notes": []}
    if arm == "decode_limit":
        out.update(_decode_limit(folder, image_size))
    elif arm == "data_report":
        from tl_widgets.core.data.preview import folder_preview

        t = time.perf_counter()
        preview = folder_preview(folder)
        out.update(setup_s=time.perf_counter() - t, epoch1_s=None, epoch1_cpu_s=None,
                   images=sum(preview.report["counts"].values()), skipped=len(preview.report["skipped"]))
    else:
        t = time.perf_counter()
        if arm == "keras":
            ds = keras.utils.image_dataset_from_directory(
                folder, image_size=(image_size, image_size), batch_size=batch, seed=0, verbose=False)
        else:
            ds = tl_widgets.image_dataset(folder, image_size=(image_size, image_size), batch_size=batch, seed=0,
                                          cache=_CACHE[arm], work_dir=work, verbose=False)
        out["setup_s"] = time.perf_counter() - t
        out["images"] = len(ds.file_paths)
        for epoch in range(1, epochs + 1):
            t, c = time.perf_counter(), time.process_time()
            n = _drain(ds)
            out[f"epoch{epoch}_s"], out[f"epoch{epoch}_cpu_s"] = time.perf_counter() - t, time.process_time() - c
            out["images" if epoch == 1 else "images_epoch2"] = n
        if arm != "keras":
            out["skipped"] = len(ds.report.skipped)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    return out


def _subprocess(arm: str, folder: str, image_size: int, batch: int, inner: int, epochs: int = 2) -> list[dict]:
    """``inner`` repeats of one arm in a fresh process (each with its own work folder)."""
    with tempfile.TemporaryDirectory(prefix="tlw-bench-work-") as work:
        out = subprocess.run(
            [sys.executable, __file__, "--arm", arm, "--folder", folder, "--image-size", str(image_size),
             "--batch", str(batch), "--work", work, "--repeats", str(inner), "--epochs", str(epochs)],
            capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"arm {arm} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def _median(rs: list[dict], key: str) -> float | None:
    values = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(values) if values else None


def _summary(rs: list[dict]) -> dict:
    images = rs[0]["images"]
    med = {k: _median(rs, k) for k in ("setup_s", "epoch1_s", "epoch2_s", "epoch1_cpu_s", "epoch2_cpu_s",
                                       "peak_rss_mb")}
    out = {"setup_s": round(med["setup_s"], 3), "peak_rss_mb": round(med["peak_rss_mb"]), "images": images,
           "skipped": rs[0]["skipped"], "ratios": rs[0].get("ratios"),
           "load": [r["load"] for r in rs],
           "spread": {k: _spread([r[k] for r in rs]) for k in ("setup_s", "epoch1_s", "epoch1_cpu_s")
                      if all(r.get(k) is not None for r in rs)}}
    if med["epoch1_s"]:
        out["first_epoch_ips"] = round(images / med["epoch1_s"], 1)
        out["first_epoch_cpu_ms_per_image"] = round(1000 * med["epoch1_cpu_s"] / images, 4)
    if med["epoch2_s"]:
        out["second_epoch_ips"] = round(rs[0]["images_epoch2"] / med["epoch2_s"], 1)
        out["second_epoch_cpu_ms_per_image"] = round(1000 * med["epoch2_cpu_s"] / rs[0]["images_epoch2"], 4)
    return out


def _ratios(a: dict, b: dict) -> dict:
    """``a`` over ``b``: above 1, ``a`` is faster (per image, wall and CPU)."""
    out = {}
    if "first_epoch_ips" in a and "first_epoch_ips" in b:
        out["first_epoch"] = round(a["first_epoch_ips"] / b["first_epoch_ips"], 2)
        out["first_epoch_by_cpu_time"] = round(b["first_epoch_cpu_ms_per_image"] / a["first_epoch_cpu_ms_per_image"],
                                               2)
    if "second_epoch_ips" in a and "second_epoch_ips" in b:
        out["second_epoch"] = round(a["second_epoch_ips"] / b["second_epoch_ips"], 2)
    out["setup_time"] = round(a["setup_s"] / b["setup_s"], 2)
    out["peak_rss"] = round(a["peak_rss_mb"] / b["peak_rss_mb"], 2)
    return out


def measure(folder: str, n: int, arms: list[str], repeats: int, image_size: int, batch: int,
            inner: int = 1, epochs: int = 2) -> dict:
    """Interleaved repeats of every arm on one folder; per-arm medians and ratios (ours vs Keras, vs the limit).

    Each of the ``repeats`` rounds starts one process per arm that measures it ``inner`` times.
    """
    runs: dict[str, list[dict]] = {a: [] for a in arms}
    for r in range(repeats):
        for arm in arms[r % len(arms):] + arms[: r % len(arms)]:
            for res in _subprocess(arm, folder, image_size, batch, inner, epochs):
                runs[arm].append(res)
                print(f"  n={n} round {r + 1} {arm}: set-up {res['setup_s']:.2f} s, epoch 1 {res['epoch1_s']} s "
                      f"(CPU {res['epoch1_cpu_s']} s), epoch 2 {res['epoch2_s']} s, {res['images']} images, "
                      f"peak RSS {res['peak_rss_mb']:.0f} MB, load {res['load']}", flush=True)
    out: dict = {"images": n, "repeats": repeats * inner, "image_size": image_size}
    for arm, rs in runs.items():
        out[arm] = _summary(rs)
    for arm in (a for a in arms if a.startswith("ours")):
        if "keras" in out:
            out[f"{arm}_over_keras"] = _ratios(out[arm], out["keras"])
        if "decode_limit" in out:
            out[f"{arm}_over_decode_limit"] = _ratios(out[arm], out["decode_limit"])
    if "keras" in out and "decode_limit" in out:
        out["keras_over_decode_limit"] = _ratios(out["keras"], out["decode_limit"])
    return out


def machine() -> str:
    """The CPU model, core count and Python, for the results."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{model or platform.processor()} x {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2,000 small images; each arm's repeats in one process (CI size)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="folder sizes (default 10000 100000)")
    parser.add_argument("--photos", type=int, default=None, help="this many camera photos instead of small images")
    parser.add_argument("--folder", nargs="+", default=None, help="existing folders, one per size (else generated)")
    parser.add_argument("--arms", default="keras,ours,decode_limit",
                        help=f"comma-separated, from {','.join(ARMS)}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=None, help="96 (224 with --photos)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, choices=(0, 1, 2), default=2,
                        help="epochs drained per dataset arm (0: set-up only, e.g. for 100,000 files)")
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    size = args.image_size or (224 if args.photos else 96)
    if args.arm:  # the child process: one arm, --repeats times
        print(json.dumps([run_arm(args.arm, args.folder[0], size, args.batch, str(Path(args.work) / str(i)),
                                  args.epochs)
                          for i in range(args.repeats)]))
        return {}
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    bad = [a for a in arms if a not in ARMS]
    if bad:
        parser.error(f"expected arms from {ARMS}; received {bad}")
    sizes = [args.photos] if args.photos else (args.sizes or ([2000] if args.quick else [10000, 100000]))
    if args.folder and len(args.folder) != len(sizes):
        parser.error("expected one --folder per size")
    print(f"machine: {machine()}; load average {os.getloadavg()}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="tlw-bench-folders-") as tmp:
        for k, n in enumerate(sizes):
            folder = args.folder[k] if args.folder else str(Path(tmp) / f"images_{n}")
            if not args.folder:
                import make_image_folder

                made = make_image_folder.write_folder(folder, n, photos=bool(args.photos))
                print(f"wrote {n} {'photos' if args.photos else 'JPEGs'} ({made['mean_kb']} KB each on average) "
                      f"in {made['seconds']} s", flush=True)
            # --quick: one process per arm measuring it 3 times (TensorFlow's import paid once per arm)
            outer, inner = (1, args.repeats) if args.quick else (args.repeats, 1)
            results[str(n)] = measure(folder, n, arms, outer, size, args.batch, inner, args.epochs)
            print(f"n={n}:", json.dumps(results[str(n)]), flush=True)
    summary = {f"{n}_{arm}_{k}": v for n, r in results.items() for arm, ratios in r.items()
               if arm.endswith(("_over_keras", "_over_decode_limit")) for k, v in ratios.items()}
    print(json.dumps(summary))
    return results


if __name__ == "__main__":
    main()
