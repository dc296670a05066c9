"""The input pipeline feeding the accelerator: ``tl_widgets.image_dataset`` -> MobileNetV2 at 224 (any backend).

On one folder of camera-size photos (bench/make_image_folder.py ``--photos``: 12 MP and 6 MP JPEGs, some
with EXIF orientation), three rates in images/s:

* ``input``: ``image_dataset`` alone, drained (decode at the reduced size chosen per file + resize), a full
  epoch after a first one (no cache: every epoch decodes, as Keras);
* ``model``: ``model.fit`` on the same number of images already decoded (a NumPy array in host memory): what
  the accelerator does when it never waits for input (host-to-device copies included);
* ``fed``: ``model.fit(image_dataset(...))``: the later epochs' rate (the first compiles).

The accelerator waits on input when ``fed`` is clearly below ``model`` (``fed / model`` < 0.9); then ``fed``
is close to ``input``, and more CPU cores (or ``cache="memory"``) is what helps. The pipeline is tf.data:
TensorFlow must be installed (Keras' JAX backend trains from tf.data datasets); without it this says so.

    python bench/gpu_input.py                 # 512 photos, batch 64, 3 epochs (on the GPU machine)
    python bench/gpu_input.py --smoke         # 16 small photos, 32 px, batch 4: a CPU check that it runs
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).parent))


def _epoch_seconds(model: Any, data: Any, epochs: int, **fit: Any) -> list[float]:
    import keras

    class Clock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.seconds.append(time.perf_counter() - self.start)

    clock = Clock()
    model.fit(data, epochs=epochs, verbose=0, callbacks=[clock], **fit)
    return clock.seconds


def input_feeding(backbone: str = "mobilenet_v2", size: int = 224, photos: int = 512, batch: int = 64,
                  epochs: int = 3, photo_sizes: tuple[tuple[int, int], ...] | None = None,
                  folder: str | None = None, policy: str = "mixed_bfloat16") -> dict[str, Any]:
    """The three rates (see the module docstring) and whether the accelerator waits on input."""
    try:
        import tensorflow as tf  # noqa: F401
    except ImportError:
        return {"skipped": "TensorFlow is not installed here: image_dataset builds a tf.data pipeline"}
    import numpy as np

    import tl_widgets
    from gpu_check import _build

    work = tempfile.mkdtemp(prefix="tlw-gpu-input-")
    if folder is None:
        folder = str(Path(work) / "photos")
        # In a fresh process: its writers are forked, which JAX's threads (already started here) do not survive.
        command = [sys.executable, str(Path(__file__).parent / "make_image_folder.py"), folder, "--n", str(photos),
                   "--photos"]
        if photo_sizes:
            command += ["--photo-sizes", ",".join(f"{w}x{h}" for w, h in photo_sizes)]
        made = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        print(f"  wrote the photos: {made}", flush=True)
    ds = tl_widgets.image_dataset(folder, image_size=(size, size), batch_size=batch, seed=0, verbose=False)
    classes = len(ds.class_names)
    times = []
    for _ in range(2):  # the second pass: the first also checks what it decodes
        t, n = time.perf_counter(), 0
        for _x, y in ds:
            n += int(y.shape[0])
        times.append(time.perf_counter() - t)
    input_ips = n / times[-1]
    model = _build(backbone, size, classes, policy)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n, size, size, 3)).astype("float32")
    y = rng.integers(0, classes, size=(n,)).astype("int32")
    plain = _epoch_seconds(model, x, epochs, y=y, batch_size=batch, shuffle=False)
    fed = _epoch_seconds(model, ds, epochs, shuffle=False)  # the dataset shuffles itself
    model_ips, fed_ips = n / statistics.median(plain[1:]), n / statistics.median(fed[1:])
    return {"backbone": backbone, "size": size, "batch": batch, "images": n, "cores": os.cpu_count(),
            "input_ips": round(input_ips, 1), "model_ips": round(model_ips, 1), "fed_ips": round(fed_ips, 1),
            "fed_over_model": round(fed_ips / model_ips, 3), "accelerator_waits_on_input": fed_ips / model_ips < 0.9,
            "epochs_s": {"input": [round(v, 3) for v in times], "model": [round(v, 3) for v in plain],
                         "fed": [round(v, 3) for v in fed]}}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="16 photos of 800x600, 32 px, batch 4, 2 epochs (CPU)")
    p.add_argument("--photos", type=int, help="photos written (default 512; smoke 16)")
    p.add_argument("--folder", help="an existing folder of class sub-folders instead")
    p.add_argument("--batch", type=int, help="default 64 (smoke 4)")
    p.add_argument("--epochs", type=int, help="default 3 (smoke 2); the first is left out of the rates")
    a = p.parse_args(argv)
    out = input_feeding(size=32 if a.smoke else 224, photos=a.photos or (16 if a.smoke else 512),
                        batch=a.batch or (4 if a.smoke else 64), epochs=a.epochs or (2 if a.smoke else 3),
                        photo_sizes=((800, 600),) if a.smoke else None, folder=a.folder)
    print(f"input pipeline: {out}", flush=True)
    return out


if __name__ == "__main__":
    main()
