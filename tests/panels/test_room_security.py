"""Issue #25 in a seat's kernel: what a Studio in a served room refuses, and what it shows the instructor.

L4 ended seats listed; L5 an over-quota seat frees space in the Runs step; L8 a newer run store refuses Start
with the reason; L12 model size and one queue place per student; L13 a room served without a workshop file gets
the same limits.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile

import pytest

from served_seat import close_studio as _close, open_studio as _studio
from tl_widgets.core.settings import DATA_ROOTS_ENV, HOME_ENV, SEATS_ENV, STUDENT_ENV, WORKSHOP_ENV


def _workshop(tmp_path, **fields):
    from tl_widgets.core.room.workshop import workshop_from_dict

    return workshop_from_dict({"data_roots": [str(tmp_path / "data")], "allowed_backbones": ["demo_cnn"],
                               "max_epochs": 3, "max_batch_size": 16, **fields})


def test_a_run_store_from_a_newer_version_refuses_start_with_the_reason(tmp_path, monkeypatch, tiny_config):
    """L8: Start raised with no message and the status stayed "running"."""
    from tl_widgets.panels.train import TrainPanel

    home = tmp_path / "home"
    home.mkdir()
    with sqlite3.connect(home / "runs.sqlite") as conn:
        conn.execute("PRAGMA user_version = 99")
    monkeypatch.setenv(HOME_ENV, str(home))
    panel = TrainPanel(tiny_config, config_source=lambda: tiny_config)
    assert panel.start() is None
    assert panel.status == "idle" and not panel.start_button.disabled
    assert "schema version <= 1" in panel.notice.text and "written by a newer tl_widgets" in panel.notice.text


def test_model_size_and_step_limits_are_checked_at_start(seat_env, tmp_path):
    """L12: hidden_units up to 65,536, strategy.logical_cpus and steps_per_execution had no room limit."""
    from tl_widgets.core.config.schema import demo_config
    from tl_widgets.panels.kit.validation import PanelError

    ws = _workshop(tmp_path, max_hidden_units=64, max_logical_cpus=1, max_steps_per_execution=4)
    big = demo_config()
    big.model.hidden_units, big.strategy.logical_cpus, big.strategy.steps_per_execution = 65_536, 8, 10_000
    studio = _studio(config=big, workshop=ws, background=False)
    try:
        lowered = studio.config  # the starting config is lowered to the room's limits, and says so
        assert (lowered.model.hidden_units, lowered.strategy.logical_cpus,
                lowered.strategy.steps_per_execution) == (64, 1, 4)
        assert "hidden_units 65536 -> 64" in studio.notice.text
        for part, name, value in (("model", "hidden_units", 65_536), ("strategy", "logical_cpus", 8),
                                  ("strategy", "steps_per_execution", 10_000)):
            cfg = studio.config
            setattr(getattr(cfg, part), name, value)  # what a modified page or a pushed config could ask for
            with pytest.raises(PanelError, match=rf"Expected {name} \(workshop limit\) between"):
                studio.check_limits(cfg)
    finally:
        _close(studio)


def test_a_second_tab_of_the_same_student_cannot_queue_a_second_run(seat_env, tmp_path):
    """L12: one student with N tabs took N places in the queue."""
    from tl_widgets.core.room import seat as seat_module
    from tl_widgets.core.room.queue import QUEUE_FILE, TrainingQueue
    from tl_widgets.panels.kit.validation import PanelError

    seat_env.setenv(STUDENT_ENV, "5" * 32)  # what the room's server sets from the browser's cookie
    ws = _workshop(tmp_path)
    first = _studio(workshop=ws, background=False)
    seat_module._CURRENT = None
    second = _studio(workshop=ws, background=False)  # another tab of the same browser: the same seat (#26)
    try:
        assert first.seat.name == second.seat.name and second.seat.rejoined and not first.seat.rejoined
        queue = TrainingQueue(first.seat.home.parent / QUEUE_FILE, slots=1)
        queue.enter(first.seat.name, "run-tab1", student=first.seat.student)
        row = queue.student_place(first.seat.student)
        # the place belongs to another kernel (tab) of this student: a second tab is refused
        queue_pid = row["pid"]
        monkeypatch_pid = pytest.MonkeyPatch()
        monkeypatch_pid.setattr("os.getpid", lambda: queue_pid + 1)
        try:
            with pytest.raises(PanelError, match="one training at a time per student.*run-tab1"):
                second.check_limits(second.config)
        finally:
            monkeypatch_pid.undo()
        first.check_limits(first.config)  # the tab that holds the place is not refused by itself
    finally:
        _close(first)
        _close(second)


def test_a_room_served_without_a_workshop_file_gets_the_same_limits(seat_env, tmp_path):
    """L13: `serve` without --workshop had no pixel limit beyond Pillow's and no seat quota."""
    from PIL import Image

    from tl_widgets.core.room.workshop import workshop_default
    from tl_widgets.panels.kit.validation import PanelError

    for cls in ("a", "b"):
        (tmp_path / "data" / "set" / cls).mkdir(parents=True)
        Image.new("RGB", (5000, 4000), (9, 9, 9)).save(tmp_path / "data" / "set" / cls / "huge.png")  # 20 MP
        Image.new("RGB", (32, 32), (200, 9, 9)).save(tmp_path / "data" / "set" / cls / "ok.png")
    studio = _studio(background=False)
    try:
        ws = studio.workshop
        assert ws is not None and ws.max_seat_disk_mb == workshop_default("max_seat_disk_mb")
        assert ws.max_pixels == int(workshop_default("max_image_megapixels") * 1e6)
        assert not any("tlw-workshop" in w._dom_classes for w in studio.children)  # limits, but no banner
        from tl_widgets.core.data.preview import folder_preview

        report = folder_preview(tmp_path / "data" / "set").report
        assert [s["reason"] for s in report["skipped"]] == ["too large (5000 x 4000 pixels, limit 16,000,000)"] * 2
        with pytest.raises(PanelError, match="at most 1024 MiB of disk"):
            studio._check_disk(int(ws.max_seat_disk_mb * 2**20))  # the seat's own files plus this: over
    finally:
        _close(studio)


def test_an_over_quota_seat_deletes_a_run_in_the_runs_step_and_may_start_again(seat_env, tmp_path):
    """L5: the refusal said "delete runs in the Runs step", which had no delete button."""
    from tl_widgets.core.events import RunFinished, RunStarted
    from tl_widgets.core.runs.store import RunRecorder
    from tl_widgets.panels.kit.validation import PanelError

    studio = _studio(workshop=_workshop(tmp_path, max_seat_disk_mb=1), background=False)
    try:
        run_dir = studio.seat.home / "runs" / "big-run"
        run_dir.mkdir(parents=True)
        (run_dir / "model.keras").write_bytes(b"x" * (2 * 2**20))
        rec = RunRecorder(studio.runs.store)
        rec(RunStarted("big-run", config={}, run_dir=str(run_dir), total_epochs=1, steps_per_epoch=1))
        rec(RunFinished("big-run", metrics={}, run_dir=str(run_dir), duration=1.0))
        rec.flush()
        with pytest.raises(PanelError, match="delete runs in the Runs step"):
            studio.check_limits(studio.config)
        studio.runs.refresh()
        studio.runs.picker.value = ("big-run",)
        studio.runs.delete_button.click()
        studio.runs.confirm_button.click()
        assert not run_dir.exists()
        studio.check_limits(studio.config)  # under the quota again: Start is allowed
    finally:
        _close(studio)


def test_the_instructor_view_lists_ended_seats_and_shuts_one_down(tmp_path, monkeypatch):
    """L4: the census was called without include_ended, contradicting docs/WORKSHOP.md; H1: shut a seat down."""
    from tl_widgets.core.room.seat import SEAT_FILE, open_seat
    from tl_widgets.panels.room import RoomPanel

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    live, gone = open_seat(tmp_path / "seats"), open_seat(tmp_path / "seats")
    info = json.loads((gone.home / SEAT_FILE).read_text())
    dead = [{"pid": 999_999_999, "started": 0}]  # its kernel died
    (gone.home / SEAT_FILE).write_text(json.dumps({**info, "pid": 999_999_999, "kernels": dead}))
    panel = RoomPanel(tmp_path / "seats", every_s=0)
    try:
        listed = {s["seat"]: s["alive"] for s in panel.seats}
        assert listed == {live.name: True, gone.name: False}
        assert "Seats open: 1, ended: 1;" in panel.summary.value
        assert gone.name in panel.badges.value and "tlw-seat-ended" in panel.badges.value
        assert [value for _label, value in panel.seat_picker.options] == [live.name]  # only open seats: stop, shut
        assert not panel.shutdown_seat(gone.name) and "Expected seat" in panel.notice.text
        assert panel.shutdown_seat(live.name)
        assert (live.home / "control" / "shutdown").is_file()  # the room's server acts on it
    finally:
        panel.close()
