"""Image quality from pixels already decoded: blurry, dark, overly bright, low information; each judged against the
dataset.

:func:`quality_stats` measures one decoded image on a grey thumbnail of at
most :data:`THUMB` pixels a side (CleanVision judges blur at 64 px too: a
fixed scale makes the measure comparable across image sizes). It is called
by the health check's decode pass (:mod:`tl_widgets.core.data.embeddings`),
the same pass that computes the embeddings, so no image is decoded twice;
the values are cached with the embeddings.

:func:`flag` turns one measure over the whole dataset into the images that
stand out, with a threshold that adapts to the dataset: the median minus
(or plus) :data:`SPREADS` robust spreads (1.4826 x the median absolute
deviation, the standard deviation of normal data), but never closer to the
median than a minimum gap and never past an absolute bound (a dataset of
night photos is not "dark" image by image; a uniform dataset with a tiny
spread does not flag small differences). :class:`Threshold` records the rule
and its numbers for the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tl_widgets.core.i18n import _

__all__ = ["QUALITY_FIELDS", "THUMB", "SPREADS", "quality_stats", "Threshold", "flag", "QUALITY_RULES"]

QUALITY_FIELDS = ("sharpness", "dark", "bright", "entropy", "red", "green", "blue")
"""The columns of :func:`quality_stats`:

* ``sharpness``: log10 of the variance of the Laplacian over the variance of the grey image (high-frequency
  energy relative to contrast, so a darker copy is not "blurrier"); low is blurry; NaN for a flat image;
* ``dark``: the 95th percentile of luminance (0..255); low is dark;
* ``bright``: the 5th percentile of luminance; high is blown out;
* ``entropy``: Shannon entropy (bits) of the 64-bin luminance histogram; low is little information;
* ``red``, ``green``, ``blue``: each channel's mean (0..255): near duplicates must agree on them too (a backbone
  that sees shapes better than colours calls a green and a red circle alike).
"""
THUMB = 64
SPREADS = 4.0
"""How many robust spreads from the median an image must be to stand out."""
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def quality_stats(rgb: np.ndarray) -> np.ndarray:
    """The :data:`QUALITY_FIELDS` of one ``uint8`` RGB image ``[H, W, 3]`` (float32)."""
    from PIL import Image

    img = np.asarray(rgb)
    h, w = img.shape[:2]
    scale = THUMB / max(h, w)
    if scale < 1:
        size = (max(3, round(w * scale)), max(3, round(h * scale)))
        img = np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BILINEAR))
    grey = img.astype(np.float32) @ _LUMA
    if min(grey.shape) < 3:
        grey = np.pad(grey, ((0, max(0, 3 - grey.shape[0])), (0, max(0, 3 - grey.shape[1]))), mode="edge")
    lap = (grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1])
    contrast = float(grey.var())
    # A flat image has no edges to judge: not blurry (it has little information, and is reported so).
    sharpness = math.log10((float(lap.var()) + 1e-3) / (contrast + 1.0)) if contrast >= 1.0 else math.nan
    p5, p95 = np.percentile(grey, [5, 95])
    hist = np.bincount(np.clip(grey, 0, 255).astype(np.int32).ravel() >> 2, minlength=64).astype(np.float64)
    p = hist[hist > 0] / hist.sum()
    entropy = float(-(p * np.log2(p)).sum())
    means = img.reshape(-1, 3).mean(axis=0)
    return np.array([sharpness, p95, p5, entropy, *means], np.float32)


@dataclass
class Threshold:
    """How one measure was judged: what stands out, and the numbers behind the line.

    Attributes:
        measure: What was measured (e.g. ``"sharpness"``).
        side: ``"low"`` (below the threshold stands out) or ``"high"``.
        value: The threshold applied.
        median: The dataset's median.
        spread: The robust spread (1.4826 x MAD).
        rule: The rule in words, with its numbers.
    """

    measure: str
    side: str
    value: float
    median: float
    spread: float
    rule: str


@dataclass(frozen=True)
class Rule:
    """A measure's line: ``spreads`` robust spreads from the median but at least ``gap`` from it, never past the
    absolute ``bound`` (None: no bound); and past ``floor`` an image always stands out (a black image is dark
    whatever the dataset), unless the dataset's median itself lies within ``gap`` of it."""

    side: str
    gap: float
    bound: float | None = None
    floor: float | None = None
    spreads: float = SPREADS


QUALITY_RULES = {
    "dark": ("dark", Rule("low", gap=40.0, bound=110.0, floor=50.0)),
    "bright": ("bright", Rule("high", gap=40.0, bound=150.0, floor=195.0)),
    "blurry": ("sharpness", Rule("low", gap=0.5)),
    "low_information": ("entropy", Rule("low", gap=1.0, bound=1.5)),
}
"""Finding kind -> (the :data:`QUALITY_FIELDS` measure it reads, its rule), in precedence order: an image is
reported under the first kind that flags it (a darkened or a blurred image also has little entropy: it is dark,
or blurry; a flat image has no sharpness measure)."""


def flag(values: np.ndarray, measure: str, rule: Rule) -> tuple[np.ndarray, Threshold]:
    """The images that stand out on one measure, and the threshold used.

    Args:
        values: The measure per image (NaN: not measured; never flagged).
        measure: Its name (for the report).
        rule: How far from the dataset's median counts.

    Returns:
        ``(mask, threshold)``.
    """
    v = np.asarray(values, np.float64)
    ok = np.isfinite(v)
    if not ok.any():
        return np.zeros(len(v), bool), Threshold(measure, rule.side, float("nan"), float("nan"), float("nan"),
                                                 _("not measured"))
    med = float(np.median(v[ok]))
    spread = 1.4826 * float(np.median(np.abs(v[ok] - med)))
    dist = max(rule.spreads * spread, rule.gap)
    low = rule.side == "low"
    line = med - dist if low else med + dist
    if rule.bound is not None:
        line = min(line, rule.bound) if low else max(line, rule.bound)
    floor = rule.floor
    if floor is not None and (floor > med - rule.gap if low else floor < med + rule.gap):
        floor = None  # the dataset itself lies there (night photos, snow): only the relative line applies
    if floor is not None:
        line = max(line, floor) if low else min(line, floor)
    mask = ok & ((v < line) if low else (v > line))
    sign = "−" if low else "+"
    bound = "" if rule.bound is None else (_(", at most {bound:g}") if low
                                          else _(", at least {bound:g}")).format(bound=rule.bound)
    always = "" if floor is None else (_("; always below {floor:g}") if low
                                       else _("; always above {floor:g}")).format(floor=floor)
    text = _("{side} {line:.3g}: the median {median:.3g} {sign} max({k:g} × spread {spread:.3g}, {gap:g}){bound}"
             "{always}").format(side=_("below") if low else _("above"), line=line, median=med, sign=sign,
                                k=rule.spreads, spread=spread, gap=rule.gap, bound=bound, always=always)
    return mask, Threshold(measure, rule.side, round(line, 4), round(med, 4), round(spread, 4), text)
