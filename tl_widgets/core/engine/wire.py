"""What crosses a process boundary of the engine: pickles that may name only known classes.

Requests from a seat to the room's engine, and answers and events back, are
pickled (they hold configs, numpy arrays and the engine's own result
dataclasses) and framed by :mod:`multiprocessing.connection` on a socket that
requires the room's key. A request is still hostile until checked: the
unpickler below refuses every global except plain containers, numpy arrays
and classes defined in ``tl_widgets.core`` — no function, no module object,
nothing that runs code while loading.
"""

from __future__ import annotations

import importlib
import io
import pickle
from typing import Any

__all__ = ["dumps", "loads", "WireError", "MAX_MESSAGE_BYTES"]

MAX_MESSAGE_BYTES = 256 * 2**20
"""Largest message accepted (an upload of images to try, a report with thumbnails)."""

# (module, name) pairs allowed besides classes of tl_widgets.core.
_ALLOWED = {
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "slice"),
    ("builtins", "bytearray"), ("builtins", "range"),
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("copyreg", "_reconstructor"), ("builtins", "object"),
    ("pathlib", "PosixPath"), ("pathlib", "WindowsPath"), ("pathlib", "Path"), ("pathlib", "PurePosixPath"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
}
_NUMPY_DTYPE_MODULES = ("numpy.dtypes",)


class WireError(ValueError):
    """A message names something the engine does not accept, or is not a valid message."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED or (module in _NUMPY_DTYPE_MODULES and name.endswith("DType")):
            return super().find_class(module, name)
        if module == "tl_widgets.core" or module.startswith("tl_widgets.core."):
            obj = getattr(importlib.import_module(module), name, None)
            if isinstance(obj, type):  # a class of the engine (configs, events, reports), never a function
                return obj
        raise WireError(f"Expected a message of plain data, numpy arrays and tl_widgets.core classes. "
                        f"Received: a reference to {module}.{name}")


def dumps(obj: Any) -> bytes:
    """``obj`` as bytes for the other side (highest pickle protocol)."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    """The object in ``data``, refusing any global outside the allowed set.

    Raises:
        WireError: ``data`` is too large, not a pickle, or names something not allowed.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"Expected a message of at most {MAX_MESSAGE_BYTES} bytes. Received: {len(data)} bytes")
    try:
        return _Unpickler(io.BytesIO(data)).load()
    except WireError:
        raise
    except Exception as exc:  # a damaged or hand-made message: say what it was, never crash the reader
        raise WireError(f"Expected a valid message. Received: {type(exc).__name__}: {exc}") from None
