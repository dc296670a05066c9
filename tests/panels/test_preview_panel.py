"""The export panel's deployment preview and model-card button (widgets driven from Python, as a browser would)."""

from __future__ import annotations

import datetime
import io

import numpy as np
import pytest
from traitlets import TraitError

from tl_widgets.panels.export import ExportPanel


def test_export_then_preview_then_card(trained_demo_result):
    from PIL import Image

    panel = ExportPanel(trained_demo_result.run_dir)
    panel.format.value = "tflite-fp16"
    panel.button.click()
    panel.wait(300)
    assert panel.error is None, panel.error
    preview = panel.preview
    assert "tflite-fp16" in preview.format.options and preview.format.value == "tflite-fp16"
    with pytest.raises(TraitError):  # only formats this run was exported to
        preview.format.value = "pdf"
    preview.button.click()
    preview.wait(300)
    assert preview.error is None, preview.error
    assert preview.preview.agreement >= 0.98
    assert "tlw-preview-agreement" in preview.table.value and "Keras top-k" in preview.table.value
    assert preview.table.value.count("data:image/png;base64,") == min(20, preview.preview.count)  # thumbnails
    buf = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(buf, format="PNG")
    preview.upload.value = ({"name": "grey.png", "type": "image/png", "size": len(buf.getvalue()),
                             "content": memoryview(buf.getvalue()),
                             "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    assert "1 dropped image" in preview.hint.value
    preview.button.click()
    preview.wait(300)
    assert preview.error is None, preview.error
    assert preview.preview.count == 1 and "grey.png" in preview.table.value
    panel.card_button.click()
    panel.wait(300)
    assert panel.error is None, panel.error
    assert "MODEL_CARD.md" in panel.notice.value
    assert (trained_demo_result.run_dir / "MODEL_CARD.md").is_file()
