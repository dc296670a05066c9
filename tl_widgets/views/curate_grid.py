"""The curation grid's pieces: prediction bars as HTML, images as PNG bytes. Plain data in, no Keras."""

from __future__ import annotations

import html
import io
from typing import Any, Mapping

import numpy as np

__all__ = ["prediction_bars_html", "png_bytes"]


def png_bytes(image: Any) -> bytes:
    """A ``uint8`` RGB (or grey) array as PNG bytes, for an ``ipywidgets.Image``."""
    from PIL import Image

    arr = np.clip(np.asarray(image), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr.squeeze()).save(buf, format="PNG")
    return buf.getvalue()


def prediction_bars_html(item: Mapping[str, Any]) -> str:
    """A caption for one image: its key, given label, and a bar per top class (the given one in red if wrong).

    Args:
        item: ``key``, ``true``, ``predicted``, ``loss`` and ``top`` (``[(class, probability), ...]``).
    """
    rows = []
    for name, p in item["top"]:
        colour = "#2e7d32" if name == item["true"] else "#c62828" if name == item["predicted"] else "#90a4ae"
        width = max(1, int(round(100 * float(p))))
        rows.append(
            f"<div class='tlw-bar-row' style='display:flex;align-items:center;gap:4px;font-size:11px'>"
            f"<span style='width:70px;overflow:hidden;text-overflow:ellipsis'>{html.escape(str(name))}</span>"
            f"<span style='display:inline-block;height:8px;width:{width}px;background:{colour}'></span>"
            f"<span>{float(p):.2f}</span></div>")
    key = html.escape(str(item["key"]))
    return (f"<div class='tlw-curate-caption' title='{key}' style='font-size:11px;max-width:190px;"
            f"overflow:hidden;text-overflow:ellipsis;white-space:nowrap'>{key}</div>"
            f"<div style='font-size:11px'>labelled <b>{html.escape(str(item['true']))}</b>, "
            f"loss {float(item['loss']):.2f}</div>" + "".join(rows))
