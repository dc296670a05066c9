""""Try it" costs on the demo model: loading once, decoding, one prediction, Grad-CAM, per image.

    python bench/bench_try_it.py            # the Studio's demo (demo_cnn at its default size, 2+1 epochs)
    python bench/bench_try_it.py --quick    # 1 epoch

Trains the embedded demo (offline), then tries it as the Try-it panel does
(:func:`tl_widgets.core.evaluation.try_images.predictor_for_run` and ``try_images``) on validation images
encoded as PNG at the model's size and on a 1600 x 1200 JPEG photo-sized image, and compares the time of one
prediction (batch of 1, what a user waits for) with the export ``keras`` Predictor's batched time per image
over the same images (what a batch job gets). Prints a Markdown table and one JSON line; timings are never
asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _encode(image, fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, quality=90)
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--images", type=int, default=16, help="images per try (at most 16)")
    args = parser.parse_args()

    import numpy as np

    from tl_widgets.core.config.schema import demo_config
    from tl_widgets.core.evaluation.evaluate import load_run, run_datasets
    from tl_widgets.core.evaluation.try_images import clear_predictor_cache, predictor_for_run
    from tl_widgets.core.export.formats import take_images
    from tl_widgets.core.export.verify import predictor_for
    from tl_widgets.core.runs.folder import RunFolder
    from tl_widgets.core.training.session import train

    epochs, fine = (1, 0) if args.quick else (2, 1)
    with tempfile.TemporaryDirectory(prefix="tlw-bench-try-") as out:
        cfg = dataclasses.replace(demo_config(epochs=epochs, fine_tune_epochs=fine), output_dir=out, seed=0)
        result = train(cfg, record=False)
        if result.status != "finished":
            print(f"training {result.status}: {result.error}", file=sys.stderr)
            return 1
        run = load_run(result.run_dir)
        val, _labels = take_images(run_datasets(run).val, args.images)
        val = np.clip(val, 0, 255).astype(np.uint8)
        pngs = [(f"val{i}.png", _encode(img, "PNG")) for i, img in enumerate(val)]
        photo = np.random.default_rng(0).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
        photos = [("photo.jpg", _encode(photo, "JPEG"))] * min(4, args.images)
        del run

        clear_predictor_cache()
        t = time.perf_counter()
        predictor = predictor_for_run(result.run_dir)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        predictor_for_run(result.run_dir)
        cached_ms = (time.perf_counter() - t) * 1000
        predictor.try_images(pngs[:1])  # Grad-CAM's first trace, not timed
        t = time.perf_counter()
        small = predictor.try_images(pngs, gradcam=False)
        small_total = (time.perf_counter() - t) * 1000 / len(pngs)
        with_cam = predictor.try_images(pngs)
        snapshot = predictor.try_images(pngs[:1])  # one image, as a webcam snapshot is tried
        t = time.perf_counter()
        big = predictor.try_images(photos, gradcam=False)
        big_total = (time.perf_counter() - t) * 1000 / len(photos)
        batched = predictor_for("keras", RunFolder(result.run_dir).model_file)
        x = val.astype(np.float32)
        batched(x)  # warm-up
        t = time.perf_counter()
        batched(x)
        batched_ms = (time.perf_counter() - t) * 1000 / len(x)
        size, n_cls = predictor.input_size, len(predictor.class_names)

    rows = [
        ("load model.keras + warm-up (once per run)", f"{load_s * 1000:.0f} ms", ""),
        ("predictor again (cached)", f"{cached_ms:.3f} ms", ""),
        (f"one prediction, batch of 1 ({size} px)", f"{small.ms_per_image:.2f} ms",
         f"{small.ms_per_image / batched_ms:.1f}x the batched time"),
        (f"export keras Predictor, batch of {len(x)}, per image", f"{batched_ms:.2f} ms", "1.0x"),
        (f"Grad-CAM per image, {len(pngs)} at once", f"{with_cam.gradcam_ms_per_image:.2f} ms", ""),
        ("Grad-CAM of one image (a snapshot)", f"{snapshot.gradcam_ms_per_image:.2f} ms",
         f"prediction {snapshot.ms_per_image:.2f} ms"),
        (f"whole try per {size} px PNG (decode + predict)", f"{small_total:.2f} ms", ""),
        ("whole try per 1600x1200 JPEG (decode + resize + predict)", f"{big_total:.2f} ms",
         f"prediction {big.ms_per_image:.2f} ms of it"),
    ]
    print(f"# Try it: demo_cnn @ {size} px, {n_cls} classes, {epochs}+{fine} epochs, {len(pngs)} images; "
          f"{platform.machine()}, {os.cpu_count()} CPUs")
    print("| step | time | note |\n|---|---|---|")
    for step, value, note in rows:
        print(f"| {step} | {value} | {note} |")
    print(json.dumps({"load_ms": load_s * 1000, "cached_ms": cached_ms, "predict_ms": small.ms_per_image,
                      "batched_ms": batched_ms, "gradcam_ms": with_cam.gradcam_ms_per_image,
                      "gradcam_one_ms": snapshot.gradcam_ms_per_image,
                      "try_png_ms": small_total, "try_photo_ms": big_total, "size": size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
