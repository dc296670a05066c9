"""The dataset health check: what in a folder of class folders will mislead training, and what to do about it.

:func:`check_dataset` scans a class-folder dataset (or a zip of one) and
returns a :class:`HealthReport` of findings. Each
:class:`~tl_widgets.core.data.health_findings.Finding` names the files (as
keys relative to the dataset root, the keys curation files use), worst first
with the score they were ranked by, the threshold drawn, and says what to do:

* **imbalance**: the largest class over the smallest (warned from 3:1);
* **unreadable**: files that cannot be decoded, with the reason;
* **exact duplicates**: identical bytes (SHA-256), within or across classes;
* **near duplicates**: backbone embeddings with cosine similarity >= the
  report's threshold (:mod:`tl_widgets.core.data.neighbours`) and mean colours
  within :data:`COLOUR_TOLERANCE`;
* **leakage**: an exact or near duplicate pair with one image in training and
  the other in validation (under the same seeded split training uses, or a
  separate validation folder): it inflates validation accuracy;
* **blurry, dark, bright, low information** images (:mod:`~tl_widgets.core.data.image_quality`),
  measured in the same decode pass as the embeddings
  (:mod:`~tl_widgets.core.data.embeddings`), and **small images**, **extreme
  aspect ratios**, **mixed grey/colour** from the headers; every line adapts
  to the dataset and is in ``thresholds``;
* **outliers** (far from every other image) and images **far from their
  class** (the mark of a photo in the wrong folder);
* **label errors** over every image: out-of-fold predictions of head fits on
  the embeddings, ranked by confident learning (cleanlab);
* after a run (``run_dir``): **weak classes** and **weak clusters** where the
  run is clearly worse than on average (:mod:`~tl_widgets.core.data.health_groups`).

With ``curation``, the check sees the data as a run with that curation
trains on it: excluded and ambiguous images are left out, relabelled ones
carry their new label.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tl_widgets.core.data.health_findings import Finding
from tl_widgets.core.data.image_quality import QUALITY_FIELDS
from tl_widgets.core.data.images import DataError, ImageInfo
from tl_widgets.core.i18n import _

__all__ = ["Finding", "HealthReport", "check_dataset", "DEFAULT_SIMILARITY"]

DEFAULT_SIMILARITY = 0.92
"""Cosine similarity of standardised backbone embeddings from which two images count as near duplicates."""
COLOUR_TOLERANCE = 24.0
"""The most two near duplicates' mean red, green or blue (0..255) may differ."""


@dataclass
class HealthReport:
    """A health check's result (plain data; ``to_dict`` is JSON-ready).

    Attributes:
        root: The dataset folder checked.
        class_names: Class names in label order.
        counts: Images per class (after the curation, when one was applied).
        findings: What was found, most serious first.
        similarity_threshold: The near-duplicate threshold used (None: embeddings skipped).
        backbone: The embedding backbone (None: skipped).
        seconds: Wall time per stage (``scan``, ``hash``, ``decode``, ``neighbours``, ``outliers``,
            ``label_errors``, ``groups``).
        thresholds: The line drawn for each adaptive measure (kind -> threshold dict).
        images: Images checked.
        decoded: Images decoded by this check (the others' embeddings and quality came from the cache).
        curation: What the curation applied changed (None: no curation).
        run_id: The run whose predictions gave the weak groups (None: no run).
    """

    root: str
    class_names: list[str]
    counts: dict[str, int]
    findings: list[Finding]
    similarity_threshold: float | None
    backbone: str | None
    seconds: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    images: int = 0
    decoded: int = 0
    curation: dict[str, Any] | None = None
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealthReport:
        """The report :meth:`to_dict` wrote (unknown keys are ignored: a newer file reads)."""
        known = set(cls.__dataclass_fields__)
        fields_ = set(Finding.__dataclass_fields__)
        kw = {k: v for k, v in data.items() if k in known}
        kw["findings"] = [Finding(**{k: v for k, v in f.items() if k in fields_}) for f in data.get("findings", [])]
        return cls(**kw)

    def of_kind(self, kind: str) -> list[Finding]:
        """The findings of one kind."""
        return [f for f in self.findings if f.kind == kind]


def _root_of(path: Path, work_dir: Path | None) -> Path:
    if path.is_file() and path.suffix.lower() == ".zip":
        from tl_widgets.core.data.loading import extract_zip_once

        return extract_zip_once(path, work_dir)  # the extraction training uses: one per zip, not one per check
    return path


def _scan_items(root: Path, prefix: str = "") -> tuple[Any, list[str], list[int], list[ImageInfo]]:
    from tl_widgets.core.data.scanning import scan

    report, valid = scan(root, deep=False)  # headers only: the decode pass finds damaged pixel data
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
                  similarity: float = DEFAULT_SIMILARITY, work_dir: str | os.PathLike[str] | None = None,
                  curation: str | os.PathLike[str] | None = None, run_dir: str | os.PathLike[str] | None = None
                  ) -> HealthReport:
    """Checks a class-folder dataset (or a zip of one).

    Args:
        path: The dataset folder or zip.
        val_path: A separate validation folder (otherwise the seeded split below is checked for leaks).
        validation_split: The fraction training holds out (as in ``DataConfig``).
        seed: The run's seed (the split is seeded the same way as in training).
        input_size: The model's input side (for the small-image check).
        embeddings: Compute backbone embeddings (near duplicates, leaks, outliers, label errors, groups); False:
            image quality and exact duplicates only.
        backbone: The embedding backbone.
        similarity: The near-duplicate cosine threshold.
        work_dir: Where a zip is extracted (default: the home's data work folder, shared with training: an
            unchanged zip is extracted once).
        curation: A curation file to apply first (as training does).
        run_dir: A finished run on these data: adds the classes and clusters where it is clearly worse.

    Raises:
        DataError: The path is not a usable dataset, or the curation relabels to an unknown class.
    """
    from tl_widgets.core.data.pipeline import split_indices

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    root = _root_of(Path(path), Path(work_dir) if work_dir else None).resolve()
    report, keys, labels, infos = _scan_items(root)
    names = report.class_names
    labels_arr = np.array(labels, np.int64)
    in_val = np.zeros(len(keys), bool)
    skipped = [(_key_of(s.path, root, val_path), s.reason) for s in report.skipped]
    dataset = str(root)
    if val_path is not None:
        vroot = Path(val_path).resolve()
        vrep, vkeys, vlabels, vinfos = _scan_items(vroot, "@val/")
        unknown = sorted(set(vrep.class_names) - set(names))
        if unknown:
            raise DataError(_("Expected validation classes among {names}. Received: {unknown} in {path!r}").format(
                names=names, unknown=unknown, path=str(vroot)))
        keys += vkeys
        labels_arr = np.concatenate([labels_arr, [names.index(vrep.class_names[c]) for c in vlabels]]).astype(np.int64)
        infos += vinfos
        in_val = np.concatenate([in_val, np.ones(len(vkeys), bool)])
        skipped += [(_key_of(s.path, root, val_path), s.reason) for s in vrep.skipped]
        dataset += "|" + str(vroot)
    else:
        _train_idx, val_idx = split_indices(labels_arr, validation_split, 0 if seed is None else int(seed))
        in_val[val_idx] = True
    applied = None
    if curation is not None:
        from tl_widgets.core.data.curation import apply_decisions, read_decisions

        keep, labels_arr, summary = apply_decisions(keys, labels_arr, names, read_decisions(curation))
        keys, infos = [k for k, m in zip(keys, keep) if m], [i for i, m in zip(infos, keep) if m]
        labels_arr, in_val, applied = labels_arr[keep], in_val[keep], summary.to_dict()
    seconds["scan"] = time.perf_counter() - t0

    from tl_widgets.core.data.embeddings import digests_of, image_features

    t0 = time.perf_counter()
    digests = digests_of([i.path for i in infos])
    seconds["hash"] = time.perf_counter() - t0
    feats = image_features([i.path for i in infos], digests, dataset=dataset,
                           backbone=backbone if embeddings else None)
    seconds["decode"] = feats.seconds
    skipped += [(keys[i], reason) for i, reason in feats.failed.items()]
    ok = np.ones(len(keys), bool)
    ok[list(feats.failed)] = False
    keys, infos, digests = [k for k, m in zip(keys, ok) if m], [i for i, m in zip(infos, ok) if m], \
        [d for d, m in zip(digests, ok) if m]
    labels_arr, in_val, emb, measures = labels_arr[ok], in_val[ok], feats.embeddings[ok], feats.quality[ok]
    counts = {n: int(c) for n, c in zip(names, np.bincount(labels_arr, minlength=len(names)))}

    from tl_widgets.core.data import health_findings as build

    thresholds: dict[str, Any] = {}
    findings: list[Finding] = build.imbalance(counts)
    if skipped:
        findings.append(Finding(
            "unreadable", "warning", _("{n} files cannot be used: {reasons}.").format(
                n=len(skipped), reasons=", ".join(sorted({r for _k, r in skipped}))),
            _("They are skipped in training; delete or re-export them."), [k for k, _r in skipped]))
    pairs, dup = _exact(keys, digests, labels_arr)
    findings += dup
    threshold = None
    if embeddings and len(keys) > 1 and emb.shape[1]:
        near, seconds["neighbours"] = _near(keys, emb, measures, digests, similarity, backbone)
        findings += near[1]
        pairs += near[0]
        threshold = similarity
    findings += _leaks(keys, pairs, in_val)
    findings += build.quality(keys, measures, thresholds)
    findings += build.shapes(keys, np.array([[i.width, i.height] for i in infos], np.float64).reshape(-1, 2),
                             [i.mode for i in infos], input_size, thresholds)
    run_id = None
    if threshold is not None:
        from tl_widgets.core.data.neighbours import knn_distance, standardise

        t0 = time.perf_counter()
        std = standardise(emb)
        findings += build.outliers(keys, knn_distance(std, build.OUTLIER_K), thresholds)
        seconds["outliers"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        from tl_widgets.core.evaluation.label_errors import oof_probabilities

        probs = oof_probabilities(emb, labels_arr)
        if probs is not None:
            findings += build.far_from_class(keys, probs, labels_arr, names, thresholds)
        findings += build.label_errors(probs, labels_arr, keys, names)
        seconds["label_errors"] = time.perf_counter() - t0
        if run_dir is not None:
            t0 = time.perf_counter()
            found, run_id = _groups(run_dir, keys, emb, names)
            findings += found
            seconds["groups"] = time.perf_counter() - t0
    findings.sort(key=lambda f: f.kind != "leakage")  # leaks first (stable: the rest keep their order)
    return HealthReport(str(root), names, counts, findings, threshold, backbone if threshold is not None else None,
                        {k: round(v, 3) for k, v in seconds.items()}, thresholds, len(keys), feats.decoded, applied,
                        run_id)


def _exact(keys: list[str], digests: list[str], labels: np.ndarray) -> tuple[list[tuple[int, int, float]],
                                                                              list[Finding]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(digests):
        groups[d].append(i)
    exact = [g for g in groups.values() if len(g) > 1]
    pairs = [(g[a], g[b], 1.0) for g in exact for a in range(len(g)) for b in range(a + 1, len(g))]
    if not exact:
        return pairs, []
    cross = sum(1 for g in exact if len({int(labels[i]) for i in g}) > 1)
    return pairs, [Finding(
        "exact_duplicates", "warning",
        (_("{n} files in {groups} groups are byte-for-byte copies ({cross} groups span different classes).")
         if cross else _("{n} files in {groups} groups are byte-for-byte copies.")).format(
            n=sum(len(g) for g in exact), groups=len(exact), cross=cross),
        _("Exclude all but one of each group (and decide the class where copies disagree)."),
        [keys[i] for g in exact for i in g[1:]], [[keys[i] for i in g] for g in exact])]


def _near(keys: list[str], emb: np.ndarray, measures: np.ndarray, digests: list[str], similarity: float,
          backbone: str) -> tuple[tuple[list[tuple[int, int, float]], list[Finding]], float]:
    from tl_widgets.core.data import neighbours

    t0 = time.perf_counter()
    colour = measures[:, [QUALITY_FIELDS.index(c) for c in ("red", "green", "blue")]]
    near = [(i, j, s) for i, j, s in neighbours.similar_pairs(neighbours.standardise(emb), similarity)
            if digests[i] != digests[j] and np.abs(colour[i] - colour[j]).max() <= COLOUR_TOLERANCE]
    seconds = time.perf_counter() - t0
    if not near:
        return (near, []), seconds
    later: dict[str, float] = {}
    for _i, j, s in near:  # the later image of each pair, by its best similarity
        later[keys[j]] = max(later.get(keys[j], 0.0), s)
    files = sorted(later, key=lambda k: -later[k])
    return (near, [Finding(
        "near_duplicates", "warning",
        _("{n} pairs of images look almost the same (cosine similarity >= {similarity:.2f} of standardised "
          "{backbone} embeddings).").format(n=len(near), similarity=similarity, backbone=backbone),
        _("Check each pair; exclude one image of true duplicates."), files, [[keys[i], keys[j]] for i, j, _s in near],
        scores=[round(later[k], 4) for k in files], score="similarity")]), seconds


def _leaks(keys: list[str], pairs: list[tuple[int, int, float]], in_val: np.ndarray) -> list[Finding]:
    leaks = [(i, j, s) for i, j, s in pairs if in_val[i] != in_val[j]]
    if not leaks:
        return []
    best: dict[str, float] = {}
    for i, j, s in leaks:
        k = keys[j] if in_val[j] else keys[i]
        best[k] = max(best.get(k, 0.0), s)
    files = sorted(best, key=lambda k: -best[k])
    return [Finding(
        "leakage", "warning",
        _("{n} validation images have a duplicate or near duplicate in training: validation accuracy is "
          "inflated.").format(n=len(leaks)),
        _("Exclude the validation copy (or the training one) so that validation measures unseen images."),
        files, [[keys[i], keys[j]] for i, j, _s in leaks], scores=[round(best[k], 4) for k in files],
        score="similarity")]


def _groups(run_dir: Any, keys: list[str], emb: np.ndarray, names: list[str]) -> tuple[list[Finding], str]:
    from tl_widgets.core.data.health_groups import run_predictions, weak_groups

    try:
        run_id, vkeys, vlabels, probs = run_predictions(run_dir)
    except (OSError, ValueError) as exc:  # no model saved, data changed: the rest of the report stands
        return [Finding("weak_groups", "info", _("The run's weak classes and groups were not checked: {reason}").format(
            reason=exc), _("Check again after a run on these data that saved a model."))], Path(run_dir).name
    index = {k: i for i, k in enumerate(keys)}
    rows = np.array([index.get(k, -1) for k in vkeys])
    known = rows >= 0
    vemb = emb[rows[known]] if known.any() else None
    return weak_groups([k for k, m in zip(vkeys, known) if m], vlabels[known], probs[known], vemb, names,
                       run_id), run_id


def _key_of(path: str, root: Path, val_path: Any) -> str:
    p = Path(path).resolve()
    if p.is_relative_to(root):
        return p.relative_to(root).as_posix()
    if val_path is not None and p.is_relative_to(Path(val_path).resolve()):
        return "@val/" + p.relative_to(Path(val_path).resolve()).as_posix()
    return p.name
