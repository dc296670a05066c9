"""The instructor's view: a census of the seats, stop a seat's run, push a config that each seat checks."""

from __future__ import annotations

import json
import tempfile

import pytest

from tl_widgets.core.config.schema import demo_config
from tl_widgets.core.events import EpochEnd, RunStarted
from tl_widgets.core.room.control import SeatWatcher, read_pushed_config
from tl_widgets.core.room.seat import open_seat
from tl_widgets.core.runs.store import RunRecorder, RunStore
from tl_widgets.core.settings import HOME_ENV


@pytest.fixture
def seat(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return open_seat(tmp_path / "seats")


def test_room_panel_lists_seats_stops_one_and_pushes_a_config(seat, tmp_path):
    from tl_widgets.panels.room import RoomPanel

    rec = RunRecorder(RunStore(seat.home))
    rec(RunStarted("r-1", config={}, run_dir=None, total_epochs=3, steps_per_epoch=2))
    rec(EpochEnd("r-1", phase=0, epoch=0, metrics={"val_accuracy": 0.75}, duration=1.0))
    panel = RoomPanel(seat.home.parent, every_s=0)
    assert [s["seat"] for s in panel.seats] == [seat.name]
    row = panel.seats[0]
    assert row["run"]["status"] == "running" and row["run"]["val_accuracy"] == 0.75
    assert row["pss_bytes"] and row["pss_bytes"] > 10 * 2**20  # this process, measured as PSS
    assert "0.750" in panel.table.value and seat.name in panel.table.value

    stops: list[int] = []
    configs: list[dict] = []
    watcher = SeatWatcher(seat.home, lambda: stops.append(1), configs.append)
    assert not panel.stop_seat("seat-not-there") and "Expected seat" in panel.notice.text
    assert panel.stop_seat(seat.name)
    watcher.check()
    assert stops == [1] and not (seat.home / "control" / "stop").exists()

    assert not panel.push("{not json") and "Refused" in panel.notice.text
    assert not panel.push(json.dumps({"data": {"batch_size": 0}})) and "Refused" in panel.notice.text
    cfg = demo_config().to_dict()
    cfg["phases"][0]["epochs"] = 2
    assert panel.push(json.dumps(cfg))
    watcher.check()
    watcher.check()  # a push is delivered once
    assert len(configs) == 1 and configs[0]["phases"][0]["epochs"] == 2
    assert read_pushed_config(seat.home.parent)[1] == configs[0]
    panel.close()


def test_a_seat_studio_applies_a_pushed_config_within_the_workshop(tmp_path, monkeypatch):
    from tl_widgets.core.room import seat as seat_module
    from tl_widgets.core.settings import SEATS_ENV
    from tl_widgets.core.room.workshop import workshop_from_dict
    from tl_widgets.studio import Studio
    from tl_widgets.studio.room import pushed_config

    (tmp_path / "data").mkdir()
    ws = workshop_from_dict({"data_roots": [str(tmp_path / "data")], "allowed_backbones": ["demo_cnn"],
                             "max_epochs": 3, "max_batch_size": 16, "max_trainings": 1})
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setenv(SEATS_ENV, str(tmp_path / "seats"))
    monkeypatch.setattr(seat_module, "_CURRENT", None)
    studio = Studio(workshop=ws)
    seat = studio.seat
    try:
        assert seat is not None and studio.config.output_dir.startswith(str(seat.home))
        cfg = studio.config
        cfg.phases[0].epochs = 2
        cfg.output_dir = "/somewhere/else"
        own = studio.config.output_dir
        studio.set_config(pushed_config(cfg.to_dict(), own))  # the instructor's push: the seat keeps its folder
        assert studio.config.phases[0].epochs == 2 and studio.config.output_dir.startswith(str(seat.home))
        cfg.phases[0].epochs = 9
        from tl_widgets.panels.kit.validation import PanelError

        with pytest.raises(PanelError, match="workshop limit"):
            studio.set_config(pushed_config(cfg.to_dict(), own))
        assert studio.config.phases[0].epochs == 2  # nothing changed
        zipped = cfg.to_dict()
        zipped["data"].update(source="zip", path=str(tmp_path / "other-seat.zip"))
        with pytest.raises(PanelError, match="a seat's uploads are its own"):
            pushed_config(zipped, own)

        import threading

        hold = threading.Event()
        studio.lr_finder._thread = threading.Thread(target=hold.wait, daemon=True)  # a sweep under way
        studio.lr_finder._thread.start()
        assert studio.start() is None and "learning-rate sweep" in studio.train.notice.text
        hold.set()
        studio.lr_finder._thread.join(5)
    finally:
        studio.room_watcher.halt()
        from tl_widgets.core.training.session import set_start_gate

        set_start_gate(None)
