"""Datasets: scan a folder of class folders, split it, and build tf.data pipelines.

Public entry points:

* :func:`scan_folder` checks every file up front (headers and a cheap
  integrity test) and returns a :class:`DatasetReport`: classes, counts,
  skipped files with reasons, image sizes, warnings.
* :func:`load_datasets` turns a :class:`~tl_widgets.core.config.schema.DataConfig`
  into finite, batched ``tf.data`` pipelines (:class:`Datasets`). Its set-up
  lists the folder and reads headers only (:mod:`~tl_widgets.core.data.scanning`);
  damaged image data is skipped during the first epoch and reported the same
  way (:mod:`~tl_widgets.core.data.first_pass`); the decoded-image cache goes to
  memory or disk by a budget (:mod:`~tl_widgets.core.data.cache_budget`).

Every user-facing problem raises :class:`DataError`. TensorFlow is imported
lazily (inside functions), so importing this module works under any Keras
backend.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tl_widgets.core.config.schema import DataConfig
from tl_widgets.core.data import pipeline as pipelines
from tl_widgets.core.data.dataset_report import DatasetReport
from tl_widgets.core.data.cache_budget import choose_cache
from tl_widgets.core.data.first_pass import FirstPassCheck, late_skip_message
from tl_widgets.core.data.file_pipeline import prepare_files, work_folder
from tl_widgets.core.data.images import DataError, ImageInfo, SkippedFile
from tl_widgets.core.data.scanning import scan
from tl_widgets.core.data.zipsafe import find_class_root, safe_extract_zip
from tl_widgets.core.i18n import _

__all__ = ["DataError", "SkippedFile", "DatasetReport", "Datasets", "scan_folder", "load_datasets", "extract_zip_once",
           "zip_extraction_dir"]


@dataclass
class Datasets:
    """The pipelines for one run, plus what the trainer needs to know.

    ``train`` and ``val`` are finite (one pass per epoch, no ``repeat``) and
    yield ``(images, labels)``: ``float32 [B, S, S, 3]`` in 0..255 and
    ``int32 [B]``. ``steps_per_epoch``/``val_steps`` are for progress bars;
    don't pass them to ``fit`` (the datasets end by themselves).
    ``train_keys``/``val_keys`` name each image in pipeline order for the
    validation set (see :mod:`tl_widgets.core.data.curation`; None for data
    from code); ``curation`` is the applied curation's summary.

    Files are checked from their headers at set-up; a file whose image data
    turns out to be broken is dropped during the first epoch and then added to
    ``report`` (see :meth:`watch_skipped`), and ``train_count``/``val_count`` and
    ``steps_per_epoch``/``val_steps`` are lowered to what the next epochs really run.
    ``notices`` are ``(level, text)`` run messages (e.g. which data cache was chosen and why).
    """

    train: Any
    val: Any
    class_names: list[str]
    train_count: int
    val_count: int
    batch_size: int
    steps_per_epoch: int
    val_steps: int
    class_weight: dict[int, float] | None
    report: DatasetReport
    train_keys: list[str] | None = None
    val_keys: list[str] | None = None
    curation: dict[str, Any] | None = None
    notices: list[tuple[str, str]] = field(default_factory=list)
    checks: list[FirstPassCheck] = field(default_factory=list)

    def __post_init__(self) -> None:
        for check in self.checks:  # the counts become exact once a first pass dropped bad files
            check.watch(lambda found, what=check.what: self._drop(what, len(found)))

    def _drop(self, what: str, count: int) -> None:
        if what == "validation":
            self.val_count -= count
            self.val_steps = math.ceil(self.val_count / self.batch_size)
        else:
            self.train_count -= count
            self.steps_per_epoch = math.ceil(self.train_count / self.batch_size)

    def watch_skipped(self, watcher: Callable[[str], None]) -> None:
        """Calls ``watcher(message)`` when a first pass over a pipeline drops bad files.

        The files are already in ``report.skipped`` (and gone from the keys) by then.
        """
        for check in self.checks:
            check.watch(lambda found, what=check.what: watcher(late_skip_message(found, what)))


# -- scanning ----------------------------------------------------------------


def _scan(root: Path, **kwargs: Any) -> tuple[DatasetReport, dict[str, list[ImageInfo]]]:
    """The deep scan (every file checked up front); see :func:`tl_widgets.core.data.scanning.scan`."""
    return scan(root, **kwargs)


def scan_folder(
    path: str | os.PathLike[str], *, max_per_class: int | None = None, min_size: int | None = None
) -> DatasetReport:
    """Checks a folder of class folders and reports what is usable.

    Args:
        path: A folder with one sub-folder per class (nested folders inside a
            class are included; dotfiles and ``__MACOSX`` are ignored).
        max_per_class: Check at most this many files per class (a quick look
            at a huge folder); None checks everything.
        min_size: Warn about images whose shorter side is below this.

    Returns:
        A :class:`DatasetReport`; bad files are listed in ``skipped``.

    Raises:
        DataError: The path is missing or not a folder, the folder is empty,
            has fewer than two classes, or a class has no valid image.
    """
    report, _ = scan(Path(path), max_per_class=max_per_class, min_size=min_size, deep=True)
    return report


# -- load_datasets -----------------------------------------------------------


def _zip_root(cfg: DataConfig, work_dir: str | os.PathLike[str] | None) -> Path:
    if not Path(cfg.path or "").is_file():
        raise DataError(_("Expected an existing zip file for data.path. Received: {path!r} (not found)").format(
            path=cfg.path))
    return extract_zip_once(cfg.path or "", work_dir)


def zip_extraction_dir(zip_path: str | os.PathLike[str], work_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`extract_zip_once` extracts ``zip_path`` (keyed by its path, size and modification time)."""
    zpath = Path(zip_path)
    st = zpath.stat()
    key = hashlib.sha1(f"{zpath.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return work_folder(work_dir) / "extracted" / f"{zpath.stem}-{key}"


def extract_zip_once(zip_path: str | os.PathLike[str], work_dir: str | os.PathLike[str] | None = None) -> Path:
    """The class root of ``zip_path`` extracted under ``<work_dir>/extracted`` (the user's home by default).

    The extraction is keyed by the zip's path, size and modification time: training, the health check and
    anything else reading the same unchanged zip reuse one extraction (inside the seat's quota) instead of
    writing a new one each time.

    Raises:
        DataError: Not a zip, or unsafe (see :func:`~tl_widgets.core.data.zipsafe.safe_extract_zip`).
    """
    zpath = Path(zip_path)
    target = zip_extraction_dir(zpath, work_dir)
    if target.is_dir() and any(target.iterdir()):
        return find_class_root(target)  # extracted before (the rename into place is atomic)
    return safe_extract_zip(zpath, target)


def _file_source(root: Path, min_size: int | None) -> tuple[DatasetReport, list[str], np.ndarray, list[ImageInfo]]:
    report, valid = scan(root, min_size=min_size, deep=False)  # the rest is checked during the first epoch
    infos = [i for v in valid.values() for i in v]
    labels = np.concatenate([np.full(len(v), k, np.int32) for k, v in enumerate(valid.values())])
    return report, list(valid), labels, infos


def _relative_keys(root: Path, infos: list[ImageInfo], prefix: str = "") -> list[str]:
    """``prefix`` + each file's path relative to ``root``, with ``/`` separators (string work: 100k files fast)."""
    base = str(root).rstrip(os.sep) + os.sep
    keys = []
    for info in infos:
        path = info.path
        rel = path[len(base):] if path.startswith(base) else Path(path).relative_to(root).as_posix()
        keys.append(prefix + rel.replace(os.sep, "/"))
    return keys


def load_datasets(
    cfg: DataConfig,
    image_size: int,
    *,
    seed: int | None = None,
    min_size: int | None = None,
    code_data: Any = None,
    work_dir: str | os.PathLike[str] | None = None,
    shard: tuple[int, int] | None = None,
) -> Datasets:
    """Builds the training and validation pipelines described by ``cfg``.

    Args:
        cfg: The data section of the run's config.
        image_size: Square side the images are resized to.
        seed: Shuffling seed (None: a different order each run). The split,
            ``max_per_class`` choice and sharding use ``seed`` or 0, so they are
            stable across runs and identical in every process.
        min_size: Warn about images smaller than this (usually the backbone's input).
        code_data: For ``cfg.source == "code"``: ``(x, y)`` or
            ``(x, y, class_names)`` numpy arrays, a ``tf.data.Dataset`` of
            ``(image, label)`` or a ``keras.utils.PyDataset``.
        work_dir: Where zip extractions, converted files and disk caches go
            (default: a ``tl_widgets_data`` folder in the system temp folder).
        shard: ``(index, count)``: this process reads a disjoint subset of the
            files; all shards have the same size.

    Returns:
        :class:`Datasets`.

    Raises:
        DataError: On any problem with the data (the message says what and where).
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise DataError(f"Expected image_size to be a positive integer. Received: image_size={image_size!r}")
    split_seed = 0 if seed is None else int(seed)
    if cfg.source == "code":
        if code_data is None:
            raise DataError("Expected code_data when data.source='code'. Received: None")
        source = pipelines.code_source(code_data, min_size)
        keys = None
    elif cfg.source == "demo":
        from tl_widgets.core.data.demo_datasets import demo_arrays

        source = pipelines.array_source(*demo_arrays(cfg.demo, "target"), min_size)
        keys = [f"{cfg.demo}/{i}" for i in range(len(source.labels))]
    else:
        if cfg.source == "zip":
            root = _zip_root(cfg, work_dir)
        else:
            if not cfg.path:
                raise DataError(_("Expected data.path when data.source='folder'. Received: None"))
            root = Path(cfg.path)
        report, names, labels, infos = _file_source(root, min_size)
        keys = _relative_keys(root, infos)
        source = pipelines.FileSource(report, names, labels, prepare_files(infos, work_dir))

    labels = source.labels
    n_classes = len(source.class_names)
    val_source = val_keys = None
    if cfg.val_path and cfg.source in ("folder", "zip"):
        val_source, val_keys = _val_folder(Path(cfg.val_path), source.class_names, work_dir,
                                           source.report)
        train_idx, val_idx = np.arange(len(labels)), np.arange(len(val_source.labels))
    else:
        train_idx, val_idx = pipelines.split_indices(labels, cfg.validation_split, split_seed)
    curation = None
    if cfg.curation:  # after the split (same partition as the uncurated run), before per-class limits
        train_idx, val_idx, curation = _curate(cfg.curation, source, keys, train_idx, val_idx, val_source, val_keys)
        labels = source.labels
    train_idx = pipelines.limit_per_class(train_idx, labels, cfg.max_per_class, split_seed)
    train_idx = pipelines.shard_indices(train_idx, shard, split_seed)
    if val_source is not None:
        val_idx = pipelines.shard_indices(val_idx, shard, split_seed)
    elif len(val_idx):
        val_idx = pipelines.shard_indices(val_idx, shard, split_seed)

    choice = choose_cache(cfg.cache, len(train_idx) + len(val_idx), image_size, lambda: work_folder(work_dir) / "cache")
    cache_dir = None
    if choice.mode == "disk":
        cache_dir = work_folder(work_dir) / "cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
    train_keys = None if keys is None else [keys[i] for i in train_idx]
    val_keys = None if keys is None else [(val_keys or keys)[i] for i in val_idx]
    vs = val_source or source
    checks = []
    if isinstance(source, pipelines.FileSource):
        report = source.report
        checks.append(FirstPassCheck(source.paths[train_idx], labels[train_idx], source.class_names, report,
                                     report.counts, train_keys, "training"))
        if len(val_idx):
            checks.append(FirstPassCheck(vs.paths[val_idx], vs.labels[val_idx], source.class_names, report,
                                         report.counts if val_source is None else None, val_keys, "validation"))
    batch = cfg.batch_size
    train_ds = pipelines.build_pipeline(source, train_idx, image_size, batch, True, choice.mode, seed, cache_dir,
                                        checks[0] if checks else None)
    val_ds = None
    if len(val_idx):
        val_ds = pipelines.build_pipeline(vs, val_idx, image_size, batch, False, choice.mode, seed, cache_dir,
                                          checks[1] if checks else None)
    weights = pipelines.inverse_frequency(labels[train_idx], n_classes) if cfg.class_weights else None
    return Datasets(
        train=train_ds,
        val=val_ds,
        class_names=list(source.class_names),
        train_count=len(train_idx),
        val_count=len(val_idx),
        batch_size=batch,
        steps_per_epoch=math.ceil(len(train_idx) / batch),
        val_steps=math.ceil(len(val_idx) / batch),
        class_weight=weights,
        report=source.report,
        train_keys=train_keys,
        val_keys=val_keys,
        curation=curation,
        notices=[("warning" if choice.warning else "info", choice.note)] if choice.note else [],
        checks=checks,
    )


def _curate(path: str, source: Any, keys: list[str] | None, train_idx: np.ndarray, val_idx: np.ndarray,
            val_source: Any, val_keys: list[str] | None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Applies a curation file to the sources' labels (in memory) and drops excluded images from the splits."""
    from tl_widgets.core.data.curation import apply_decisions, read_decisions

    if keys is None:
        raise DataError(_("Expected folder, zip or demo data for a curation. Received: data from code with "
                          "curation={path!r}").format(path=path))
    decisions = read_decisions(path)
    keep, source.labels, summary = apply_decisions(keys, source.labels, source.class_names, decisions)
    train_idx = train_idx[keep[train_idx]]
    if val_source is not None and val_keys is not None:  # a separate validation folder: its own keys
        vkeep, val_source.labels, _summary = apply_decisions(val_keys, val_source.labels, source.class_names, decisions)
        val_idx = val_idx[vkeep[val_idx]]
    else:
        val_idx = val_idx[keep[val_idx]]
    report = source.report
    report.counts = dict(summary.after)
    if summary.relabelled or summary.excluded or summary.ambiguous:
        report.warnings.append(_("Curation {name!r}: {relabelled} relabelled, {excluded} excluded, {ambiguous} "
                                 "ambiguous left out.").format(name=Path(path).name, relabelled=summary.relabelled,
                                                               excluded=summary.excluded, ambiguous=summary.ambiguous))
    return train_idx, val_idx, summary.to_dict()


def _val_folder(
    root: Path, class_names: list[str], work_dir: str | os.PathLike[str] | None, report: DatasetReport
) -> Any:
    val_report, valid = scan(root, deep=False)
    extra = sorted(set(valid) - set(class_names))
    if extra:
        raise DataError(_("Expected validation classes among the training classes {names}. Received: {extra} in "
                          "{path!r}").format(names=class_names, extra=extra, path=str(root)))
    missing = sorted(set(class_names) - set(valid))
    if missing:
        report.warnings.append(_("The validation folder has no images of {classes}.").format(classes=missing))
    report.skipped.extend(val_report.skipped)
    infos = [i for v in valid.values() for i in v]
    labels = np.concatenate([np.full(len(v), class_names.index(k), np.int32) for k, v in valid.items()])
    keys = _relative_keys(root, infos, "@val/")
    return pipelines.FileSource(val_report, class_names, labels, prepare_files(infos, work_dir)), keys
