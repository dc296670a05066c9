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
