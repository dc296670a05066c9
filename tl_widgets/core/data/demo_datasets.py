"""The embedded demo datasets: they need no network and no files.

* **digits**: scikit-learn's 8 x 8 handwritten digits (shipped inside the
  package), upscaled and given deterministic colour/contrast variation.
  ``source`` holds zero..four (to pretrain the demo backbone), ``target``
  five..nine (the transfer task).
* **shapes**: procedurally drawn colourful shapes on noisy backgrounds.
  ``source`` holds circle/square/triangle/star, ``target``
  cross/ring/diamond/hexagon.

Everything is seeded: the same arguments give the same pixels.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "DIGITS_SOURCE_CLASSES",
    "DIGITS_TARGET_CLASSES",
    "SHAPES_SOURCE_CLASSES",
    "SHAPES_TARGET_CLASSES",
    "DEFAULT_SIZES",
    "digits_arrays",
    "shapes_arrays",
    "demo_arrays",
    "write_demo_data",
]

DIGITS_SOURCE_CLASSES = ("zero", "one", "two", "three", "four")
DIGITS_TARGET_CLASSES = ("five", "six", "seven", "eight", "nine")
SHAPES_SOURCE_CLASSES = ("circle", "square", "triangle", "star")
SHAPES_TARGET_CLASSES = ("cross", "ring", "diamond", "hexagon")
DEFAULT_SIZES = {"digits": 32, "shapes": 48}


def _check_split(split: str) -> int:
    if split not in ("source", "target"):
        raise ValueError(f"Expected split 'source' or 'target'. Received: split={split!r}")
    return 0 if split == "source" else 1


def _check_size(size: int, name: str = "size") -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"Expected {name} to be an integer >= 8. Received: {name}={size!r}")


def _digits_table() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: ``(images [1797, 8, 8] in 0..16, targets [1797])``.

    Read from the CSV scikit-learn ships, without importing scikit-learn (about
    1 s of imports: the Studio's Data step shows the demo before anything heavy
    loads); ``load_digits`` when that file is not where scikit-learn keeps it.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package folder without importing it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")
            return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def digits_arrays(split: str = "target", size: int = 32) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Handwritten digits as RGB images.

    Args:
        split: ``"source"`` (digits 0-4) or ``"target"`` (digits 5-9).
        size: Output side in pixels.

    Returns:
        ``(x, y, class_names)``: ``uint8 [N, size, size, 3]``, ``int32 [N]``
        labels in ``0..4`` and the five class names.
    """
    index = _check_split(split)
    _check_size(size)
    images, target = _digits_table()
    wanted = np.arange(5) + 5 * index
    keep = np.isin(target, wanted)
    raw = images[keep] / 16.0  # [N, 8, 8] in 0..1
    labels = (target[keep] - 5 * index).astype(np.int32)
    rng = np.random.default_rng(1234 + index)
    n = len(raw)
    fg = rng.uniform(150, 255, size=(n, 1, 1, 3))
    bg = rng.uniform(0, 90, size=(n, 1, 1, 3))
    gamma = rng.uniform(0.7, 1.4, size=(n, 1, 1, 1))
    out = np.empty((n, size, size, 3), np.uint8)
    for i, img in enumerate(raw):
        big = Image.fromarray((img * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
        a = (np.asarray(big, np.float64)[..., None] / 255.0) ** gamma[i]
        pix = bg[i] * (1 - a) + fg[i] * a + rng.normal(0, 6, size=(size, size, 1))
        out[i] = np.clip(np.round(pix), 0, 255).astype(np.uint8)
    names = DIGITS_SOURCE_CLASSES if index == 0 else DIGITS_TARGET_CLASSES
    return out, labels, list(names)


def _polygon(cx: float, cy: float, r: float, n: int, rot: float, inner: float | None = None) -> list[tuple[float, float]]:
    pts = []
    steps = n * 2 if inner else n
    for k in range(steps):
        rad = r if not inner or k % 2 == 0 else r * inner
        ang = rot + 2 * math.pi * k / steps
        pts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
    return pts


def _draw_shape(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, rot: float, colour: tuple) -> None:
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif kind == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=max(2, int(r * 0.35)))
    elif kind == "square":
        draw.polygon(_polygon(cx, cy, r * 1.2, 4, rot), fill=colour)
    elif kind == "diamond":
        radii = (r * 1.35, r * 0.7, r * 1.35, r * 0.7)  # a rhombus: one long, one short diagonal
        angles = [rot + k * math.pi / 2 for k in range(4)]
        draw.polygon([(cx + q * math.cos(a), cy + q * math.sin(a)) for q, a in zip(radii, angles)], fill=colour)
    elif kind == "triangle":
        draw.polygon(_polygon(cx, cy, r * 1.2, 3, rot), fill=colour)
    elif kind == "hexagon":
        draw.polygon(_polygon(cx, cy, r * 1.1, 6, rot), fill=colour)
    elif kind == "star":
        draw.polygon(_polygon(cx, cy, r * 1.3, 5, rot, inner=0.45), fill=colour)
    elif kind == "cross":
        w = r * 0.38
        for ang in (rot, rot + math.pi / 2):
            c, s = math.cos(ang), math.sin(ang)
            draw.polygon(
                [(cx + dx * c - dy * s, cy + dx * s + dy * c) for dx, dy in ((-r, -w), (r, -w), (r, w), (-r, w))],
                fill=colour,
            )
    else:  # pragma: no cover - the class tuples above are the only callers
        raise ValueError(f"Unknown shape kind {kind!r}")


def shapes_arrays(
    split: str = "target", n_per_class: int = 150, size: int = 48, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Procedurally drawn coloured shapes.

    Args:
        split: ``"source"`` (circle, square, triangle, star) or ``"target"``
            (cross, ring, diamond, hexagon).
        n_per_class: Images per class.
        size: Output side in pixels.
        seed: Random seed; the same arguments always give the same pixels.

    Returns:
        ``(x, y, class_names)``: ``uint8 [N, size, size, 3]``, ``int32 [N]``
        labels (class-major order) and the four class names.
    """
    index = _check_split(split)
    _check_size(size)
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, int) or n_per_class < 1:
        raise ValueError(f"Expected n_per_class to be an integer >= 1. Received: n_per_class={n_per_class!r}")
    names = SHAPES_SOURCE_CLASSES if index == 0 else SHAPES_TARGET_CLASSES
    rng = np.random.default_rng([seed, index])
    scale = 2  # draw at 2x, then downsample: smooth edges
    big = size * scale
    out = np.empty((len(names) * n_per_class, size, size, 3), np.uint8)
    labels = np.repeat(np.arange(len(names), dtype=np.int32), n_per_class)
    for i, label in enumerate(labels):
        bg = rng.integers(0, 256, size=3)
        colour = rng.integers(0, 256, size=3)
        while np.abs(colour.astype(int) - bg.astype(int)).sum() < 200:
            colour = rng.integers(0, 256, size=3)
        img = Image.new("RGB", (big, big), tuple(int(v) for v in bg))
        r = rng.uniform(0.18, 0.32) * big
        cx, cy = rng.uniform(r * 1.2, big - r * 1.2, size=2)
        rot = rng.uniform(0, 2 * math.pi)
        _draw_shape(ImageDraw.Draw(img), names[label], cx, cy, r, rot, tuple(int(v) for v in colour))
        small = np.asarray(img.resize((size, size), Image.Resampling.BILINEAR), np.float64)
        small += rng.normal(0, 8, size=small.shape)
        out[i] = np.clip(np.round(small), 0, 255).astype(np.uint8)
    return out, labels, list(names)


def demo_arrays(which: str = "digits", split: str = "target", size: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``digits_arrays`` or ``shapes_arrays`` by name, at their default size unless given."""
    if which == "digits":
        return digits_arrays(split, size or DEFAULT_SIZES["digits"])
    if which == "shapes":
        return shapes_arrays(split, size=size or DEFAULT_SIZES["shapes"])
    raise ValueError(f"Expected which='digits' or 'shapes'. Received: which={which!r}")


def write_demo_data(
    directory: str | os.PathLike[str], which: str = "digits", split: str = "target", size: int | None = None
) -> Path:
    """Writes a demo dataset as PNG files, one sub-folder per class.

    Args:
        directory: Parent folder; the data goes into ``<directory>/<which>_<split>``.
        which: ``"digits"`` or ``"shapes"``.
        split: ``"source"`` or ``"target"``.
        size: Image side (default 32 for digits, 48 for shapes).

    Returns:
        The folder holding the class folders.
    """
    x, y, names = demo_arrays(which, split, size)
    root = Path(directory) / f"{which}_{split}"
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
    for i, (img, label) in enumerate(zip(x, y)):
        Image.fromarray(img).save(root / names[int(label)] / f"{i:05d}.png")
    return root
