"""A served room: private seats, the fair training queue, resume claims across processes, safe deletes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest

from tl_widgets.core.events import RunFinished, RunStarted
from tl_widgets.core.room.queue import TrainingQueue, queue_gate
from tl_widgets.core.room.seat import list_seats, open_seat
from tl_widgets.core.runs.claim import ResumeClaim, RunClaimedError
from tl_widgets.core.runs.store import RunRecorder, RunStore
from tl_widgets.core.settings import HOME_ENV
from tl_widgets.core.training.session import new_run_id

REPO = Path(__file__).resolve().parents[2]


def _sub_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def test_seat_is_private_points_home_and_temp_at_itself_and_cleans_temp(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "shared-home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    a = open_seat(tmp_path / "seats")
    assert stat.S_IMODE(os.stat(tmp_path / "seats").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(a.home).st_mode) == 0o700 and stat.S_IMODE(os.stat(a.tmp).st_mode) == 0o700
    assert os.environ[HOME_ENV] == str(a.home) and Path(tempfile.mkdtemp()).parent == a.tmp
    assert RunStore().home == a.home  # Runs, Resume and Evaluate read this seat's store
    b = open_seat(tmp_path / "seats")
    assert a.home != b.home and len(a.name) > 10  # unpredictable names
    assert (a.home / "feature_cache").resolve() == (b.home / "feature_cache").resolve()  # one room cache
    (a.tmp / "upload.zip").write_bytes(b"x" * 100)
    assert a.disk_bytes() >= 100
    a.close()
    assert not a.tmp.exists() and a.home.is_dir()  # temp work gone, runs kept
    assert [h.name for h, _ in list_seats(tmp_path / "seats")] == sorted([a.name, b.name], key=lambda n: (
        n != a.name))


def test_an_existing_open_seat_root_is_made_private(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "shared-home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    root = tmp_path / "seats"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    open_seat(root)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700


def test_queue_is_fair_and_bounded(tmp_path):
    q = TrainingQueue(tmp_path / "room.sqlite", slots=2, poll_s=0.05)
    for i in range(4):
        q.enter(f"seat-{i}", f"run-{i}")
    assert q.poll("run-0") == 0 and q.poll("run-1") == 0  # two slots
    assert q.poll("run-3") == 2 and q.poll("run-2") == 1  # in order of arrival
    q.leave("run-0")
    assert q.poll("run-3") == 1, "run-2 asked first: it goes before run-3"
    assert q.poll("run-2") == 0 and q.poll("run-3") == 1
    assert [r["state"] for r in q.snapshot()] == ["training", "training", "waiting"]


def test_stop_while_queued_leaves_the_queue(tmp_path):
    q = TrainingQueue(tmp_path / "room.sqlite", slots=1, poll_s=0.05)
    q.enter("seat-a", "busy")
    assert q.poll("busy") == 0
    said: list[str] = []
    stop = threading.Event()
    gate = queue_gate(q, "seat-b")
    result: list[object] = []
    t = threading.Thread(target=lambda: result.append(gate("waiting", stop, said.append)))
    t.start()
    while not said:
        t.join(0.05)
    assert said[0].startswith("queued: 1 ahead of you")
    stop.set()
    t.join(10)
    assert result == [None] and [r["run_id"] for r in q.snapshot()] == ["busy"]


def test_a_killed_kernel_frees_its_slot(tmp_path):
    code = textwrap.dedent(f"""
        import time
        from tl_widgets.core.room.queue import TrainingQueue
        q = TrainingQueue({str(tmp_path / "room.sqlite")!r}, slots=1)
        q.enter("seat-x", "theirs"); assert q.poll("theirs") == 0
        print("holding", flush=True); time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=_sub_env())
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        q = TrainingQueue(tmp_path / "room.sqlite", slots=1)
        q.enter("seat-y", "mine")
        assert q.poll("mine") == 1
    finally:
        proc.kill()
        proc.wait(30)
    assert q.poll("mine") == 0


def test_resume_is_claimed_across_processes(tmp_path):
    home, run_dir = tmp_path / "home", tmp_path / "out" / "r-1"
    run_dir.mkdir(parents=True)
    code = textwrap.dedent(f"""
        import time
        from tl_widgets.core.runs.claim import ResumeClaim
        from tl_widgets.core.runs.store import RunStore
        claim = ResumeClaim({str(run_dir)!r}, "r-1", RunStore({str(home)!r}))
        print("claimed", flush=True); time.sleep(120)
    """)
    store = RunStore(home)
    RunRecorder(store)(RunStarted("r-1", config={}, run_dir=str(run_dir), total_epochs=2, steps_per_epoch=1))
    # This process "dies" as the row's owner: a dead pid makes the run interrupted.
    import sqlite3

    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE runs SET pid = 999999999, pid_create_time = 1 WHERE run_id = 'r-1'")
    assert store.get_run("r-1")["status"] == "interrupted"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=_sub_env())
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "claimed"
        with pytest.raises(RunClaimedError, match="being resumed by another"):
            ResumeClaim(run_dir, "r-1", store)
        os.unlink(run_dir / ".resume.lock")  # even without the lock file, the store row says who trains it
        with pytest.raises(RunClaimedError, match="training in process"):
            ResumeClaim(run_dir, "r-1", store)
    finally:
        proc.kill()
        proc.wait(30)
    claim = ResumeClaim(run_dir, "r-1", store)  # its owner died: free again
    assert store.get_run("r-1")["pid"] == os.getpid()
    claim.release()


def test_delete_removes_files_first_and_refuses_links(tmp_path):
    store = RunStore(tmp_path / "home")
    rec = RunRecorder(store)
    real = tmp_path / "real" / "lnk-1"
    real.mkdir(parents=True)
    link_parent = tmp_path / "out"
    link_parent.mkdir()
    (link_parent / "lnk-1").symlink_to(real, target_is_directory=True)
    rec(RunStarted("lnk-1", config={}, run_dir=str(link_parent / "lnk-1"), total_epochs=1, steps_per_epoch=1))
    rec(RunFinished("lnk-1", metrics={}, run_dir=str(link_parent / "lnk-1"), duration=1.0))
    with pytest.raises(ValueError, match="symbolic link"):
        store.delete_run("lnk-1", delete_files=True)
    assert real.is_dir() and store.get_run("lnk-1")  # nothing deleted, the row kept
    rec(RunStarted("rel-1", config={}, run_dir="runs/rel-1", total_epochs=1, steps_per_epoch=1))
    rec(RunFinished("rel-1", metrics={}, run_dir="runs/rel-1", duration=1.0))
    with pytest.raises(ValueError, match="absolute run folder"):
        store.delete_run("rel-1", delete_files=True)
    assert store.get_run("rel-1")


def test_run_folders_are_absolute_and_run_ids_long():
    from tl_widgets.core.runs.folder import RunFolder

    assert RunFolder(Path("runs/x")).path.is_absolute()
    ids = {new_run_id("demo") for _ in range(2000)}
    assert len(ids) == 2000 and all(len(i.rsplit("-", 1)[1]) == 12 for i in ids)


def test_census_status_agrees_with_the_queue_before_the_first_event(tmp_path, monkeypatch):
    from tl_widgets.core.room.census import room_census
    from tl_widgets.core.room.queue import QUEUE_FILE

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "shared-home"))  # restored after open_seat points it at a seat
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    root = tmp_path / "seats"
    seats = [open_seat(root) for _ in range(3)]
    q = TrainingQueue(root / QUEUE_FILE, slots=1)
    q.enter(seats[0].name, "run-a")
    q.enter(seats[1].name, "run-b")
    assert q.poll("run-a") == 0 and q.poll("run-b") == 1
    by_seat = {s["seat"]: s for s in room_census(root)}
    a, b, idle = (by_seat[s.name] for s in seats)
    assert (a["run"]["status"], a["queue"]) == ("starting", "training") and a["run"]["run_id"] == "run-a"
    assert (b["run"]["status"], b["queue"]) == ("queued", "queued (#1 in line)")
    assert idle["run"] is None and idle["queue"] == ""


def test_one_queue_place_per_student_across_tabs(tmp_path):
    """#25 L12: one student with N tabs took N places in the queue."""
    from tl_widgets.core.room.queue import StudentBusyError

    q = TrainingQueue(tmp_path / "room.sqlite", slots=1)
    q.enter("seat-tab1", "run-1", student="ab" * 16)
    with pytest.raises(StudentBusyError, match="another tab of yours has run run-1"):
        q.enter("seat-tab2", "run-2", student="ab" * 16)
    q.enter("seat-other", "run-3", student="cd" * 16)  # another student queues as usual
    assert q.student_place("ab" * 16)["run_id"] == "run-1" and q.student_place("ef" * 16) is None
    q.leave("run-1")
    q.enter("seat-tab2", "run-2", student="ab" * 16)  # once the first tab's run is done, the second may
    assert [r["run_id"] for r in q.snapshot()] == ["run-3", "run-2"]


def test_a_run_holding_its_slot_too_long_is_stopped_with_the_reason(tmp_path):
    """#25 L12: no limit on how long a run holds a training slot."""
    q = TrainingQueue(tmp_path / "room.sqlite", slots=1, poll_s=0.05)
    said: list[tuple[str, ...]] = []
    stop = threading.Event()
    release = queue_gate(q, "seat-a", max_hold_s=0.2)("run-a", stop, lambda *a: said.append(a))
    assert release is not None and stop.wait(10)
    assert said and said[-1][1] == "warning" and "at most 0.00333333 minutes" in said[-1][0]
    release()
    assert q.snapshot() == []
    stop2 = threading.Event()
    release2 = queue_gate(q, "seat-a", max_hold_s=0.2)("run-b", stop2, lambda *a: None)
    release2()  # ended in time: the timer is cancelled
    assert not stop2.wait(0.5)


def test_a_damaged_queue_file_is_named_with_what_to_do(tmp_path):
    """#25 L9: a corrupt room.sqlite disabled training everywhere with 'TensorFlow did not load'."""
    from tl_widgets.core.room.queue import RoomQueueError, check_queue_file

    bad = tmp_path / "room.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RoomQueueError, match=r"room's queue database .*room.sqlite.* move it away"):
        check_queue_file(bad)


def test_the_seat_records_the_student_the_server_names(tmp_path, monkeypatch):
    from tl_widgets.core.settings import STUDENT_ENV

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "shared-home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setenv(STUDENT_ENV, "0123456789abcdef" * 2)
    assert open_seat(tmp_path / "seats").student == "0123456789abcdef" * 2
    monkeypatch.setenv(STUDENT_ENV, "../not-an-id")  # checked anyway: the seat is then its own student
    seat = open_seat(tmp_path / "seats")
    assert seat.student == seat.name


def test_the_shared_feature_cache_is_trimmed_least_recently_used_first(tmp_path):
    """#25 L7: the room's feature cache had no bound."""
    from tl_widgets.core.training.feature_cache_trim import META, cache_bytes, touch_entry, trim_cache

    root = tmp_path / "feature_cache"
    for i, name in enumerate(("old", "mid", "new")):
        (root / name).mkdir(parents=True)
        (root / name / "x_train.npy").write_bytes(b"0" * 1000)
        (root / name / META).write_text("{}")
        os.utime(root / name / META, (1000 + i, 1000 + i))
    touch_entry(root / "old")  # used now: the most recent
    assert trim_cache(root, max_bytes=2100, keep=["mid"]) == ["new"]
    assert sorted(p.name for p in root.iterdir()) == ["mid", "old"] and cache_bytes(root) <= 2100
    assert trim_cache(root, max_bytes=0, keep=["mid"]) == ["old"]  # the entry in use stays, even over budget


def test_the_feature_cache_budget_is_the_rooms(tmp_path, monkeypatch):
    from tl_widgets.core.room.workshop import workshop_default
    from tl_widgets.core.settings import DATA_ROOTS_ENV, SEATS_ENV, WORKSHOP_ENV
    from tl_widgets.core.training.feature_cache import cache_budget

    monkeypatch.delenv(WORKSHOP_ENV, raising=False)
    monkeypatch.delenv(SEATS_ENV, raising=False)
    assert cache_budget() is None  # a personal Studio: no bound
    monkeypatch.setenv(SEATS_ENV, str(tmp_path / "seats"))
    monkeypatch.setenv(DATA_ROOTS_ENV, str(tmp_path))
    assert cache_budget() == int(workshop_default("max_feature_cache_mb") * 2**20)


_TAB = r"""
import json, sys
from tl_widgets.core.room.seat import open_seat
seat = open_seat(sys.argv[1])
print(json.dumps({"home": str(seat.home), "rejoined": seat.rejoined, "student": seat.student}), flush=True)
sys.stdin.readline()  # the tab stays open until the test closes it
"""


def _open_tab(root, student: str | None):
    import subprocess
    import sys

    from tl_widgets.core.settings import STUDENT_ENV

    env = {k: v for k, v in os.environ.items() if k != STUDENT_ENV}
    if student is not None:
        env[STUDENT_ENV] = student
    proc = subprocess.Popen([sys.executable, "-c", _TAB, str(root)], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def _close_tab(proc) -> None:
    proc.stdin.close()
    proc.wait(30)


def test_a_students_tabs_share_one_seat_and_the_last_one_out_cleans_up(tmp_path):
    """#26: a reload or a second tab of the same browser rejoins the student's seat (runs, captures, uploads);
    another browser gets its own; the seat's temporary files go when its last tab does."""
    from tl_widgets.core.room.seat import SEAT_FILE, list_seats, seat_pids

    root = tmp_path / "seats"
    a1, first = _open_tab(root, "a" * 32)
    a2, second = _open_tab(root, "a" * 32)
    b1, other = _open_tab(root, "b" * 32)
    lone, alone = _open_tab(root, None)  # no room cookie: a seat of its own
    try:
        assert first["home"] == second["home"] and second["rejoined"] and not first["rejoined"]
        assert other["home"] != first["home"] and alone["home"] not in (first["home"], other["home"])
        info = json.loads((Path(first["home"]) / SEAT_FILE).read_text())
        assert sorted(seat_pids(info)) == sorted([a1.pid, a2.pid])
        (Path(first["home"]) / "tmp" / "scratch").write_text("work")
        _close_tab(a1)
        assert (Path(first["home"]) / "tmp" / "scratch").exists()  # the other tab still uses it
        assert seat_pids(json.loads((Path(first["home"]) / SEAT_FILE).read_text())) == [a2.pid]
        _close_tab(a2)
        info = json.loads((Path(first["home"]) / SEAT_FILE).read_text())
        assert info["ended"] and not (Path(first["home"]) / "tmp").exists() and not seat_pids(info)
        a3, back = _open_tab(root, "a" * 32)  # the student comes back later: the same seat, reopened
        try:
            assert back["home"] == first["home"] and back["rejoined"]
            assert "ended" not in json.loads((Path(first["home"]) / SEAT_FILE).read_text())
        finally:
            _close_tab(a3)
        assert len(list_seats(root)) == 3
    finally:
        for proc in (a1, a2, b1, lone):
            if proc.poll() is None:
                _close_tab(proc)
