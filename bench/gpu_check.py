"""Fine-tuning throughput on an accelerator: our event path vs plain ``model.fit``.

Runs with ``KERAS_BACKEND=jax`` and no TensorFlow: the engine's data path
(``TrainingSession``) builds ``tf.data`` pipelines, so it cannot run there.
This script therefore measures what it can without TensorFlow: the model from
``tl_widgets.core.models.assembly.build_model`` fine-tuned (backbone unfrozen) on
synthetic numpy batches, with ``model.fit`` plain vs with the engine's
``EventCallback`` attached (the per-batch events the Studio charts), for
fp32 / ``mixed_bfloat16`` and XLA on / off. Prints images/s and the ratio.

Usage: ``python bench/gpu_check.py [--quick] [--steps N] [--batch B]``.
"""

from __future__ import annotations

import argparse
import os
import time
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")


def _fit(model: Any, x: Any, y: Any, batch: int, steps: int, callbacks: list[Any]) -> float:
    """Images/s of one epoch of ``steps`` batches, after a warm-up epoch (compilation)."""
    n = batch * steps
    model.fit(x[: batch * 2], y[: batch * 2], batch_size=batch, epochs=1, verbose=0, callbacks=callbacks)
    t = time.perf_counter()
    model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0, callbacks=callbacks, shuffle=False)
    return n / (time.perf_counter() - t)


def _event_callback(batch: int, steps: int) -> tuple[Any, list[Any]]:
    """The engine's callback wired to a real bus and the session's history recorder (no run folder)."""
    from tl_widgets.core.events import BatchEnd, EventBus
    from tl_widgets.core.training.callbacks import EventCallback
    from tl_widgets.core.training.control import RunControl
    from tl_widgets.core.training.history import HistoryRecorder

    bus = EventBus()
    history = HistoryRecorder()
    history.begin("bench")
    bus.subscribe(history)
    seen: list[Any] = []
    bus.subscribe(lambda e: seen.append(e) if isinstance(e, BatchEnd) else None)
    control = RunControl(run_id="bench", bus=bus, history=history)
    data = SimpleNamespace(batch_size=batch, steps_per_epoch=steps)
    return EventCallback(control, 0, data, {"global_step": 0}, 1), seen


def run_case(backbone: str, size: int, policy: str, xla: bool, batch: int, steps: int, classes: int = 10) -> dict:
    """One measurement: plain fit vs fit with our callback (same model, same data)."""
    import keras
    import numpy as np

    from tl_widgets.core.config.schema import ModelConfig
    from tl_widgets.core.models.assembly import build_model

    keras.config.set_dtype_policy(policy)
    try:
        model = build_model(ModelConfig(backbone=backbone, weights="none", input_size=size), classes).model
    finally:
        keras.config.set_dtype_policy("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=xla)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(batch * steps, size, size, 3)).astype("float32")
    y = rng.integers(0, classes, size=(batch * steps,)).astype("int32")
    plain = _fit(model, x, y, batch, steps, [])
    callback, seen = _event_callback(batch, steps)
    ours = _fit(model, x, y, batch, steps, [callback])
    if len(seen) != steps + 2:
        raise RuntimeError(f"Expected {steps + 2} BatchEnd events from the callback. Received: {len(seen)}")
    losses = [e.metrics.get("loss", float("nan")) for e in seen]
    if not all(np.isfinite(losses)):
        raise RuntimeError(f"Expected finite losses. Received: {losses}")
    return {"backbone": backbone, "size": size, "policy": policy, "xla": xla, "plain": plain, "ours": ours,
            "ratio": ours / plain}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes for a CPU smoke run")
    p.add_argument("--steps", type=int, help="timed steps per case (default 50; quick: 3)")
    p.add_argument("--batch", type=int, help="batch size (default 64; quick: 4)")
    a = p.parse_args(argv)
    import jax
    import keras

    steps = a.steps or (3 if a.quick else 50)
    batch = a.batch or (4 if a.quick else 64)
    size = 32 if a.quick else 224
    print(f"backend={keras.backend.backend()} devices={[str(d) for d in jax.devices()]} batch={batch} "
          f"steps={steps} size={size}; our path = model.fit + EventCallback (TrainingSession needs tf.data: "
          "not measurable without TensorFlow)")
    policies = ["float32", "mixed_bfloat16"]
    backbones = ["mobilenet_v2"] if a.quick else ["mobilenet_v2", "efficientnet_b0"]
    rows = [run_case(b, size, pol, xla, batch, steps) for b in backbones for pol in policies for xla in (True, False)]
    print(f"{'backbone':<16}{'policy':<16}{'xla':<6}{'plain img/s':>12}{'ours img/s':>12}{'ours/plain':>12}")
    for r in rows:
        print(f"{r['backbone']:<16}{r['policy']:<16}{str(r['xla']):<6}{r['plain']:>12.1f}{r['ours']:>12.1f}"
              f"{r['ratio']:>12.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
