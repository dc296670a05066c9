"""The room's workers as Ray actors: a local Ray head on loopback, reached through Ray Client (``ray://``).

Two seats train at once on two actors behind the room's gateway, exactly as ``serve --engine ray://HOST:PORT``
runs them; the head is started by the test (``ray start --head --block`` in its own session) and stopped after.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from engine_room import Room, tiny_config

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="the `ray` extra is installed by `make setup`; without it there is no Ray")


def _free_port() -> int:
    from tl_widgets.server.voila_launch import free_port

    return free_port()


@pytest.fixture(scope="module")
def ray_room(tmp_path_factory):
    from tl_widgets.core.engine.gateway import EngineGateway
    from tl_widgets.core.engine.ray_pool import RayPool
    from tl_widgets.core.engine.worker import WorkerSettings

    root = tmp_path_factory.mktemp("rayroom")
    seats, data = root / "seats", root / "data"
    seats.mkdir(mode=0o700)
    data.mkdir()
    gcs, client = _free_port(), _free_port()
    # Ray's unix sockets live under --temp-dir and a socket path may not pass 107 bytes: pytest's own temporary
    # folders (pytest-of-USER/pytest-N/popen-gwN/...) are too deep for it under xdist, so Ray gets a short one.
    ray_tmp = tempfile.mkdtemp(prefix="tlw-ray-")
    log = open(root / "ray-head.log", "wb")
    head = subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
                             "--node-ip-address=127.0.0.1", f"--port={gcs}", f"--ray-client-server-port={client}",
                             "--num-cpus=2", "--include-dashboard=false", "--object-store-memory=104857600",
                             f"--temp-dir={ray_tmp}"], start_new_session=True,
                            stdout=log, stderr=subprocess.STDOUT)
    pool = None
    try:
        pool = RayPool(WorkerSettings(str(seats), data_roots=(str(data),), warm=(("demo_cnn", None),),
                                      env={"TF_NUM_INTRAOP_THREADS": "1"}), {"heavy": 2, "quick": 1},
                       address=f"ray://127.0.0.1:{client}", cpus={"heavy": 0.5, "quick": 0.5})
        deadline = time.monotonic() + 120
        while True:  # the head's client server answers a few seconds after start
            try:
                pool.start(wait_s=300)
                break
            except ConnectionError:
                if head.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = (root / "ray-head.log").read_text(errors="replace")[-3000:]
                    raise ConnectionError(f"the Ray head (exit {head.poll()}) did not answer; its log:\n{tail}")
                time.sleep(2)
        gateway = EngineGateway(pool, seats).start()
        yield Room(seats, data, pool, gateway)
        gateway.close()
    finally:
        if pool is not None:
            pool.close()
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(ray_tmp, ignore_errors=True)  # a Ray process still exiting may remove its own files meanwhile


def test_two_seats_train_at_once_on_two_ray_actors(ray_room):
    homes = [ray_room.seat("ray-a"), ray_room.seat("ray-b")]
    sessions = [ray_room.engine(h).session(tiny_config(h)) for h in homes]
    seen_busy = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen_busy.append(sum(h.busy for h in ray_room.pool.workers["heavy"]))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for s in sessions:
        s.start()
    results = [s.wait(300) for s in sessions]
    stop.set()
    watcher.join()
    assert [r.status for r in results] == ["finished", "finished"], [r.error for r in results]
    for home, result in zip(homes, results):
        assert result.run_dir.parent.parent == home and (result.run_dir / "model.keras").is_file()
    assert max(seen_busy) == 2  # both actors trained at the same time
    assert {h.pid for h in ray_room.pool.workers["heavy"]} and all(h.pid for h in ray_room.pool.workers["heavy"])


def test_a_ray_worker_refuses_another_seats_run(ray_room):
    from tl_widgets.core.engine.scope import ScopeError

    victim = ray_room.seat("ray-victim")
    (victim / "runs").mkdir(exist_ok=True)
    with pytest.raises(ScopeError, match="this seat's folder"):
        ray_room.engine(ray_room.seat("ray-attacker")).evaluate(str(victim / "runs"))


def test_a_notebook_user_trains_on_the_cluster_without_tensorflow_here(ray_room, tmp_path):
    """``Studio(engine="ray://…")``'s engine: this person's own actors, their home only."""
    from tl_widgets.core.engine.client import PoolEngine
    from tl_widgets.core.engine.scope import ScopeError

    home = tmp_path / "me"
    engine = PoolEngine.on_ray(ray_room.pool.address, home, cpus=0.2)  # the room's actors hold 1.5 of 2 CPUs
    try:
        assert engine.block_names("demo_cnn")[0] == "stem"
        session = engine.session(tiny_config(home))
        session.start()
        result = session.wait(300)
        assert result.status == "finished" and result.run_dir.parent.parent == home.resolve()
        with pytest.raises(ScopeError, match="this seat's folder"):
            engine.evaluate(str(ray_room.seats))  # the room's seats are not this person's
    finally:
        engine.close()
