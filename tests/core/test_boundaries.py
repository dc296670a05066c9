"""The floors: core never imports the UI stack, and runs under the JAX backend too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest


def _core_modules() -> list[str]:
    """Every module under tl_widgets/core, found on disk (a new module is covered without editing this test)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "tl_widgets" / "core"
    return sorted(".".join(p.relative_to(root).with_suffix("").parts) for p in root.rglob("*.py")
                  if p.name != "__init__.py")


CORE_MODULES = _core_modules()


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=600)


UI = ("ipywidgets", "plotly", "IPython", "anywidget")


def test_core_never_imports_ui_stack():
    # Keras 3.15 itself imports IPython (keras.src.saving.file_editor), so the check is relative:
    # importing every core module must add none of the UI packages beyond what Keras already pulled in.
    proc = _run(f"""
        import importlib, json, sys
        import keras
        before = [m for m in {UI!r} if m in sys.modules]
        for m in {CORE_MODULES!r}:
            importlib.import_module("tl_widgets.core." + m)
        import tl_widgets
        after = [m for m in {UI!r} if m in sys.modules]
        print(json.dumps({{"before": before, "after": after}}))
    """)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["after"] == out["before"]
    assert not {"ipywidgets", "plotly", "anywidget"} & set(out["after"])


def test_core_sources_do_not_import_ui_packages():
    import ast
    from pathlib import Path

    import tl_widgets.core

    offenders = []
    for path in Path(tl_widgets.core.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in UI]
    assert offenders == []


def test_core_imports_without_tensorflow_under_jax():
    proc = _run(f"""
        import importlib, sys
        for m in {CORE_MODULES!r}:
            importlib.import_module("tl_widgets.core." + m)
        from tl_widgets.core.models.backbones import list_backbones
        assert len(list_backbones()) > 40
        print("tensorflow" in sys.modules)
    """, KERAS_BACKEND="jax")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.slow
def test_tiny_fit_under_jax_backend(tmp_path):
    proc = _run(f"""
        import json, keras
        from tl_widgets.core.config.schema import DataConfig, ModelConfig, PhaseConfig, FreezeConfig, TrainConfig
        from tl_widgets.core.training.session import train
        assert keras.backend.backend() == "jax"
        cfg = TrainConfig(
            data=DataConfig(source="demo", max_per_class=30),
            model=ModelConfig(backbone="demo_cnn", input_size=32),
            phases=[PhaseConfig(epochs=1), PhaseConfig(name="ft", epochs=1, freeze=FreezeConfig(mode="top", top_n=1))],
            output_dir={str(tmp_path)!r},
        )
        r = train(cfg, record=False)
        print(json.dumps({{"status": r.status, "error": r.error, "val": r.metrics.get("val_accuracy")}}))
    """, KERAS_BACKEND="jax")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "finished", out["error"]
    assert 0.0 <= out["val"] <= 1.0
