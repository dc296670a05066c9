"""The deployment preview: Keras and an export side by side, image by image.

:func:`preview_export` runs a run's ``model.keras`` and one of its exports
(``exports/<format>/``, made by :func:`~tl_widgets.core.export.formats.export_run`)
on the same images: the validation split, or images the user dropped
(:func:`images_from_bytes`). Per image: both top-k lists, the largest
probability difference and whether the top-1 agrees; disagreements first.
Overall: agreement, latency per image of each side, and the file size.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.i18n import _
from tl_widgets.core.runs.folder import EXPORT_REPORT_FILE, RunFolder

__all__ = ["PreviewRow", "Preview", "exported_formats", "images_from_bytes", "preview_export"]

MAX_PREVIEW_IMAGES = 256


@dataclass
class PreviewRow:
    """One image: what Keras and the export said.

    Attributes:
        index: Position in the images compared.
        keras_top: ``[(class, probability), ...]`` most probable first.
        export_top: The same for the export.
        max_abs_diff: Largest ``|p_export - p_keras|`` over the classes.
        agree: Same top-1 class.
        label: The true class when known (validation images).
        name: The file name for dropped images.
    """

    index: int
    keras_top: list[tuple[str, float]]
    export_top: list[tuple[str, float]]
    max_abs_diff: float
    agree: bool
    label: str | None = None
    name: str | None = None


@dataclass
class Preview:
    """Keras against one export on the same images (``to_dict`` is JSON-ready).

    Attributes:
        format: The export format.
        path: The exported model.
        file_size: Its size in bytes.
        count: Images compared.
        agreement: Share of images with the same top-1 class.
        max_abs_diff: Largest probability difference over all images.
        keras_ms_per_image: Keras' inference time per image (batched, after a warm-up).
        export_ms_per_image: The export's (in-page for onnx-web).
        runtime: What ran the export (``onnxruntime-web ... (wasm)`` in Chromium, else Python).
        rows: One per image, disagreements first, then by falling difference.
        images: The images compared, uint8, in ``index`` order (not in ``to_dict``).
    """

    format: str
    path: str
    file_size: int
    count: int
    agreement: float
    max_abs_diff: float
    keras_ms_per_image: float
    export_ms_per_image: float
    runtime: str
    rows: list[PreviewRow] = field(default_factory=list)
    images: np.ndarray = field(default_factory=lambda: np.empty((0, 0, 0, 3), np.uint8), repr=False)

    @property
    def disagreements(self) -> int:
        return sum(not r.agree for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (without the images)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("rows", "images")}
        out["rows"] = [dataclasses.asdict(r) for r in self.rows]
        return out


def exported_formats(run_dir: str | os.PathLike[str]) -> list[str]:
    """Formats the run has an export of (``exports/<format>/export_report.json``), sorted."""
    return [p.parent.name for p in RunFolder(Path(run_dir)).export_reports()]


def images_from_bytes(files: Sequence[tuple[str, bytes]], size: int, *, max_images: int = MAX_PREVIEW_IMAGES
                      ) -> tuple[np.ndarray, list[str]]:
    """Decodes dropped image files into a ``[N, size, size, 3]`` float32 batch (0-255).

    Each file goes through the same checks as training images (format, pixel
    limit); the first bad one raises with its name.

    Raises:
        ValueError: No files, too many, or a file that is not a readable image.
    """
    from PIL import Image

    from tl_widgets.core.data.images import load_rgb

    if not files:
        raise ValueError(_("Expected at least one image file. Received: none"))
    if len(files) > max_images:
        raise ValueError(_("Expected at most {limit} images. Received: {count}").format(
            limit=max_images, count=len(files)))
    out, names = [], []
    with tempfile.TemporaryDirectory(prefix="tlw-preview-") as tmp:
        for i, (name, data) in enumerate(files):
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise ValueError(f"Expected the bytes of {name!r}. Received: {type(data).__name__}")
            path = Path(tmp) / f"{i}{Path(str(name)).suffix.lower()[:8]}"
            path.write_bytes(bytes(data))
            try:
                rgb = load_rgb(path)
            except Exception as exc:  # PIL raises many types for a bad file: name the file and why
                raise ValueError(_("Expected an image file. Received: {name!r} ({error})").format(
                    name=str(name), error=exc)) from exc
            img = Image.fromarray(np.asarray(rgb, np.uint8)).resize((size, size), Image.BILINEAR)
            out.append(np.asarray(img, np.float32))
            names.append(str(name))
    return np.stack(out), names


def _top(probs: np.ndarray, names: Sequence[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [(names[i], float(probs[i])) for i in order]


def preview_export(
    run_dir: str | os.PathLike[str],
    fmt: str,
    *,
    images: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    limit: int = 64,
    k: int = 3,
) -> Preview:
    """Runs ``model.keras`` and the run's ``fmt`` export on the same images and compares them.

    Args:
        run_dir: The run folder.
        fmt: A format the run was exported to (see :func:`exported_formats`).
        images: ``[N, S, S, 3]`` raw images (e.g. from :func:`images_from_bytes`); None: the validation split.
        names: One name per image in ``images``.
        limit: At most this many validation images.
        k: Classes per top-k list.

    Raises:
        FileNotFoundError: The run has no ``fmt`` export.
        ValueError: Bad arguments or images of the wrong shape.
    """
    from tl_widgets.core.evaluation.evaluate import load_run, run_datasets
    from tl_widgets.core.export.formats import FORMATS, take_images
    from tl_widgets.core.export.verify import predictor_for

    if fmt not in FORMATS:
        raise ValueError(f"Expected an export format among {list(FORMATS)}. Received: {fmt!r}")
    if not 1 <= limit <= MAX_PREVIEW_IMAGES or k < 1:
        raise ValueError(f"Expected 1 <= limit <= {MAX_PREVIEW_IMAGES} and k >= 1. Received: limit={limit}, k={k}")
    folder = RunFolder(Path(run_dir))
    report_file = folder.export_dir(fmt) / EXPORT_REPORT_FILE
    if not report_file.is_file():
        raise FileNotFoundError(_("Expected an {format} export of this run (export it first). Received: no {file}")
                                .format(format=fmt, file=report_file.relative_to(folder.path)))
    report = json.loads(report_file.read_text(encoding="utf-8"))
    run = load_run(folder.path)
    labels: np.ndarray | None = None
    if images is None:
        images, labels = take_images(run_datasets(run).val, limit)
    images = np.asarray(images, np.float32)
    size = run.input_size
    if images.ndim != 4 or images.shape[1:] != (size, size, 3):
        raise ValueError(f"Expected images of shape (N, {size}, {size}, 3). Received: {images.shape}")
    if names is not None and len(names) != len(images):
        raise ValueError(f"Expected one name per image ({len(images)}). Received: {len(names)}")
    def keras_pass() -> np.ndarray:
        return np.concatenate([np.asarray(run.model.predict_on_batch(images[i:i + 32]), np.float32)
                               for i in range(0, len(images), 32)])

    keras_pass()  # warm-up (traces each batch shape), not timed
    t = time.perf_counter()
    keras_probs = keras_pass()
    keras_ms = (time.perf_counter() - t) * 1000 / len(images)
    predictor = predictor_for(fmt, Path(report["path"]))
    if not hasattr(predictor, "ms_per_image"):  # the browser page warms up and times itself
        predictor(images)  # load and warm up, not timed
    t = time.perf_counter()
    export_probs = np.asarray(predictor(images), np.float32)
    export_ms = getattr(predictor, "ms_per_image", None) or (time.perf_counter() - t) * 1000 / len(images)
    runtime = getattr(predictor, "backend", None) or f"Python ({fmt})"
    diff = np.abs(export_probs.astype(np.float64) - keras_probs)
    agree = keras_probs.argmax(1) == export_probs.argmax(1)
    cls = run.class_names
    rows = [PreviewRow(
        index=i, keras_top=_top(keras_probs[i], cls, k), export_top=_top(export_probs[i], cls, k),
        max_abs_diff=float(diff[i].max()), agree=bool(agree[i]),
        label=cls[int(labels[i])] if labels is not None else None, name=names[i] if names is not None else None,
    ) for i in range(len(images))]
    rows.sort(key=lambda r: (r.agree, -r.max_abs_diff))
    return Preview(format=fmt, path=str(report["path"]), file_size=int(report["file_size"]), count=len(images),
                   agreement=float(agree.mean()), max_abs_diff=float(diff.max()), keras_ms_per_image=keras_ms,
                   export_ms_per_image=float(export_ms), runtime=runtime, rows=rows,
                   images=np.clip(images, 0, 255).astype(np.uint8))
