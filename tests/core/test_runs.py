"""Tests of the SQLite run store and the recorder that fills it."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tl_widgets.core.runs import db as runs_db
from tl_widgets.core.events import (
    BatchEnd,
    EpochEnd,
    EventBus,
    Message,
    PhaseStarted,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
)
from tl_widgets.core.settings import default_home
from tl_widgets.core.runs.store import (
    MAX_BATCH_POINTS,
    RunActiveError,
    RunNotFoundError,
    RunRecorder,
    RunStore,
)

REPO = Path(__file__).resolve().parents[2]


def _started(run_id: str, epochs: int = 2, steps: int = 5, run_dir: str | None = None, name: str = "demo") -> RunStarted:
    return RunStarted(run_id, config={"run_name": name, "lr": 0.1}, run_dir=run_dir, total_epochs=epochs,
                      steps_per_epoch=steps)


def _batch(run_id: str, epoch: int, step: int, global_step: int, loss: float = 1.0, steps: int = 5) -> BatchEnd:
    return BatchEnd(run_id, phase=0, epoch=epoch, step=step, global_step=global_step, metrics={"loss": loss},
                    images_per_sec=50.0, learning_rate=1e-3, steps_per_epoch=steps)


def _epoch(run_id: str, epoch: int, acc: float, val_acc: float | None = None) -> EpochEnd:
    metrics = {"loss": 1.0 - acc, "accuracy": acc}
    if val_acc is not None:
        metrics["val_accuracy"] = val_acc
    return EpochEnd(run_id, phase=0, epoch=epoch, metrics=metrics, duration=1.5, learning_rate=1e-3)


def _record_full_run(rec: RunRecorder, run_id: str, epochs: int = 2, steps: int = 5,
                     val: list[float] | None = None) -> None:
    rec(_started(run_id, epochs, steps))
    rec(PhaseStarted(run_id, phase=0, name="head", epochs=epochs, learning_rate=1e-3, trainable_params=10,
                     frozen_params=100))
    g = 0
    for e in range(epochs):
        for s in range(1, steps + 1):
            g += 1
            rec(_batch(run_id, e, s, g, loss=1.0 / g))
        rec(_epoch(run_id, e, acc=0.5 + e / 10, val_acc=None if val is None else val[e]))
    rec(RunFinished(run_id, metrics={"accuracy": 0.9, "val_accuracy": 0.8}, run_dir=None, duration=3.0))


@pytest.fixture()
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "home")


def test_default_home_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TL_WIDGETS_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    s = RunStore()
    assert s.path == tmp_path / "h" / "runs.sqlite" and s.path.exists()
    monkeypatch.delenv("TL_WIDGETS_HOME")
    assert default_home() == Path.home() / ".tl_widgets"


def test_wal_mode(store: RunStore) -> None:
    conn = runs_db.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_full_run_recorded(store: RunStore) -> None:
    bus = EventBus()
    rec = RunRecorder(store, source="cli")
    bus.subscribe(rec)
    bus.publish(_started("r-1", epochs=2, steps=5, name="my run"))
    bus.publish(Message("r-1", level="info", text="hello"))
    runs = store.list_runs()
    assert [r["run_id"] for r in runs] == ["r-1"]
    assert runs[0]["status"] == "running" and runs[0]["name"] == "my run" and runs[0]["source"] == "cli"
    assert runs[0]["pid"] == os.getpid() and runs[0]["total_epochs"] == 2
    g = 0
    for e in range(2):
        for s in range(1, 6):
            g += 1
            bus.publish(_batch("r-1", e, s, g))
        bus.publish(_epoch("r-1", e, acc=0.6 + e / 10, val_acc=0.5 + e / 5))
    mid = store.get_run("r-1")
    assert mid["epoch"] == 2 and mid["best_metric_name"] == "val_accuracy" and mid["best_metric"] == pytest.approx(0.7)
    bus.publish(RunFinished("r-1", metrics={"accuracy": 0.7, "val_accuracy": 0.7}, run_dir="/x/r-1", duration=2.0))
    run = store.get_run("r-1")
    assert run["status"] == "finished" and run["end_time"] is not None and run["progress"] == 1.0
    assert run["config"] == {"run_name": "my run", "lr": 0.1}
    assert run["final_metrics"] == {"accuracy": 0.7, "val_accuracy": 0.7}
    assert run["run_dir"] == "/x/r-1"
    assert [e["epoch"] for e in run["epochs"]] == [0, 1]
    assert run["epochs"][1]["metrics"]["val_accuracy"] == pytest.approx(0.7)
    assert [b["global_step"] for b in run["batches"]] == list(range(1, 11))
    assert rec.errors == [] and bus.errors == []


def test_progress_while_running(store: RunStore) -> None:
    rec = RunRecorder(store)
    rec.flush_interval = 0.0  # write every batch so progress is visible at once
    rec(_started("p", epochs=4, steps=10))
    rec(_batch("p", epoch=1, step=5, global_step=15, steps=10))
    run = store.list_runs()[0]
    assert run["epoch"] == 1 and run["step"] == 5
    assert run["progress"] == pytest.approx((1 + 0.5) / 4)


def test_batches_are_throttled_then_flushed_at_epoch_end(store: RunStore) -> None:
    rec = RunRecorder(store)
    rec.flush_interval = 3600.0
    rec(_started("t", epochs=1, steps=50))
    for s in range(1, 51):
        rec(_batch("t", 0, s, s))
    assert store.get_run("t")["batches"] == []
    rec(_epoch("t", 0, acc=0.5))
    assert len(store.get_run("t")["batches"]) == 50


def test_best_metric_falls_back_to_accuracy(store: RunStore) -> None:
    rec = RunRecorder(store)
    _record_full_run(rec, "acc-only", epochs=3)
    run = store.get_run("acc-only")
    assert run["best_metric_name"] == "accuracy" and run["best_metric"] == pytest.approx(0.7)


def test_stopped_and_failed(store: RunStore) -> None:
    rec = RunRecorder(store)
    rec(_started("s"))
    rec(RunStopped("s", metrics={"accuracy": 0.4}, run_dir=None, duration=1.0))
    rec(_started("f"))
    rec(RunFailed("f", error="ValueError: bad shape", traceback="Traceback...", run_dir=None, duration=1.0))
    assert store.get_run("s")["status"] == "stopped"
    assert store.get_run("s")["best_metric"] == pytest.approx(0.4)
    failed = store.get_run("f")
    assert failed["status"] == "failed" and failed["error"] == "ValueError: bad shape"
    assert failed["traceback"] == "Traceback..."
    assert [r["run_id"] for r in store.list_runs(status="failed")] == ["f"]
    assert "traceback" not in store.list_runs(status="failed")[0]


def test_list_order_status_and_limit(store: RunStore) -> None:
    rec = RunRecorder(store)
    for i in range(5):
        rec(RunStarted(f"run-{i}", config={}, run_dir=None, total_epochs=1, steps_per_epoch=1, time=1000.0 + i))
        if i % 2 == 0:
            rec(RunFinished(f"run-{i}", metrics={}, run_dir=None, duration=1.0))
    assert [r["run_id"] for r in store.list_runs()] == [f"run-{i}" for i in (4, 3, 2, 1, 0)]
    assert [r["run_id"] for r in store.list_runs(limit=2)] == ["run-4", "run-3"]
    assert [r["run_id"] for r in store.list_runs(status="running")] == ["run-3", "run-1"]
    assert [r["run_id"] for r in store.list_runs(status="finished", limit=1)] == ["run-4"]
    with pytest.raises(ValueError, match="Expected status in .*Received: status='done'"):
        store.list_runs(status="done")
    with pytest.raises(ValueError, match="limit=0"):
        store.list_runs(limit=0)


def test_downsampling_bound(store: RunStore) -> None:
    rec = RunRecorder(store)
    rec.flush_interval = 3600.0
    n = 4 * MAX_BATCH_POINTS + 123
    rec(_started("big", epochs=1, steps=n))
    for s in range(1, n + 1):
        rec(_batch("big", 0, s, s, loss=float(s)))
        if s % 97 == 0:
            rec.flush()  # many flushes: the stride must carry over between them
    rec(_epoch("big", 0, acc=0.5))
    batches = store.get_run("big")["batches"]
    assert MAX_BATCH_POINTS // 2 <= len(batches) <= MAX_BATCH_POINTS
    steps = [b["global_step"] for b in batches]
    assert steps == sorted(steps) and steps[0] == 1
    assert steps[-1] > n - n // len(batches) * 2  # the thinned points still span the whole run
    gaps = {b - a for a, b in zip(steps, steps[1:])}
    assert len(gaps) == 1  # evenly spaced


def test_compare(store: RunStore) -> None:
    rec = RunRecorder(store)
    _record_full_run(rec, "a", epochs=3, val=[0.1, 0.2, 0.3])
    _record_full_run(rec, "b", epochs=2, val=[0.5, 0.6])
    _record_full_run(rec, "c", epochs=2)
    out = store.compare(["a", "b", "c"])
    assert out == {"a": [(0, 0.1), (1, 0.2), (2, 0.3)], "b": [(0, 0.5), (1, 0.6)], "c": []}
    assert store.compare(["c"], metric="accuracy") == {"c": [(0, 0.5), (1, pytest.approx(0.6))]}
    with pytest.raises(RunNotFoundError, match="Received: 'zzz'"):
        store.compare(["a", "zzz"])


def test_artifacts(store: RunStore) -> None:
    rec = RunRecorder(store)
    _record_full_run(rec, "art")
    store.add_artifact("art", "keras", "/tmp/out/model.keras")
    store.add_artifact("art", "tflite", "/tmp/out/model.tflite")
    arts = store.get_run("art")["artifacts"]
    assert [(a["kind"], a["path"]) for a in arts] == [("keras", "/tmp/out/model.keras"), ("tflite", "/tmp/out/model.tflite")]
    with pytest.raises(RunNotFoundError):
        store.add_artifact("nope", "keras", "x")
    with pytest.raises(ValueError, match="artifact kind"):
        store.add_artifact("art", "", "x")


def test_delete(store: RunStore, tmp_path: Path) -> None:
    rec = RunRecorder(store)
    run_dir = tmp_path / "out" / "del-1"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text("{}")
    rec(_started("del-1", run_dir=str(run_dir)))
    with pytest.raises(RunActiveError, match="status 'running'"):
        store.delete_run("del-1")
    rec(RunFinished("del-1", metrics={}, run_dir=str(run_dir), duration=1.0))
    store.add_artifact("del-1", "keras", str(run_dir / "model.keras"))
    store.delete_run("del-1", delete_files=True)
    assert not run_dir.exists()
    with pytest.raises(RunNotFoundError, match="'del-1'"):
        store.get_run("del-1")
    with pytest.raises(RunNotFoundError):
        store.delete_run("del-1")
    # Cascade: no orphan rows left.
    conn = runs_db.connect(store.path)
    try:
        for table in ("epochs", "batches", "artifacts"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id='del-1'").fetchone()[0] == 0
    finally:
        conn.close()


def test_delete_files_refuses_foreign_folder(store: RunStore, tmp_path: Path) -> None:
    rec = RunRecorder(store)
    precious = tmp_path / "precious"
    precious.mkdir()
    rec(_started("x-1", run_dir=str(precious)))
    rec(RunFinished("x-1", metrics={}, run_dir=str(precious), duration=1.0))
    with pytest.raises(ValueError, match="named after the run"):
        store.delete_run("x-1", delete_files=True)
    assert precious.exists()
    store.delete_run("x-1")  # the record alone can go
    assert precious.exists()


def test_recorder_records_db_errors(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "h")
    rec = RunRecorder(store)
    store.path.unlink()
    (tmp_path / "h" / "runs.sqlite").mkdir()  # the db path is now a folder: every write fails
    rec(_started("e-1"))  # must not raise
    assert rec.errors and "unable to open" in str(rec.errors[0])
    with pytest.raises(ValueError, match="source"):
        RunRecorder(store, source="gui")


def test_events_of_unknown_runs_are_counted(store: RunStore) -> None:
    rec = RunRecorder(store)
    rec(_batch("ghost", 0, 1, 1))
    rec(_epoch("ghost", 0, 0.5))
    assert rec.ignored == 2 and store.list_runs() == []


# -- several processes --------------------------------------------------------


def _writer(home: str, worker: int, runs: int, batches: int) -> None:
    store = RunStore(home)
    rec = RunRecorder(store, source="python")
    rec.flush_interval = 0.0  # every batch is its own write transaction
    for r in range(runs):
        run_id = f"w{worker}-r{r}"
        rec(_started(run_id, epochs=1, steps=batches))
        for s in range(1, batches + 1):
            rec(_batch(run_id, 0, s, s))
        rec(_epoch(run_id, 0, acc=0.5))
        rec(RunFinished(run_id, metrics={"accuracy": 0.5}, run_dir=None, duration=1.0))
    if rec.errors:
        raise RuntimeError(f"worker {worker} had db errors: {rec.errors}")


def test_concurrent_processes_lose_nothing(tmp_path: Path) -> None:
    home = tmp_path / "shared"
    RunStore(home)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(home), w, 4, 50)) for w in range(4)]  # 4 x 200 writes
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = RunStore(home)
    runs = store.list_runs()
    assert len(runs) == 16 and {r["status"] for r in runs} == {"finished"}
    for r in runs:
        assert len(store.get_run(r["run_id"])["batches"]) == 50


# -- dead processes -----------------------------------------------------------


def test_killed_run_is_interrupted(tmp_path: Path) -> None:
    home = tmp_path / "h"
    code = textwrap.dedent(
        f"""
        import sys, time
        from tl_widgets.core.events import RunStarted, BatchEnd
        from tl_widgets.core.runs.store import RunStore, RunRecorder
        rec = RunRecorder(RunStore({str(home)!r}), source="cli")
        rec(RunStarted("doomed", config={{}}, run_dir=None, total_epochs=3, steps_per_epoch=10))
        print("started", flush=True)
        time.sleep(120)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
        store = RunStore(home)
        assert store.get_run("doomed")["status"] == "running"
        assert [r["run_id"] for r in store.list_runs(status="running")] == ["doomed"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    run = store.get_run("doomed")
    assert run["status"] == "interrupted" and run["end_time"] is not None
    assert store.list_runs(status="running") == []
    assert [r["run_id"] for r in store.list_runs(status="interrupted")] == ["doomed"]
    store.delete_run("doomed")  # an interrupted run can be deleted


def test_recycled_pid_and_stale_remote_heartbeat() -> None:
    host = runs_db.this_host()
    pid, created = runs_db.this_process()
    now = time.time()
    alive = {"host": host, "pid": pid, "pid_create_time": created, "heartbeat": now}
    assert not runs_db.is_dead(alive)
    assert runs_db.is_dead({**alive, "pid_create_time": (created or 0) - 3600})  # same pid, older process
    remote = {"host": host + "-elsewhere", "pid": 1, "pid_create_time": None, "heartbeat": now - 10}
    assert not runs_db.is_dead(remote, now)
    assert runs_db.is_dead({**remote, "heartbeat": now - runs_db.HEARTBEAT_TIMEOUT_S - 1}, now)


# -- the `tl-widgets runs` sub-command -----------------------------------------


def _cli(*argv: str) -> int:
    import argparse

    from tl_widgets.cli.runs import register

    parser = argparse.ArgumentParser(prog="tl-widgets")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_cli_list_show_delete(store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    rec = RunRecorder(store, source="cli")
    _record_full_run(rec, "cli-run", epochs=2, val=[0.25, 0.75])
    home = str(store.home)
    assert _cli("runs", "list", "--home", home) == 0
    out = capsys.readouterr().out
    assert "cli-run" in out and "finished" in out and "val_accuracy=0.75" in out and "2/2 epochs" in out
    assert _cli("runs", "list", "--home", home, "--status", "running") == 0
    assert "No runs recorded with status 'running'" in capsys.readouterr().out
    assert _cli("runs", "show", "cli-run", "--home", home, "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["run_id"] == "cli-run" and len(shown["epochs"]) == 2
    assert _cli("runs", "show", "cli-run", "--home", home) == 0
    assert "val_accuracy" in capsys.readouterr().out
    assert _cli("runs", "show", "nope", "--home", home) == 1
    assert "Received: 'nope'" in capsys.readouterr().err
    assert _cli("runs", "delete", "cli-run", "--home", home) == 0
    assert store.list_runs() == []
    with pytest.raises(SystemExit):
        _cli("runs", "list", "--limit", "0")
    assert "expected an integer >= 1, received '0'" in capsys.readouterr().err
