"""Webcam capture: the kernel's cost per frame, against the frame rate the page sends at.

    python bench/bench_capture.py            # 300 frames
    python bench/bench_capture.py --quick    # 60 frames

Each frame the page sends costs the kernel the checks and the atomic write
(:meth:`tl_widgets.core.data.capture.CaptureStore.add_frame`) and, in the panel, the counts table and the
thumbnails (:class:`tl_widgets.panels.capture.CapturePanel`). Frames are 320 x 240 JPEGs at quality 0.85
(what the page sends), of camera-like content and of noise (the worst case for size). Prints a Markdown
table and one JSON line; timings are never asserted. Without a frontend, the widget messages (thumbnails,
counts) are built but not sent over a websocket: the page-to-kernel transfer is not in these numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import tempfile
import time

import numpy as np
from PIL import Image, ImageDraw

PAGE_FPS = 5  # the Webcam widget's default hold rate


def _frames(kind: str, n: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        if kind == "noise":
            im = Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
        else:  # a smooth scene with a moving shape, like a webcam picture
            im = Image.new("RGB", (320, 240), (40, 120, 60))
            ImageDraw.Draw(im).ellipse((i % 200, 60, i % 200 + 100, 160), fill=(200, 180, 150))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
        out.append(buf.getvalue())
    return out


def main() -> None:
    from tl_widgets.core.data.capture import CaptureStore
    from tl_widgets.panels.capture import CapturePanel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 frames instead of 300")
    n = 60 if parser.parse_args().quick else 300
    rows, result = [], {}
    for kind in ("scene", "noise"):
        frames = _frames(kind, n)
        store = CaptureStore(tempfile.mkdtemp(prefix="bench-capture-"), max_per_class=n, max_total=n)
        store.add_class("a")
        start = time.perf_counter()
        for frame in frames:
            store.add_frame("a", frame)
        store_ms = (time.perf_counter() - start) / n * 1000
        panel = CapturePanel(tempfile.mkdtemp(prefix="bench-capture-"), lambda folder: None)
        panel.store.max_per_class = panel.store.max_total = n
        panel.create_class("a")
        panel.frames.value = 100
        start = time.perf_counter()
        for i, frame in enumerate(frames):
            panel._on_frame(frame, {"burst": i // 100, "seq": i % 100})
        panel_ms = (time.perf_counter() - start) / n * 1000
        kb = sum(map(len, frames)) / n / 1024
        rows.append(f"| {kind} | {kb:.0f} KB | {store_ms:.2f} ms | {panel_ms:.2f} ms | "
                    f"{1000 / panel_ms:.0f} | {1000 / panel_ms / PAGE_FPS:.0f}x |")
        result[kind] = {"kb": round(kb, 1), "store_ms": round(store_ms, 3), "panel_ms": round(panel_ms, 3)}
    print(f"{n} frames per kind, {platform.processor() or platform.machine()}, Python {platform.python_version()}\n")
    print("| frames | size | check + write | panel (+ counts, thumbnails) | frames/s the kernel keeps up with "
          f"| headroom over the page's {PAGE_FPS} frames/s |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(json.dumps({"bench": "capture", "frames": n, **result}))


if __name__ == "__main__":
    main()
