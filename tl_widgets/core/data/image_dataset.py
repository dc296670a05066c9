"""``image_dataset``: a drop-in for ``keras.utils.image_dataset_from_directory`` that never stops on a bad file.

Same arguments, same meaning, same output (a ``tf.data.Dataset`` with ``class_names`` and ``file_paths``; a
list of two for ``subset="both"``), same file order, labels and validation split for the same seed, the same
pixel values (``tf.io.decode_image`` then ``tf.image.resize``). What it adds:

* **Bad files are skipped and reported**, never an ``InvalidArgumentError`` in the middle of an epoch: set-up
  reads every file's header (not an image, empty, unreadable, too many pixels: skipped at once); damage past the
  header is met by the decoder in the first pass, skipped there, and reported at the end of that pass. Each
  dataset has a ``report`` (:class:`~tl_widgets.core.data.dataset_report.DatasetReport`: counts, skipped files
  with reasons) and a ``UserWarning`` says what was skipped. The length (``len(ds)``) is the set-up's count:
  a pass that loses files to the decoder is topped up with a few images of a fresh pass.
* **Reduced-size JPEG decoding per file** (:mod:`~tl_widgets.core.data.decoding`): photos several times larger
  than ``image_size`` are decoded at 1/2, 1/4 or 1/8 size by libjpeg (an 8x8-block average), files grouped
  by their ratio. Pixel values then differ from Keras' (which point-samples the full image) by what the
  averaging removes: aliasing.
* **An optional cache** of the decoded images (``cache="memory"``: in memory when it fits half the memory still
  available, else on disk; ``"disk"``), so later epochs skip decoding.
* **EXIF orientation, when asked** (``exif_transpose=True``); by default the pixels are used as stored, as Keras
  does.

TensorFlow builds the pipeline; Keras' JAX and PyTorch backends train from ``tf.data`` datasets, so it works
under every backend as long as TensorFlow is installed (a clear ``ImportError`` otherwise).
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.data.cache_budget import choose_cache
from tl_widgets.core.data.dataset_report import DatasetReport
from tl_widgets.core.data.decoding import INTERPOLATIONS
from tl_widgets.core.data.file_pipeline import DecodeSpec, file_dataset, prepare_files, work_folder
from tl_widgets.core.data.first_pass import FirstPassCheck, describe_skipped, late_skip_message
from tl_widgets.core.data.images import DEFAULT_MAX_PIXELS, DataError, ImageInfo, SkippedFile, size_stats
from tl_widgets.core.data.scanning import check_files, skipped_warning
from tl_widgets.core.i18n import _, ngettext

__all__ = ["image_dataset", "list_image_files", "KERAS_FORMATS"]

KERAS_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
"""The file name endings ``image_dataset_from_directory`` lists (case-insensitive); others are not listed."""
_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
_LABEL_MODES = ("int", "categorical", "binary", None)


def _walk(folder: str, follow_links: bool) -> list[tuple[str, str]]:
    """``(folder below `folder`, file name)`` of the listed files: folders by path, then names, sorted as strings."""
    found = []
    for root, _dirs, names in sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0]):
        rel = root[len(folder):].lstrip(os.sep) if root.startswith(folder) else os.path.relpath(root, folder)
        found += [(rel, name) for name in sorted(names) if name.lower().endswith(KERAS_FORMATS)]
    return found


def list_image_files(directory: str, labels: Any = "inferred", class_names: Sequence[str] | None = None,
                     follow_links: bool = False) -> tuple[list[str], np.ndarray | None, list[str] | None]:
    """The files ``image_dataset_from_directory`` would use, in its order, with their labels and class names.

    With ``labels="inferred"`` every sub-folder not starting with ``.`` is a class (sorted, or in the order of
    ``class_names``), its files found recursively; otherwise the whole folder is listed and ``labels`` (a list
    in file order) or nothing labels them. Paths are ``os.path.join(directory, class, relative path)``.
    """
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if not d.startswith(".") and os.path.isdir(os.path.join(directory, d))]
        if class_names is not None:
            unknown = sorted(set(class_names) - set(subdirs))
            if unknown:
                raise ValueError(_("Expected class_names among the sub-folders of {path!r}: {names}. Received: "
                                   "class_names={received} ({unknown} not found)").format(
                    path=str(directory), names=subdirs, received=list(class_names), unknown=unknown))
            subdirs = list(class_names)
    elif class_names is not None:
        raise ValueError(_("Expected class_names only with labels='inferred'. Received: class_names={names!r} "
                           "with labels={labels!r}").format(names=list(class_names), labels=labels))
    else:
        subdirs = [""]
    paths: list[str] = []
    inferred: list[int] = []
    for k, sub in enumerate(subdirs):
        for rel, name in _walk(os.path.join(directory, sub), follow_links):
            paths.append(os.path.join(directory, sub, rel, name))
            inferred.append(k)
    if labels == "inferred":
        return paths, np.array(inferred, np.int32), list(subdirs)
    if labels is None:
        return paths, None, None
    if len(labels) != len(paths):
        raise ValueError(_("Expected as many labels as image files in {path!r} ({count}). Received: "
                           "{given} labels").format(path=str(directory), count=len(paths), given=len(labels)))
    return paths, np.asarray(labels, np.int32), [str(v) for v in sorted(set(labels))]


def _require_tensorflow() -> None:
    try:
        import tensorflow  # noqa: F401
    except ImportError as exc:
        raise ImportError(_("image_dataset builds a tf.data pipeline and needs TensorFlow (pip install "
                            "tensorflow-cpu). Keras trains from tf.data datasets under the JAX and PyTorch "
                            "backends too.")) from exc


def _check_arguments(labels: Any, label_mode: Any, class_names: Any, color_mode: Any, batch_size: Any,
                     image_size: Any, shuffle: bool, seed: Any, validation_split: Any, subset: Any,
                     interpolation: Any, cache: Any) -> tuple[int, int]:
    """Keras' rules for the arguments (its meanings, our messages); returns ``(height, width)``."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)) or not all(isinstance(v, (int, np.integer)) for v in labels):
            raise ValueError(_("Expected labels='inferred', None, or a list of integer labels in file order. "
                               "Received: labels={labels!r}").format(labels=labels))
    if label_mode not in _LABEL_MODES:
        raise ValueError(_("Expected label_mode 'int', 'categorical', 'binary' or None. Received: "
                           "label_mode={mode!r}").format(mode=label_mode))
    if color_mode not in _CHANNELS:
        raise ValueError(_("Expected color_mode 'rgb', 'rgba' or 'grayscale'. Received: color_mode={mode!r}").format(
            mode=color_mode))
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(_("Expected batch_size > 0 or None. Received: batch_size={size!r}").format(size=batch_size))
    size = (image_size, image_size) if isinstance(image_size, int) and not isinstance(image_size, bool) else image_size
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ValueError(_("Expected image_size as (height, width), two integers > 0. Received: "
                           "image_size={size!r}").format(size=image_size))
    if not isinstance(interpolation, str) or interpolation.lower() not in INTERPOLATIONS:
        raise ValueError(_("Expected interpolation in {choices}. Received: interpolation={value!r}").format(
            choices=INTERPOLATIONS, value=interpolation))
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(_("Expected 0 < validation_split < 1. Received: validation_split={split!r}").format(
            split=validation_split))
    if subset not in ("training", "validation", "both", None):
        raise ValueError(_("Expected subset 'training', 'validation', 'both' or None. Received: subset={subset!r}"
                           ).format(subset=subset))
    if bool(validation_split) != bool(subset):
        raise ValueError(_("Expected validation_split and subset together. Received: validation_split={split!r}, "
                           "subset={subset!r}").format(split=validation_split, subset=subset))
    if validation_split and shuffle and seed is None:
        raise ValueError(_("Expected a seed with validation_split and shuffle=True (the same seed for both "
                           "subsets, so that they do not overlap). Received: seed=None"))
    if cache not in (None, "none", "memory", "disk"):
        raise ValueError(_("Expected cache None, 'memory' or 'disk'. Received: cache={cache!r}").format(cache=cache))
    return int(size[0]), int(size[1])


def image_dataset(
    directory: str | os.PathLike[str],
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: Sequence[str] | None = None,
    color_mode: str = "rgb",
    batch_size: int | None = 32,
    image_size: int | Sequence[int] = (256, 256),
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    follow_links: bool = False,
    crop_to_aspect_ratio: bool = False,
    *,
    cache: str | None = None,
    exif_transpose: bool = False,
    work_dir: str | os.PathLike[str] | None = None,
    verbose: bool = True,
) -> Any:
    """A ``tf.data.Dataset`` of the images in ``directory``, as ``keras.utils.image_dataset_from_directory``.

    The arguments up to ``crop_to_aspect_ratio`` are Keras' (same order, defaults and meaning); see the module
    docstring for what differs: bad files skipped and reported, reduced-size JPEG decoding, the cache. Keras'
    ``pad_to_aspect_ratio``, ``data_format`` (images are channels-last) and ``format`` (a ``tf.data`` dataset
    only) are not taken.

    Args:
        directory: A local folder; with ``labels="inferred"``, one sub-folder per class.
        labels: ``"inferred"`` (from the sub-folders), None (no labels) or a list of integer labels in file
            order (files sorted as ``os.walk`` lists them, as Keras does).
        label_mode: ``"int"`` (``int32``), ``"categorical"`` (one-hot ``float32``), ``"binary"``
            (``float32 [B, 1]``, exactly 2 classes) or None (images only).
        class_names: The class sub-folders to use, in label order (``labels="inferred"`` only).
        color_mode: ``"rgb"``, ``"rgba"`` or ``"grayscale"`` (3, 4 or 1 channels).
        batch_size: Images per batch; None yields single images.
        image_size: ``(height, width)`` (or one side) the images are resized to.
        shuffle: Shuffle the files (a fresh order every pass); False keeps them sorted.
        seed: Shuffling seed (needed with ``validation_split`` and ``shuffle``).
        validation_split: Fraction of the files kept for validation (the last ones after the seeded shuffle,
            as Keras assigns them).
        subset: ``"training"``, ``"validation"`` or ``"both"`` (a list ``[training, validation]``).
        interpolation: ``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"area"``, ``"lanczos3"``, ``"lanczos5"``,
            ``"gaussian"`` or ``"mitchellcubic"``.
        follow_links: Also list sub-folders that are symbolic links.
        crop_to_aspect_ratio: Centre-crop to the aspect ratio of ``image_size`` instead of stretching.
        cache: None (decode every pass, as Keras), ``"memory"`` (the decoded images in memory if they fit half
            the memory still available, else on disk) or ``"disk"``. Cached pixels are rounded to ``uint8``.
        exif_transpose: Turn JPEGs by their EXIF orientation (as Pillow's ``ImageOps.exif_transpose``); Keras
            does not, and neither does this by default.
        work_dir: Where disk caches and the few converted files go (default: a folder in the tl_widgets home).
        verbose: Print what was found, as Keras does.

    Returns:
        A ``tf.data.Dataset`` yielding ``(images, labels)`` (or images): ``float32 [B, height, width, channels]``
        in 0..255 (``uint8`` for ``"nearest"``). Attributes: ``class_names``, ``file_paths`` (in dataset order
        when ``shuffle=False``; files found broken in the first pass are removed from it) and ``report``.
        ``subset="both"`` returns a list of two.

    Raises:
        ValueError: An argument out of its range (the message names it), no images, or an empty subset.
        ImportError: TensorFlow is not installed.
    """
    _require_tensorflow()
    size = _check_arguments(labels, label_mode, class_names, color_mode, batch_size, image_size, shuffle, seed,
                            validation_split, subset, interpolation, cache)
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise DataError(_("Expected a folder of images. Received: {path!r} ({why})").format(
            path=directory, why=_("does not exist") if not os.path.exists(directory) else _("not a folder")))
    if seed is None:
        seed = int(np.random.randint(1e6))
    if labels is None or label_mode is None:  # as Keras: no labels, and then the whole tree is listed
        labels = label_mode = None
    paths, labs, names = list_image_files(directory, labels, class_names, follow_links)
    if label_mode == "binary" and len(names or []) != 2:
        raise ValueError(_("Expected exactly 2 classes with label_mode='binary'. Received: class_names={names}").format(
            names=names))
    if not paths:
        raise DataError(_("Expected image files ({formats}) in {path!r}. Received: none").format(
            formats=", ".join(KERAS_FORMATS), path=directory))
    order = np.arange(len(paths))
    if shuffle:  # the seeded global shuffle Keras does before the split: the same files land in each subset
        np.random.RandomState(seed).shuffle(order)
    if verbose:
        print(_("Found {count} files.").format(count=len(paths)) if names is None else
              ngettext("Found {count} files belonging to {classes} class.",
                       "Found {count} files belonging to {classes} classes.", len(names)).format(
                  count=len(paths), classes=len(names)))
    n_val = int(validation_split * len(paths)) if validation_split else 0
    if validation_split and n_val == 0:
        raise ValueError(_("Expected at least one validation file. Received: validation_split={split} of {count} "
                           "files").format(split=validation_split, count=len(paths)))
    parts = {"training": order[:len(order) - n_val], "validation": order[len(order) - n_val:]}
    wanted = ["training", "validation"] if subset == "both" else [subset or "dataset"]
    spec = DecodeSpec(size, _CHANNELS[color_mode], interpolation.lower(), bool(crop_to_aspect_ratio),
                      bool(exif_transpose))
    out = []
    for what in wanted:
        chosen = parts.get(what, order)
        if verbose and subset:
            print((_("Using {count} files for training.") if what == "training" else
                   _("Using {count} files for validation.")).format(count=len(chosen)))
        out.append(_one(directory, [paths[i] for i in chosen], None if labs is None else labs[chosen], names, spec,
                        batch_size, shuffle=shuffle and not (subset == "both" and what == "validation"), seed=seed,
                        label_mode=label_mode, what=what, cache=cache or "none", work_dir=work_dir, verbose=verbose))
    return out if subset == "both" else out[0]


def _one(directory: str, paths: list[str], labels: np.ndarray | None, names: list[str] | None, spec: DecodeSpec,
         batch_size: int | None, *, shuffle: bool, seed: int, label_mode: str | None, what: str, cache: str,
         work_dir: Any, verbose: bool) -> Any:
    """One dataset over ``paths``: header check, report, pipeline, attributes."""
    if not paths:
        raise DataError(_("Expected {what} images in {path!r}. Received: none").format(what=what, path=directory))
    results = check_files(paths, DEFAULT_MAX_PIXELS, deep=False)
    good = [i for i, r in enumerate(results) if isinstance(r, ImageInfo)]
    skipped = [r for r in results if isinstance(r, SkippedFile)]
    infos = [results[i] for i in good]
    if not infos:
        raise DataError(_("Expected at least one usable image in {path!r}. Received: {count} files, none usable "
                          "({files})").format(path=directory, count=len(paths), files=describe_skipped(skipped)))
    labs = np.zeros(len(infos), np.int32) if labels is None else labels[good].astype(np.int32)
    counts = {} if labels is None or names is None else {
        name: int(c) for name, c in zip(names, np.bincount(labs, minlength=len(names)))}
    widths, heights = np.array([i.width for i in infos]), np.array([i.height for i in infos])
    report = DatasetReport(root=directory, class_names=list(names or []), counts=counts, skipped=skipped,
                           size_stats=size_stats(widths, heights),
                           warnings=[skipped_warning(len(skipped))] if skipped else [])
    if skipped:
        warnings.warn(ngettext("{count} file was skipped ({files}); see the dataset's report.",
                               "{count} files were skipped ({files}); see the dataset's report.",
                               len(skipped)).format(count=len(skipped), files=describe_skipped(skipped)),
                      UserWarning, stacklevel=3)
    files = prepare_files(infos, work_dir)
    kept = [i.path for i in infos]
    choice = choose_cache(cache, len(infos), spec.size, lambda: work_folder(work_dir) / "cache", channels=spec.channels)
    cache_dir = None
    if choice.mode == "disk":
        cache_dir = work_folder(work_dir) / "cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
    if choice.warning:
        warnings.warn(choice.note, UserWarning, stacklevel=3)
    elif choice.note and verbose:
        print(choice.note)
    check = FirstPassCheck(np.array(kept, dtype=object), labs, list(names or []), report,
                           report.counts if counts else None, kept, what)
    check.watch(lambda found: warnings.warn(_refilled(found, what), UserWarning, stacklevel=2))
    ds = file_dataset(files, labs, np.arange(len(infos)), spec, batch_size, shuffle=shuffle, seed=seed,
                      cache=choice.mode, cache_dir=cache_dir, check=check, label_mode=label_mode,
                      num_classes=len(names or []), refill=True)
    ds.class_names = names
    ds.file_paths = kept
    ds.report = report
    return ds


def _refilled(found: list[SkippedFile], what: str) -> str:
    return late_skip_message(found, what) + " " + _(
        "The dataset keeps its length: a pass that comes up a batch short is topped up with images of the next.")

