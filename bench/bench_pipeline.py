"""Images per second: tl_widgets' load_datasets vs keras.utils.image_dataset_from_directory.

Writes N JPEGs into a temporary folder, then measures, side by side in one run:
setup (listing/checking files), a first epoch (decode + resize) and a second
epoch (ours: from the in-memory cache; Keras: decodes again, plus Keras with
``.cache()`` added by hand). Also a "photos" case: fewer, larger JPEGs (where
our DCT-scaled decoding applies). The last line printed is JSON.

    python bench/bench_pipeline.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def write_jpegs(root: Path, n: int, side: int, classes: int = 4) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
    for i in range(n):
        folder = root / f"class_{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        small = np.roll(base, i, axis=(0, 1)) ^ np.uint8(i % 251)
        img = Image.fromarray(small).resize((side, side), Image.Resampling.BILINEAR)
        img.save(folder / f"{i:05d}.jpg", quality=90)


def drain(ds) -> int:
    n = 0
    for _, y in ds:
        n += int(y.shape[0])
    return n


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def run_case(root: Path, n: int, image_size: int, batch: int) -> dict[str, float]:
    import keras
    import tensorflow as tf  # noqa: F401  (imported up front so neither side pays for it)

    from tl_widgets.core.config.schema import DataConfig
    from tl_widgets.core.data.loading import load_datasets

    with tempfile.TemporaryDirectory() as work:
        cfg = DataConfig(source="folder", path=str(root), validation_split=0.0, batch_size=batch, cache="memory")
        ours, ours_setup = timed(lambda: load_datasets(cfg, image_size, seed=0, work_dir=work))
        count, ours_e1 = timed(lambda: drain(ours.train))
        assert count == n, count
        _, ours_e2 = timed(lambda: drain(ours.train))
        nocache = load_datasets(
            DataConfig(source="folder", path=str(root), validation_split=0.0, batch_size=batch, cache="none"),
            image_size, seed=0, work_dir=work,
        )
        _, ours_nc = timed(lambda: drain(nocache.train))

    def keras_ds():
        return keras.utils.image_dataset_from_directory(
            root, image_size=(image_size, image_size), batch_size=batch, seed=0, verbose=False
        )

    kds, keras_setup = timed(keras_ds)
    _, keras_e1 = timed(lambda: drain(kds))
    _, keras_e2 = timed(lambda: drain(kds))
    kc = kds.cache()
    _, keras_cache_e1 = timed(lambda: drain(kc))
    _, keras_cache_e2 = timed(lambda: drain(kc))
    ips = lambda s: n / s  # noqa: E731
    return {
        "images": n,
        "ours_setup_s": round(ours_setup, 3),
        "keras_setup_s": round(keras_setup, 3),
        "ours_first_epoch_ips": round(ips(ours_e1), 1),
        "ours_first_epoch_with_setup_ips": round(ips(ours_e1 + ours_setup), 1),
        "ours_cached_epoch_ips": round(ips(ours_e2), 1),
        "ours_nocache_epoch_ips": round(ips(ours_nc), 1),
        "keras_first_epoch_ips": round(ips(keras_e1), 1),
        "keras_first_epoch_with_setup_ips": round(ips(keras_e1 + keras_setup), 1),
        "keras_second_epoch_ips": round(ips(keras_e2), 1),
        "keras_with_cache_second_epoch_ips": round(ips(keras_cache_e2), 1),
        "ratio_first_epoch": round(keras_e1 / ours_e1, 2),
        "ratio_first_epoch_with_setup": round((keras_e1 + keras_setup) / (ours_e1 + ours_setup), 2),
        "ratio_cached_epoch_vs_keras_plain": round(keras_e2 / ours_e2, 2),
        "ratio_cached_epoch_vs_keras_cache": round(keras_cache_e2 / ours_e2, 2),
        "ratio_nocache_epoch_vs_keras": round(keras_e2 / ours_nc, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 small + 40 large images (CI smoke run)")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    n_small, n_photo = (300, 40) if args.quick else (2000, 200)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warmup"  # pay TensorFlow's start-up and tracing outside the timings
        write_jpegs(warm, 16, 64)
        run_case(warm, 16, args.image_size, args.batch)
        for name, n, side in (("jpeg160", n_small, 160), ("photos1600", n_photo, 1600)):
            root = Path(tmp) / name
            write_jpegs(root, n, side)
            results[name] = run_case(root, n, args.image_size, args.batch)
            print(name, json.dumps(results[name], indent=1), flush=True)
    summary = {
        "image_size": args.image_size,
        "batch": args.batch,
        **{f"{case}_{k}": v for case, r in results.items() for k, v in r.items() if k.startswith("ratio")},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
