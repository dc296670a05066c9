"""Two JAX processes on 127.0.0.1 training data-parallel (real training, tiny data).

Each test starts fresh interpreters with ``KERAS_BACKEND=jax``; every wait has
a timeout so a broken collective fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax", reason="the multi-process path runs on the JAX backend")

# Runs the real engine (TrainingSession, the CLI's config parsing) and dumps this
# process's copy of the weights: the harness compares them across processes.
_WORKER = textwrap.dedent('''
    import sys
    import numpy as np
    from tl_widgets.cli import build_parser
    from tl_widgets.cli.train import config_from_args
    from tl_widgets.core.training.session import TrainingSession

    dump, argv = sys.argv[1], sys.argv[2:]
    cfg = config_from_args(build_parser().parse_args(argv))
    session = TrainingSession(cfg, source="cli", record=cfg.strategy.process_id == 0)
    session.start()
    result = session.wait(timeout=240)
    if result is None or result.status != "finished":
        sys.exit(f"run did not finish: {None if result is None else (result.status, result.error)}")
    local = [np.ravel(np.asarray(v.value.addressable_data(0), dtype="float32")) for v in result.model.weights]
    np.save(dump, np.concatenate(local))
    print("RUN_DIR", result.run_dir, flush=True)
''')


_CLI = "import sys; from tl_widgets.cli import main; sys.exit(main())"  # the `tl-widgets` script


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config_file(tmp_path: Path, epochs: int = 1, fine_tune: int = 1) -> Path:
    from tl_widgets.core.config.schema import TrainConfig, demo_config

    d = demo_config(epochs=epochs, fine_tune_epochs=fine_tune).to_dict()
    d["data"]["max_per_class"] = 24
    d["data"]["batch_size"] = 16
    d["model"]["input_size"] = 32
    d["output_dir"] = str(tmp_path / "runs")
    path = tmp_path / "cfg.json"
    path.write_text(TrainConfig.from_dict(d).to_json())
    return path


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
               XLA_FLAGS="", JAX_PLATFORMS="cpu")
    env.update(extra)
    return env


def _wait_all(procs: list[subprocess.Popen], timeout: float) -> list[int]:
    deadline = time.time() + timeout
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=max(1.0, deadline - time.time())))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail(f"a process did not finish within {timeout} s (hang)")
    return codes


@pytest.mark.slow
def test_two_processes_end_with_identical_weights_and_one_run_folder(tmp_path):
    cfg = _config_file(tmp_path)
    port = _free_port()
    procs, logs = [], []
    for pid in range(2):
        log = tmp_path / f"p{pid}.log"
        logs.append(log)
        cmd = [sys.executable, "-c", _WORKER, str(tmp_path / f"w{pid}.npy"), "train", str(cfg),
               "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(pid), "--quiet"]
        procs.append(subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=_env()))
    codes = _wait_all(procs, 400)
    tails = "\n".join(f"--- p{i}\n" + log.read_text()[-2500:] for i, log in enumerate(logs))
    assert codes == [0, 0], tails
    w0, w1 = np.load(tmp_path / "w0.npy"), np.load(tmp_path / "w1.npy")
    assert w0.size > 1000
    np.testing.assert_array_equal(w0, w1)
    folders = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    summary = json.loads((folders[0] / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_done"] == 2
    assert (folders[0] / "model.keras").exists()
    # The chief's saved model holds the same weights the other process ended with.
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    saved = keras.saving.load_model(folders[0] / "model.keras", compile=False)
    flat = np.concatenate([np.ravel(np.asarray(w, dtype="float32")) for w in saved.get_weights()])
    np.testing.assert_allclose(flat, w1, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_killing_one_process_ends_the_other_with_a_clear_error(tmp_path):
    cfg = _config_file(tmp_path, epochs=200, fine_tune=0)
    port = _free_port()
    logs = [tmp_path / f"p{pid}.log" for pid in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLI, "train", str(cfg), "--coordinator", f"127.0.0.1:{port}",
             "--num-processes", "2", "--process-id", str(pid), "--quiet"],
            stdout=logs[pid].open("w"), stderr=subprocess.STDOUT, env=_env(TL_WIDGETS_HEARTBEAT_TIMEOUT="10"),
        )
        for pid in range(2)
    ]
    try:
        deadline = time.time() + 180
        # Wait until training is under way (the chief has written its first checkpoint).
        while not list((tmp_path / "runs").glob("*/checkpoints/last.weights.h5")):
            assert time.time() < deadline, "training never started:\n" + logs[0].read_text()[-2500:]
            assert procs[0].poll() is None and procs[1].poll() is None, logs[0].read_text()[-2500:]
            time.sleep(0.5)
        procs[1].kill()
        t0 = time.time()
        try:
            code = procs[0].wait(timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail("the surviving process hung after its peer was killed")
        detected = time.time() - t0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    text = logs[0].read_text()
    print(f"surviving process exited {code} after {detected:.1f} s")
    assert code != 0
    assert detected < 60
    assert "another task died" in text or "stopped sending heartbeats" in text, text[-2500:]
