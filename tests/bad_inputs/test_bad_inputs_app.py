"""Bad inputs through the app layer: config files (API and CLI), paths outside the data roots (Studio and
``tl-widgets serve``), hostile uploads and bad images in the Studio — each refused or skipped with a clear
message, and nothing written outside the output folder."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_files import bad_folder, image_bytes, make_16bit_png, make_image, snapshot, zip_with  # noqa: E402

from tl_widgets.core.config.schema import ConfigError, DataConfig, ModelConfig, PhaseConfig, TrainConfig  # noqa: E402
from tl_widgets.panels.kit.validation import PanelError  # noqa: E402

BAD_CONFIGS = {
    "negative_batch.json": ('{"data": {"batch_size": -3}}', r"data.batch_size.*Received: batch_size=-3"),
    "broken.yaml": ("data: [unclosed", r"Expected valid YAML"),
    "unknown_field.json": ('{"bogus": 1}', r"Unknown field 'bogus'"),
    "not_a_mapping.json": ("[1, 2]", r"Expected"),
    "nan_lr.json": ('{"phases": [{"name": "head", "epochs": 1, "learning_rate": NaN}]}', r"learning_rate"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_invalid_config_through_load(tmp_path, name):
    text, pattern = BAD_CONFIGS[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=pattern):
        TrainConfig.load(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("name, text, pattern", [
    ("negative_batch.json", BAD_CONFIGS["negative_batch.json"][0], "batch_size=-3"),
    ("unknown_backbone.json", '{"model": {"backbone": "no_such_net"}, "output_dir": "OUT"}', "no_such_net"),
    ("missing.json", None, "missing.json"),
])
def test_invalid_config_through_the_cli(tmp_path, capsys, name, text, pattern):
    from tl_widgets.cli import main

    path = tmp_path / name
    if text is not None:
        path.write_text(text.replace("OUT", str(tmp_path / "out").replace("\\", "/")), encoding="utf-8")
    before = snapshot(tmp_path)
    assert main(["train", str(path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tl-widgets: error: ") and pattern in err, err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    added = snapshot(tmp_path) - before
    assert all(p == "out" or p.startswith("out/") for p in added), added  # only ever inside the output folder


# -- paths outside the data roots -----------------------------------------------------------------


@pytest.fixture
def roots(tmp_path):
    root = tmp_path / "root"
    make_image(root / "ok" / "a" / "1.png")
    make_image(root / "ok" / "b" / "1.png")
    outside = tmp_path / "secret"
    make_image(outside / "a" / "1.png")
    make_image(outside / "b" / "1.png")
    (root / "link").symlink_to(outside, target_is_directory=True)
    return root, outside


@pytest.mark.parametrize("path", ["secret", "root/../secret", "root/link", "/etc"])
def test_studio_refuses_a_data_folder_outside_the_roots(tmp_path, roots, path):
    from tl_widgets.studio import Studio

    root, _ = roots
    target = path if path.startswith("/") else str(tmp_path / path)
    cfg = TrainConfig(data=DataConfig(source="folder", path=target), output_dir=str(tmp_path / "out"))
    with pytest.raises(PanelError, match=r"Expected a data folder inside the data roots .*Received: "):
        Studio(config=cfg, data_roots=[root])
    studio = Studio(data_roots=[root])
    with pytest.raises(PanelError, match="inside the data roots"):
        studio.data.set_config(cfg.data)
    assert studio.data.source_picker.value == "demo"  # unchanged
    listed = [v for _, v in studio.data.folder.options]
    assert str((root / "ok").resolve()) in listed and not any("secret" in v for v in listed)


def test_weights_file_outside_the_roots_is_refused(tmp_path, roots):
    from tl_widgets.studio import Studio

    root, outside = roots
    (outside / "w.weights.h5").write_bytes(b"x")
    cfg = TrainConfig(model=ModelConfig(backbone="demo_cnn", weights=str(outside / "w.weights.h5")))
    with pytest.raises(PanelError, match="Expected a weights file inside the data roots"):
        Studio(config=cfg, data_roots=[root])


def test_serve_refuses_roots_that_do_not_exist(tmp_path, capsys):
    from tl_widgets.cli import serve
    from tl_widgets.core.room.workshop import WorkshopError

    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    args = parser.parse_args(["serve", "--data-root", str(tmp_path / "nope"), "--no-browser"])
    assert args.func(args) == 1
    assert "Expected --data-root to be an existing folder. Received: " in capsys.readouterr().err
    no_roots = parser.parse_args(["serve", "--no-browser"])
    with pytest.raises(ValueError, match="Expected at least one data root"):
        serve.build_options(no_roots)
    ws = tmp_path / "w.yaml"
    ws.write_text("data_roots: [../../nowhere]\nallowed_backbones: [demo_cnn]\nmax_epochs: 1\nmax_batch_size: 8\n")
    with pytest.raises(WorkshopError, match=r"data_roots entry '../../nowhere'"):
        serve.build_options(parser.parse_args(["serve", "--workshop", str(ws)]))


def test_serve_options_are_safe_by_default(tmp_path):
    from tl_widgets.cli import serve
    from tl_widgets.server.voila_launch import kernel_env, voila_argv

    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    local = serve.build_options(parser.parse_args(["serve", "--data-root", str(tmp_path)]))
    assert local.token and len(local.token) >= 24, "a token even on loopback unless --no-token"
    assert local.max_upload_bytes == 8 * 2**20 and local.threads == 1
    assert "--local-only" in voila_argv(local), "the Host-header check stays on for a loopback server"
    bare = serve.build_options(parser.parse_args(["serve", "--data-root", str(tmp_path), "--no-token"]))
    assert bare.token is None
    shared = serve.build_options(parser.parse_args(["serve", "--ip", "0.0.0.0", "--data-root", str(tmp_path),
                                                    "--threads", "2", "--max-upload-mb", "3"]))
    assert shared.token and len(shared.token) >= 24 and shared.url.endswith(f"?token={shared.token}")
    argv = voila_argv(shared)
    assert not any(shared.token in a for a in argv), "the token never goes on the command line (ps shows it)"
    assert "--strip_sources=True" in argv and "--local-only" not in argv
    assert "--MappingKernelManager.cull_idle_timeout=1800" in argv
    assert f"--websocket-max-bytes={2 * 3 * 2**20 + 2**20}" in argv
    env = kernel_env(shared, {})
    assert env["TL_WIDGETS_TOKEN"] == shared.token
    assert env["TF_NUM_INTRAOP_THREADS"] == env["OMP_NUM_THREADS"] == "2"
    assert env["TL_WIDGETS_MAX_UPLOAD_BYTES"] == str(3 * 2**20)
    assert env["TL_WIDGETS_DATA_ROOTS"] == str(tmp_path.resolve())
    for bad in ("a b", "short", "tökenwithumlaut", "eight888", "fifteen-chars15"):
        with pytest.raises(ValueError, match="Expected --token of at least 16 ASCII"):
            serve.build_options(parser.parse_args(["serve", "--data-root", str(tmp_path), "--token", bad]))
    with pytest.raises(ValueError, match="Expected a token when serving on '0.0.0.0'"):
        serve.build_options(parser.parse_args(["serve", "--ip", "0.0.0.0", "--data-root", str(tmp_path),
                                               "--no-token"]))
    # The waiting room: pages prepared at once (default: CPU cores), passed to the server entry point.
    assert local.max_starting == max(1, os.cpu_count() or 1)
    assert f"--max-starting={local.max_starting}" in voila_argv(local)
    one = serve.build_options(parser.parse_args(["serve", "--data-root", str(tmp_path), "--max-starting", "1"]))
    assert "--max-starting=1" in voila_argv(one)
    with pytest.raises(ValueError, match="Expected --max-starting between 1 and 1024. Received: 0"):
        serve.build_options(parser.parse_args(["serve", "--data-root", str(tmp_path), "--max-starting", "0"]))


def test_studio_generates_a_token_and_refuses_none_off_loopback(tmp_path):
    from tl_widgets.cli import studio
    from tl_widgets.server.voila_launch import LaunchOptions, voila_argv

    parser = argparse.ArgumentParser()
    studio.register(parser.add_subparsers())
    assert len(studio.resolve_token(parser.parse_args(["studio"]))) >= 24
    assert studio.resolve_token(parser.parse_args(["studio", "--no-token"])) is None
    with pytest.raises(ValueError, match="Expected a token when serving on '0.0.0.0'"):
        studio.resolve_token(parser.parse_args(["studio", "--ip", "0.0.0.0", "--no-token"]))
    with pytest.raises(ValueError, match="Expected a token when serving on '10.0.0.5'"):
        voila_argv(LaunchOptions(ip="10.0.0.5", token=None))
    assert LaunchOptions(token="a-b_c+d/e").url.endswith("?token=a-b_c%2Bd%2Fe")


# -- uploads and images through the Studio ---------------------------------------------------------


def _bomb_bytes(mib: int = 64) -> bytes:
    """A zip whose one image expands from well under 1 MB to ``mib`` MiB of zeros."""
    buf = io.BytesIO()
    chunk = b"\0" * 2**20
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("a/big.png", "w", force_zip64=True) as f:
            for _ in range(mib):
                f.write(chunk)
        zf.writestr("b/1.png", b"1")
    return buf.getvalue()


def _bad_zips(folder: Path) -> dict[str, bytes]:
    """Zips that break extraction in different ways, by name."""
    ok = image_bytes()
    long_name = zip_with(folder / "long.zip", {"a/" + "n" * 300 + ".png": ok, "b/1.png": ok}).read_bytes()
    clash = zip_with(folder / "clash.zip", {"a/x": ok, "a/x/y.png": ok}).read_bytes()
    enc = bytearray(zip_with(folder / "enc.zip", {"a/1.png": ok, "b/1.png": ok}).read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = 0
        while (k := enc.find(sig, at)) >= 0:
            enc[k + off] |= 1
            at = k + 4
    bad = bytearray(zip_with(folder / "crc.zip", {"a/1.png": image_bytes(size=(64, 64)) * 4, "b/1.png": ok})
                    .read_bytes())
    for k in range(40, 80):
        bad[k] ^= 0x5A
    return {"long.zip": long_name, "clash.zip": clash, "encrypted.zip": bytes(enc), "corrupt.zip": bytes(bad)}


def test_studio_refuses_hostile_uploads(tmp_path, monkeypatch):
    import tempfile

    from tl_widgets.panels.data import DEFAULT_MAX_UPLOAD_BYTES, DataPanel

    made = tmp_path.parent / f"{tmp_path.name}-zips"
    made.mkdir()
    bad_zips = _bad_zips(made)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # uploads land here: the snapshot sees them
    panel = DataPanel(data_roots=[tmp_path], max_upload_bytes=200_000)
    before = snapshot(tmp_path)
    # as the browser sends it (deserialised by the widget like a real upload)
    panel.upload.set_state({"value": [{"name": "big.zip", "type": "application/zip", "size": 300_000,
                                       "last_modified": 0, "content": memoryview(b"\0" * 300_000)}]})
    assert "Refused: expected a zip of at most 0.2 MiB. Received: 'big.zip' (0.3 MiB)" in panel.notice.text
    slip = zip_with(made / "slip.zip", {"a/1.png": b"1", "../evil.txt": b"x"})
    assert panel.take_zip_bytes(slip.read_bytes(), "slip.zip") is None
    assert panel.notice.text.startswith("Refused 'slip.zip': ") and "evil.txt" in panel.notice.text
    # The Studio's real defaults: a 9 MiB upload may extract to 4 x that; a small zip of 64 MiB is refused.
    studio_panel = DataPanel(data_roots=[tmp_path])
    assert studio_panel.max_upload_bytes == DEFAULT_MAX_UPLOAD_BYTES
    assert studio_panel.max_extract_bytes == 4 * DEFAULT_MAX_UPLOAD_BYTES
    bomb = _bomb_bytes()
    assert len(bomb) < 2**20
    assert studio_panel.take_zip_bytes(bomb, "bomb.zip") is None
    assert f"at most {4 * DEFAULT_MAX_UPLOAD_BYTES:,} bytes" in studio_panel.notice.text, studio_panel.notice.text
    for name, content in bad_zips.items():  # each a clear notice, nothing kept
        assert studio_panel.take_zip_bytes(content, name) is None, name
        assert studio_panel.notice.text.startswith(f"Refused {name!r}: Expected"), studio_panel.notice.text
    assert panel.take_zip_bytes(b"not a zip at all", "text.zip") is None
    assert panel.notice.text.startswith("Refused 'text.zip': ")
    assert panel.source_picker.value == "demo" and panel.path is None
    new = snapshot(tmp_path) - before  # only the (empty) private upload folders remain
    assert new and all(Path(p).parent == Path("tmp") and Path(p).name.startswith("tlw-uploads-") for p in new), new
    assert not (tmp_path.parent / "evil.txt").exists()


def test_pixel_and_thread_limits(tmp_path, monkeypatch):
    from PIL import Image

    from tl_widgets.core.data import image_open, images
    from tl_widgets.core.data.preview import THUMBNAIL_SIDE, folder_preview

    root = tmp_path / "d"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        Image.new("RGB", (4100, 4100), (200, 10, 10)).save(root / cls / "huge.png", compress_level=1)
        Image.new("RGB", (3000, 2000), (10, 200, 10)).save(root / cls / "ok.jpg", quality=50)
    monkeypatch.setattr(image_open, "_PROCESS_MAX_PIXELS", images.DEFAULT_MAX_PIXELS)
    preview = folder_preview(root)
    assert preview.samples.shape == (2, THUMBNAIL_SIDE, THUMBNAIL_SIDE, 3)  # samples decoded small
    images.limit_pixels(16_000_000)  # a workshop's 16 MP: the 16.8 MP PNGs are skipped, by name and reason
    report = folder_preview(root).report
    assert sorted(Path(s["path"]).name for s in report["skipped"]) == ["huge.png", "huge.png"]
    assert all("limit 16,000,000" in s["reason"] for s in report["skipped"])
    from concurrent import futures

    from tl_widgets.core.data import scanning

    used: list[int] = []
    real = futures.ThreadPoolExecutor
    monkeypatch.setattr(scanning, "ThreadPoolExecutor", lambda max_workers: used.append(max_workers) or real(1))
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")  # what `serve --threads 2` gives each kernel
    for deep in (True, False):  # the full check (scan_folder) and the header-only one (training set-up)
        scanning.check_files([str(root / "a" / "ok.jpg")] * 70, images.DEFAULT_MAX_PIXELS, deep)
    assert used == [2, 2]


def test_studio_reports_bad_images_and_trains_on_the_rest(tmp_path):
    from tl_widgets.studio import Studio

    root = tmp_path / "root"
    expected = bad_folder(root / "fruit")
    make_16bit_png(root / "fruit" / "apples" / "deep_16bit.png")
    make_image(root / "fruit" / "bananas" / "cmyk.jpg", "JPEG", mode="CMYK", colour=(0, 0, 255, 0))
    before = snapshot(root)
    cfg = TrainConfig(data=DataConfig(source="folder", path=str(root / "fruit"), validation_split=0.0, batch_size=8),
                      model=ModelConfig(backbone="demo_cnn", weights="none", input_size=32),
                      phases=[PhaseConfig(name="head", epochs=1)], output_dir=str(tmp_path / "out"), run_name="bad")
    studio = Studio(config=cfg, data_roots=[root])
    report = studio.data.report
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    late = {"truncated.jpg", "truncated.png"}  # damage past the header: the first epoch finds it, not the Data step
    for name, reason in expected.items():
        if reason is None or name in late:
            assert name not in skipped
        else:
            assert skipped[name].startswith(reason), (name, skipped[name])
    assert "deep_16bit.png" not in skipped and "cmyk.jpg" not in skipped
    assert report["counts"] == {"apples": 6, "bananas": 5}
    assert "5 skipped files" in studio.data.skipped.value
    assert studio.start() is not None
    assert studio.train.wait(240) == "finished", studio.train.notice.text
    summary = json.loads(next((tmp_path / "out").rglob("summary.json")).read_text())
    found = {Path(s["path"]).name: s["reason"] for s in summary["skipped_files"]}
    assert set(found) == {name for name, reason in expected.items() if reason} and all(
        found[name].startswith("corrupt or truncated") for name in late), found
    assert snapshot(root) == before  # the data folder is never written to
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "root"]  # nothing outside the output folder


def test_studio_opens_with_a_damaged_run_store_and_start_says_why(tmp_path, monkeypatch):
    from tl_widgets.studio import Studio

    monkeypatch.setenv("TL_WIDGETS_HOME", str(tmp_path))
    (tmp_path / "runs.sqlite").write_bytes(b"not a database" * 100)
    studio = Studio()
    assert "Cannot read the run store: Expected a run-store database" in studio.runs.notice.text
    for _ in range(2):  # the failed Start leaves nothing marked busy: the second one says the same
        assert studio.start() is None
        assert "Cannot start: Expected a run-store database" in studio.train.notice.text, studio.train.notice.text
    assert not studio.train.running
