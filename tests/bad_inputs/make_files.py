"""Generates good and bad image files and archives into a folder (no binary blobs in git).

Each ``make_*`` function writes one file and returns its path. ``bad_folder``
builds a whole dataset folder mixing good and bad files and returns the
expected outcome per file name.
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

COLOUR = (200, 30, 90)


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (16, 12), colour: tuple = COLOUR, mode: str = "RGB", **kw) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, colour)
    if mode == "P":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode != "RGB":
        img = img.convert(mode)
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def make_image(path: Path, fmt: str = "PNG", **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(fmt, **kw))
    return path


def make_corrupt_jpeg(path: Path) -> Path:
    """A JPEG signature followed by garbage: looks like a JPEG, isn't one."""
    good = image_bytes("JPEG", size=(32, 32))
    rng = np.random.default_rng(0)
    path.write_bytes(good[:4] + rng.integers(0, 256, 600, dtype=np.uint8).tobytes())
    return path


def make_truncated_jpeg(path: Path) -> Path:
    """A real JPEG cut off at 60% (no end-of-image marker)."""
    noisy = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "JPEG", quality=95)
    data = buf.getvalue()
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


def make_truncated_png(path: Path) -> Path:
    noisy = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "PNG")
    data = buf.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def make_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def make_text_as_jpg(path: Path) -> Path:
    path.write_text("this is not a picture\n", encoding="utf-8")
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def make_huge_png(path: Path, side: int = 20_000) -> Path:
    """A valid ``side x side`` 1-bit PNG of one colour: a few KB on disk, 1.2 GB decoded as RGB."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")
    path.write_bytes(png)
    return path


def make_16bit_png(path: Path, value: int = 30000) -> Path:
    Image.fromarray(np.full((12, 16), value, np.uint16)).save(path)
    return path


def bad_folder(root: Path) -> dict[str, str | None]:
    """Two classes with good and bad files. Returns ``{file name: expected reason or None (valid)}``."""
    a, b = root / "apples", root / "bananas"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    expected: dict[str, str | None] = {}
    for i in range(3):
        make_image(a / f"good_{i}.png", colour=(250, 10, 10))
        make_image(b / f"good_{i}.jpg", "JPEG", colour=(250, 250, 10))
        expected[f"good_{i}.png"] = expected[f"good_{i}.jpg"] = None
    make_image(a / "ünïcødé_猫.png")
    expected["ünïcødé_猫.png"] = None
    make_corrupt_jpeg(a / "corrupt.jpg")
    expected["corrupt.jpg"] = "corrupt or truncated"
    make_truncated_jpeg(b / "truncated.jpg")
    expected["truncated.jpg"] = "corrupt or truncated"
    make_truncated_png(a / "truncated.png")
    expected["truncated.png"] = "corrupt or truncated"
    make_empty(b / "empty.jpg")
    expected["empty.jpg"] = "0 bytes"
    make_text_as_jpg(a / "notes.jpg")
    expected["notes.jpg"] = "not an image"
    make_huge_png(b / "huge.png")
    expected["huge.png"] = "too large"
    (b / "readme.txt").write_text("hello", encoding="utf-8")
    expected["readme.txt"] = "not an image file type"
    return expected


# -- archives ------------------------------------------------------------------


def zip_with(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> Path:
    """Writes a zip whose member names are used verbatim (``../x``, ``/abs``)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def good_zip(path: Path, wrapper: str | None = "flowers") -> Path:
    prefix = f"{wrapper}/" if wrapper else ""
    members = {}
    for cls, colour in (("daisy", (255, 255, 255)), ("rose", (220, 0, 0))):
        for i in range(3):
            members[f"{prefix}{cls}/{i}.png"] = image_bytes(colour=colour)
    members["__MACOSX/._junk"] = b"junk"
    members[f"{prefix}.DS_Store"] = b"junk"
    return zip_with(path, members)


def lying_zip(path: Path, real_size: int = 3_000_000, declared: int = 100) -> Path:
    """A zip whose headers claim ``declared`` bytes for a member that inflates to ``real_size``."""
    zip_with(path, {"cls_a/a.png": b"\x00" * real_size, "cls_b/b.png": image_bytes()})
    data = bytearray(path.read_bytes())
    real = struct.pack("<I", real_size)
    lie = struct.pack("<I", declared)
    # Patch the uncompressed-size field in the local header and the central directory.
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (pos := data.find(sig, start)) != -1:
            field = pos + offset
            if data[field : field + 4] == real:
                data[field : field + 4] = lie
            start = pos + 4
    path.write_bytes(bytes(data))
    return path


def snapshot(folder: Path) -> set[str]:
    """All paths below ``folder`` (to prove nothing else was written)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}
