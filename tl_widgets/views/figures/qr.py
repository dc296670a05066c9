"""A QR code as inline SVG (``segno``, pure Python): a link a phone's camera opens, with the link written under it."""

from __future__ import annotations

import html

__all__ = ["qr_svg", "qr_html"]


def qr_svg(text: str, scale: int = 4) -> str:
    """The QR code of ``text`` as an inline ``<svg>`` element (error correction M, a quiet zone around it).

    Raises:
        ValueError: ``text`` is empty or too long for a QR code.
    """
    import segno

    if not text:
        raise ValueError("Expected a text to encode. Received: ''")
    try:
        code = segno.make(text, error="m", micro=False)
    except segno.DataOverflowError as exc:
        raise ValueError(f"Expected a text short enough for a QR code. Received: {len(text)} characters") from exc
    svg = code.svg_inline(scale=scale, dark="#000", light="#fff", title=None)
    return svg.replace("<svg ", '<svg shape-rendering="crispEdges" ', 1)  # no seams between modules when scaled


def qr_html(url: str, caption: str = "") -> str:
    """The QR code of ``url`` with the URL (selectable text) and an optional caption under it."""
    lines = f"<div class='tlw-qr-caption'>{html.escape(caption)}</div>" if caption else ""
    return (f"<div class='tlw-qr'>{qr_svg(url, scale=5)}<div class='tlw-qr-url' style='font-family:monospace;"
            f"word-break:break-all;max-width:28em;user-select:all'>{html.escape(url)}</div>{lines}</div>")
