"""'Download my work' and back: a home's runs, captures and curation in one zip, opened in a fresh home where the
run is listed, its model tries images and nothing existing is overwritten; a zip that is not a work zip is
refused with the reason."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import pytest
from PIL import Image

from tl_widgets.core.runs.work import MANIFEST, WorkError, open_work, pack_work


@pytest.fixture
def home_with_work(tmp_path, trained_demo_run):
    from tl_widgets.core.settings import home_path

    home = tmp_path / "seat-home"
    runs = home_path("runs", home)
    runs.mkdir(parents=True)
    shutil.copytree(trained_demo_run, runs / trained_demo_run.name)
    (runs / trained_demo_run.name / "checkpoints").mkdir(exist_ok=True)
    (runs / trained_demo_run.name / "checkpoints" / "last.weights.h5").write_bytes(b"x" * 10)
    for cls in ("cat", "dog"):
        folder = home_path("captures", home) / "webcam" / cls
        folder.mkdir(parents=True)
        Image.new("RGB", (8, 8), (1, 2, 3)).save(folder / "00001.jpg")
    home_path("curation", home).mkdir(parents=True)
    (home_path("curation", home) / "demo.jsonl").write_text('{"key": "a", "action": "exclude"}\n')
    return home, trained_demo_run.name


def test_work_round_trips_into_a_fresh_home(home_with_work, tmp_path):
    from tl_widgets.core.evaluation.try_images import predictor_for_run
    from tl_widgets.core.runs.store import RunStore
    from tl_widgets.core.settings import home_path

    home, run_id = home_with_work
    packed = pack_work(home, tmp_path / "my-work.zip")
    assert packed.runs == [run_id] and packed.captures == {"webcam/cat": 1, "webcam/dog": 1}
    with zipfile.ZipFile(tmp_path / "my-work.zip") as zf:
        names = zf.namelist()
    assert MANIFEST in names and f"runs/{run_id}/model.keras" in names
    assert not any("/checkpoints/" in n for n in names)  # only for resuming an interrupted run: left out
    fresh = tmp_path / "at-home"
    added = open_work(tmp_path / "my-work.zip", fresh)
    assert added.runs == [run_id] and sum(added.captures.values()) == 2 and added.curation == ["demo.jsonl"]
    listed = RunStore(fresh).list_runs()
    assert [r["run_id"] for r in listed] == [run_id] and listed[0]["status"] == "finished"
    assert listed[0]["best_metric"] is not None and listed[0]["final_metrics"]  # its numbers came along
    run_dir = home_path("runs", fresh) / run_id
    assert json.loads((run_dir / "config.json").read_text())["output_dir"] == str(home_path("runs", fresh))
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 200, 200)).save(buf, "PNG")
    outcome = predictor_for_run(run_dir).try_images([("photo.png", buf.getvalue())])
    assert len(outcome.results) == 1  # the opened run's model works
    again = open_work(tmp_path / "my-work.zip", fresh)  # opened twice: nothing overwritten, captures kept beside
    assert again.runs == [] and any("already here" in s for s in again.skipped)
    assert len(list((home_path("captures", fresh) / "webcam" / "cat").iterdir())) == 2


def test_a_zip_that_is_not_work_is_refused(tmp_path):
    plain = tmp_path / "photos.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("cats/1.txt", "not work")
    with pytest.raises(WorkError, match="Download my work"):
        open_work(plain, tmp_path / "home")
    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(newer, "w") as zf:
        zf.writestr(MANIFEST, json.dumps({"format": "tl_widgets-work", "version": 99}))
    with pytest.raises(WorkError, match="version 99"):
        open_work(newer, tmp_path / "home")
    assert not any((tmp_path / "home").glob(".work-*"))  # nothing left behind
