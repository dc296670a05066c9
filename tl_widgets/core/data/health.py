"""The dataset health check: what in a folder of class folders will mislead training, and what to do about it.

:func:`check_dataset` scans a class-folder dataset (or a zip of one) and
returns a :class:`HealthReport` of findings. Each :class:`Finding` names the
files (as keys relative to the dataset root, the keys curation files use) and
says what to do:

* **imbalance**: the largest class over the smallest (warned from 3:1);
* **unreadable**: files the loader skips, with the reason;
* **exact duplicates**: identical bytes (SHA-256), within or across classes;
* **near duplicates**: backbone embeddings (see
  :mod:`tl_widgets.core.data.neighbours`) with cosine similarity >= the
  report's threshold;
* **leakage**: an exact or near duplicate pair with one image in training and
  the other in validation (under the same seeded split training uses, or a
  separate validation folder): it inflates validation accuracy;
* **label errors**: out-of-fold predictions from the embeddings, ranked by
  confident learning (:mod:`tl_widgets.core.evaluation.label_errors`);
* **small images** (shorter side under half the input size), **extreme aspect
  ratios** (over 3:1) and **mixed grey/colour**.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tl_widgets.core.data.images import DataError, ImageInfo
from tl_widgets.core.i18n import _

__all__ = ["Finding", "HealthReport", "check_dataset", "DEFAULT_SIMILARITY"]

DEFAULT_SIMILARITY = 0.92
"""Cosine similarity of standardised backbone embeddings from which two images count as near duplicates."""
IMBALANCE_WARN = 3.0
ASPECT_WARN = 3.0
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


@dataclass
class Finding:
    """One problem found.

    Attributes:
        kind: ``imbalance``, ``unreadable``, ``exact_duplicates``, ``near_duplicates``, ``leakage``,
            ``label_errors``, ``small_images``, ``aspect_ratio`` or ``mixed_colour``.
        severity: ``"warning"`` or ``"info"``.
        message: What was found, in words.
        action: What to do about it.
        files: The images concerned (keys relative to the dataset root; ``@val/`` for a validation folder).
        groups: For duplicates and leaks: the groups or pairs of keys that go together.
    """

    kind: str
    severity: str
    message: str
    action: str
    files: list[str] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)


@dataclass
class HealthReport:
    """A health check's result (plain data; ``to_dict`` is JSON-ready).

    Attributes:
        root: The dataset folder checked.
        class_names: Class names in label order.
        counts: Valid images per class.
        findings: What was found, most serious first.
        similarity_threshold: The near-duplicate threshold used (None: embeddings skipped).
        backbone: The embedding backbone (None: skipped).
        seconds: Wall time per stage (``scan``, ``hash``, ``embed``, ``neighbours``).
    """

    root: str
    class_names: list[str]
    counts: dict[str, int]
    findings: list[Finding]
    similarity_threshold: float | None
    backbone: str | None
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    def of_kind(self, kind: str) -> list[Finding]:
        """The findings of one kind."""
        return [f for f in self.findings if f.kind == kind]


def _root_of(path: Path, work_dir: Path | None) -> Path:
    if path.is_file() and path.suffix.lower() == ".zip":
        from tl_widgets.core.data.loading import extract_zip_once

        return extract_zip_once(path, work_dir)  # the extraction training uses: one per zip, not one per check
    return path


def _scan_items(root: Path, prefix: str = "") -> tuple[Any, list[str], list[int], list[ImageInfo]]:
    from tl_widgets.core.data.loading import _scan

    report, valid = _scan(root)
    keys, labels, infos = [], [], []
    for c, infos_c in enumerate(valid.values()):
        for info in infos_c:
            keys.append(prefix + Path(info.path).relative_to(root).as_posix())
            labels.append(c)
            infos.append(info)
    return report, keys, labels, infos


def check_dataset(path: str | os.PathLike[str], *, val_path: str | os.PathLike[str] | None = None,
                  validation_split: float = 0.2, seed: int | None = 42, input_size: int = 48,
                  embeddings: bool = True, backbone: str = "demo_cnn",
                  similarity: float = DEFAULT_SIMILARITY, work_dir: str | os.PathLike[str] | None = None
                  ) -> HealthReport:
    """Checks a class-folder dataset (or a zip of one).

    Args:
        path: The dataset folder or zip.
        val_path: A separate validation folder (otherwise the seeded split below is checked for leaks).
        validation_split: The fraction training holds out (as in ``DataConfig``).
        seed: The run's seed (the split is seeded the same way as in training).
        input_size: The model's input side (for the small-image check).
        embeddings: Compute backbone embeddings for near duplicates and leaks (False: exact ones only).
        backbone: The embedding backbone.
        similarity: The near-duplicate cosine threshold.
        work_dir: Where a zip is extracted (default: the home's data work folder, shared with training: an
            unchanged zip is extracted once).

    Raises:
        DataError: The path is not a usable dataset.
    """
    from tl_widgets.core.data import neighbours
    from tl_widgets.core.data.pipeline import split_indices

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    root = _root_of(Path(path), Path(work_dir) if work_dir else None).resolve()
    report, keys, labels, infos = _scan_items(root)
    names = report.class_names
    labels_arr = np.array(labels, np.int64)
    in_val = np.zeros(len(keys), bool)
    skipped = list(report.skipped)
    if val_path is not None:
        vroot = Path(val_path).resolve()
        vrep, vkeys, vlabels, vinfos = _scan_items(vroot, "@val/")
        unknown = sorted(set(vrep.class_names) - set(names))
        if unknown:
            raise DataError(_("Expected validation classes among {names}. Received: {unknown} in {path!r}").format(
                names=names, unknown=unknown, path=str(vroot)))
        keys += vkeys
        labels_arr = np.concatenate([labels_arr, [names.index(vrep.class_names[c]) for c in vlabels]])
        infos += vinfos
        in_val = np.concatenate([in_val, np.ones(len(vkeys), bool)])
        skipped += vrep.skipped
    else:
        _train_idx, val_idx = split_indices(labels_arr, validation_split, 0 if seed is None else int(seed))
        in_val[val_idx] = True
    seconds["scan"] = time.perf_counter() - t0

    findings: list[Finding] = []
    findings += _imbalance(report.counts)
    if skipped:
        findings.append(Finding(
            "unreadable", "warning", _("{n} files cannot be used: {reasons}.").format(
                n=len(skipped), reasons=", ".join(sorted({s.reason for s in skipped}))),
            _("They are skipped in training; delete or re-export them."),
            [_key_of(s.path, root, val_path) for s in skipped]))

    t0 = time.perf_counter()
    digests = [neighbours.file_digest(i.path) for i in infos]
    seconds["hash"] = time.perf_counter() - t0
    groups: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(digests):
        groups[d].append(i)
    exact = [g for g in groups.values() if len(g) > 1]
    pairs: list[tuple[int, int, float]] = [(g[a], g[b], 1.0) for g in exact for a in range(len(g))
                                           for b in range(a + 1, len(g))]
    if exact:
        cross = sum(1 for g in exact if len({int(labels_arr[i]) for i in g}) > 1)
        findings.append(Finding(
            "exact_duplicates", "warning",
            (_("{n} files in {groups} groups are byte-for-byte copies ({cross} groups span different classes).")
             if cross else _("{n} files in {groups} groups are byte-for-byte copies.")).format(
                n=sum(len(g) for g in exact), groups=len(exact), cross=cross),
            _("Exclude all but one of each group (and decide the class where copies disagree)."),
            [keys[i] for g in exact for i in g[1:]], [[keys[i] for i in g] for g in exact]))

    threshold = None
    if embeddings and len(infos) > 1:
        t0 = time.perf_counter()
        emb = neighbours.embed_files([i.path for i in infos], digests, backbone=backbone)
        seconds["embed"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        near = [(i, j, s) for i, j, s in neighbours.similar_pairs(neighbours.standardise(emb), similarity) if digests[i] != digests[j]]
        seconds["neighbours"] = time.perf_counter() - t0
        threshold = similarity
        if near:
            findings.append(Finding(
                "near_duplicates", "warning",
                _("{n} pairs of images look almost the same (cosine similarity >= {similarity:.2f} of "
                  "standardised {backbone} embeddings).").format(n=len(near), similarity=similarity,
                                                                  backbone=backbone),
                _("Check each pair; exclude one image of true duplicates."),
                sorted({keys[j] for _i, j, _s in near}), [[keys[i], keys[j]] for i, j, _s in near]))
        pairs += near
        findings += _mislabels(emb, labels_arr, keys, names)
    leaks = [(i, j) for i, j, _s in pairs if in_val[i] != in_val[j]]
    if leaks:
        findings.insert(0, Finding(
            "leakage", "warning",
            _("{n} validation images have a duplicate or near duplicate in training: validation accuracy is "
              "inflated.").format(n=len(leaks)),
            _("Exclude the validation copy (or the training one) so that validation measures unseen images."),
            sorted({keys[j] if in_val[j] else keys[i] for i, j in leaks}),
            [[keys[i], keys[j]] for i, j in leaks]))
    findings += _image_shape_findings(keys, infos, input_size)
    return HealthReport(str(root), names, dict(report.counts), findings, threshold,
                        backbone if threshold is not None else None, {k: round(v, 3) for k, v in seconds.items()})


def _mislabels(emb: np.ndarray, labels: np.ndarray, keys: list[str], names: list[str]) -> list[Finding]:
    from tl_widgets.core.evaluation.label_errors import feature_label_errors

    try:
        rows = feature_label_errors(emb, labels, keys, names, limit=50)
    except ImportError as exc:
        return [Finding("label_errors", "info", _("Label errors were not checked: {reason}.").format(reason=exc),
                        _("Install cleanlab."))]
    if not rows:
        return []
    return [Finding("label_errors", "warning", _(
                        "{n} images may carry the wrong label (out-of-fold predictions from their embeddings disagree "
                        "with confidence; confident learning, cleanlab).").format(n=len(rows)),
                    _("Open them, then relabel, exclude or mark them ambiguous; a trained run ranks them better "
                      "(tl-widgets curate RUN_DIR --list)."), [r["key"] for r in rows],
                    [[r["key"], r["given"], r["predicted"]] for r in rows])]


def _key_of(path: str, root: Path, val_path: Any) -> str:
    p = Path(path).resolve()
    if p.is_relative_to(root):
        return p.relative_to(root).as_posix()
    if val_path is not None and p.is_relative_to(Path(val_path).resolve()):
        return "@val/" + p.relative_to(Path(val_path).resolve()).as_posix()
    return p.name


def _imbalance(counts: dict[str, int]) -> list[Finding]:
    lo, hi = min(counts.values()), max(counts.values())
    ratio = hi / max(lo, 1)
    if ratio < IMBALANCE_WARN:
        return []
    small = [k for k, v in counts.items() if v == lo]
    big = [k for k, v in counts.items() if v == hi]
    return [Finding(
        "imbalance", "warning", _("Classes are imbalanced {ratio:.0f}:1 ({big} has {hi} images, {small} has "
                                  "{lo}).").format(ratio=ratio, big=repr(big[0]), hi=hi, small=repr(small[0]), lo=lo),
        _("Add images to the small classes, or turn on class weights (data.class_weights) or cap the large ones "
          "(data.max_per_class); judge the model by macro F1, not accuracy."))]


def _image_shape_findings(keys: list[str], infos: list[ImageInfo], input_size: int) -> list[Finding]:
    out = []
    small = [k for k, i in zip(keys, infos) if min(i.width, i.height) < input_size / 2]
    if small:
        out.append(Finding("small_images", "warning",
                           _("{n} images are far smaller than the model's {size}px input.").format(
                               n=len(small), size=input_size),
                           _("They are upscaled and blurry: replace them with larger images or exclude them."), small))
    odd = [k for k, i in zip(keys, infos) if max(i.width, i.height) / max(1, min(i.width, i.height)) > ASPECT_WARN]
    if odd:
        out.append(Finding("aspect_ratio", "info", _(
                           "{n} images are more than {ratio:.0f}x wider than tall (or taller than wide); squashing "
                           "them to a square distorts them.").format(n=len(odd), ratio=ASPECT_WARN),
                           _("Crop them to the subject, or exclude them."), odd))
    grey = [k for k, i in zip(keys, infos) if i.mode in _GREY_MODES]
    if grey and len(grey) < len(infos):
        out.append(Finding("mixed_colour", "info", _("{n} of {total} images are greyscale, the rest colour.").format(
                           n=len(grey), total=len(infos)),
                           _("If colour matters, the model may learn 'grey' as a cue: check that grey images are "
                             "spread over the classes."), grey))
    return out
