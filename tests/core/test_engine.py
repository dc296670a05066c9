"""The engine seam: jobs through warm worker processes behind the room's gateway, as a served seat uses them.

Real worker processes (TensorFlow imported once each), a real gateway on a Unix socket; every refusal is
checked where it happens (the worker never ran the job, the folder was not written).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client
from pathlib import Path

import numpy as np
import pytest

from tl_widgets.core.engine import wire
from tl_widgets.core.engine.base import EngineError
from tl_widgets.core.engine.scope import ScopeError
from tl_widgets.core.events import EventBus

from engine_room import start_room, tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    room = start_room(tmp_path_factory.mktemp("room"))
    yield room
    room.close()


def test_the_wire_refuses_anything_but_data():
    from tl_widgets.core.config.schema import demo_config

    cfg = demo_config()
    back = wire.loads(wire.dumps({"cfg": cfg, "x": np.arange(6, dtype=np.float32).reshape(2, 3), "p": Path("/a")}))
    assert back["cfg"] == cfg and back["x"].dtype == np.float32 and back["x"][1, 2] == 5 and back["p"] == Path("/a")
    with pytest.raises(wire.WireError, match="posix.system"):
        wire.loads(wire.dumps(os.system))
    with pytest.raises(wire.WireError, match="Expected a valid message"):
        wire.loads(b"\x80\x05not a pickle")
    # a function of tl_widgets.core is not a class: refused too (it could run code when called by a reducer)
    from tl_widgets.core.training.session import train

    with pytest.raises(wire.WireError, match="tl_widgets.core.training.session.train"):
        wire.loads(wire.dumps(train))


def test_facts_devices_and_preview_from_the_workers(room):
    engine = room.engine(room.seat("facts"))
    assert engine.block_names("demo_cnn") == ["stem", "block1", "block2", "block3", "block4"]
    from tl_widgets.core.config.schema import AugmentConfig, FreezeConfig

    report = engine.describe_freeze("demo_cnn", None, FreezeConfig(mode="top", top_n=1))
    assert report.blocks[-1].trainable == "mixed" and report.blocks[0].trainable is False  # BatchNorm stays frozen
    assert engine.devices().backend == "tensorflow"
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :16] = 255
    shown = engine.augment_preview(image, AugmentConfig(flip="horizontal"), 4, 0)
    assert shown.shape == (4, 32, 32, 3) and shown.dtype == np.uint8


def test_a_training_streams_its_events_and_records_in_the_seats_store(room):
    from tl_widgets.core.runs.store import RunStore

    home = room.seat("trainer")
    engine = room.engine(home)
    bus = EventBus()
    kinds: list[str] = []
    bus.subscribe(lambda e: kinds.append(e.kind))
    store = RunStore(home)
    session = engine.session(tiny_config(home), bus=bus, store=store)
    run_id = session.start()
    result = session.wait(300)
    assert result is not None and result.status == "finished", result
    assert {"run_started", "batch_end", "epoch_end", "run_finished"} <= set(kinds)
    assert Path(result.run_dir) == home / "runs" / run_id and (Path(result.run_dir) / "model.keras").is_file()
    assert store.get_run(run_id)["status"] == "finished"  # the seat's own store, recorded from the relayed events
    assert session.history["epoch"]["val_accuracy"]  # the seat's history, filled from the events
    report = engine.evaluate(str(result.run_dir))
    assert sum(map(sum, report.confusion)) > 0 and (Path(result.run_dir) / "eval_report.json").is_file()


@pytest.mark.parametrize("job,kwargs,message", [
    ("evaluate", {"run_dir": "/etc"}, "this seat's folder"),
    ("try_images", {"run_dir": "{other}/runs", "items": []}, "this seat's folder"),
    ("check_dataset", {"path": "/etc"}, "this seat's folder or the data roots"),
    ("check_dataset", {"path": "/etc", "curation": "{other}/runs/c.jsonl"}, "this seat's folder or the data roots"),
    ("check_dataset", {"path": "/etc", "run_dir": "{other}/runs"}, "this seat's folder"),
    ("backbone_facts", {"backbone": "/etc/passwd"}, "this seat's folder or the data roots"),
])
def test_a_worker_refuses_paths_outside_the_seat(room, job, kwargs, message):
    other = room.seat("victim")
    (other / "runs").mkdir(exist_ok=True)
    engine = room.engine(room.seat("attacker"))
    kwargs = {k: v.replace("{other}", str(other)) if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises(ScopeError, match=message):
        engine.call(job, **kwargs)


def test_a_config_must_write_in_the_seat_and_read_the_roots(room, tmp_path):
    home = room.seat("configs")
    engine = room.engine(home)
    elsewhere = tmp_path / "elsewhere"
    cfg = tiny_config(home)
    cfg.output_dir = str(elsewhere)
    session = engine.session(cfg)
    session.start()
    result = session.wait(120)
    assert result.status == "failed" and "this seat's folder" in result.error and not elsewhere.exists()
    cfg = tiny_config(home)
    cfg.data.source, cfg.data.path = "folder", str(tmp_path)  # not a data root, not the seat
    session = engine.session(cfg)
    session.start()
    result = session.wait(120)
    assert result.status == "failed" and "data roots" in result.error


def test_the_gateway_checks_who_asks(room, tmp_path):
    theirs = room.seat("someone-else", pid=1)  # a seat another process owns
    with pytest.raises(EngineError, match="from a kernel of seat-someone-else"):
        room.engine(theirs).block_names("demo_cnn")
    outside = tmp_path / "seat-outside"
    outside.mkdir()
    (outside / "seat.json").write_text(json.dumps({"pid": os.getpid()}))
    with pytest.raises(EngineError, match="a seat of this room"):
        room.engine(outside).block_names("demo_cnn")
    refused = room.gateway.refused
    with pytest.raises((AuthenticationError, EOFError, ConnectionError, OSError)):
        Client(room.gateway.address, family="AF_UNIX", authkey=b"not the room's key").close()
    deadline = time.monotonic() + 5
    while room.gateway.refused == refused and time.monotonic() < deadline:
        time.sleep(0.05)
    assert room.gateway.refused > refused
    engine = room.engine(room.seat("asker"))
    with pytest.raises(EngineError, match="Expected a job in"):
        engine.call("rm_rf", path="/")


def test_one_quick_job_at_a_time_per_seat(room):
    home = room.seat("impatient")
    engine = room.engine(home)
    session = engine.session(tiny_config(home, epochs=1))
    session.start()
    assert session.wait(300).status == "finished"
    run_dir = str(session.result.run_dir)
    conn = engine.open("evaluate", {"run_dir": run_dir})  # still running when the second one asks
    try:
        with pytest.raises(EngineError, match="one quick job at a time per seat"):
            engine.evaluate(run_dir)
    finally:
        conn.close()
    room.engine(room.seat("neighbour")).block_names("demo_cnn")  # another seat is not held up


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_stop_and_a_closed_seat_stop_the_job(room):
    home = room.seat("stopper")
    engine = room.engine(home)
    bus = EventBus()
    batches = threading.Event()
    bus.subscribe(lambda e: batches.set() if e.kind == "batch_end" else None)
    session = engine.session(tiny_config(home, epochs=3000, per_class=60), bus=bus)
    session.start()
    assert batches.wait(120)
    session.stop()
    result = session.wait(120)
    assert result is not None and result.status == "stopped"
    # a seat whose kernel ends mid-run: its connection closes, the gateway stops the job, the worker is free again
    conn = engine.open("train", {"run_id": "gone-seat-run", "config": tiny_config(home, epochs=3000, per_class=60)})
    heavy = room.pool.workers["heavy"][0]
    assert _wait_for(lambda: heavy.busy, 60)
    conn.close()
    assert _wait_for(lambda: not heavy.busy, 120), "the worker kept training for a seat that left"


def test_a_killed_worker_fails_the_run_with_the_reason_and_is_replaced(room):
    home = room.seat("unlucky")
    engine = room.engine(home)
    bus = EventBus()
    failed: list = []
    started = threading.Event()
    bus.subscribe(lambda e: started.set() if e.kind == "batch_end" else failed.append(e) if e.kind == "run_failed"
                  else None)
    session = engine.session(tiny_config(home, epochs=3000, per_class=60), bus=bus)
    session.start()
    assert started.wait(120)
    heavy = room.pool.workers["heavy"][0]
    os.kill(heavy.proc.pid, signal.SIGKILL)
    result = session.wait(120)
    assert result.status == "failed" and "killed (signal 9)" in result.error and failed
    assert _wait_for(lambda: heavy.ready.is_set() and heavy.alive(), 180) and heavy.restarts >= 1
    again = engine.session(tiny_config(home))
    again.start()
    assert again.wait(300).status == "finished"  # the room goes on with the new worker


THIN_SEAT = r"""
import json, os, sys
from tl_widgets.core.room.seat import open_seat
seat = open_seat(sys.argv[1])
from tl_widgets.studio import Studio
studio = Studio(data_roots=[sys.argv[2]])
assert studio.engine.remote, type(studio.engine)
assert studio.start() is not None, studio.train.notice.text
status = studio.train.wait(300)
assert status == "finished", (status, studio.train.notice.text)
run = studio.train.session.result.run_dir
assert studio.evaluate_last_run()
panel = studio.evaluation.children[-1]
panel.wait(300)
assert panel.report is not None, panel.error
import io
from PIL import Image
buf = io.BytesIO(); Image.new("RGB", (40, 40), (200, 30, 30)).save(buf, "PNG")
outcome = studio.engine.try_images(run, [("red.png", buf.getvalue()), ("bad.jpg", b"not an image")])
assert len(outcome.results) == 1 and len(outcome.errors) == 1, outcome
report = studio.engine.export(run, "keras")
health = studio.engine.check_dataset(sys.argv[3])
assert health.findings is not None
mods = [m for m in ("tensorflow", "keras", "jax", "jaxlib", "sklearn") if m in sys.modules]
print(json.dumps({"modules": mods, "run": str(run), "verified": bool(report.ok)}))
"""


def test_a_seat_never_imports_tensorflow(room):
    """A seat kernel's work (Studio, Start, Evaluate, Try it, export, the health check) runs in the workers: no TF,
    Keras, JAX or scikit-learn in the seat's process."""
    from tl_widgets.core.settings import ENGINE_ENV, HOME_ENV, SEATS_ENV

    env = {**os.environ, ENGINE_ENV: room.gateway.address, SEATS_ENV: str(room.seats),
           "TL_WIDGETS_STUDIO_EPOCHS": "1", "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "20"}
    env.pop(HOME_ENV, None)
    folder = room.data / "two-classes"
    from PIL import Image

    for k, colour in enumerate([(220, 40, 40), (40, 40, 220)]):
        (folder / f"c{k}").mkdir(parents=True, exist_ok=True)
        for i in range(6):
            Image.new("RGB", (24, 24), tuple(min(255, c + 5 * i) for c in colour)).save(folder / f"c{k}" / f"{i}.png")
    out = subprocess.run([sys.executable, "-c", THIN_SEAT, str(room.seats), str(room.data), str(folder)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["modules"] == [] and found["verified"]
    assert Path(found["run"]).parent.parent.parent == room.seats  # written in the seat's own home


def test_a_heavy_job_waits_its_turn_in_the_rooms_queue(room, tmp_path):
    """With one training slot taken, a health check (heavy) waits in the fair queue, and runs once it is free."""
    from PIL import Image

    from tl_widgets.core.room.queue import TrainingQueue, queue_gate
    from tl_widgets.core.training.session import set_start_gate

    folder = room.data / "queued-check"
    for k, shade in enumerate((30, 220)):
        (folder / f"c{k}").mkdir(parents=True, exist_ok=True)
        for i in range(4):
            Image.new("RGB", (16, 16), (shade, shade + i, shade)).save(folder / f"c{k}" / f"{i}.png")
    queue = TrainingQueue(room.seats / "room.sqlite", 1)
    trainer, checker = room.seat("q-trainer"), room.seat("q-checker")
    set_start_gate(queue_gate(queue, trainer.name))
    try:
        bus = EventBus()
        batches = threading.Event()
        bus.subscribe(lambda e: batches.set() if e.kind == "batch_end" else None)
        # Long enough to outlast the checks below however fast the machine: it is stopped.
        session = room.engine(trainer).session(tiny_config(trainer, epochs=3000, per_class=60), bus=bus)
        session.start()
        assert batches.wait(120)
        done: list = []
        check = threading.Thread(target=lambda: done.append(room.engine(checker).check_dataset(str(folder),
                                                                                               embeddings=False)))
        check.start()
        time.sleep(3)
        assert check.is_alive() and not done  # in line behind the training
        session.stop()
        assert session.wait(120).status == "stopped"
        check.join(120)
        assert done and sum(done[0].counts.values()) == 8
    finally:
        set_start_gate(None)
