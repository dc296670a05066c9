"""Every bad input has its expected outcome through the public API, and nothing is written outside."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_files import bad_folder, good_zip, lying_zip, make_image, snapshot, zip_with  # noqa: E402

from tl_widgets.core.config.schema import DataConfig  # noqa: E402
from tl_widgets.core.data.loading import DataError, load_datasets, scan_folder  # noqa: E402
from tl_widgets.core.data.zipsafe import UnsafeArchiveError, safe_extract_zip  # noqa: E402


@pytest.fixture
def data_bad(tmp_path: Path) -> tuple[Path, dict[str, str | None]]:
    root = tmp_path / "in" / "dataset"
    return root, bad_folder(root)


def test_scan_skips_each_bad_file_with_its_reason(data_bad) -> None:
    root, expected = data_bad
    report = scan_folder(root)
    got = {Path(s.path).name: s.reason for s in report.skipped}
    for name, reason in expected.items():
        if reason is None:
            assert name not in got, name
        else:
            assert got[name].startswith(reason), (name, got[name])
    assert report.counts == {"apples": 4, "bananas": 3}  # 3 good + the unicode file / 3 good
    assert any("7 files were skipped" in w for w in report.warnings)


def test_load_datasets_trains_on_the_good_files_only(data_bad, tmp_path: Path) -> None:
    root, _ = data_bad
    before = snapshot(tmp_path / "in")
    cfg = DataConfig(source="folder", path=str(root), validation_split=0.0, batch_size=16, cache="memory")
    ds = load_datasets(cfg, 16, seed=0, work_dir=tmp_path / "work")
    assert ds.train_count == 9  # set-up reads headers: the two truncated files are found in the first epoch
    (x, y), = list(ds.train)  # one complete pass: one batch
    assert x.shape == (7, 16, 16, 3)
    assert ds.train_count == 7
    late = {Path(s.path).name: s.reason for s in ds.report.skipped[-2:]}
    assert set(late) == {"truncated.jpg", "truncated.png"} and all(r.startswith("corrupt") for r in late.values())
    reds = sorted(int(v) for v in x.numpy()[:, 0, 0, 0])
    assert abs(reds[0] - 200) <= 2 and all(r >= 245 for r in reds[1:])  # the unicode file, then 3 + 3 good ones
    assert snapshot(tmp_path / "in") == before  # the input folder is never written to


def test_missing_empty_and_single_class(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_datasets(DataConfig(source="folder", path=str(tmp_path / "nope")), 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        scan_folder(tmp_path / "empty")
    make_image(tmp_path / "one" / "cls" / "a.png")
    with pytest.raises(DataError, match="only one class"):
        scan_folder(tmp_path / "one")


def test_class_of_only_bad_files(tmp_path: Path) -> None:
    make_image(tmp_path / "d" / "good" / "a.png")
    (tmp_path / "d" / "broken").mkdir()
    (tmp_path / "d" / "broken" / "x.jpg").write_text("text")
    with pytest.raises(DataError, match=r"class 'broken'.*not an image"):
        scan_folder(tmp_path / "d")


def test_small_images_warn(tmp_path: Path) -> None:
    make_image(tmp_path / "d" / "a" / "1.png", size=(10, 10))
    make_image(tmp_path / "d" / "b" / "1.png", size=(64, 64))
    report = scan_folder(tmp_path / "d", min_size=32)
    assert any("1 images are smaller than 32 px (smallest 10 x 10)" in w for w in report.warnings)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda p: zip_with(p, {"a/1.png": b"1", "../evil.txt": b"x"}), UnsafeArchiveError),
        (lambda p: zip_with(p, {"a/1.png": b"1", "/tmp/evil.txt": b"x"}), UnsafeArchiveError),
        (lambda p: zip_with(p, {"a/1.png": b"1"}, symlinks={"a/evil.png": "../../evil.txt"}), UnsafeArchiveError),
        (lambda p: zip_with(p, {"a/big.png": b"\0" * 3_000_000}), UnsafeArchiveError),
        (lambda p: zip_with(p, {f"a/{i}.png": b"1" for i in range(60)}), UnsafeArchiveError),
        (lambda p: lying_zip(p), DataError),
    ],
    ids=["slip", "absolute", "symlink", "bomb-declared", "too-many-files", "lying-header"],
)
def test_bad_zips_are_refused_and_write_nothing(tmp_path: Path, make, error) -> None:
    z = make(tmp_path / "bad.zip")
    before = snapshot(tmp_path)
    with pytest.raises(error):
        safe_extract_zip(z, tmp_path / "out", max_total_bytes=1_000_000, max_files=50)
    assert snapshot(tmp_path) == before
    assert not Path("/tmp/evil.txt").exists()


def test_bad_zip_through_load_datasets(tmp_path: Path) -> None:
    z = zip_with(tmp_path / "bad.zip", {"a/1.png": b"1", "../evil.txt": b"x"})
    with pytest.raises(UnsafeArchiveError):
        load_datasets(DataConfig(source="zip", path=str(z)), 16, work_dir=tmp_path / "work")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "work" / "evil.txt").exists()
    ok = load_datasets(
        DataConfig(source="zip", path=str(good_zip(tmp_path / "good.zip")), validation_split=0.0, cache="none"),
        16,
        work_dir=tmp_path / "work",
    )
    assert ok.class_names == ["daisy", "rose"] and ok.train_count == 6
