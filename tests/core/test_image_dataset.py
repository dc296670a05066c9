"""tl_widgets.image_dataset against keras.utils.image_dataset_from_directory on the same folders.

Same class names, file order, labels, validation assignment and pixel values for each argument combination
supported; then what differs on purpose: bad files skipped and reported, reduced-size JPEG decoding, EXIF
orientation on request, the cache, formats Keras cannot decode in some colour modes.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bad_inputs"))

import keras  # noqa: E402
from make_files import make_text_as_jpg, make_truncated_jpeg  # noqa: E402

import tl_widgets  # noqa: E402
from tl_widgets.core.data.decoding import jpeg_ratio, jpeg_ratios, make_tf_decoder  # noqa: E402
from tl_widgets.core.data.images import check_image  # noqa: E402

SIZE = (16, 16)  # every JPEG below is smaller than twice this: decoded at full size, as Keras does


def _smooth(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    low = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(low).resize((w, h), Image.Resampling.BICUBIC).filter(ImageFilter.SMOOTH)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four classes made in unsorted order; JPEG (also .JPG and nested), PNG, BMP, GIF; files neither lists."""
    root = tmp_path_factory.mktemp("shared") / "ds"
    rng = np.random.default_rng(0)
    layout = {"d": ["0.png", "1.png", "2.png"], "a": ["x.jpg", "y.jpg", "z.gif"],
              "c": ["m.jpg", "N.JPG", "o.png", "sub/p.jpg", "sub/deeper/q.png"], "b": ["k.png", "l.bmp", "j.png"]}
    for cls, names in layout.items():
        for name in names:
            path = root / cls / name
            path.parent.mkdir(parents=True, exist_ok=True)
            img = _smooth(rng, int(rng.integers(17, 31)), int(rng.integers(17, 31)))
            fmt = {".jpg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF"}[path.suffix.lower()]
            img.save(path, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    _smooth(rng, 20, 20).save(root / "c" / "skip.webp")  # not a listed format (for both)
    (root / ".hidden").mkdir()
    _smooth(rng, 20, 20).save(root / ".hidden" / "h.png")  # a dot-folder is no class (for both)
    return root


def _batches(ds) -> list[tuple[np.ndarray, ...]]:
    return [tuple(t.numpy() for t in b) if isinstance(b, tuple) else (b.numpy(),) for b in ds]


def _same_as_keras(root: Path, **kwargs) -> tuple:
    """Both datasets over ``root`` with ``kwargs``: asserts the same names, files, length, structure and values."""
    kwargs.setdefault("image_size", SIZE)
    theirs = keras.utils.image_dataset_from_directory(str(root), verbose=False, **kwargs)
    ours = tl_widgets.image_dataset(str(root), verbose=False, **kwargs)
    pairs = list(zip(theirs, ours)) if isinstance(theirs, list) else [(theirs, ours)]
    for k, o in pairs:
        assert o.class_names == k.class_names
        assert o.file_paths == k.file_paths
        assert len(o) == len(k) and o.element_spec == k.element_spec
        kb, ob = _batches(k), _batches(o)
        assert len(kb) == len(ob)
        for kt, ot in zip(kb, ob):
            for a, b in zip(kt, ot):
                assert a.dtype == b.dtype and a.shape == b.shape
                assert np.abs(a.astype(np.float64) - b.astype(np.float64)).max() <= 1e-3
    return theirs, ours


@pytest.mark.parametrize("kwargs", [
    {},  # int labels, rgb, bilinear, batch 32
    {"batch_size": 4, "class_names": ["d", "c"], "color_mode": "grayscale", "label_mode": "categorical"},
    {"batch_size": 3, "class_names": ["b", "d"], "color_mode": "rgba", "label_mode": "binary"},
    {"image_size": (12, 20), "crop_to_aspect_ratio": True, "interpolation": "bicubic"},
    {"image_size": 16, "interpolation": "nearest", "label_mode": None},
    {"labels": None, "interpolation": "area", "batch_size": None},
    {"labels": [0, 1] * 7 + [1], "batch_size": 5, "label_mode": "categorical"},
], ids=["defaults", "grey-categorical", "rgba-binary", "crop-bicubic", "nearest-unlabelled", "nolabels-unbatched",
        "label-list"])
def test_same_files_labels_order_and_pixels_as_keras_with_shuffle_off(shared: Path, kwargs: dict) -> None:
    keras_ds, ours = _same_as_keras(shared, shuffle=False, **kwargs)
    assert not any(p.endswith(".webp") for p in ours.file_paths)
    if kwargs.get("labels", "inferred") == "inferred" and kwargs.get("label_mode", "int"):
        assert sum(ours.report.counts.values()) == len(ours.file_paths)
        assert not any("/.hidden/" in p for p in ours.file_paths)
    else:  # without labels the whole tree is listed, dot-folders included (as Keras does)
        assert len(ours.file_paths) == 15


def test_validation_split_assigns_the_same_files_as_keras(shared: Path) -> None:
    for subset in ("training", "validation"):
        _same_as_keras(shared, seed=1, validation_split=0.3, subset=subset, batch_size=64)
    keras_pair, (train, val) = _same_as_keras(shared, seed=7, validation_split=0.3, subset="both", batch_size=64)
    assert not set(train.file_paths) & set(val.file_paths) and len(val.file_paths) == int(0.3 * 14)


def test_shuffle_reorders_every_pass_reproducibly(shared: Path) -> None:
    def orders(seed: int) -> list[list[float]]:
        ds = tl_widgets.image_dataset(str(shared), image_size=SIZE, seed=seed, verbose=False)
        return [[float(v) for v in next(iter(ds))[0].numpy()[:, 0, 0, 0]] for _ in range(2)]

    first = orders(3)
    assert first == orders(3) and first[0] != first[1] and sorted(first[0]) == sorted(first[1])


def test_bad_files_are_skipped_reported_and_the_length_kept(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rng = np.random.default_rng(1)
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(5):
            _smooth(rng, 20, 20).save(root / cls / f"{i}.jpg", quality=92)
    make_truncated_jpeg(root / "cats" / "3.jpg")  # a good header: the decoder finds it, in the first pass
    make_text_as_jpg(root / "dogs" / "notes.jpg")  # no image header: found at set-up
    _smooth(rng, 20, 20).save(root / "dogs" / "png_named.jpg", "PNG")  # a PNG named .jpg: decoded as the PNG it is
    with pytest.warns(UserWarning, match=r"1 file was skipped \(notes.jpg \(not an image\)\)"):
        ds = tl_widgets.image_dataset(str(root), image_size=SIZE, batch_size=4, shuffle=False, verbose=False)
    assert [Path(s.path).name for s in ds.report.skipped] == ["notes.jpg"] and len(ds.file_paths) == 11
    assert len(ds) == 3  # 11 files in batches of 4: the length is set-up's, as Keras would say
    with pytest.warns(UserWarning, match=r"1 file could not be decoded during the first pass.*3\.jpg"):
        first = _batches(ds)
    labels = np.concatenate([b[1] for b in first])
    assert len(first) == 3 and list(np.bincount(labels)) == [4, 6]  # every good file once, the broken one not
    assert {Path(s.path).name: s.reason.split(" (")[0] for s in ds.report.skipped} == {
        "notes.jpg": "not an image", "3.jpg": "corrupt or truncated"}
    assert ds.report.counts == {"cats": 4, "dogs": 6} and len(ds.file_paths) == 10
    assert str(root / "cats" / "3.jpg") not in ds.file_paths
    # the broken file's batch-mates were decoded again one by one, after the others: file_paths follows
    assert [Path(p).parent.name[0] + Path(p).stem for p in ds.file_paths] == [
        "c4", "d0", "d1", "d2", "c0", "c1", "c2", "d3", "d4", "dpng_named"]
    second = _batches(ds)
    assert len(second) == 3 and np.array_equal(np.concatenate([b[1] for b in second]), labels)  # every pass
    with pytest.raises(Exception, match="(?i)invalid|jpeg|data"):  # Keras stops on it
        _batches(keras.utils.image_dataset_from_directory(str(root), image_size=SIZE, shuffle=False, verbose=False))


def test_exif_orientation_as_stored_by_default_turned_on_request(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    img = Image.new("RGB", (24, 16), (250, 0, 0))
    img.paste((0, 0, 250), (12, 0, 24, 16))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: red on top
    img.save(root / "a" / "phone.jpg", quality=95, exif=exif)
    img.save(root / "b" / "plain.jpg", quality=95)
    stored, _ = _same_as_keras(root, shuffle=False, image_size=(16, 24))  # Keras ignores EXIF; so do we by default
    turned = tl_widgets.image_dataset(str(root), image_size=(24, 16), shuffle=False, exif_transpose=True,
                                      verbose=False)
    x = next(iter(turned))[0].numpy()
    assert x[0, 2, 8, 0] > 200 and x[0, 2, 8, 2] < 60 and x[0, 21, 8, 2] > 200  # red on top, blue below
    assert x[1, 8, 2, 0] > 200 and x[1, 8, 13, 2] > 200  # the file without orientation: stretched, not turned


@pytest.mark.parametrize("orientation", range(1, 9))
def test_the_decoder_turns_like_pillow_exif_transpose(tmp_path: Path, orientation: int) -> None:
    pixels = np.arange(6 * 4 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3
    path = tmp_path / "o.png"
    Image.fromarray(pixels).save(path)
    turned = np.asarray(ImageOps.exif_transpose(_with_orientation(Image.fromarray(pixels), orientation)))
    decoded = make_tf_decoder(turned.shape[:2], orientation=orientation, as_float=True)(str(path)).numpy()
    assert np.array_equal(decoded, turned.astype(np.float32))


def _with_orientation(img: Image.Image, orientation: int) -> Image.Image:
    img.getexif()[0x0112] = orientation
    img.info["exif"] = img.getexif().tobytes()
    return img


def test_large_jpegs_decode_reduced_per_file_close_to_keras(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rng = np.random.default_rng(2)
    sizes = {"a/big.jpg": (400, 300), "a/mid.jpg": (130, 100), "b/small.jpg": (40, 30), "b/flat.png": (400, 300)}
    for name, (w, h) in sizes.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        _smooth(rng, w, h).filter(ImageFilter.GaussianBlur(4)).save(root / name, quality=95)
    ratios = {name: jpeg_ratio(check_image(root / name), 32) for name in sizes}
    assert ratios == {"a/big.jpg": 8, "a/mid.jpg": 2, "b/small.jpg": 1, "b/flat.png": 1}  # per file
    theirs = _batches(keras.utils.image_dataset_from_directory(str(root), image_size=(32, 32), shuffle=False,
                                                               verbose=False))[0][0]
    ours = _batches(tl_widgets.image_dataset(str(root), image_size=(32, 32), shuffle=False, verbose=False))[0][0]
    diff = np.abs(theirs - ours).reshape(4, -1)
    assert diff[2:].max() <= 1e-3  # full-size decodes: Keras' values
    assert diff[:2].mean(axis=1).max() < 4.0  # reduced decodes of a smooth photo: within a few levels of 255


def test_ratio_keeps_at_least_the_target_after_the_crop() -> None:
    got = jpeg_ratios([4000, 3000, 1280, 640, 4000], [3000, 2000, 960, 480, 1000], [True, True, True, True, False],
                      224)
    assert got.tolist() == [8, 8, 4, 2, 1]
    assert jpeg_ratios([4000], [1000], [True], (224, 224), crop_to_aspect_ratio=True).tolist() == [4]
    assert jpeg_ratios([4000], [1000], [True], (100, 400)).tolist() == [8]
    stored_portrait = jpeg_ratios([3000, 3000], [4000, 4000], [True, True], (400, 300), orientations=[1, 6])
    assert stored_portrait.tolist() == [8, 4]  # turned by its EXIF orientation, it is 4000 wide and 3000 high


@pytest.mark.parametrize("cache", ["memory", "disk"])
def test_a_cache_gives_the_same_images_rounded(shared: Path, tmp_path: Path, cache: str) -> None:
    plain = _batches(tl_widgets.image_dataset(str(shared), image_size=SIZE, shuffle=False, verbose=False))
    cached = tl_widgets.image_dataset(str(shared), image_size=SIZE, shuffle=False, cache=cache,
                                      work_dir=tmp_path, verbose=False)
    for _ in range(2):
        got = _batches(cached)
        assert np.abs(got[0][0] - plain[0][0]).max() <= 0.5 and np.array_equal(got[0][1], plain[0][1])
    assert (cache == "disk") == any((tmp_path / "cache").glob("cache-*"))


def test_formats_keras_cannot_decode_in_a_colour_mode_are_read(shared: Path) -> None:
    grey = tl_widgets.image_dataset(str(shared), image_size=SIZE, color_mode="grayscale", shuffle=False,
                                    verbose=False)  # Keras stops on the BMP and the GIF
    rgba = tl_widgets.image_dataset(str(shared), image_size=SIZE, color_mode="rgba", shuffle=False,
                                    verbose=False)  # Keras stops on the JPEGs and the GIF
    for ds, channels in ((grey, 1), (rgba, 4)):
        x = np.concatenate([b[0] for b in _batches(ds)])
        assert x.shape == (14, *SIZE, channels) and not ds.report.skipped
    alpha = np.concatenate([b[0] for b in _batches(rgba)])[..., 3]
    assert alpha.min() == 255.0


@pytest.mark.parametrize("kwargs, message", [
    ({"label_mode": "sparse"}, "Expected label_mode"),
    ({"color_mode": "bgr"}, "Expected color_mode"),
    ({"image_size": (0, 8)}, "Expected image_size"),
    ({"batch_size": 0}, r"Expected batch_size > 0"),
    ({"interpolation": "cubic"}, "Expected interpolation"),
    ({"validation_split": 0.2}, "Expected validation_split and subset together"),
    ({"validation_split": 0.2, "subset": "training"}, "Expected a seed"),
    ({"labels": [0, 1], "shuffle": False}, "Expected as many labels as image files"),
    ({"class_names": ["zebra"]}, "Expected class_names among the sub-folders"),
    ({"label_mode": "binary"}, "Expected exactly 2 classes"),
    ({"cache": "ram"}, "Expected cache"),
])
def test_bad_arguments_say_what_was_expected(shared: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tl_widgets.image_dataset(str(shared), verbose=False, **kwargs)


def test_verbose_prints_what_keras_prints(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tl_widgets.image_dataset(str(shared), image_size=SIZE, seed=1, validation_split=0.2, subset="both")
    out = capsys.readouterr().out
    assert "Found 14 files belonging to 4 classes." in out and "Using 12 files for training." in out
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean folder warns about nothing
        tl_widgets.image_dataset(str(shared), image_size=SIZE, verbose=False)


@pytest.mark.slow
def test_a_keras_model_trains_from_it_under_the_jax_backend(shared: Path, tmp_path: Path) -> None:
    import subprocess

    script = (
        "import keras, tl_widgets\n"
        f"ds = tl_widgets.image_dataset({str(shared)!r}, image_size=(16, 16), batch_size=4, seed=0, verbose=False)\n"
        "model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255),\n"
        "                          keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)])\n"
        "model.compile('adam', keras.losses.SparseCategoricalCrossentropy(from_logits=True))\n"
        "history = model.fit(ds, epochs=2, verbose=0)\n"
        "print(keras.backend.backend(), len(history.history['loss']), len(ds))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["jax", "2", "4"]


def test_the_engines_pipeline_is_this_function(tmp_path: Path) -> None:
    """Training's validation pipeline gives, per file, image_dataset's pixels (EXIF applied, reduced decodes)."""
    from tl_widgets.core.config.schema import DataConfig
    from tl_widgets.core.data.loading import load_datasets

    root = tmp_path / "ds"
    rng = np.random.default_rng(3)
    exif = Image.Exif()
    exif[0x0112] = 6
    for cls in ("a", "b"):
        for i, (w, h) in enumerate([(300, 200), (40, 30), (130, 90), (200, 300)]):
            (root / cls).mkdir(parents=True, exist_ok=True)
            _smooth(rng, w, h).save(root / cls / f"{i}.jpg", quality=92, **({"exif": exif} if i == 0 else {}))
        _smooth(rng, 50, 50).save(root / cls / "p.png")
    cfg = DataConfig(source="folder", path=str(root), validation_split=0.5, batch_size=3, cache="none")
    engine = load_datasets(cfg, 32, seed=0, work_dir=tmp_path / "work")
    got = np.concatenate([b[0].numpy() for b in engine.val])
    ours = tl_widgets.image_dataset(str(root), image_size=32, shuffle=False, exif_transpose=True, verbose=False)
    by_key = dict(zip((Path(p).relative_to(root).as_posix() for p in ours.file_paths),
                      np.concatenate([b[0].numpy() for b in ours])))
    assert len(engine.val_keys) == len(got) >= 4 and len(ours.file_paths) == 10
    for key, image in zip(engine.val_keys, got):
        assert np.abs(by_key[key] - image).max() <= 1e-3, key
    assert {"0.jpg", "2.jpg"} & {Path(k).name for k in engine.val_keys}  # a turned or a reduced decode among them


def test_a_png_named_jpg_is_decoded_as_keras_decodes_it(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rng = np.random.default_rng(4)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        _smooth(rng, 20, 24).save(root / cls / "real.jpg", quality=92)
        _smooth(rng, 24, 20).save(root / cls / "named.jpg", "PNG")  # by its content, not its name
    _keras, ours = _same_as_keras(root, shuffle=False)
    assert not ours.report.skipped and len(ours.file_paths) == 4
