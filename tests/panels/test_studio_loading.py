"""The Studio's first paint: the Data step is built without TensorFlow; the rest follows once Keras has loaded."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap

import pytest

FIRST_PAINT = textwrap.dedent("""
    import asyncio, json, sys

    async def main():
        import tl_widgets.studio
        after_import = sorted(m for m in ("tensorflow", "keras", "jax", "sklearn") if m in sys.modules)
        studio = tl_widgets.studio.Studio()  # in a running loop: the engine loads later, in a thread
        after_build = sorted(m for m in ("tensorflow", "keras", "jax", "sklearn") if m in sys.modules)
        print(json.dumps({"after_import": after_import, "after_build": after_build, "loading": studio.loading,
                          "counts": studio.data.report.get("counts", {}),
                          "start": [studio.train.start_button.description, studio.train.start_button.disabled]}))
        sys.stdout.flush()
        import os
        os._exit(0)  # the loading thread is not needed for this check

    asyncio.run(main())
""")


def test_import_and_data_step_do_not_load_tensorflow(tmp_path):
    """A fresh interpreter: ``import tl_widgets.studio`` and the first screen leave TF, Keras and sklearn unloaded."""
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path)}
    env.pop("TL_WIDGETS_WORKSHOP", None)
    out = subprocess.run([sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["after_import"] == [] and seen["after_build"] == [], seen
    assert seen["loading"] is True
    assert sum(seen["counts"].values()) > 0  # the demo is shown
    assert seen["start"] == ["Loading TensorFlow…", True]


def test_loading_state_then_ready_with_a_running_loop(tmp_path, monkeypatch):
    """With a loop running, Start shows the loading state, refuses, then becomes Start once the Model step is built."""
    monkeypatch.setenv("TL_WIDGETS_HOME", str(tmp_path))
    from tl_widgets.studio import Studio

    async def scenario() -> Studio:
        studio = Studio(background=True)
        assert studio.loading and studio.backbone is None and studio.freeze is None
        start = studio.train.start_button
        assert start.disabled and start.description == "Loading TensorFlow…" and start.layout.width == "220px"
        assert studio.steps.missing["model"] == "Loading TensorFlow…"
        assert studio.start() is None and "TensorFlow is still loading" in studio.train.notice.text
        assert [c for c in studio.model_tab.children if "tlw-loading" in c._dom_classes]
        studio.show_tab("model")  # the page can be shown while it loads
        await asyncio.wait_for(studio.ready_future, 300)
        return studio

    studio = asyncio.run(scenario())
    assert not studio.loading and studio.engine_error is None
    assert studio.train.start_button.description == "Start" and not studio.train.start_button.disabled
    assert "model" not in studio.steps.missing
    assert studio.model_tab.children[:3] == (studio.backbone, studio.freeze, studio.strategy)
    assert studio.train.n_blocks == len(studio.freeze.blocks) > 0
    # Start is enabled first; Runs, Resume, the LR finder, the sweep and Try it follow on the next loop turn.
    assert studio.runs is not None and studio.runs_tab.children == (studio.runs, studio.work.download_box)
    assert studio.try_it in studio.results.try_box.children and studio.lr_finder_box in studio.train_tab.children
    assert studio.config.model.backbone == "demo_cnn"  # the same config as a Studio built at once


def test_a_failed_load_is_shown_and_start_stays_off(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_WIDGETS_HOME", str(tmp_path))
    from tl_widgets.studio import Studio

    def broken(self) -> None:
        raise OSError("no backend here")

    monkeypatch.setattr(Studio, "_warm_engine", broken)

    async def scenario() -> Studio:
        studio = Studio(background=True)
        await asyncio.wait_for(studio.ready_future, 300)
        return studio

    studio = asyncio.run(scenario())
    assert isinstance(studio.engine_error, OSError)
    assert "Cannot load the training engine: no backend here" in studio.notice.text
    assert studio.train.start_button.disabled and studio.train.start_button.description == "TensorFlow did not load"


def test_background_needs_a_running_loop(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_WIDGETS_HOME", str(tmp_path))
    from tl_widgets.studio import Studio

    with pytest.raises(RuntimeError, match="Expected a running asyncio loop"):
        Studio(background=True)


def test_captured_samples_become_the_data_folder(tmp_path, monkeypatch):
    """The capture panel's "use these samples" switches the Data step to the captured folder (inside the data roots)."""
    monkeypatch.setenv("TL_WIDGETS_HOME", str(tmp_path))
    monkeypatch.delenv("TL_WIDGETS_DATA_ROOTS", raising=False)
    from tl_widgets.core.data.demo_datasets import write_demo_data
    from tl_widgets.core.settings import captures_home
    from tl_widgets.studio import Studio

    studio = Studio(background=False)
    assert studio.captures == captures_home() and studio.captures.resolve() in studio.data.roots
    folder = write_demo_data(studio.captures / "webcam", "shapes", "target", size=16)
    studio.use_captured(str(folder))
    assert studio.data.config.source == "folder" and studio.data.config.path == str(folder.resolve())
    assert sum(studio.data.report["counts"].values()) > 0 and "captured samples" in studio.notice.text
    studio.use_captured(str(tmp_path))  # a folder outside the roots is refused with the reason
    assert "Cannot use the captured samples" in studio.notice.text and studio.data.config.path == str(folder.resolve())


def test_a_busy_room_engine_is_asked_again_before_start_gives_up(tmp_path, monkeypatch):
    """A whole room arriving at once queues its first questions on the quick lane: "no worker free in time" is
    asked again (BUSY_TRIES times) instead of leaving Start off for good; any other error is not."""
    monkeypatch.setenv("TL_WIDGETS_HOME", str(tmp_path))
    from tl_widgets.core.engine import EngineBusyError, InProcessEngine
    from tl_widgets.studio import Studio
    from tl_widgets.studio.loading import BUSY_TRIES, retry_when_busy

    asked = []
    real = InProcessEngine.devices

    def busy_twice(self):  # type: ignore[no-untyped-def]
        asked.append(1)
        if len(asked) <= 2:
            raise EngineBusyError("Expected a free quick worker within 120 s. Received: all busy")
        return real(self)

    monkeypatch.setattr(InProcessEngine, "devices", busy_twice)

    async def scenario() -> Studio:
        studio = Studio(background=True)
        await asyncio.wait_for(studio.ready_future, 300)
        return studio

    studio = asyncio.run(scenario())
    assert len(asked) >= 3 and studio.engine_error is None and not studio.train.start_button.disabled  # 2 busy

    calls = []

    def always_busy():  # type: ignore[no-untyped-def]
        calls.append(1)
        raise EngineBusyError("busy")

    with pytest.raises(EngineBusyError):
        retry_when_busy(always_busy)
    assert len(calls) == BUSY_TRIES

    def broken():  # type: ignore[no-untyped-def]
        calls.append(1)
        raise OSError("no backend here")

    with pytest.raises(OSError):
        retry_when_busy(broken)
    assert len(calls) == BUSY_TRIES + 1  # asked once: only "busy" is asked again
