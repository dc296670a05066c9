"""The health check's findings, one builder per kind: plain data in (keys, labels, measures), findings out.

Every finding about files lists them worst first, with the score they were
ranked by (``scores``, aligned with ``files``) and, where a line was drawn,
the threshold (``threshold``: :class:`~tl_widgets.core.data.image_quality.Threshold`
as a dict). :mod:`tl_widgets.core.data.health` calls these in order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.data.image_quality import QUALITY_FIELDS, QUALITY_RULES, SPREADS, Rule, Threshold, flag
from tl_widgets.core.i18n import N_, _

__all__ = ["Finding", "imbalance", "quality", "shapes", "outliers", "far_from_class", "label_errors",
           "OUTLIER_K", "IMBALANCE_WARN", "FAR_PROBABILITY"]

IMBALANCE_WARN = 3.0
OUTLIER_K = 10
"""Neighbours whose mean distance scores an outlier."""
FAR_PROBABILITY = 0.05
"""An image is far from its class when the head fits give its own class less than this."""
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
_QUALITY_TEXT = {
    "blurry": (N_("{n} images are blurry (sharpness {threshold})."),
               N_("Replace them with sharp images or exclude them: the model learns from what it can see.")),
    "dark": (N_("{n} images are very dark (bright pixels {threshold})."),
             N_("Exclude them, or brighten them if the subject is still visible.")),
    "bright": (N_("{n} images are overly bright or washed out (dark pixels {threshold})."),
               N_("Exclude them, or re-take them with less exposure.")),
    "low_information": (N_("{n} images carry little information (nearly flat; entropy {threshold})."),
                        N_("Exclude them: blank or flat images teach nothing about the classes.")),
}


@dataclass
class Finding:
    """One problem found.

    Attributes:
        kind: ``imbalance``, ``unreadable``, ``exact_duplicates``, ``near_duplicates``, ``leakage``,
            ``label_errors``, ``blurry``, ``dark``, ``bright``, ``low_information``, ``small_images``,
            ``aspect_ratio``, ``mixed_colour``, ``outliers``, ``far_from_class``, ``weak_class``,
            ``weak_cluster`` or ``weak_groups`` (after a run whose weak groups could not be checked, with why).
        severity: ``"warning"`` or ``"info"``.
        message: What was found, in words.
        action: What to do about it.
        files: The images concerned, worst first (keys relative to the dataset root; ``@val/`` for a
            validation folder).
        groups: For duplicates and leaks: the groups or pairs of keys that go together; for label errors:
            ``[key, given, predicted]``.
        scores: The score each file was ranked by (aligned with ``files``; empty when none).
        score: What the score is (e.g. ``"sharpness"``).
        threshold: The line drawn (a :class:`Threshold` as a dict), or None.
    """

    kind: str
    severity: str
    message: str
    action: str
    files: list[str] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    score: str = ""
    threshold: dict[str, Any] | None = None


def _ranked(keys: Sequence[str], values: np.ndarray, mask: np.ndarray, worst_high: bool) -> tuple[list[str], list[float]]:
    idx = np.flatnonzero(mask)
    order = idx[np.argsort(-values[idx] if worst_high else values[idx], kind="stable")]
    return [keys[i] for i in order], [round(float(values[i]), 4) for i in order]


def imbalance(counts: dict[str, int]) -> list[Finding]:
    """Warned from :data:`IMBALANCE_WARN` to 1 (the largest class over the smallest)."""
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


def quality(keys: Sequence[str], measures: np.ndarray, thresholds: dict[str, Any]) -> list[Finding]:
    """Dark, overly bright, low-information and blurry images (measures: ``[N, len(QUALITY_FIELDS)]``); an image
    is reported once, under the first of these that flags it."""
    out = []
    taken = np.zeros(len(keys), bool)
    for kind, (measure, rule) in QUALITY_RULES.items():
        values = measures[:, QUALITY_FIELDS.index(measure)].astype(np.float64)
        mask, line = flag(values, measure, rule)
        thresholds[kind] = asdict(line)
        mask &= ~taken
        taken |= mask
        if not mask.any():
            continue
        files, scores = _ranked(keys, values, mask, worst_high=rule.side == "high")
        message, action = _QUALITY_TEXT[kind]
        out.append(Finding(kind, "warning", _(message).format(n=len(files), threshold=line.rule), _(action), files,
                           scores=scores, score=measure, threshold=thresholds[kind]))
    return out


def shapes(keys: Sequence[str], sizes: np.ndarray, modes: Sequence[str], input_size: int,
           thresholds: dict[str, Any]) -> list[Finding]:
    """Tiny images, extreme aspect ratios and mixed grey/colour (sizes: ``[N, 2]`` width, height)."""
    out = []
    short = np.log2(np.maximum(1, sizes.min(axis=1)).astype(np.float64))
    mask, line = flag(short, "log2 shorter side", Rule("low", gap=1.0, bound=float(np.log2(max(2, input_size) / 2))))
    thresholds["small_images"] = asdict(line)
    if mask.any():
        files, scores = _ranked(keys, 2 ** short, mask, worst_high=False)
        out.append(Finding("small_images", "warning", _(
            "{n} images are far smaller than the others and than the model's {size}px input (shorter side under "
            "{side:.0f}px).").format(n=len(files), size=input_size, side=2 ** line.value),
            _("They are upscaled and blurry: replace them with larger images or exclude them."), files,
            scores=scores, score="shorter side (px)", threshold=asdict(line)))
    aspect = np.log2(sizes.max(axis=1) / np.maximum(1, sizes.min(axis=1)).astype(np.float64))
    mask, line = flag(aspect, "log2 aspect ratio", Rule("high", gap=1.0, bound=float(np.log2(3.0))))
    thresholds["aspect_ratio"] = asdict(line)
    if mask.any():
        files, scores = _ranked(keys, 2 ** aspect, mask, worst_high=True)
        out.append(Finding("aspect_ratio", "info", _(
            "{n} images are more than {ratio:.1f}x wider than tall (or taller than wide); squashing them to a "
            "square distorts them.").format(n=len(files), ratio=2 ** line.value),
            _("Crop them to the subject, or exclude them."), files, scores=scores, score="aspect ratio",
            threshold=asdict(line)))
    grey = [k for k, m in zip(keys, modes) if m in _GREY_MODES]
    if grey and len(grey) < len(keys):
        out.append(Finding("mixed_colour", "info", _("{n} of {total} images are greyscale, the rest colour.").format(
            n=len(grey), total=len(keys)), _("If colour matters, the model may learn 'grey' as a cue: check that "
                                             "grey images are spread over the classes."), grey))
    return out


def outliers(keys: Sequence[str], distance: np.ndarray, thresholds: dict[str, Any]) -> list[Finding]:
    """Images far from every other: the mean distance to their nearest neighbours, on a log scale (a distance
    1.4x the median is the least that counts)."""
    logd = np.log2(np.maximum(np.asarray(distance, np.float64), 1e-9))
    mask, line = flag(logd, "log2 k-NN distance", Rule("high", gap=0.5))
    thresholds["outliers"] = asdict(line)
    if not mask.any():
        return []
    files, scores = _ranked(keys, logd, mask, worst_high=True)
    return [Finding("outliers", "warning", _(
        "{n} images look unlike the rest of the dataset (log2 of the mean distance to their {k} nearest images "
        "{threshold})."
    ).format(n=len(files), k=OUTLIER_K, threshold=line.rule),
        _("Open them: images of another kind (screenshots, documents, wrong subject) confuse training; exclude them."),
        files, scores=scores, score="log2 k-NN distance", threshold=asdict(line))]


def far_from_class(keys: Sequence[str], probs: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                   thresholds: dict[str, Any]) -> list[Finding]:
    """Images far from their own class where the classes are told apart: the out-of-fold probability of their own
    class is under :data:`FAR_PROBABILITY` and far below that of the rest of their class (robust spreads of
    -log p, per class).

    A cosine or Euclidean distance to the class centre in the raw embedding is dominated by what all images share;
    the head fits' probabilities measure distance along the directions that separate the classes (measured on the
    tests' wrong-folder images: 7 of 8 found this way with no clean image flagged, 3 of 6 by the distance to the
    class centre).
    """
    own = -np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0))
    z = np.full(len(labels), np.nan)
    for c in range(len(class_names)):
        idx = np.flatnonzero(labels == c)
        if len(idx) < 8:
            continue
        med = float(np.median(own[idx]))
        spread = max(1.4826 * float(np.median(np.abs(own[idx] - med))), 0.05)
        z[idx] = (own[idx] - med) / spread
    line = Threshold("class distance", "high", SPREADS, 0.0, 1.0, _(
        "own-class probability under {p:g} and more than {k:g} spreads below its class's median").format(
        p=FAR_PROBABILITY, k=SPREADS))
    thresholds["far_from_class"] = asdict(line)
    mask = np.isfinite(z) & (z > SPREADS) & (own > -np.log(FAR_PROBABILITY))
    if not mask.any():
        return []
    files, scores = _ranked(keys, z, mask, worst_high=True)
    return [Finding("far_from_class", "warning", _(
        "{n} images are far from the other images of their class ({threshold}): often photos in the wrong folder."
    ).format(n=len(files), threshold=line.rule),
        _("Open them: move them to their class (relabel), or exclude them."), files, scores=scores,
        score="spreads from the class", threshold=asdict(line))]


def label_errors(probs: np.ndarray | None, labels: np.ndarray, keys: Sequence[str],
                 class_names: Sequence[str]) -> list[Finding]:
    """Suspected label errors over every image, ranked by confident learning on out-of-fold probabilities."""
    from tl_widgets.core.evaluation.label_errors import feature_label_errors

    if probs is None:
        return []
    try:
        rows = feature_label_errors(np.zeros((len(labels), 0)), labels, keys, class_names, limit=None, probs=probs)
    except ImportError as exc:
        return [Finding("label_errors", "info", _("Label errors were not checked: {reason}.").format(reason=exc),
                        _("Install cleanlab."))]
    if not rows:
        return []
    return [Finding("label_errors", "warning", _(
        "{n} images may carry the wrong label (out-of-fold predictions from their embeddings disagree with "
        "confidence; confident learning, cleanlab).").format(n=len(rows)),
        _("Open them, then relabel, exclude or mark them ambiguous; a trained run ranks them better "
          "(tl-widgets curate RUN_DIR --list)."), [r["key"] for r in rows],
        [[r["key"], r["given"], r["predicted"]] for r in rows],
        scores=[round(1.0 - r["quality"], 4) for r in rows], score="1 - label quality")]
