"""Writes a synthetic image folder: N small JPEGs in class sub-folders (for the large-folder benchmark).

Each image is a different blurred-noise pattern with a class-dependent colour cast and a few
shapes, 64-128 px, so JPEG sizes and decode costs are close to small real photos (3-8 KB).
Files are written by a process pool; with ``--bad K`` the last K files become broken
(alternately truncated JPEGs and text files with a .jpg name).

    python bench/make_image_folder.py OUT --n 10000 [--classes 10] [--bad 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["write_folder", "main"]


def _image(i: int, classes: int) -> Image.Image:
    rng = np.random.default_rng(i)
    side = int(rng.integers(64, 129))
    h = side if rng.random() < 0.5 else int(rng.integers(64, 129))
    low = rng.integers(0, 256, (max(2, h // 8), max(2, side // 8), 3), dtype=np.uint8)
    img = Image.fromarray(low).resize((side, h), Image.Resampling.BICUBIC)
    cast = np.array([(37 * (i % classes)) % 256, (91 * (i % classes)) % 256, (151 * (i % classes)) % 256])
    arr = (np.asarray(img, np.float32) * 0.6 + cast * 0.4 + rng.normal(0, 8, (h, side, 3))).clip(0, 255)
    img = Image.fromarray(arr.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 4))):
        x0, y0 = int(rng.integers(0, side - 8)), int(rng.integers(0, h - 8))
        x1, y1 = x0 + int(rng.integers(8, side // 2 + 9)), y0 + int(rng.integers(8, h // 2 + 9))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=fill)
    return img.filter(ImageFilter.SMOOTH) if rng.random() < 0.5 else img


def _write_chunk(args: tuple[str, int, int, int]) -> int:
    root, start, stop, classes = args
    for i in range(start, stop):
        path = Path(root) / f"class_{i % classes:02d}" / f"img_{i:06d}.jpg"
        _image(i, classes).save(path, quality=int(80 + i % 16))
    return stop - start


def _break(root: Path, n: int, bad: int, classes: int) -> list[str]:
    broken = []
    for k, i in enumerate(range(n - bad, n)):
        path = root / f"class_{i % classes:02d}" / f"img_{i:06d}.jpg"
        if k % 2 == 0:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])  # truncated: no EOI marker, half the scans missing
        else:
            path.write_text("this is not an image\n")
        broken.append(str(path))
    return broken


def write_folder(root: str | os.PathLike[str], n: int, *, classes: int = 10, bad: int = 0,
                 workers: int | None = None) -> dict:
    """Writes ``n`` JPEGs under ``root/class_XX/``; returns a summary (seconds, bytes, broken files)."""
    if n < classes:
        raise ValueError(f"Expected n >= classes ({classes}). Received: n={n}")
    if not 0 <= bad <= n:
        raise ValueError(f"Expected 0 <= bad <= n. Received: bad={bad}, n={n}")
    root = Path(root)
    for c in range(classes):
        (root / f"class_{c:02d}").mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    step = 500
    chunks = [(str(root), s, min(n, s + step), classes) for s in range(0, n, step)]
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(chunks) == 1:
        for c in chunks:
            _write_chunk(c)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_write_chunk, chunks))
    broken = _break(root, n, bad, classes) if bad else []
    size = sum(e.stat().st_size for d in os.scandir(root) if d.is_dir() for e in os.scandir(d.path))
    return {"images": n, "classes": classes, "seconds": round(time.perf_counter() - t, 1),
            "mean_kb": round(size / n / 1024, 2), "broken": broken}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write (created)")
    parser.add_argument("--n", type=int, required=True, help="number of images")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--bad", type=int, default=0, help="break this many files (truncated / not an image)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    summary = write_folder(args.out, args.n, classes=args.classes, bad=args.bad, workers=args.workers)
    print(json.dumps({k: v for k, v in summary.items() if k != "broken"} | {"broken": len(summary["broken"])}))
    return summary


if __name__ == "__main__":
    main()
