"""The augmentation panel offers random crop and colour, and its seeded preview shows them."""

from __future__ import annotations

import numpy as np

from tl_widgets.core.config.schema import AugmentConfig
from tl_widgets.panels.augment import AugmentPanel


def _sources(panel):
    return [t["source"] for t in panel.preview.snapshot()["data"] if t.get("type") == "image"]


def test_crop_and_colour_sliders_drive_the_seeded_preview():
    img = np.zeros((24, 24, 3), np.uint8)
    img[4:12, 4:20] = (250, 40, 40)
    panel = AugmentPanel()
    assert {"crop", "hue", "saturation", "color_jitter"} <= set(panel.factors)
    panel.set_image(img)
    assert panel.preview.layout.display == "none"  # nothing enabled yet
    panel.factors["hue"].value = 0.5
    assert panel.config == AugmentConfig(hue=0.5) and panel.preview.layout.display is None
    hue = _sources(panel)
    assert len(hue) == 8 and len(set(hue)) > 1
    panel.refresh()
    assert _sources(panel) == hue  # seeded: the same pictures each time
    panel.factors["crop"].value = 0.3
    both = _sources(panel)
    assert panel.validate() == AugmentConfig(hue=0.5, crop=0.3) and both != hue
