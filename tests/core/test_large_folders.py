"""Large-folder set-up: header-only checks, bad files found during the first epoch, the cache budget."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bad_inputs"))

from make_files import make_16bit_png, make_image, make_text_as_jpg, make_truncated_jpeg  # noqa: E402

from tl_widgets.core.config.schema import DataConfig  # noqa: E402
from tl_widgets.core.data import cache_budget  # noqa: E402
from tl_widgets.core.data.headers import read_header  # noqa: E402
from tl_widgets.core.data.images import ImageInfo, SkippedFile, check_image  # noqa: E402
from tl_widgets.core.data.loading import load_datasets, scan_folder  # noqa: E402


def _folder(root: Path, n: int = 4) -> Path:
    for cls, colour in (("red", (240, 10, 10)), ("blue", (10, 10, 240))):
        for i in range(n):
            make_image(root / cls / f"{i}.jpg", "JPEG", colour=colour, quality=95)
        make_image(root / cls / "extra.png", "PNG", colour=colour)
    return root


def _bad_folder(root: Path) -> Path:
    _folder(root)
    make_truncated_jpeg(root / "red" / "cut.jpg")  # a good header: only decoding finds it
    make_text_as_jpg(root / "blue" / "notes.jpg")  # no image header: found at set-up
    return root


def test_headers_agree_with_the_full_check(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = tmp_path / "rot.jpg"
    Image.new("RGB", (20, 10), (255, 0, 0)).save(rotated, exif=exif)
    files = [
        make_image(tmp_path / "rgb.jpg", "JPEG"), make_image(tmp_path / "grey.jpg", "JPEG", mode="L"),
        make_image(tmp_path / "cmyk.jpg", "JPEG", mode="CMYK"), rotated,
        make_image(tmp_path / "rgb.png", "PNG"), make_image(tmp_path / "p.png", "PNG", mode="P"),
        make_16bit_png(tmp_path / "deep.png"), make_image(tmp_path / "a.gif", "GIF"),
        make_image(tmp_path / "p.bmp", "BMP", mode="P"), make_image(tmp_path / "x.webp", "WEBP"),
        make_text_as_jpg(tmp_path / "notes.jpg"), tmp_path / "readme.txt",
    ]
    (tmp_path / "readme.txt").write_text("hi")
    (tmp_path / "empty.png").write_bytes(b"")
    files.append(tmp_path / "empty.png")
    for path in files:
        fast, full = read_header(path), check_image(path)
        assert type(fast) is type(full), (path.name, fast, full)
        if isinstance(full, ImageInfo):
            assert (fast.width, fast.height, fast.format, fast.convert) == (
                full.width, full.height, full.format, full.convert), path.name
        else:
            assert fast.reason == full.reason, path.name
    assert read_header(make_image(tmp_path / "big.png", size=(800, 640)), max_pixels=100_000).reason.startswith(
        "too large (800 x 640 pixels")


def test_setup_reads_headers_and_decodes_nothing(tmp_path: Path, monkeypatch) -> None:
    root = _folder(tmp_path / "d", n=6)
    opened: list[str] = []
    loads: list[str] = []
    real_open, real_load = Image.open, ImageFile.ImageFile.load
    monkeypatch.setattr(Image, "open", lambda fp, *a, **k: opened.append(str(fp)) or real_open(fp, *a, **k))
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append("x") or real_load(self))
    ds = load_datasets(DataConfig(source="folder", path=str(root), validation_split=0.0, batch_size=32), 16,
                       seed=0, work_dir=tmp_path / "work")
    assert ds.train_count == 14 and ds.report.counts == {"blue": 7, "red": 7}
    assert opened == [] and loads == []  # JPEG and PNG headers are parsed without Pillow, nothing decoded
    scan_folder(root)
    assert len(opened) == 14  # the full check (scan_folder) opens every file with Pillow: the counter counts


def test_bad_files_found_mid_epoch_are_skipped_and_reported_like_upfront_ones(tmp_path: Path) -> None:
    root = _bad_folder(tmp_path / "d")
    upfront = {Path(s.path).name: s.reason for s in scan_folder(root).skipped}
    assert upfront == {"cut.jpg": "corrupt or truncated", "notes.jpg": "not an image"}

    cfg = DataConfig(source="folder", path=str(root), validation_split=0.0, batch_size=4, cache="memory")
    ds = load_datasets(cfg, 16, seed=0, work_dir=tmp_path / "work")
    assert [Path(s.path).name for s in ds.report.skipped] == ["notes.jpg"]  # set-up: headers only
    assert ds.train_count == 11  # the truncated file is still in
    messages: list[str] = []
    ds.watch_skipped(messages.append)
    for epoch in range(2):
        xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds.train])
        x, y = np.concatenate(xs), np.concatenate(ys)
        assert len(y) == 10 and list(np.bincount(y)) == [5, 5], epoch  # only the good images
        red = x[:, 8, 8, 0] > x[:, 8, 8, 2]
        assert np.array_equal(red, y == ds.class_names.index("red"))  # each image under its own label
    got = {Path(s.path).name: s.reason.split(" (")[0] for s in ds.report.skipped}
    assert got == upfront  # the same files with the same reasons as the up-front check
    assert ds.report.counts == {"blue": 5, "red": 5} and ds.train_count == 10
    assert ds.report.warnings.count("2 files were skipped (see the report's skipped list).") == 1
    assert len(messages) == 1 and "1 training file could not be decoded" in messages[0] and "cut.jpg" in messages[0]
    assert "cut.jpg" not in " ".join(ds.train_keys or [])


def test_step_counts_drop_to_what_the_next_epochs_run(tmp_path: Path) -> None:
    root = _bad_folder(tmp_path / "d")
    cfg = DataConfig(source="folder", path=str(root), validation_split=0.0, batch_size=2, cache="none")
    ds = load_datasets(cfg, 16, seed=0, work_dir=tmp_path / "work")
    assert (ds.train_count, ds.steps_per_epoch) == (11, 6)  # set-up: the truncated file counts
    for epoch in range(2):
        steps = sum(1 for _ in ds.train)
        assert steps == 5 and (ds.train_count, ds.steps_per_epoch) == (10, 5), epoch  # a pass runs 5 steps


def test_the_data_step_report_reads_headers_only(tmp_path: Path, monkeypatch) -> None:
    from tl_widgets.core.data.preview import folder_preview

    root = _bad_folder(tmp_path / "d")
    opened: list[str] = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda fp, *a, **k: opened.append(str(fp)) or real_open(fp, *a, **k))
    preview = folder_preview(root)
    assert [Path(s["path"]).name for s in preview.report["skipped"]] == ["notes.jpg"]  # what a header shows
    assert preview.report["counts"] == {"blue": 5, "red": 6} and len(preview.samples) == 2  # cut.jpg still in
    names = {"/".join(Path(o.split("name=")[1].strip("'>")).parts[-2:]) for o in opened}
    assert names == {"blue/notes.jpg", "blue/0.jpg", "red/0.jpg"}  # one header Pillow reads, the two samples


def test_a_run_reports_a_mid_epoch_bad_file_in_its_messages_and_summary(tmp_path: Path) -> None:
    from tl_widgets.core.config.schema import ModelConfig, PhaseConfig, TrainConfig
    from tl_widgets.core.events import EventBus, Message
    from tl_widgets.core.training.session import TrainingSession

    root = _bad_folder(tmp_path / "d")
    cfg = TrainConfig(data=DataConfig(source="folder", path=str(root), validation_split=0.3, batch_size=4),
                      model=ModelConfig(backbone="demo_cnn", weights="none", input_size=32),
                      phases=[PhaseConfig(name="head", epochs=1)], output_dir=str(tmp_path / "out"), seed=0)
    bus = EventBus()
    events: list = []
    bus.subscribe(events.append)
    session = TrainingSession(cfg, bus=bus, record=False)
    session.start()
    result = session.wait(timeout=300)
    assert result is not None and result.status == "finished", result and result.error
    texts = [e.text for e in events if isinstance(e, Message)]
    assert any("could not be decoded during the first epoch" in t and "cut.jpg" in t for t in texts), texts
    assert any(t.startswith("Data cache: memory") for t in texts), texts
    summary = json.loads((Path(result.run_dir) / "summary.json").read_text())
    skipped = {Path(s["path"]).name: s["reason"] for s in summary["skipped_files"]}
    assert set(skipped) == {"cut.jpg", "notes.jpg"} and skipped["notes.jpg"] == "not an image"
    assert skipped["cut.jpg"].startswith("corrupt or truncated")


def test_memory_cache_moves_to_disk_when_over_budget(tmp_path: Path, monkeypatch) -> None:
    root = _folder(tmp_path / "d")
    monkeypatch.setattr(cache_budget, "memory_budget", lambda: 1000.0)  # bytes: nothing fits
    cfg = DataConfig(source="folder", path=str(root), validation_split=0.0, batch_size=4, cache="memory")
    ds = load_datasets(cfg, 16, seed=0, work_dir=tmp_path / "work")
    (level, note), = ds.notices
    assert level == "warning" and note.startswith("Data cache: disk at ")
    assert "more than the memory budget of 0.00 GB" in note and "10 decoded images" in note
    cache = tmp_path / "work" / "cache"
    assert str(cache) in note
    for _ in range(2):
        assert sum(int(y.shape[0]) for _, y in ds.train) == 10
    written = [p for p in cache.iterdir() if p.is_file()]
    assert written and sum(p.stat().st_size for p in written) >= 10 * 16 * 16 * 3  # the decoded pixels, on disk

    monkeypatch.setattr(cache_budget, "memory_budget", lambda: 1e9)
    fits = load_datasets(cfg, 16, seed=0, work_dir=tmp_path / "work2")
    assert fits.notices[0][0] == "info" and fits.notices[0][1].startswith("Data cache: memory (10 decoded images")
    assert not (tmp_path / "work2" / "cache").exists()


def test_no_cache_when_neither_memory_nor_disk_has_room(tmp_path: Path) -> None:
    huge = 10**9  # a billion images of 224 px do not fit this disk
    choice = cache_budget.choose_cache("memory", huge, 224, lambda: tmp_path / "cache", budget=1e6)
    assert choice.mode == "none" and choice.warning and "every epoch decodes the images again" in choice.note
    assert cache_budget.choose_cache("none", 10, 8, lambda: tmp_path).note == ""
    asked: list[int] = []
    for requested in ("none", "memory"):  # neither looks at the disk when it needn't
        cache_budget.choose_cache(requested, 10, 8, lambda: asked.append(1) or tmp_path, budget=1e6)
    assert asked == []
    assert isinstance(read_header(tmp_path / "missing.jpg"), SkippedFile)
