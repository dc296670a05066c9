"""The one opener of users' images (issue #25, M1 and M2): only JPEG, PNG, GIF, BMP and WebP readers run, under the
room's pixel limit, with Pillow's bomb warning an error and any failure a reason.

Every entry point a user's file reaches is driven with a PostScript file named ``.jpg`` while a fake ``gs`` that
logs its calls is first on PATH (it must never run), and with an ICO wrapping a big PNG (its reader must never run).
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import pytest
from PIL import EpsImagePlugin, IcoImagePlugin, Image

from hostile_images import fake_ghostscript, ico_wrapping_png, path_with, postscript_named_jpeg
from tl_widgets.core.data.image_open import ImageRefused, limit_pixels, open_image


@pytest.fixture
def gs_log(tmp_path, monkeypatch):
    """A fake Ghostscript first on PATH; Pillow forgets the gs it found before."""
    log = fake_ghostscript(tmp_path / "bin")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)
    return log


@pytest.fixture
def ico_spy(monkeypatch):
    """Counts the ICO reader's openings (it decodes the largest image inside while opening)."""
    calls: list[int] = []
    real = IcoImagePlugin.IcoImageFile._open

    def spy(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(IcoImagePlugin.IcoImageFile, "_open", spy)
    return calls


def _dataset(root: Path) -> Path:
    """Two classes of real PNGs plus the two hostile files, named like photos."""
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (40, 30), (30 * i, 90, 200)).save(root / cls / f"{i}.png")
    (root / "cats" / "photo.jpg").write_bytes(postscript_named_jpeg())
    (root / "dogs" / "icon.png").write_bytes(ico_wrapping_png(2000, 2000))
    return root


def test_the_fakes_would_be_caught(gs_log, ico_spy):
    """Without ``formats=``, Pillow runs the fake gs on the PostScript file and the ICO reader on the ICO."""
    with pytest.raises(Exception):  # noqa: B017 - the fake gs fails; what matters is that it ran
        Image.open(io.BytesIO(postscript_named_jpeg())).load()
    assert gs_log.exists()
    Image.open(io.BytesIO(ico_wrapping_png(64, 64)))
    assert ico_spy


def test_open_image_names_other_formats_and_never_runs_their_readers(gs_log, ico_spy, tmp_path):
    for data, fmt in ((postscript_named_jpeg(), "EPS"), (ico_wrapping_png(2000, 2000), "ICO")):
        with pytest.raises(ImageRefused) as info:
            with open_image(data):
                pass
        assert info.value.reason == f"{fmt} format"
    with pytest.raises(ImageRefused, match="not an image"):
        with open_image(b"hello, not an image at all"):
            pass
    assert not gs_log.exists() and not ico_spy


def test_every_entry_point_goes_through_the_one_opener(gs_log, ico_spy, tmp_path):
    from tl_widgets.core.data.headers import read_header
    from tl_widgets.core.data.health import check_dataset
    from tl_widgets.core.data.images import DataError, check_image, convert_to_png, load_rgb
    from tl_widgets.core.data.preview import folder_preview, load_thumbnail
    from tl_widgets.core.evaluation.try_images import decode_image
    from tl_widgets.core.export.preview import images_from_bytes

    root = _dataset(tmp_path / "data")
    ps, ico = root / "cats" / "photo.jpg", root / "dogs" / "icon.png"
    assert check_image(ps).reason == "EPS format" and check_image(ico).reason == "ICO format"
    assert read_header(ps).reason == "EPS format" and read_header(ico).reason == "ICO format"
    for decode in (load_rgb, load_thumbnail, lambda p: convert_to_png(p, tmp_path / "png")):
        for bad in (ps, ico):
            with pytest.raises(DataError, match="format"):
                decode(bad)
    preview = folder_preview(root)  # the Data step's preview: skipped with their reasons, samples from the rest
    reasons = {Path(s["path"]).name: s["reason"] for s in preview.report["skipped"]}
    assert reasons == {"photo.jpg": "EPS format", "icon.png": "ICO format"} and len(preview.samples) == 2
    with zipfile.ZipFile(tmp_path / "up.zip", "w") as zf:  # an uploaded zip, as the health check reads it
        for path in root.rglob("*.*"):
            zf.write(path, path.relative_to(root).as_posix())
    health = check_dataset(tmp_path / "up.zip", embeddings=False, work_dir=tmp_path / "work")
    (unreadable,) = health.of_kind("unreadable")
    assert sorted(Path(f).name for f in unreadable.files) == ["icon.png", "photo.jpg"]
    assert "EPS format" in unreadable.message and "ICO format" in unreadable.message
    for name, data in (("photo.jpg", ps.read_bytes()), ("icon.png", ico.read_bytes())):  # Try it
        with pytest.raises(DataError, match=r"\((EPS|ICO) format\)"):
            decode_image(name, data, 32)
    with pytest.raises(ValueError, match="EPS format"):  # the deployment preview
        images_from_bytes([("photo.jpg", ps.read_bytes())], 32)
    assert not gs_log.exists(), gs_log.read_text()
    assert not ico_spy


def test_the_room_limit_is_pillows_and_its_bomb_warning_an_error(tmp_path):
    limit_pixels(1_000_000)
    assert Image.MAX_IMAGE_PIXELS == 1_000_000
    big = io.BytesIO()
    Image.new("RGB", (1200, 1000), (0, 0, 0)).save(big, format="PNG")  # 1.2 MP: Pillow only warns by itself
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ImageRefused, match=r"too large \(1200 x 1000 pixels, limit 1,000,000\)"):
            with open_image(big.getvalue()):
                pass
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]
    with open_image(_small_png()) as im:
        assert im.size == (8, 8)


def test_any_failure_inside_the_block_is_a_reason_not_a_crash():
    import subprocess

    with pytest.raises(ImageRefused, match=r"unreadable \(CalledProcessError\)"):
        with open_image(_small_png()):
            raise subprocess.CalledProcessError(1, ["gs"])
    with pytest.raises(ImageRefused, match="corrupt or truncated"):
        with open_image(_small_png()[:45]) as im:
            im.load()
    with pytest.raises(ImageRefused, match=r"unreadable \(No such file"):
        with open_image("/nonexistent/photo.jpg"):
            pass


def _small_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, format="PNG")
    return buf.getvalue()
