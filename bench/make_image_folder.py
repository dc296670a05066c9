"""Writes a synthetic image folder: N JPEGs in class sub-folders (for the large-folder benchmark).

Small images (the default): each a different blurred-noise pattern with a class-dependent colour cast
and a few shapes, 64-128 px, so JPEG sizes and decode costs are close to small real photos (3-8 KB).

Camera photos (``--photos``): sides from ``--photo-sizes`` in turn (default 4000x3000 and 3000x2000,
with every tenth a 1280x960 phone picture), quality 90, a colour field with shapes and texture plus
sensor-like noise (``--grain``, standard deviation 6 levels; 0: none), so that files are 2-4 MB (12 MP) like
real photos and cost as much entropy decoding;
every fourth carries EXIF orientation 6 ("rotate 90 degrees clockwise to display"), as portrait photos
from a phone do. Pixels are stored landscape either way.

Files are written by a process pool; with ``--bad K`` the last K files become broken
(alternately truncated JPEGs and text files with a .jpg name).

    python bench/make_image_folder.py OUT --n 10000 [--classes 10] [--bad 5] [--workers 2]
    python bench/make_image_folder.py OUT --n 240 --photos [--photo-sizes 4000x3000,3000x2000] [--grain 0]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

__all__ = ["write_folder", "main", "PHOTO_SIZES"]

PHOTO_SIZES = ((4000, 3000), (3000, 2000))
PHONE_SIZE = (1280, 960)  # every tenth photo: a smaller phone picture (another reduced-decode ratio at 224 px)
EXIF_ORIENTATION = 0x0112


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


def _photo(i: int, classes: int, size: tuple[int, int], grain: float = 6.0) -> Image.Image:
    """A camera-size picture: a colour field with shapes and texture, class colour cast, sensor-like noise."""
    rng = np.random.default_rng(i)
    w, h = size
    field = rng.integers(0, 256, (h // 250 + 2, w // 250 + 2, 3), dtype=np.uint8)
    quarter = Image.fromarray(field).resize((w // 4, h // 4), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(quarter)
    for _ in range(40):
        x0, y0, side = int(rng.integers(0, w // 4)), int(rng.integers(0, h // 4)), int(rng.integers(10, w // 10))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        box = [x0, y0, x0 + side, y0 + int(side * rng.uniform(0.3, 1.5))]
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    cast = Image.new("RGB", quarter.size, tuple(int(v) for v in ((37 * (i % classes)) % 256,
                                                                 (91 * (i % classes)) % 256, 128)))
    quarter = Image.blend(quarter, cast, 0.25).filter(ImageFilter.GaussianBlur(1.5))
    texture = Image.effect_noise((w // 8, h // 8), 25).resize((w, h), Image.Resampling.BICUBIC)
    img = quarter.resize((w, h), Image.Resampling.BICUBIC)
    img = ImageChops.add(img, Image.merge("RGB", (texture,) * 3), scale=1.0, offset=-128)
    if not grain:
        return img
    noise = Image.effect_noise((w, h), grain)
    return ImageChops.add(img, Image.merge("RGB", (noise,) * 3), scale=1.0, offset=-128)


def _photo_size(i: int, sizes: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    return PHONE_SIZE if i % 10 == 9 else sizes[i % len(sizes)]


def _write_chunk(args: tuple[str, int, int, int, tuple[tuple[int, int], ...] | None, float]) -> int:
    root, start, stop, classes, photo_sizes, grain = args
    for i in range(start, stop):
        path = Path(root) / f"class_{i % classes:02d}" / f"img_{i:06d}.jpg"
        if photo_sizes is None:
            _image(i, classes).save(path, quality=int(80 + i % 16))
            continue
        exif = Image.Exif()
        if i % 4 == 3:
            exif[EXIF_ORIENTATION] = 6
        _photo(i, classes, _photo_size(i, photo_sizes), grain).save(path, quality=90, exif=exif)
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
                 workers: int | None = None, photos: bool = False,
                 photo_sizes: tuple[tuple[int, int], ...] = PHOTO_SIZES, grain: float = 6.0) -> dict:
    """Writes ``n`` JPEGs under ``root/class_XX/``; returns a summary (seconds, bytes, broken files).

    With ``photos``, camera-size photos (see the module docstring) instead of small images; ``grain`` is the
    sensor-like noise's standard deviation at full resolution (0: none, files 3-4x smaller).
    """
    if n < classes:
        raise ValueError(f"Expected n >= classes ({classes}). Received: n={n}")
    if not 0 <= bad <= n:
        raise ValueError(f"Expected 0 <= bad <= n. Received: bad={bad}, n={n}")
    root = Path(root)
    for c in range(classes):
        (root / f"class_{c:02d}").mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    step = 4 if photos else 500
    chunks = [(str(root), s, min(n, s + step), classes, tuple(photo_sizes) if photos else None, grain)
              for s in range(0, n, step)]
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
    parser.add_argument("--photos", action="store_true", help="camera-size photos instead of small images")
    parser.add_argument("--photo-sizes", default=",".join(f"{w}x{h}" for w, h in PHOTO_SIZES),
                        help="photo sides WxH, comma-separated, used in turn")
    parser.add_argument("--grain", type=float, default=6.0,
                        help="photos: sensor-like noise, standard deviation in levels (0: none)")
    args = parser.parse_args(argv)
    sizes = tuple(tuple(int(v) for v in s.split("x")) for s in args.photo_sizes.split(","))
    summary = write_folder(args.out, args.n, classes=args.classes, bad=args.bad, workers=args.workers,
                           photos=args.photos, photo_sizes=sizes, grain=args.grain)
    print(json.dumps({k: v for k, v in summary.items() if k != "broken"} | {"broken": len(summary["broken"])}))
    return summary


if __name__ == "__main__":
    main()
