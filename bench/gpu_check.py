"""Fine-tuning on an accelerator with ``KERAS_BACKEND=jax``: our fit loop vs plain ``model.fit``, images/s and MFU.

For MobileNetV2 and ResNet50 at 224 px (``weights=None``, synthetic data: the GPU machine has no network),
with ``mixed_bfloat16`` and XLA, the model from ``tl_widgets.core.models.assembly.build_model`` fully
fine-tuned, three arms interleaved over ``--repeats`` rounds, each timed over ``--steps`` steps after a
compiled warm-up:

* ``plain``: ``model.fit(verbose=0)``;
* ``events``: the same fit with the engine's per-step path: :class:`FitCallbacks` + :class:`EventCallback`
  publishing on a real bus to the run's :class:`HistoryRecorder` and a progress reducer (host reads at most
  every 100 ms);
* ``session``: ``TrainingSession`` on the same arrays (``source="code"``), its ``phase0_s`` compared: only
  when TensorFlow is installed (the engine's data pipeline is ``tf.data``); skipped with a note otherwise.

Model FLOP utilisation = training FLOPs per step (3x the forward pass's FLOPs from XLA's cost analysis of the
compiled forward pass; a published per-image figure when the analysis gives none) x steps/s / peak. The peak
defaults to the H200's dense bf16 figure (989 TFLOP/s; ``--peak-tflops``).

The input case (``--input-only``, also part of the default run; bench/gpu_input.py): ``tl_widgets.image_dataset``
over camera-size photos feeding MobileNetV2 at 224 px: the pipeline's images/s alone, the model's on decoded
arrays, the model's fed by the pipeline, and whether the accelerator waits on input.

The room case (``--room``, also part of the default run) is a served room on one GPU: 8 trainings from 8
different seats, one after another, through the room's gateway and 2 warm engine workers that share the GPU
(memory growth, no preallocation). It reports each run's status and seconds, whether any ran out of memory, and
the GPU memory in use after each (``nvidia-smi``). It needs TensorFlow in the workers (the engine's data
pipeline is tf.data) and says so when it is missing.

    bash bench/gpu_check.sh                 # on the GPU machine
    bash bench/gpu_check.sh --smoke         # a CPU smoke run: 32 px, batch 4, 3 steps
    bash bench/gpu_check.sh --room-only     # only the room case
    bash bench/gpu_check.sh --input-only    # only the input pipeline feeding MobileNetV2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

# Forward GFLOPs per 224-px image (2 x multiply-adds), used when XLA's cost analysis gives no figure.
PUBLISHED_FWD_GFLOPS = {"mobilenet_v2": 0.60, "resnet50": 8.2}
H200_BF16_DENSE_TFLOPS = 989.0


def _build(backbone: str, size: int, classes: int, policy: str) -> Any:
    import keras

    from tl_widgets.core.config.schema import ModelConfig
    from tl_widgets.core.models.assembly import build_model

    keras.config.set_dtype_policy(policy)
    try:
        model = build_model(ModelConfig(backbone=backbone, weights="none", input_size=size), classes).model
    finally:
        keras.config.set_dtype_policy("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=True)
    return model


def forward_flops(model: Any, batch: int, size: int, backbone: str) -> tuple[float, str]:
    """FLOPs of one forward pass of ``batch`` images: XLA's cost analysis, else the published figure."""
    try:
        import jax
        import numpy as np

        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        x = np.zeros((batch, size, size, 3), "float32")
        compiled = jax.jit(lambda a, b, c: model.stateless_call(a, b, c, training=True)[0]).lower(tv, ntv, x).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        flops = float(cost.get("flops", 0.0)) if cost else 0.0
        if flops > 0:
            return flops, "XLA cost analysis"
    except Exception as exc:  # the analysis is best effort: report which figure was used
        print(f"  (cost analysis unavailable: {type(exc).__name__}: {exc})")
    per_image = PUBLISHED_FWD_GFLOPS.get(backbone, float("nan")) * 1e9 * (size / 224) ** 2
    return per_image * batch, "published per-image figure"


def _event_path(batch: int, steps: int) -> tuple[Any, Any, Any]:
    """The engine's per-step path: event callback -> bus -> history recorder + progress reducer."""
    from tl_widgets.core.events import EventBus
    from tl_widgets.core.progress import ProgressTracker
    from tl_widgets.core.training.callbacks import EventCallback
    from tl_widgets.core.training.control import RunControl
    from tl_widgets.core.training.history import HistoryRecorder

    bus = EventBus()
    history = HistoryRecorder()
    history.begin("gpu-check")
    bus.subscribe(history)
    bus.subscribe(ProgressTracker())
    control = RunControl(run_id="gpu-check", bus=bus, history=history)
    cb = EventCallback(control, 0, SimpleNamespace(batch_size=batch, steps_per_epoch=steps), {"global_step": 0}, 1)
    return cb, control, history


def _timed_fit(model: Any, x: Any, y: Any, batch: int, with_events: bool) -> tuple[float, Any]:
    from tl_widgets.core.training.callbacks import FitCallbacks

    steps = len(x) // batch
    callbacks: Any = []
    history = None
    if with_events:
        cb, _, history = _event_path(batch, steps)
        callbacks = FitCallbacks([cb], model, epochs=1, steps=steps)
    t = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, callbacks=callbacks, shuffle=False)
    seconds = time.perf_counter() - t
    if history is not None and len(history.batch["loss"]) != steps:
        raise RuntimeError(f"Expected {steps} recorded batches. Received: {len(history.batch['loss'])}")
    return seconds, history


def _session_seconds(backbone: str, size: int, x: Any, y: Any, batch: int, out: str) -> float | None:
    """``TrainingSession``'s second epoch on the same arrays (the first compiles), or None without TensorFlow."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return None
    from tl_widgets.core.config.schema import (
        DataConfig, FreezeConfig, ModelConfig, PhaseConfig, StrategyConfig, TrainConfig,
    )
    from tl_widgets.core.training.session import TrainingSession

    cfg = TrainConfig(
        data=DataConfig(source="code", batch_size=batch, validation_split=0.0),
        model=ModelConfig(backbone=backbone, weights="none", input_size=size),
        freeze=FreezeConfig(mode="none"), phases=[PhaseConfig(name="ft", epochs=2, learning_rate=1e-4)],
        strategy=StrategyConfig(mixed_precision="mixed_bfloat16", jit_compile=True),
        output_dir=out, feature_cache=False, seed=0, calibrate=False,
    )
    session = TrainingSession(cfg, data=(x, y), record=False)
    durations: list[float] = []
    session.bus.subscribe(lambda e: durations.append(e.duration) if e.kind == "epoch_end" else None)
    session.start()
    result = session.wait()
    if result is None or result.status != "finished" or len(durations) != 2:
        raise RuntimeError(f"Expected a finished two-epoch session. Received: {result and result.status}: "
                           f"{result and result.error}; epochs {len(durations)}")
    return durations[-1]


def run_backbone(backbone: str, size: int, batch: int, steps: int, repeats: int, peak_tflops: float,
                 out: str, classes: int = 10) -> dict[str, Any]:
    """Interleaved arms on one backbone; returns medians, ratios, images/s and MFU."""
    import numpy as np

    model = _build(backbone, size, classes, "mixed_bfloat16")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(batch * steps, size, size, 3)).astype("float32")
    y = rng.integers(0, classes, size=(batch * steps,)).astype("int32")
    model.fit(x[: batch * 2], y[: batch * 2], batch_size=batch, epochs=1, verbose=0)  # compile
    times: dict[str, list[float]] = {"plain": [], "events": [], "session": []}
    for r in range(repeats):
        order = ["plain", "events", "session"]
        for arm in order[r % 3:] + order[: r % 3]:
            if arm == "session":
                s = _session_seconds(backbone, size, x, y, batch, out)
                if s is not None:
                    times[arm].append(s)
            else:
                times[arm].append(_timed_fit(model, x, y, batch, arm == "events")[0])
    flops, source = forward_flops(model, batch, size, backbone)
    train_flops = 3.0 * flops
    med = {arm: statistics.median(v) for arm, v in times.items() if v}
    steps_per_s = steps / med["plain"]
    return {
        "backbone": backbone, "size": size, "batch": batch, "steps": steps,
        "plain_s": med["plain"], "events_s": med["events"], "session_s": med.get("session"),
        "events_over_plain": med["events"] / med["plain"],
        "session_over_plain": med["session"] / med["plain"] if "session" in med else None,
        "images_per_s": steps_per_s * batch, "train_tflop_per_step": train_flops / 1e12, "flops_source": source,
        "mfu": train_flops * steps_per_s / (peak_tflops * 1e12),
        "spread": {arm: (min(v), max(v)) for arm, v in times.items() if v},
    }


def _gpu_memory_mib() -> int | None:
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, timeout=30)
    return sum(int(v) for v in out.stdout.split()) if out.returncode == 0 else None


def room_case(seats: int, workers: int, backbone: str, size: int, epochs: int, per_class: int) -> dict[str, Any]:
    """``seats`` trainings from different seats, one after another, through ``workers`` warm engine workers."""
    import dataclasses
    import json
    import tempfile
    from pathlib import Path

    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return {"skipped": "TensorFlow is not installed here: the engine's data pipeline (tf.data) needs it"}
    from tl_widgets.core.config.schema import demo_config
    from tl_widgets.core.engine.client import WorkerEngine
    from tl_widgets.core.engine.gateway import EngineGateway
    from tl_widgets.core.engine.pool import ProcessPool
    from tl_widgets.core.engine.worker import GPU_ENV, WorkerSettings

    root = Path(tempfile.mkdtemp(prefix="tlw-gpu-room-"))
    room = root / "seats"
    room.mkdir(mode=0o700)
    env = {**GPU_ENV, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    pool = ProcessPool(WorkerSettings(str(room), warm=((backbone, size),), env=env), {"heavy": workers, "quick": 1})
    pool.start(wait_s=900)
    gateway = EngineGateway(pool, room).start()
    rows = []
    try:
        for i in range(seats):
            home = room / f"seat-{i:02d}"
            home.mkdir(mode=0o700)
            (home / "seat.json").write_text(json.dumps({"pid": os.getpid(), "started": time.time()}))
            cfg = demo_config()
            cfg.model = dataclasses.replace(cfg.model, backbone=backbone, weights="none", input_size=size)
            cfg.data = dataclasses.replace(cfg.data, max_per_class=per_class)
            cfg.phases = [dataclasses.replace(cfg.phases[0], epochs=epochs)]
            cfg.output_dir, cfg.feature_cache = str(home / "runs"), False
            t = time.perf_counter()
            session = WorkerEngine(gateway.address, home).session(cfg)
            session.start()
            result = session.wait()
            rows.append({"seat": i, "status": result.status, "seconds": round(time.perf_counter() - t, 1),
                         "error": result.error, "gpu_mib": _gpu_memory_mib()})
            print(f"  room seat {i}: {rows[-1]}", flush=True)
    finally:
        gateway.close()
        pool.close()
    return {"runs": rows, "finished": sum(r["status"] == "finished" for r in rows),
            "out_of_memory": sum("Out of memory" in (r["error"] or "") for r in rows),
            "restarts": sum(h.restarts for h in pool.handles())}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes for a CPU smoke run")
    p.add_argument("--steps", type=int, help="timed steps per arm (default 50; smoke 3)")
    p.add_argument("--batch", type=int, help="batch size (default 128; smoke 4)")
    p.add_argument("--repeats", type=int, help="interleaved rounds (default 3; smoke 1)")
    p.add_argument("--backbones", nargs="+", help="default: mobilenet_v2 resnet50 (smoke: mobilenet_v2)")
    p.add_argument("--peak-tflops", type=float, default=H200_BF16_DENSE_TFLOPS, help="accelerator peak, bf16 dense")
    p.add_argument("--room-only", action="store_true", help="only the room case (8 seats through 2 workers)")
    p.add_argument("--input-only", action="store_true",
                   help="only the input pipeline feeding MobileNetV2 (bench/gpu_input.py)")
    a = p.parse_args(argv)
    import tempfile

    import jax
    import keras

    steps = a.steps or (3 if a.smoke else 50)
    batch = a.batch or (4 if a.smoke else 128)
    repeats = a.repeats or (1 if a.smoke else 3)
    size = 32 if a.smoke else 224
    backbones = a.backbones or (["mobilenet_v2"] if a.smoke else ["mobilenet_v2", "resnet50"])
    print(f"backend={keras.backend.backend()} devices={[str(d) for d in jax.devices()]} batch={batch} steps={steps} "
          f"size={size} repeats={repeats} policy=mixed_bfloat16 xla=on peak={a.peak_tflops:g} TFLOP/s", flush=True)
    out = tempfile.mkdtemp(prefix="tlw-gpu-check-")
    if not a.room_only:
        from gpu_input import input_feeding

        feeding = input_feeding(size=size, photos=16 if a.smoke else 512, batch=4 if a.smoke else 64,
                                epochs=2 if a.smoke else 3, photo_sizes=((800, 600),) if a.smoke else None)
        print(f"input pipeline -> mobilenet_v2 @ {size}: {feeding}", flush=True)
        if a.input_only:
            return [feeding]
    room = room_case(seats=2 if a.smoke else 8, workers=2, backbone="demo_cnn" if a.smoke else "mobilenet_v2",
                     size=32 if a.smoke else 224, epochs=1 if a.smoke else 2, per_class=10 if a.smoke else 100)
    print(f"room: {room if 'skipped' in room else {k: v for k, v in room.items() if k != 'runs'}}", flush=True)
    if a.room_only:
        return [room]
    rows = [run_backbone(b, size, batch, steps, repeats, a.peak_tflops, out) for b in backbones]
    print(f"{'backbone':<14}{'plain s':>9}{'events s':>10}{'session s':>11}{'events/plain':>14}{'session/plain':>15}"
          f"{'img/s':>10}{'TFLOP/step':>12}{'MFU %':>10}")
    for r in rows:
        sess = f"{r['session_s']:>11.3f}" if r["session_s"] is not None else f"{'n/a':>11}"
        sess_ratio = f"{r['session_over_plain']:>15.3f}" if r["session_over_plain"] is not None else f"{'n/a':>15}"
        print(f"{r['backbone']:<14}{r['plain_s']:>9.3f}{r['events_s']:>10.3f}{sess}{r['events_over_plain']:>14.3f}"
              f"{sess_ratio}{r['images_per_s']:>10.1f}{r['train_tflop_per_step']:>12.4g}{r['mfu'] * 100:>10.3g}")
        print(f"  spread (min, max s): {r['spread']}; FLOPs from {r['flops_source']}")
    if any(r["session_s"] is None for r in rows):
        print("session: n/a - TensorFlow is not installed here (the engine's data pipeline is tf.data); "
              "'events' is the engine's per-step path on the same fit")
    return rows


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
