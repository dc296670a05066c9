"""One owner per fact, checked statically over tl_widgets/ (AST, plus the schema's own metadata).

A fact written a second time drifts (three confusion matrices, four PNG encoders, field help in the schema
and in a panel's dict...). Each test here names the owner and fails when a copy appears elsewhere:

- field help: the schema's ``help`` metadata (every field has one; no other module holds the text; the field
  editor and the CLI show it);
- the home folder's layout: ``core/settings.py`` (``HOME_LAYOUT``/``home_path``);
- the "saved a model" statuses: ``core/runs/db.py`` (``MODEL_STATUSES``/``saved_a_model``);
- the MLflow tracking-URI rule: ``core/tracking/mlflow_tracking.py`` (``resolve_tracking_uri``);
- the PNG encoder: ``core/data/images.py`` (``png_bytes``/``png_data_uri``);
- one path for a captured frame: ``core/data/capture_intake.py`` (``CaptureIntake``: the webcam's and the phone's);
- decoding image files with TensorFlow: ``core/data/decoding.py``; the pipeline over files:
  ``core/data/file_pipeline.py`` (``file_dataset``, for training and ``image_dataset`` alike);
- one confusion figure, one image grid.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from tl_widgets.core.config import schema
from tl_widgets.core.config.checks import field_help
from tl_widgets.core.settings import HOME_LAYOUT

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tl_widgets"
CONFIGS = (schema.AugmentConfig, schema.DataConfig, schema.ModelConfig, schema.FreezeConfig, schema.PhaseConfig,
           schema.StrategyConfig, schema.TrainConfig)
TREES = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PACKAGE.rglob("*.py"))}


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def _strings(path: Path):
    for node in ast.walk(TREES[path]):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node


def _outside(*owners: str):
    owned = {PACKAGE / o for o in owners}
    return [p for p in TREES if p not in owned]


# -- field help ------------------------------------------------------------------------------------------

def test_every_config_field_declares_its_help_in_the_schema():
    missing = [f"{cls.__name__}.{f.name}" for cls in CONFIGS for f in dataclasses.fields(cls)
               if not f.metadata.get("help")]
    assert missing == []
    assert "batch_size: Batch size per replica." in schema.DataConfig.__doc__  # the docstring is built from it


def test_no_other_module_holds_a_field_help_text():
    texts = {f.metadata["help"] for cls in CONFIGS for f in dataclasses.fields(cls)}
    copies = [f"{_where(p, n)}: {n.value[:60]!r}" for p in _outside("core/config/schema.py")
              for n in _strings(p) if n.value in texts]
    assert copies == []


def test_the_field_editor_and_the_cli_show_the_schemas_help():
    from tl_widgets.cli import build_parser
    from tl_widgets.panels.kit.field_editor import FieldEditor
    from tl_widgets.panels.kit.validation import Guard, Notice

    editor = FieldEditor(schema.ModelConfig, "dropout", Guard(Notice()), "model.dropout", "tlw-x")
    assert editor.control.tooltip == field_help(schema.ModelConfig, "dropout") and editor.help_text in editor.help.value
    train = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction").choices["train"]
    helps = {a.option_strings[0]: a.help for a in train._actions if a.option_strings}
    assert helps["--batch-size"] == field_help(schema.DataConfig, "batch_size")
    assert helps["--weights"] == field_help(schema.ModelConfig, "weights")
    assert helps["--coordinator"].startswith(field_help(schema.StrategyConfig, "coordinator"))


# -- the home folder's layout ----------------------------------------------------------------------------

def test_home_sub_paths_are_written_only_in_settings():
    """``home / "captures"``, ``default_home() / "runs"``...: every path under a home comes from home_path()."""
    parts = {v.split("/")[0] for v in HOME_LAYOUT.values()}
    stray = []
    for path in _outside("core/settings.py"):
        for node in ast.walk(TREES[path]):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant) \
                    and node.right.value in parts:
                stray.append(f"{_where(path, node)}: / {node.right.value!r}")
            elif isinstance(node, ast.Constant) and node.value in ("runs.sqlite", "sweeps.sqlite"):
                stray.append(f"{_where(path, node)}: {node.value!r}")
    assert stray == []


def test_home_path_knows_every_part():
    from tl_widgets.core.settings import home_path

    assert home_path("embeddings", "/h") == Path("/h/feature_cache/embeddings")
    with pytest.raises(KeyError, match="Expected a part of the home"):
        home_path("nowhere")


# -- small rules with one owner ----------------------------------------------------------------------------

def test_the_saved_a_model_statuses_are_written_once():
    from tl_widgets.core.runs.db import MODEL_STATUSES, saved_a_model

    assert set(MODEL_STATUSES) == {"finished", "stopped"} and saved_a_model("stopped") and not saved_a_model("failed")
    copies = []
    for path in _outside("core/runs/db.py"):
        for node in ast.walk(TREES[path]):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) == 2 and all(
                    isinstance(e, ast.Constant) for e in node.elts) \
                    and {e.value for e in node.elts} == {"finished", "stopped"}:
                copies.append(_where(path, node))
    assert copies == []


def test_the_mlflow_tracking_uri_rule_is_written_once(monkeypatch, tmp_path):
    from tl_widgets.core.tracking.mlflow_tracking import resolve_tracking_uri

    copies = [_where(p, n) for p in _outside("core/tracking/mlflow_tracking.py") for n in _strings(p)
              if n.value == "MLFLOW_TRACKING_URI"]
    assert copies == []
    monkeypatch.setenv("TL_WIDGETS_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert resolve_tracking_uri("sqlite:///x.db") == "sqlite:///x.db"
    assert resolve_tracking_uri("") == resolve_tracking_uri(None) == "http://tracking:5000"
    assert resolve_tracking_uri(None, environment=False).startswith(f"sqlite:///{tmp_path}/mlflow/")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path}/mlflow/mlflow.db"


def test_one_png_encoder_one_confusion_figure_one_image_grid():
    owners = {"png_bytes": "core/data/images.py", "png_data_uri": "core/data/images.py",
              "confusion_figure": "views/figures/evaluation.py", "image_grid_figure": "views/figures/basic.py"}
    found: dict[str, list[str]] = {name: [] for name in owners}
    encoders = []
    for path, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in owners:
                found[node.name].append(path.relative_to(PACKAGE).as_posix())
            if isinstance(node, ast.keyword) and node.arg == "format" and isinstance(node.value, ast.Constant) \
                    and node.value.value == "PNG" and path != PACKAGE / "core/data/images.py":
                encoders.append(_where(path, node))
    assert found == {name: [owner] for name, owner in owners.items()}
    assert encoders == []


def test_every_captured_frame_takes_the_intake():
    """The webcam panel and the phone door hand frames to ``CaptureIntake``; only it calls the store's ``add_frame``
    (rate, quota and checks in one place)."""
    callers = [_where(p, n) for p, tree in TREES.items() for n in ast.walk(tree)
               if isinstance(n, ast.Attribute) and n.attr == "add_frame" and p != PACKAGE / "core/data/capture_intake.py"]
    assert callers == []
    users = {p.relative_to(PACKAGE).as_posix() for p, tree in TREES.items() for n in ast.walk(tree)
             if isinstance(n, ast.Name) and n.id == "CaptureIntake"}
    assert {"panels/capture.py", "server/phone_capture.py"} <= users


def test_one_image_file_decoder_one_file_pipeline():
    """TensorFlow decodes image files in core/data/decoding.py only, and the engine's pipeline over files
    (core/data/pipeline.py) and the public image_dataset both build it with file_pipeline.file_dataset."""
    decoders = {"decode_image", "decode_jpeg", "decode_png", "decode_bmp", "decode_gif", "decode_and_crop_jpeg"}
    outside, callers = [], set()
    for path, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in decoders and isinstance(node.value, ast.Attribute) \
                    and node.value.attr == "io" and path != PACKAGE / "core/data/decoding.py":
                outside.append(_where(path, node))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "file_dataset":
                callers.add(path.relative_to(PACKAGE).as_posix())
    assert outside == []
    assert callers == {"core/data/pipeline.py", "core/data/image_dataset.py"}


def test_png_bytes_encodes_rgb_and_grey_and_scales():
    import io

    import numpy as np
    from PIL import Image

    from tl_widgets.core.data.images import png_bytes, png_data_uri

    rgb = np.zeros((4, 8, 3), np.uint8)
    with Image.open(io.BytesIO(png_bytes(rgb, side=16))) as im:
        assert (im.size, im.mode) == ((16, 8), "RGB")
    with Image.open(io.BytesIO(png_bytes(np.full((5, 5, 1), 300.0)))) as im:  # grey, clipped to 255
        assert im.mode == "L" and im.getpixel((0, 0)) == 255
    assert png_data_uri(rgb).startswith("data:image/png;base64,iVBOR")
    with pytest.raises(ValueError, match=r"\[H, W, 3\] or \[H, W\]"):
        png_bytes(np.zeros((4, 4, 2), np.uint8))
