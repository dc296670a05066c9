"""The Studio and the CLI in Simplified Chinese: every user-facing string goes through the catalog.

The Studio test walks the whole widget tree of ``Studio()`` built under zh_CN and fails listing every
user-facing string (labels, tooltips, placeholders, HTML text, option labels, tab and accordion titles,
chart titles and axes, the webcam's texts) that has Latin words but no Chinese character, except names
that are not translated on purpose (backbones, blocks, formats, units, libraries, file names, config
values users type). In English the same Studio shows no Chinese at all.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from tl_widgets.core import i18n
from tl_widgets.core.settings import LANG_ENV

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/+:']*")
TAG = re.compile(r"<(style|script)\b.*?</\1>|<[^>]+>", re.S)
#: Words that stay as they are in every language: names of libraries, devices, units, formats and metrics,
#: and config values users type (optimizer and precision names). Backbone, block, class and export-format
#: names are added from the registry at test time.
KEEP = {
    "keras", "tensorflow", "jax", "optuna", "mlflow", "tensorboard", "voilà", "voila", "grad-cam", "xla",
    "cpu", "cpus", "gpu", "gpus", "tpu", "mib", "kib", "mb", "gib", "ms", "zip", "json", "yaml", "png", "jpeg",
    "f1", "ece", "top-k", "top-1", "lr", "id", "imagenet", "batchnorm", "dropout", "onnx", "tflite", "savedmodel",
    "pss", "https", "localhost", "tpustrategy", "multiworkermirroredstrategy", "keras.distribution",
    "dataparallel", "modelparallel", "layoutmap", "adam", "adamw", "sgd", "rmsprop", "adagrad", "adamax",
    "nadam", "lion", "mixed_float16", "mixed_bfloat16", "float32", "trainconfig", "chrome", "edge", "firefox",
    "ctrl", "shift", "top", "k", "n", "x", "e", "nbsp",
}


def _is_kept(word: str, names: set[str]) -> bool:
    w = word.strip(".:'-/").lower()
    return (not w or w in KEEP or w in names or any(c.isdigit() for c in w) or "_" in w or "/" in w
            or ("." in w and not w.endswith(".")))


def _text(value: Any) -> str:
    return html.unescape(TAG.sub(" ", str(value))).strip()


def _widgets(root: Any) -> Iterator[Any]:
    """The widget tree under ``root`` (children of boxes, tabs and accordions), depth first."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        yield w
        stack.extend(reversed(list(getattr(w, "children", ()) or ())))


def _figure_texts(figure: dict[str, Any]) -> Iterator[str]:
    layout = figure.get("layout", {}) or {}
    for key in ("title", "xaxis", "yaxis"):
        part = layout.get(key)
        title = part.get("title", part) if isinstance(part, dict) and key != "title" else part
        text = title.get("text") if isinstance(title, dict) else title
        if isinstance(text, str):
            yield text
    for note in layout.get("annotations", []) or []:
        if isinstance(note, dict) and isinstance(note.get("text"), str):
            yield note["text"]


def user_strings(root: Any) -> Iterator[tuple[str, str]]:
    """``(where, text)`` for every user-facing string of the widget tree."""
    import ipywidgets as widgets

    for w in _widgets(root):
        kind = type(w).__name__
        for trait in ("description", "tooltip", "description_tooltip", "placeholder", "label"):
            value = getattr(w, trait, None) if w.has_trait(trait) else None
            if isinstance(value, str) and value.strip():
                yield f"{kind}.{trait}", value
        if isinstance(w, (widgets.HTML, widgets.Label, widgets.HTMLMath)) and w.value:
            yield f"{kind}.value", _text(w.value)
        if w.has_trait("_options_labels"):
            for label in w._options_labels:
                yield f"{kind} option", str(label)
        if w.has_trait("tooltips"):
            for tip in w.tooltips or ():
                yield f"{kind}.tooltips", str(tip)
        if w.has_trait("titles"):
            for title in w.titles or ():
                if title:
                    yield f"{kind}.titles", str(title)
        if w.has_trait("_figure"):
            for text in _figure_texts(w._figure or {}):
                yield f"{kind} figure", _text(text)
        if w.has_trait("labels") and isinstance(w.labels, dict):
            for key, text in w.labels.items():
                yield f"{kind}.labels[{key}]", str(text)


def untranslated(root: Any, names: set[str]) -> list[str]:
    """The strings with a Latin word (not a kept name) and no Chinese character."""
    out = []
    for where, text in user_strings(root):
        if CJK.search(text):
            continue
        words = [w for w in WORD.findall(text) if not _is_kept(w, names)]
        if words:
            out.append(f"{where}: {text[:120]!r}")
    return sorted(set(out))


def _kept_names(studio: Any) -> set[str]:
    from tl_widgets.core.export.formats import FORMATS
    from tl_widgets.core.models.backbones import list_backbones

    names = {str(b.name if hasattr(b, "name") else b).lower() for b in list_backbones()}
    names |= {b.lower() for b in studio.freeze.blocks} | {f.lower() for f in FORMATS}
    names |= {str(c).lower() for c in (studio.data.report or {}).get("counts", {})}
    metric = getattr(getattr(studio, "runs", None), "metric", None)
    names |= {str(v).lower() for v in getattr(metric, "options", ())}  # metric keys stay as they are
    return names


@pytest.fixture
def language():
    """Switches the catalog for one test, back to English after (the suite's language)."""
    yield i18n.set_language
    i18n.set_language("en")


def test_the_studio_in_chinese_has_no_untranslated_string(language, data_root, trained_demo_result):
    """With a finished run in the store, so the run lists (Runs, Try it, Resume) have entries to check."""
    from tl_widgets.studio import Studio

    assert language("zh-CN") == "zh_CN"
    studio = Studio(data_roots=[data_root])
    found = untranslated(studio, _kept_names(studio))
    assert found == [], f"{len(found)} untranslated user-facing strings in the zh-CN Studio:\n" + "\n".join(found)
    strings = [text for _where, text in user_strings(studio)]
    assert len(strings) > 100 and sum(bool(CJK.search(t)) for t in strings) > 100  # the walk really saw the UI


def test_the_studio_in_english_is_unchanged(language, data_root):
    from tl_widgets.studio import Studio

    assert language("en") == "en"
    studio = Studio(data_roots=[data_root])
    chinese = [f"{where}: {text!r}" for where, text in user_strings(studio) if CJK.search(text)]
    assert chinese == []
    assert studio.data.augment.flip.description == "flip" and studio.freeze.mode_picker.options[0][0] == "Head only"


def test_english_catalog_maps_every_message_to_itself(language):
    from babel.messages.pofile import read_po

    language("en")
    with (i18n.LOCALE_DIR / "tl_widgets.pot").open("rb") as fh:
        template = read_po(fh)
    ids = [m.id for m in template if m.id]
    assert len(ids) > 300
    for msgid in ids:
        if isinstance(msgid, str):
            assert i18n._(msgid) == msgid
        else:
            assert i18n.ngettext(msgid[0], msgid[1], 1) == msgid[0] and i18n.ngettext(msgid[0], msgid[1], 3) == msgid[1]


def test_every_cli_help_is_chinese(language):
    """Each sub-command's help: the description and every option's help line carry Chinese."""
    from tl_widgets.cli import build_parser

    language("zh_CN")
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    bad = []
    for name, sub in [("tl-widgets", parser), *subparsers.choices.items()]:
        text = sub.format_help()
        if not text.startswith("用法：") or "显示此帮助信息并退出" not in text:
            bad.append(f"{name}: usage line or -h help not translated")
        for action in sub._actions:
            if action.help and action.help != "==SUPPRESS==" and not CJK.search(action.help % vars(action)
                                                                                  if "%(" in action.help
                                                                                  else action.help):
                bad.append(f"{name} {'/'.join(action.option_strings) or action.dest}: {action.help!r}")
        if sub.description and not CJK.search(sub.description):
            bad.append(f"{name} description: {sub.description!r}")
    assert bad == [], "\n".join(bad)


def test_tl_widgets_help_under_the_env_variable_prints_chinese(tmp_path):
    env = {**os.environ, LANG_ENV: "zh_CN", "LANG": "C.UTF-8"}
    exe = Path(sys.executable).with_name("tl-widgets")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert out.stdout.startswith("用法：tl-widgets") and "Keras 3 迁移学习" in out.stdout and "位置参数" in out.stdout
    env[LANG_ENV] = "en"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert out.stdout.startswith("usage: tl-widgets") and not CJK.search(out.stdout)
    # --lang beats the variable (and `tl-widgets --lang zh-CN studio` hands it to the Studio's kernels)
    out = subprocess.run([str(exe), "--lang", "zh-CN", "config", "--help"], capture_output=True, text=True, env=env,
                         timeout=120, check=True)
    assert out.stdout.startswith("用法：tl-widgets config") and "显示此帮助信息并退出" in out.stdout


def test_an_unknown_lang_says_so_and_uses_english():
    from tl_widgets.cli import main

    env_before = os.environ.get(LANG_ENV)
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(["--lang", "klingon", "--version"])
        assert exit_info.value.code == 0 and os.environ[LANG_ENV] == "en" and i18n.current_language() == "en"
    finally:
        os.environ[LANG_ENV] = env_before or "en"
        i18n.set_language("en")


def test_run_labels_show_the_status_in_the_users_language(language):
    """A run without metrics has only its id and status in the Runs and Try-it lists: the status is translated."""
    from tl_widgets.panels.kit.labels import status_label
    from tl_widgets.panels.runs import _label
    from tl_widgets.panels.try_it import _store_label

    language("zh-CN")
    run = {"run_id": "20261130-114339-bad-fd3af680f0b2", "status": "finished"}
    assert CJK.search(status_label("finished"))
    for text in (_label(run), _store_label(run)):
        assert f"[{status_label('finished')}]" in text and "finished" not in text, text


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _english_words(text: str, names: set[str]) -> list[str]:
    """The Latin words of ``text`` that are not kept names: a refusal shown in Chinese must have none."""
    return [w for w in WORD.findall(text) if not _is_kept(w, names)]


def test_refusals_in_the_chinese_studio_have_no_english(language, tmp_path, monkeypatch, data_root):
    """A served seat under a workshop, in zh-CN: a value over a workshop limit, bad zip uploads, a run waiting in a
    full training queue (and its place in line on the instructor's panel), the seat over its disk quota. Each
    refusal is shown in Chinese; only identifiers, values and paths stay as they are (a test that fails on any
    English word shown)."""
    import dataclasses
    import tempfile
    import time

    from tl_widgets.core.config import schema
    from tl_widgets.core.room import seat as seat_module
    from tl_widgets.core.room.queue import QUEUE_FILE, TrainingQueue
    from tl_widgets.core.room.workshop import workshop_from_dict
    from tl_widgets.core.settings import HOME_ENV, SEATS_ENV
    from tl_widgets.core.training.session import set_start_gate
    from tl_widgets.panels.kit.labels import status_label
    from tl_widgets.panels.kit.validation import PanelError
    from tl_widgets.panels.room import RoomPanel
    from tl_widgets.studio import Studio

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))  # restored after the seat points it at itself
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(seat_module, "_CURRENT", None)
    monkeypatch.setenv(SEATS_ENV, str(tmp_path / "seats"))
    assert language("zh-CN") == "zh_CN"
    ws = workshop_from_dict({"data_roots": [str(data_root)], "allowed_backbones": ["demo_cnn"], "max_epochs": 3,
                             "max_batch_size": 16, "max_upload_mb": 0.1, "max_seat_disk_mb": 1, "max_trainings": 1})
    studio = Studio(workshop=ws)
    seat, room = studio.seat, None
    assert seat is not None
    shown: dict[str, str] = {}
    try:
        # A value over a workshop limit: the browser widens the widget's bound, the guard still refuses.
        epochs = studio.train.head.epochs
        epochs.max = 10**6
        epochs.value = 500
        shown["epochs over the limit"] = studio.train.notice.text
        studio.data.batch_size.value = 17
        shown["batch size over the limit"] = studio.data.notice.text
        cfg = studio.config
        cfg.phases[0].epochs = 4
        with pytest.raises(PanelError) as refused:
            studio.check_limits(cfg)
        shown["a restored config over the limit"] = str(refused.value)
        # Bad zip uploads: not a zip, zip-slip, a bomb over the extraction cap, over the upload limit.
        for name, content in (("bad.zip", b"this is no zip"), ("slip.zip", _zip({"../evil.png": b"x"})),
                              ("bomb.zip", _zip({"a/0.png": bytes(2 * 2**20)})),
                              ("huge.zip", bytes(studio.data.max_upload_bytes + 1))):
            assert studio.data.take_zip_bytes(content, name) is None, name
            shown[f"upload {name}"] = studio.data.notice.text
        # A full training queue: another seat holds the room's only slot; Start waits its turn in line.
        queue = TrainingQueue(seat.home.parent / QUEUE_FILE, slots=1)
        queue.enter("another-seat", "their-run")
        assert queue.poll("their-run") == 0
        studio.train.guard.accept(epochs, 1)
        assert studio.start() is not None, studio.train.notice.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and studio.train.status_line.value != status_label("queued"):
            time.sleep(0.1)
        assert studio.train.status_line.value == status_label("queued")
        shown["queued run"] = studio.train.progress_text.value
        room = RoomPanel(seat.home.parent, every_s=0)
        shown["instructor's room table"] = _text(room.summary.value + room.badges.value + room.leaderboard.value)
        studio.train.stop()
        studio.train.wait(60)
        # The seat over its disk quota: an upload that would not fit is refused.
        (seat.home / "big.bin").write_bytes(bytes(2**20))
        assert studio.data.take_zip_bytes(_zip({"a/0.png": b"x", "b/0.png": b"y"}), "more.zip") is None
        shown["upload over the disk quota"] = studio.data.notice.text
    finally:
        if room is not None:
            room.close()
        studio.room_watcher.halt()
        set_start_gate(None)
    names = _kept_names(studio) | {seat.name, "another-seat", "their-run"}
    names |= {f.name for cls in (schema.DataConfig, schema.ModelConfig, schema.PhaseConfig, schema.TrainConfig)
              for f in dataclasses.fields(cls)} | {p.name for p in cfg.phases}
    english = {what: _english_words(text, names) for what, text in shown.items()
               if not CJK.search(text) or _english_words(text, names)}
    assert english == {}, "\n".join(f"{what}: {shown[what]!r}" for what in english)
    assert "排队" in shown["queued run"] and "（第 1 位）" in shown["instructor's room table"]
    assert "MiB" in shown["upload over the disk quota"] and "'..'" in shown["upload slip.zip"]
