"""The Try it panel (no browser): pick a run, upload images, read the cards and messages."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from traitlets import TraitError

from tl_widgets.panels.try_it import TryItPanel


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _upload(name: str, data: bytes) -> dict:
    return {"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
            "last_modified": datetime.datetime.now(datetime.timezone.utc)}


def test_upload_two_images_and_one_bad_file(trained_demo_result):
    run_dir = str(Path(trained_demo_result.run_dir).absolute())
    panel = TryItPanel(result_source=lambda: trained_demo_result)
    assert panel.run_picker.value == run_dir  # this kernel's last run comes first and is selected
    assert "this session's last run" in panel.run_picker.options[0][0]
    names = trained_demo_result.class_names
    assert f"{len(names)} classes: {', '.join(names)}" in panel.run_info.value
    panel.upload.value = (_upload("a.png", _png(0)), _upload("notes.png", b"plain text, not a picture"),
                          _upload("b.png", _png(1)))
    panel.wait(300)
    assert panel.error is None, panel.error
    assert panel.upload.value == ()  # emptied: the same file can be tried again
    cards = panel.results.children
    assert len(cards) == 2 and all("tlw-try-card" in c._dom_classes for c in cards)
    assert "a.png" in cards[0].children[0].value and "b.png" in cards[1].children[0].value
    row = cards[0].children[1].children
    assert "tlw-try-image" in row[0]._dom_classes and "tlw-try-overlay" in row[1]._dom_classes
    assert "alt='a.png as the model sees it'" in row[0].value and "data:image/png;base64," in row[1].value
    assert "tlw-try-bars" in row[2]._dom_classes  # image, overlay, top-k bars side by side
    bars = row[2].snapshot()["data"][0]
    assert len(bars["y"]) == min(5, len(names)) and bars["x"] == sorted(bars["x"])  # most probable on top
    assert panel.messages.value.count("tlw-try-message") == 1
    assert "notes.png" in panel.messages.value and "Expected a JPEG, PNG" in panel.messages.value
    assert "ms per image" in panel.summary.value and "Grad-CAM" in panel.summary.value
    top = panel.outcome.results[0].top
    assert top[0][0] in cards[0].children[0].value

    panel.max_upload_bytes = len(_png(2)) + 10  # the Data step's limit by default; smaller here
    big = _png(3) + b"\0" * 100
    panel.predict_images([("c.png", _png(2))] * 2 + [("x.png", b""), ("big.png", big)])  # as the webcam calls it
    panel.wait(300)
    assert panel.error is None, panel.error
    assert len(panel.results.children) == 2 and panel.messages.value.count("tlw-try-message") == 2
    assert "0 bytes" in panel.messages.value and "Expected an image of at most" in panel.messages.value


def test_run_picker_lists_store_runs_and_refuses_others(trained_demo_run, tmp_path):
    from tl_widgets.core.runs.store import RunStore

    panel = TryItPanel()  # no kernel run: the store's finished runs, newest first
    values = [v for _label, v in panel.run_picker.options]
    assert str(Path(trained_demo_run).absolute()) in values
    label = dict((v, k) for k, v in panel.run_picker.options)[str(Path(trained_demo_run).absolute())]
    assert Path(trained_demo_run).name in label and "[finished]" in label
    starts = {str(Path(r["run_dir"]).absolute()): r["start_time"] for r in RunStore().list_runs(limit=200)
              if r.get("run_dir")}
    assert [starts[v] for v in values] == sorted((starts[v] for v in values), reverse=True)
    with pytest.raises(TraitError):  # the browser can send anything: refused, the selection stays
        panel.run_picker.value = str(tmp_path)
    with pytest.raises(FileNotFoundError, match="Expected a finished run folder with model.keras"):
        panel.set_run(tmp_path)
    panel.set_run(trained_demo_run)
    assert panel.run_picker.value == str(Path(trained_demo_run).absolute())


def test_no_model_yet_says_what_to_do(tmp_path):
    from tl_widgets.core.runs.store import RunStore

    panel = TryItPanel(store=RunStore(tmp_path / "home"), result_source=lambda: None)
    assert panel.run_picker.options == () and "No trained model yet" in panel.run_info.value
    panel.predict_images([("a.png", _png(0))])
    assert not panel.busy and "Expected a trained model to try" in panel.notice.value


def test_a_run_trained_after_opening_is_tried_without_refresh(trained_demo_result, tmp_path):
    from tl_widgets.core.runs.store import RunStore

    last = [None]
    panel = TryItPanel(store=RunStore(tmp_path / "home"), result_source=lambda: last[0])
    assert panel.run_picker.options == ()
    last[0] = trained_demo_result  # the kernel trains; the panel was built before
    panel.predict_images([("a.png", _png(0))])
    panel.wait(300)
    assert panel.error is None, panel.error
    assert panel.run_picker.value == str(Path(trained_demo_result.run_dir).absolute())
    assert len(panel.results.children) == 1 and panel.outcome.run_id == trained_demo_result.run_id
