"""Trying a finished run on new images: top-k, a Grad-CAM overlay and the time per prediction.

:func:`predictor_for_run` loads a run folder's ``model.keras`` once (cached per run; a retrained
model file is loaded again) into a :class:`TryPredictor`. Images arrive as encoded bytes (an upload,
a webcam snapshot) and go through the training pipeline's own steps: the same header and integrity
checks with the pixel limit (:func:`~tl_widgets.core.data.images.check_image`), the same conversion of
the few files TensorFlow decodes wrongly, the same TensorFlow decoder and resize
(:func:`~tl_widgets.core.data.decoding.make_tf_decoder`, EXIF orientation applied as in training). The model is called exactly as the exported
``keras`` :data:`~tl_widgets.core.export.verify.Predictor` calls it (``predict_on_batch`` on raw
0-255 RGB), so the probabilities shown are the saved model's.

A bad image never stops the others: :meth:`TryPredictor.try_images` returns one
:class:`TryResult` per good image and one :class:`TryError` (name and reason) per bad one.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.data.image_open import ImageRefused, open_image
from tl_widgets.core.data.decoding import DECODE_AS, decode_as, jpeg_ratio, make_tf_decoder
from tl_widgets.core.data.images import DEFAULT_MAX_PIXELS, DataError, SkippedFile, check_image, convert_to_png
from tl_widgets.core.i18n import _
from tl_widgets.core.runs.folder import MODEL_FILE, RunFolder

__all__ = [
    "MAX_TRY_IMAGES", "TryResult", "TryError", "TryOutcome", "TryPredictor", "predictor_for_run",
    "clear_predictor_cache", "decode_image", "top_k",
]

MAX_TRY_IMAGES = 16
"""Images tried at once (an upload of more is refused beyond this many)."""

_CACHE_SIZE = 2  # models kept loaded; a third run evicts the least recently used
_SUFFIX = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "GIF": ".gif", "BMP": ".bmp", "WEBP": ".webp"}
_KINDS = "JPEG, PNG, GIF, BMP or WebP"


@dataclass
class TryResult:
    """What the model says about one image.

    Attributes:
        name: The file name (or ``snapshot``).
        top: ``[(class, probability), ...]``, most probable first.
        probabilities: float32 ``[C]``, every class in label order.
        image: uint8 ``[S, S, 3]``: the image as the model sees it (decoded and resized as in training).
        overlay: uint8 ``[S, S, 3]``: the Grad-CAM heatmap of the top class over ``image`` (None when
            Grad-CAM is not available for this model or backend; ``TryOutcome.gradcam_note`` says why).
        ms: Milliseconds the model took for this image (one ``predict_on_batch``, after a warm-up).
    """

    name: str
    top: list[tuple[str, float]]
    probabilities: np.ndarray
    image: np.ndarray
    overlay: np.ndarray | None
    ms: float


@dataclass
class TryError:
    """An image that could not be tried, and why (a whole sentence: expected, received)."""

    name: str
    message: str


@dataclass
class TryOutcome:
    """Every image of one try.

    Attributes:
        run_id: The run tried.
        results: One per good image, in the order given.
        errors: One per bad image, in the order given.
        ms_per_image: Mean prediction time over ``results`` (0 when none).
        gradcam_ms_per_image: Grad-CAM's time per image (0 when not computed).
        gradcam_layer: The backbone layer the heatmaps come from.
        gradcam_note: Why there are no overlays (empty when there are).
    """

    run_id: str
    results: list[TryResult] = field(default_factory=list)
    errors: list[TryError] = field(default_factory=list)
    ms_per_image: float = 0.0
    gradcam_ms_per_image: float = 0.0
    gradcam_layer: str = ""
    gradcam_note: str = ""


def top_k(probabilities: np.ndarray, class_names: Sequence[str], k: int) -> list[tuple[str, float]]:
    """The ``k`` most probable ``(class, probability)`` pairs (ties keep label order)."""
    if k < 1:
        raise ValueError(f"Expected k >= 1. Received: k={k}")
    p = np.asarray(probabilities, np.float64).reshape(-1)
    order = np.argsort(-p, kind="stable")[:k]
    return [(str(class_names[i]), float(p[i])) for i in order]


def decode_image(name: str, data: Any, size: int, *, max_bytes: int | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decodes encoded image bytes as training does: uint8 ``[size, size, 3]``.

    Args:
        name: The file name (for messages only; the format is read from the bytes).
        data: The encoded image (``bytes``, ``bytearray`` or ``memoryview``).
        size: The model's input side.
        max_bytes: Refuse larger files (None: no byte limit; the pixel limit always applies).
        max_pixels: Refuse images with more pixels, from the header alone (never decoded).

    Raises:
        DataError: Not bytes, too large, empty, not a JPEG/PNG/GIF/BMP/WebP image, corrupt or truncated.
    """
    label = str(name)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DataError(_("Expected the bytes of an image file. Received: {name!r} ({kind})").format(
            name=label, kind=type(data).__name__))
    raw = bytes(data)
    if not raw:
        raise DataError(_("Expected an image file. Received: {name!r} (0 bytes)").format(name=label))
    if max_bytes is not None and len(raw) > max_bytes:
        raise DataError(_("Expected an image of at most {limit:.1f} MiB. Received: {name!r} ({size:.1f} MiB)").format(
            limit=max_bytes / 2**20, name=label, size=len(raw) / 2**20))
    try:
        with open_image(raw, max_pixels) as im:  # the header only: which format it really is, and its size
            fmt = im.format or ""
    except ImageRefused as exc:
        if exc.reason == "not an image":
            raise DataError(_("Expected a {kinds} image. Received: {name!r} (its contents are not an image)").format(
                kinds=_KINDS, name=label)) from None
        if exc.reason.endswith(" format"):  # another kind of image (TIFF, ICO, EPS...): never opened
            raise DataError(_("Expected a {kinds} image. Received: {name!r} ({fmt})").format(
                kinds=_KINDS, name=label, fmt=exc.reason)) from None
        raise DataError(_("Expected a readable {kinds} image. Received: {name!r} ({reason})").format(
            kinds=_KINDS, name=label, reason=exc.reason)) from None
    if fmt not in _SUFFIX:
        raise DataError(_("Expected a {kinds} image. Received: {name!r} ({fmt} format)").format(
            kinds=_KINDS, name=label, fmt=fmt or "unknown"))
    with tempfile.TemporaryDirectory(prefix="tlw-try-") as tmp:
        path = Path(tmp) / f"image{_SUFFIX[fmt]}"
        path.write_bytes(raw)
        info = check_image(path, max_pixels)
        if isinstance(info, SkippedFile):
            raise DataError(_("Expected a readable {kinds} image. Received: {name!r} ({reason})").format(
                kinds=_KINDS, name=label, reason=info.reason))
        source = convert_to_png(path, Path(tmp) / "converted") if info.convert else str(path)
        orientation = 1 if info.convert else info.orientation  # as in training: a conversion applied it already
        ratio = jpeg_ratio(info, size, orientation=orientation)
        # The reader the training pipeline picks for this file (a JPEG read at reduced size needs the JPEG one).
        read_as = DECODE_AS[int(decode_as(["PNG" if info.convert else info.format], [ratio], 3)[0])]
        decoded = make_tf_decoder(size, ratio, orientation=orientation, read_as=read_as)(source)
        return np.asarray(decoded, np.uint8)


class TryPredictor:
    """A run's saved model, loaded once, for trying images.

    Attributes:
        run_dir: The run folder.
        run_id: Its name.
        class_names: Class names in label order.
        input_size: The model's square input side.
        model: The Keras model (raw 0-255 RGB in, probabilities out).
        load_seconds: Time to load and warm up.
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        from tl_widgets.core.evaluation.evaluate import load_run

        started = time.perf_counter()
        run = load_run(run_dir)
        self.run_dir, self.run_id = run.run_dir, run.run_id
        self.class_names, self.input_size, self.model = list(run.class_names), int(run.input_size), run.model
        self._lock = threading.Lock()
        self.predict(np.zeros((1, self.input_size, self.input_size, 3), np.float32))  # traces once, not timed later
        self.load_seconds = time.perf_counter() - started

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities for a raw 0-255 ``[N, S, S, 3]`` batch: the export ``keras`` Predictor's call."""
        x = np.asarray(images, np.float32)
        if x.ndim != 4 or x.shape[1:] != (self.input_size, self.input_size, 3):
            raise ValueError(f"Expected images of shape (N, {self.input_size}, {self.input_size}, 3). "
                             f"Received: {x.shape}")
        with self._lock:
            return np.asarray(self.model.predict_on_batch(x), np.float32)

    def try_images(self, items: Sequence[tuple[str, Any]], *, k: int = 5, gradcam: bool = True,
                   max_bytes: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> TryOutcome:
        """Decodes and predicts each image; bad ones become :class:`TryError` and the rest go on.

        Args:
            items: ``(name, encoded bytes)`` pairs, at most :data:`MAX_TRY_IMAGES`.
            k: Classes per top-k list (at most the number of classes).
            gradcam: Compute the Grad-CAM overlay of each image's top class.
            max_bytes: Refuse larger files (see :func:`decode_image`).
            max_pixels: Refuse images with more pixels.

        Raises:
            ValueError: No items, too many, or ``k`` < 1.
        """
        if not items:
            raise ValueError(_("Expected at least one image. Received: none"))
        if len(items) > MAX_TRY_IMAGES:
            raise ValueError(_("Expected at most {limit} images at a time. Received: {count}").format(
                limit=MAX_TRY_IMAGES, count=len(items)))
        if k < 1:
            raise ValueError(f"Expected k >= 1. Received: k={k}")
        k = min(k, len(self.class_names))
        outcome = TryOutcome(run_id=self.run_id)
        good: list[tuple[str, np.ndarray]] = []
        for name, data in items:
            try:
                good.append((str(name), decode_image(name, data, self.input_size, max_bytes=max_bytes,
                                                     max_pixels=max_pixels)))
            except DataError as exc:
                outcome.errors.append(TryError(str(name), str(exc)))
        if not good:
            return outcome
        for name, image in good:
            started = time.perf_counter()
            probs = self.predict(image[None])[0]
            ms = (time.perf_counter() - started) * 1000
            outcome.results.append(TryResult(name, top_k(probs, self.class_names, k), probs, image, None, ms))
        outcome.ms_per_image = float(np.mean([r.ms for r in outcome.results]))
        if gradcam:
            self._add_gradcam(outcome)
        return outcome

    def _add_gradcam(self, outcome: TryOutcome) -> None:
        """Overlays of each result's top class; a model or backend without Grad-CAM gets a note instead."""
        import keras

        from tl_widgets.core.evaluation.gradcam import gradcam

        if keras.backend.backend() != "tensorflow":
            outcome.gradcam_note = _("Grad-CAM needs the TensorFlow backend (this kernel runs {backend}).").format(
                backend=keras.backend.backend())
            return
        batch = np.stack([r.image for r in outcome.results]).astype(np.float32)
        top = [int(np.argmax(r.probabilities)) for r in outcome.results]
        started = time.perf_counter()
        try:
            with self._lock:
                cam = gradcam(self.model, batch, class_index=top)
        except ValueError as exc:  # e.g. a backbone without a convolutional feature map: say so in the panel
            outcome.gradcam_note = _("No Grad-CAM for this model: {reason}").format(reason=str(exc))
            return
        outcome.gradcam_ms_per_image = (time.perf_counter() - started) * 1000 / len(batch)
        outcome.gradcam_layer = cam.layer
        for result, overlay in zip(outcome.results, cam.overlays):
            result.overlay = np.asarray(overlay, np.uint8)


_cache: OrderedDict[tuple[str, int, int], TryPredictor] = OrderedDict()
_cache_lock = threading.Lock()


def predictor_for_run(run_dir: str | os.PathLike[str]) -> TryPredictor:
    """The run's :class:`TryPredictor`, loaded once per run (a rewritten ``model.keras`` is loaded again).

    Raises:
        FileNotFoundError: Not a run folder with a saved model.
        ValueError: Its labels disagree with the model.
    """
    folder = RunFolder(Path(run_dir))
    model_file = folder.model_file
    if not model_file.is_file():
        raise FileNotFoundError(_("Expected a finished run folder with {model}. Received: {path!r}").format(
            model=MODEL_FILE, path=str(folder.path)))
    st = model_file.stat()
    key = (str(model_file.resolve()), st.st_mtime_ns, st.st_size)
    with _cache_lock:  # one load at a time: two clicks never load the same model twice
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        predictor = TryPredictor(folder.path)
        for old in [k for k in _cache if k[0] == key[0]]:
            del _cache[old]
        _cache[key] = predictor
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return predictor


def clear_predictor_cache() -> None:
    """Forgets every loaded model (they are loaded again on the next try)."""
    with _cache_lock:
        _cache.clear()
