"""Image files an attacker brings to a room (shared by the core and browser tests of the one image opener).

* :func:`postscript_named_jpeg`: PostScript bytes for a file named ``.jpg``; Pillow, trying every reader, opens it
  as EPS and runs Ghostscript to decode it.
* :func:`ico_wrapping_png`: an ICO whose one entry is a large PNG; Pillow's ICO reader decodes that PNG while the
  file is being opened, before any size check.
* :func:`fake_ghostscript`: a ``gs`` that only logs that it ran, to put first on ``PATH``.
"""

from __future__ import annotations

import io
import os
import stat
import struct
from pathlib import Path

POSTSCRIPT = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n"
              b"newpath 0 0 moveto 64 64 lineto stroke showpage\n%%EOF\n")


def postscript_named_jpeg() -> bytes:
    """The bytes of a "photo.jpg" that is really EPS."""
    return POSTSCRIPT


def ico_wrapping_png(width: int, height: int) -> bytes:
    """An ICO file whose single entry is a ``width`` x ``height`` PNG (one colour: small on disk)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(buf, format="PNG", compress_level=9)
    png = buf.getvalue()
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


def fake_ghostscript(folder: Path) -> Path:
    """Writes an executable ``gs`` into ``folder`` that appends its arguments to ``gs-called.log``; returns the log."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "gs-called.log"
    script = folder / "gs"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> '{log}'\nexit 1\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return log


def path_with(folder: Path) -> str:
    """``$PATH`` with ``folder`` first."""
    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
