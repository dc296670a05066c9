"""safe_extract_zip: good archives unwrap; slip, links and bombs are refused without side effects."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bad_inputs"))

from make_files import good_zip, image_bytes, lying_zip, snapshot, zip_with  # noqa: E402

from tl_widgets.core.data.loading import DataError  # noqa: E402
from tl_widgets.core.data.zipsafe import UnsafeArchiveError, find_class_root, safe_extract_zip  # noqa: E402


def test_good_zip_is_unwrapped_and_junk_ignored(tmp_path: Path) -> None:
    root = safe_extract_zip(good_zip(tmp_path / "f.zip"), tmp_path / "out")
    assert root == tmp_path / "out" / "flowers"
    assert sorted(p.name for p in root.iterdir()) == ["daisy", "rose"]
    assert not (tmp_path / "out" / "__MACOSX").exists()
    assert not (root / ".DS_Store").exists()
    assert len(list(root.rglob("*.png"))) == 6


def test_zip_without_wrapper_returns_target(tmp_path: Path) -> None:
    root = safe_extract_zip(good_zip(tmp_path / "f.zip", wrapper=None), tmp_path / "out")
    assert root == tmp_path / "out"
    assert find_class_root(root) == root


@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "cls/../../evil.txt", "/abs/evil.txt", "C:/evil.txt", "C:\\evil.txt", "..\\evil.txt"],
)
def test_zip_slip_is_refused(tmp_path: Path, name: str) -> None:
    z = zip_with(tmp_path / "slip.zip", {"a/ok.png": image_bytes(), name: b"pwned"})
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError, match="outside the target"):
        safe_extract_zip(z, tmp_path / "sub" / "out")
    assert snapshot(tmp_path) == before  # refused before anything was created
    assert not list(tmp_path.rglob("evil.txt"))
    assert not Path("/abs/evil.txt").exists()


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    z = zip_with(tmp_path / "link.zip", {"a/ok.png": image_bytes()}, symlinks={"a/link.png": "/etc/passwd"})
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        safe_extract_zip(z, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["link.zip"]


def test_declared_size_over_cap_is_refused_before_writing(tmp_path: Path) -> None:
    z = zip_with(tmp_path / "bomb.zip", {"a/big.png": b"\x00" * 2_000_000, "b/ok.png": image_bytes()})
    assert z.stat().st_size < 20_000  # highly compressible
    with pytest.raises(UnsafeArchiveError, match="1,000,000 bytes"):
        safe_extract_zip(z, tmp_path / "out", max_total_bytes=1_000_000)
    assert [p.name for p in tmp_path.iterdir()] == ["bomb.zip"]


def test_lying_header_cannot_beat_the_cap(tmp_path: Path) -> None:
    z = lying_zip(tmp_path / "liar.zip", real_size=3_000_000, declared=100)
    with pytest.raises(DataError):
        safe_extract_zip(z, tmp_path / "out", max_total_bytes=1_000_000)
    assert [p.name for p in tmp_path.iterdir()] == ["liar.zip"]
    # even with a generous cap, the member never inflates past its declared size unnoticed
    with pytest.raises(DataError, match="readable zip"):
        safe_extract_zip(z, tmp_path / "out2", max_total_bytes=10_000_000)
    assert [p.name for p in tmp_path.iterdir()] == ["liar.zip"]


def test_too_many_files_is_refused(tmp_path: Path) -> None:
    members = {f"c{i % 2}/{i}.png": b"x" for i in range(30)}
    z = zip_with(tmp_path / "many.zip", members)
    with pytest.raises(UnsafeArchiveError, match="at most 10 files"):
        safe_extract_zip(z, tmp_path / "out", max_files=10)
    assert [p.name for p in tmp_path.iterdir()] == ["many.zip"]


def test_real_bytes_are_counted_while_extracting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers claim 1 byte per member but the streams deliver 600 kB each: the running count stops it."""
    import io
    import zipfile

    z = zip_with(tmp_path / "z.zip", {"a/x.png": b"\x01", "b/y.png": b"\x02"})
    real_infolist = zipfile.ZipFile.infolist

    def lying_infolist(self: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
        infos = real_infolist(self)
        for info in infos:
            info.file_size = 1
        return infos

    monkeypatch.setattr(zipfile.ZipFile, "infolist", lying_infolist)
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, info, *a, **k: io.BytesIO(b"\x00" * 600_000))
    with pytest.raises(UnsafeArchiveError, match="1,000,000 bytes"):
        safe_extract_zip(z, tmp_path / "out", max_total_bytes=1_000_000)
    assert [p.name for p in tmp_path.iterdir()] == ["z.zip"]


def test_target_must_be_new_or_empty_and_zip_must_exist(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="new or empty folder"):
        safe_extract_zip(good_zip(tmp_path / "f.zip"), tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    with pytest.raises(DataError, match="existing zip file"):
        safe_extract_zip(tmp_path / "nope.zip", tmp_path / "o")
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(DataError, match="Expected a zip archive"):
        safe_extract_zip(tmp_path / "fake.zip", tmp_path / "o")


def _encrypted(path: Path) -> Path:
    z = zip_with(path, {"a/x.png": image_bytes(), "b/y.png": image_bytes()})
    raw = bytearray(z.read_bytes())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # set the "encrypted" bit in local and central headers
        start = 0
        while (i := raw.find(sig, start)) >= 0:
            flag_at = i + (6 if sig == b"PK\x03\x04" else 8)
            raw[flag_at] |= 0x1
            start = i + 4
    z.write_bytes(bytes(raw))
    return z


def _corrupt_deflate(path: Path) -> Path:
    z = zip_with(path, {"a/x.png": image_bytes(size=(64, 64)) * 4, "b/y.png": image_bytes()})
    raw = bytearray(z.read_bytes())
    for i in range(40, 80):  # scribble over the first member's compressed data (after its 30-byte header + name)
        raw[i] ^= 0x5A
    z.write_bytes(bytes(raw))
    return z


@pytest.mark.parametrize("make, expected", [
    (_encrypted, "without a password"),
    (_corrupt_deflate, "readable zip archive"),
    (lambda p: zip_with(p, {"a/" + "n" * 300 + ".png": image_bytes(), "b/y.png": image_bytes()}),
     "at most 200 bytes"),
    (lambda p: zip_with(p, {"a/x": image_bytes(), "a/x/y.png": image_bytes()}), "no file and folder of the same"),
    (lambda p: zip_with(p, {"a/x/y.png": image_bytes(), "a/x": image_bytes()}), "no file and folder of the same"),
], ids=["encrypted", "corrupt-deflate", "long-name", "file-then-folder", "folder-then-file"])
def test_bad_zips_give_a_clear_error_and_leave_nothing(tmp_path: Path, make, expected: str) -> None:
    z = make(tmp_path / "bad.zip")
    before = snapshot(tmp_path)
    with pytest.raises(DataError, match=expected):
        safe_extract_zip(z, tmp_path / "out")
    assert snapshot(tmp_path) == before
