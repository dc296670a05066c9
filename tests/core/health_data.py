"""A generated dataset with known problems, for the health-check and curation tests.

``make_noisy_dataset(tmp)`` writes ``train/`` and ``val/`` class folders of small PNGs (a random smooth
texture tinted by the class colour, different for every image) and injects, at known places:
a 10:1 imbalance, exact duplicates and near duplicates of training images in the validation folder,
mislabelled images (a red image in ``green/``), tiny images, a greyscale image, a very wide image and a
corrupt file. It returns what it injected (as dataset keys) so tests can measure recall.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

TINTS = {"blue": (40, 60, 220), "green": (40, 200, 60), "red": (220, 50, 40)}


@dataclass
class Injected:
    train: Path
    val: Path
    exact_leaks: list[tuple[str, str]] = field(default_factory=list)
    near_leaks: list[tuple[str, str]] = field(default_factory=list)
    mislabelled: list[str] = field(default_factory=list)
    mislabelled_val: list[str] = field(default_factory=list)
    small: list[str] = field(default_factory=list)
    grey: list[str] = field(default_factory=list)
    wide: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


def texture(rng: np.random.Generator, tint: tuple[int, int, int], size: int = 48) -> np.ndarray:
    coarse = rng.random((6, 6, 3))
    img = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC), float)
    out = 0.45 * img + 0.55 * np.array(tint, float)
    return np.clip(out, 0, 255).astype(np.uint8)


def make_noisy_dataset(tmp: Path, *, big: int = 40, small: int = 4, seed: int = 0) -> Injected:
    rng = np.random.default_rng(seed)
    inj = Injected(tmp / "train", tmp / "val")
    counts = {"blue": small, "green": big, "red": big}
    for name, n in counts.items():
        for split, root, m in (("train", inj.train, n), ("val", inj.val, max(2, n // 4))):
            (root / name).mkdir(parents=True, exist_ok=True)
            for i in range(m):
                Image.fromarray(texture(rng, TINTS[name])).save(root / name / f"{name}_{i:03d}.png")
    # Exact duplicates of training images in the validation folder (same bytes).
    for i in range(5):
        src = inj.train / "green" / f"green_{i:03d}.png"
        dst = inj.val / "green" / f"copy_{i}.png"
        shutil.copyfile(src, dst)
        inj.exact_leaks.append((f"green/green_{i:03d}.png", f"@val/green/copy_{i}.png"))
    # Near duplicates: brightness +4 and a one-pixel shift.
    for i in range(5):
        arr = np.asarray(Image.open(inj.train / "red" / f"red_{i:03d}.png"), np.int16)
        arr = np.clip(np.roll(arr, 1, axis=1) + 4, 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(inj.val / "red" / f"near_{i}.png")
        inj.near_leaks.append((f"red/red_{i:03d}.png", f"@val/red/near_{i}.png"))
    # Mislabelled: red-looking images in green/.
    for i in range(4):
        Image.fromarray(texture(rng, TINTS["red"])).save(inj.train / "green" / f"oops_{i}.png")
        inj.mislabelled.append(f"green/oops_{i}.png")
    # Mislabelled validation images too (what a trained run's label-error list must rank first).
    for i in range(4):
        Image.fromarray(texture(rng, TINTS["red"])).save(inj.val / "green" / f"oops_{i}.png")
        inj.mislabelled_val.append(f"@val/green/oops_{i}.png")
    # Tiny, greyscale, very wide and corrupt files.
    Image.fromarray(texture(rng, TINTS["red"], 10)).save(inj.train / "red" / "tiny.png")
    inj.small.append("red/tiny.png")
    Image.fromarray(texture(rng, TINTS["green"])).convert("L").save(inj.train / "green" / "grey.png")
    inj.grey.append("green/grey.png")
    Image.fromarray(texture(rng, TINTS["blue"])).resize((160, 40)).save(inj.train / "blue" / "wide.png")
    inj.wide.append("blue/wide.png")
    (inj.train / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    inj.corrupt.append("red/broken.png")
    return inj


# -- a photo-like folder with every image-level problem injected (issue #27) ---------------------------------

DIRTY_KINDS = ("blurry", "dark", "bright", "low_information", "outliers", "far_from_class")
"""The problems :func:`make_dirty_folder` injects, by the finding kind that must report them."""


def photo(rng: np.random.Generator, cls: int, classes: int) -> Image.Image:
    """A photo-like image of class ``cls``: a class colour cast over smooth noise, noise grain and a few shapes."""
    from PIL import ImageDraw

    w, h = int(rng.integers(72, 121)), int(rng.integers(72, 121))
    low = rng.integers(0, 256, (max(2, h // 10), max(2, w // 10), 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(low).resize((w, h), Image.BICUBIC), np.float32)
    hue = np.array([(67 * cls) % 256, (151 * cls + 80) % 256, (211 * cls + 160) % 256], np.float32)
    arr = (base * 0.5 + hue * 0.5 + rng.normal(0, 7, (h, w, 3))).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = int(rng.integers(0, w - 12)), int(rng.integers(0, h - 12))
        x1, y1 = x0 + int(rng.integers(8, w // 2)), y0 + int(rng.integers(8, h // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=fill)
    return img


def _other_kind(rng: np.random.Generator, i: int) -> Image.Image:
    """An image of another kind than the shapes: a text page, a chessboard, TV static or a photo-like texture."""
    from PIL import ImageDraw

    side = 64
    kind = i % 4
    if kind == 1:
        cells = int(rng.integers(4, 9))
        board = (np.indices((cells, cells)).sum(axis=0) % 2 * 255).astype(np.uint8)
        return Image.fromarray(board).resize((side, side), Image.NEAREST).convert("RGB")
    if kind == 3:
        return photo(rng, i, 4).resize((side, side))
    if kind == 2:
        return Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    img = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(img)
    for y in range(4, side - 4, int(rng.integers(5, 8))):
        draw.line([4, y, int(rng.integers(side // 2, side - 4)), y], fill="black", width=2)
    return img


def make_dirty_folder(root: Path, *, per_class: int = 150, each: int = 8, seed: int = 0,
                      dirty: bool = True) -> dict[str, list[str]]:
    """Writes ``root/<shape>/*.png``: the demo backbone's own shapes (circle, square, triangle, star) at 64 px, which it
    knows; with ``dirty``, ``each`` images of every kind of :data:`DIRTY_KINDS` are injected, spread
    over the classes (each made from a fresh shape image). Returns the injected keys by kind."""
    from PIL import ImageFilter

    from tl_widgets.core.data.demo_datasets import shapes_arrays

    rng = np.random.default_rng(seed)
    x, y, names = shapes_arrays("source", n_per_class=per_class + each, size=64, seed=seed)
    spare: dict[int, list[np.ndarray]] = {c: [] for c in range(len(names))}
    for c, name in enumerate(names):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(x[y == c]):
            if i < per_class:
                Image.fromarray(img).save(root / name / f"img_{i:04d}.png")
            else:
                spare[c].append(img)
    injected: dict[str, list[str]] = {k: [] for k in DIRTY_KINDS}
    if not dirty:
        return injected
    for i in range(each):
        c = i % len(names)
        arr = spare[c][i // len(names)].astype(np.float32)
        made = {
            "blurry": Image.fromarray(arr.astype(np.uint8)).filter(ImageFilter.GaussianBlur(2.5)),
            "dark": Image.fromarray((arr * 0.2).astype(np.uint8)),
            "bright": Image.fromarray((arr * 0.2 + 200).clip(0, 255).astype(np.uint8)),
            "low_information": Image.fromarray(np.clip(np.full_like(arr, arr.mean(axis=(0, 1)))
                                                       + rng.normal(0, 1.0, arr.shape), 0, 255).astype(np.uint8)),
            "outliers": _other_kind(rng, i),
            # another class's shape, in this class's folder
            "far_from_class": Image.fromarray(spare[(c + 1) % len(names)][-1 - i // len(names)]),
        }
        for kind, img in made.items():
            key = f"{names[c]}/{kind}_{i:02d}.png"
            img.save(root / key)
            injected[kind].append(key)
    return injected


def add_blurred(root: Path, n: int, *, seed: int = 1) -> list[str]:
    """Adds ``n`` blurred shapes (``blurred_extra_K.png``) spread over the class folders of ``root``; their keys."""
    from PIL import ImageFilter

    from tl_widgets.core.data.demo_datasets import shapes_arrays

    x, y, names = shapes_arrays("source", n_per_class=-(-n // 4), size=64, seed=seed + 100)
    keys = []
    for i in range(n):
        key = f"{names[int(y[i * len(x) // n])]}/blurred_extra_{i:02d}.png"
        Image.fromarray(x[i * len(x) // n]).filter(ImageFilter.GaussianBlur(2.5)).save(root / key)
        keys.append(key)
    return keys


if __name__ == "__main__":  # python tests/core/health_data.py OUT [--clean]: the dirty folder, for a demo
    import json
    import sys

    out = make_dirty_folder(Path(sys.argv[1]), dirty="--clean" not in sys.argv)
    print(json.dumps(out, indent=1))
