"""The error every export step raises when an export cannot be made (re-exported by ``formats``)."""

from __future__ import annotations

__all__ = ["ExportError"]


class ExportError(RuntimeError):
    """An export cannot be made (unknown format, missing converter, conversion failure)."""
