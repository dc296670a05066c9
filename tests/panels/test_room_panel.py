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
    assert "training 1/3" in panel.badges.value and seat.name in panel.badges.value  # the seat's badge
    assert row["run"]["curve"] == [0.75] and "Seats open: 1," in panel.summary.value  # its chart's points

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


def test_the_board_says_what_each_seat_does_and_flags_who_needs_a_look():
    import time as _time

    from tl_widgets.views.figures.board import leaderboard_html, room_csv, seat_curves_figure, seat_state

    now = _time.time()
    seats = [
        {"seat": "seat-a", "name": "Ada", "alive": True, "last_activity": now - 5, "queue": "training",
         "run": {"status": "running", "epoch": 2, "total_epochs": 5, "curve": [0.5, 0.7], "best": 0.7, "runs": 1}},
        {"seat": "seat-b", "name": "Ben", "alive": True, "last_activity": now - 1200, "queue": "", "capturing": False,
         "run": {"status": "failed", "error": "Out of memory while training", "curve": [], "best": None}},
        {"seat": "seat-c", "name": "", "alive": True, "last_activity": now - 30, "queue": "queued (#2 in line)",
         "run": {"status": "queued", "start_time": now - 400}},
        {"seat": "seat-d", "name": "Dee", "alive": True, "last_activity": now - 2000, "queue": "", "run": None},
        {"seat": "seat-e", "name": "Eve", "alive": True, "last_activity": now, "queue": "", "capturing": True,
         "run": {"status": "finished", "val_accuracy": 0.9, "curve": [0.8, 0.9], "best": 0.93, "runs": 3}},
        {"seat": "seat-f", "name": "Fay", "alive": False, "last_activity": now - 9000, "queue": "", "run": None},
    ]
    states = {s["seat"]: seat_state(s, now) for s in seats}
    assert states["seat-a"] == ("training", "training 2/5", False)
    assert states["seat-b"][0] == "failed" and "Out of memory" in states["seat-b"][1] and states["seat-b"][2]
    assert states["seat-c"] == ("queued", "queued (#2 in line)", True)  # waited over 5 minutes
    assert states["seat-d"][0] == "idle" and "idle 33 min" in states["seat-d"][1] and states["seat-d"][2]
    assert states["seat-e"][0] == "capturing" and states["seat-f"][0] == "ended"
    fig = seat_curves_figure(seats)
    assert len(fig["data"]) == 5 and fig["data"][0]["y"] == [0.5, 0.7]  # open seats only, one chart each
    assert [t["xaxis"] for t in fig["data"]] == ["x", "x2", "x3", "x4", "x5"] and "xaxis5" in fig["layout"]
    board = leaderboard_html(seats)
    assert board.index("Eve") < board.index("Ada") and "93.0%" in board and "Ben" not in board
    rows = room_csv(seats).splitlines()
    assert len(rows) == 7 and rows[2].startswith("Ben,seat-b,failed,")


def test_the_board_sends_only_changes_broadcasts_sends_a_checked_config_and_a_csv(seat, tmp_path):
    from tl_widgets.core.room.control import read_broadcast
    from tl_widgets.core.room.workshop import workshop_from_dict
    from tl_widgets.panels.room import RoomPanel

    (tmp_path / "data").mkdir()
    ws = workshop_from_dict({"data_roots": [str(tmp_path / "data")], "allowed_backbones": ["demo_cnn"],
                             "max_epochs": 3, "max_batch_size": 16})
    studio_cfg = demo_config()
    panel = RoomPanel(seat.home.parent, every_s=0, config_source=lambda: studio_cfg, workshop=ws)
    first = panel.updates
    panel.refresh()
    panel.refresh()
    assert panel.updates == first  # nothing changed: nothing sent to the page
    heard: list[str] = []
    watcher = SeatWatcher(seat.home, lambda: None, lambda cfg: None, on_broadcast=heard.append)
    assert panel.say("Look at the board, please")
    watcher.check()
    watcher.check()
    assert heard == ["Look at the board, please"] and read_broadcast(seat.home.parent)[1] == heard[0]
    assert not panel.say("x" * 500) and "at most 200 characters" in panel.notice.text
    studio_cfg.phases[0].epochs = 9  # over the workshop's 3
    assert not panel.send_config() and "does not fit the room" in panel.notice.text
    assert read_pushed_config(seat.home.parent) is None  # nothing reached the seats
    studio_cfg.phases = [studio_cfg.phases[0]]  # the head phase alone, within the limits
    studio_cfg.phases[0].epochs, studio_cfg.data.batch_size = 2, 16
    assert panel.send_config() and read_pushed_config(seat.home.parent)[1]["phases"][0]["epochs"] == 2
    panel.download_csv()
    assert panel.csv.sent == 1
