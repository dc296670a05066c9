"""What the fit loop costs: plain ``model.fit(verbose=0)`` vs ``TrainingSession`` vs the Studio, in a real kernel.

Three arms do the same work (same data, model, seed, optimizer, class weights, epochs and steps) inside one
real Jupyter kernel (``jupyter_client``), while this process polls the kernel's iopub channel all the time,
as a frontend would (it counts the widget messages the charts send):

* ``plain``: the Keras way, ``model.fit(verbose=0)`` on the engine's own datasets and model;
* ``session``: ``TrainingSession(cfg)`` started and waited for (run folder, run store, events, history);
* ``studio``: ``Studio(cfg)`` displayed; two seconds later (a user reading the page) Start is pressed with
  ``cfg``; the cell then awaits (the kernel's loop stays free) until the run ends, with the live charts
  drawing through comm messages;
* ``workers``: a served seat's run: the same config through the room's gateway to a warm engine worker
  (``WorkerEngine``), every event relayed back to this process's bus, as ``tl-widgets serve`` runs it. Its time
  is the worker's ``phase0_s``, so the relay's cost on the shared cores shows there.

The time compared is the fit of the phase (``model.fit`` in ``plain``; the runner's ``phase0_s``, which
includes its checkpoints, in the others): set-up (data, model) is the same code in every arm and is left out.
Two cases: ``finetune`` (the demo backbone fully fine-tuned, batch 16) and ``head`` (a head-only phase on the
frozen backbone with batch 8 and ``feature_cache=False``, so every step runs the backbone: the case where
per-batch overhead shows most). Repeats are interleaved with the arm order rotated, and each repeat lasts
about ``--repeat-seconds`` (epochs are set from the second epoch of a timed warm-up of the plain arm). Reported per arm:
median, min and max seconds, the ratio of medians to ``plain`` and the median of the per-repeat paired ratios,
and the final validation accuracy (the same work must land on about the same accuracy).

    python bench/bench_fit_overhead.py --quick                        # seconds: proves it runs
    python bench/bench_fit_overhead.py --repeat-seconds 40 --repeats 5  # full size (>= 3 min per arm and case)
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
BENCH_DIR = Path(__file__).resolve().parent
ARMS = ("plain", "session", "studio", "workers")
CASES = ("finetune", "head")


# -- run inside the kernel ------------------------------------------------------------------


PER_CLASS: int | None = None
"""Images per class of the demo (None: all of it); ``--per-class`` sets it in the kernel."""


def case_config(case: str, epochs: int, out: str) -> Any:
    """The config of ``case`` (also what the plain arm rebuilds by hand)."""
    from tl_widgets.core.config.schema import DataConfig, FreezeConfig, ModelConfig, PhaseConfig, TrainConfig

    finetune = case == "finetune"
    return TrainConfig(
        data=DataConfig(source="demo", demo="digits", batch_size=16 if finetune else 8, max_per_class=PER_CLASS),
        model=ModelConfig(backbone="demo_cnn", weights="pretrained"),
        freeze=FreezeConfig(mode="none" if finetune else "all"),
        phases=[PhaseConfig(name="p", epochs=epochs, learning_rate=3e-4 if finetune else 3e-3)],
        output_dir=out, feature_cache=False, seed=0, run_name=f"bench-{case}",
    )


def plain_arm(case: str, epochs: int, out: str, time_epochs: bool = False) -> dict[str, Any]:
    """``model.fit(verbose=0)`` on the engine's datasets and model: the work the other arms do, without us.

    ``time_epochs`` (the warm-up only) also returns each epoch's seconds (``epoch_s``).
    """
    import keras

    from tl_widgets.core.data.loading import load_datasets
    from tl_widgets.core.models.assembly import build_model, input_size_for
    from tl_widgets.core.models.backbones import resolve_backbone
    from tl_widgets.core.models.freezing import FreezePlan
    from tl_widgets.core.training.optimizers import make_optimizer

    cfg = case_config(case, epochs, out)
    keras.utils.set_random_seed(cfg.seed)
    spec = resolve_backbone(cfg.model.backbone)
    data = load_datasets(cfg.data, input_size_for(spec, cfg.model), seed=cfg.seed, min_size=spec.min_size)
    am = build_model(cfg.model, len(data.class_names))
    FreezePlan(cfg.freeze).apply(am.backbone, spec.blocks(am.backbone))
    am.model.compile(optimizer=make_optimizer(cfg.phases[0], data.steps_per_epoch),
                     loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    marks: list[float] = []
    callbacks = [keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: marks.append(time.perf_counter()),
                                                on_epoch_end=lambda e, logs: marks.append(time.perf_counter()))]
    t = time.perf_counter()
    hist = am.model.fit(data.train, validation_data=data.val, epochs=epochs, verbose=0, shuffle=False,
                        class_weight=data.class_weight, callbacks=callbacks if time_epochs else None)
    fit_s = time.perf_counter() - t
    return {"fit_s": fit_s, "val_accuracy": float(hist.history["val_accuracy"][-1]),
            "steps": epochs * data.steps_per_epoch, "epoch_s": [b - a for a, b in zip(marks[::2], marks[1::2])]}


def _result(session: Any) -> dict[str, Any]:
    result = session.result
    if result is None or result.status != "finished":
        raise RuntimeError(f"Expected a finished run. Received: {result and result.status} "
                           f"({result and result.error})")
    return {"fit_s": result.summary["timings"]["phase0_s"], "val_accuracy": float(result.metrics["val_accuracy"]),
            "steps": len(result.history["batch"]["global_step"])}


def session_arm(case: str, epochs: int, out: str) -> dict[str, Any]:
    """``TrainingSession`` alone, recorded in the run store as a user's run is."""
    from tl_widgets.core.training.session import TrainingSession

    session = TrainingSession(case_config(case, epochs, out))
    session.start()
    session.wait()
    return _result(session)


def studio_show(case: str, epochs: int, out: str) -> Any:
    """Builds and displays a Studio with the case's config (the user opens it)."""
    from IPython.display import display

    from tl_widgets.studio import Studio

    cfg = case_config(case, epochs, out)
    try:
        studio = Studio(cfg, background=False)
    except TypeError:  # a Studio without background loading
        studio = Studio(cfg)
    display(studio)
    return studio


def studio_press_start(studio: Any, case: str, epochs: int, out: str) -> None:
    """Presses Start with the case's config (the same config object the other arms train)."""
    if studio.train.start_with(case_config(case, epochs, out)) is None:
        raise RuntimeError(f"Expected the Studio to start the run. Received: {studio.status}")


# -- the workers arm (in this process: a seat of a room with one warm worker) -------------------


class WorkerRoom:
    """A room with one heavy and one quick worker and a seat owned by this process."""

    def __init__(self, env: dict[str, str]) -> None:
        import json as _json

        from tl_widgets.core.engine.gateway import EngineGateway
        from tl_widgets.core.engine.pool import ProcessPool
        from tl_widgets.core.engine.worker import WorkerSettings

        root = Path(tempfile.mkdtemp(prefix="tlw-fit-bench-room-"))
        seats = root / "seats"
        seats.mkdir(mode=0o700)
        self.home = seats / "seat-bench"
        self.home.mkdir(mode=0o700)
        (self.home / "seat.json").write_text(_json.dumps({"pid": os.getpid(), "started": time.time()}))
        worker_env = {k: v for k, v in env.items() if k.startswith(("TF_", "KERAS"))}
        self.pool = ProcessPool(WorkerSettings(str(seats), warm=(("demo_cnn", None),), env=worker_env),
                                {"heavy": 1, "quick": 1})
        self.pool.start(wait_s=600)
        self.gateway = EngineGateway(self.pool, seats).start()

    def arm(self, case: str, epochs: int, per_class: int | None) -> dict[str, Any]:
        from tl_widgets.core.engine.client import WorkerEngine
        from tl_widgets.core.events import EventBus

        global PER_CLASS
        PER_CLASS = per_class
        bus = EventBus()
        events = [0]
        bus.subscribe(lambda e: events.__setitem__(0, events[0] + 1))
        session = WorkerEngine(self.gateway.address, self.home).session(
            case_config(case, epochs, str(self.home / "runs")), bus=bus)
        session.start()
        session.wait()
        out = _result(session)
        out["events"] = events[0]
        return out

    def close(self) -> None:
        self.gateway.close()
        self.pool.close()


# -- the client (a frontend that polls) ------------------------------------------------------


class Kernel:
    """A real kernel and a client that drains iopub all the time, as a frontend does."""

    def __init__(self, env: dict[str, str]) -> None:
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(BENCH_DIR))
        self.comm_msgs = 0

    def run(self, code: str, timeout: float = 3600) -> str:
        """Executes ``code``, polling iopub until it is done; returns its stdout; raises on an error."""
        msg_id = self.kc.execute(code)
        out, error, deadline = [], None, time.time() + timeout
        while time.time() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                continue
            kind = msg["msg_type"]
            if kind.startswith("comm_"):
                self.comm_msgs += 1
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if kind == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            elif kind == "error":
                error = "\n".join(msg["content"]["traceback"])
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                if error:
                    raise RuntimeError(f"Kernel cell failed:\n{error}")
                return "".join(out)
        raise TimeoutError(f"Expected the cell to finish within {timeout} s")

    def result(self, code: str) -> dict[str, Any]:
        """Runs ``code`` that prints ``RESULT <json>`` on its last line."""
        lines = [ln for ln in self.run(code).splitlines() if ln.startswith("RESULT ")]
        if not lines:
            raise RuntimeError(f"Expected a RESULT line from the kernel. Received none for:\n{code}")
        return json.loads(lines[-1][len("RESULT "):])

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def _arm_code(arm: str, case: str, epochs: int) -> str:
    if arm == "studio":
        # The user looks at the page for a moment before pressing Start: what the page loads on display
        # (the Data step's preview) is done by then, as it would be.
        return (f"_s = b.studio_show({case!r}, {epochs}, OUT)\nawait asyncio.sleep(2)\n"
                f"b.studio_press_start(_s, {case!r}, {epochs}, OUT)\n"
                "while _s.status == 'running':\n    await asyncio.sleep(0.2)\n"
                "print('RESULT ' + json.dumps(b._result(_s.train.session)))\n"
                "_s.close()")
    return f"print('RESULT ' + json.dumps(b.{arm}_arm({case!r}, {epochs}, OUT)))"


def run_case(kernel: Kernel, case: str, repeats: int, repeat_seconds: float, room: WorkerRoom | None = None,
             per_class: int | None = None) -> dict[str, Any]:
    """Interleaved repeats of the arms on ``case``; returns the statistics."""
    # Two timed epochs: the first traces and compiles, the second sets how many epochs fill a repeat.
    warm = kernel.result(f"print('RESULT ' + json.dumps(b.plain_arm({case!r}, 2, OUT, time_epochs=True)))")
    epochs = max(1, round(repeat_seconds / max(warm["epoch_s"][-1], 1e-3)))
    arms = ARMS if room is not None else ARMS[:3]
    runs: dict[str, list[dict[str, Any]]] = {a: [] for a in arms}
    for r in range(repeats):
        for arm in arms[r % len(arms):] + arms[:r % len(arms)]:
            before = kernel.comm_msgs
            if arm == "workers":
                assert room is not None
                res = room.arm(case, epochs, per_class)
            else:
                res = kernel.result(_arm_code(arm, case, epochs))
            res["comm_msgs"] = kernel.comm_msgs - before
            runs[arm].append(res)
            print(f"  {case} repeat {r + 1}/{repeats} {arm:<8}{res['fit_s']:8.2f} s  "
                  f"val_acc {res['val_accuracy']:.3f}  steps {res['steps']}  comm msgs {res['comm_msgs']}",
                  flush=True)
    steps = {a: {x["steps"] for x in runs[a]} for a in arms}
    if len(set().union(*steps.values())) != 1:
        raise RuntimeError(f"Expected every arm to train the same number of steps. Received: {steps}")
    plain = [x["fit_s"] for x in runs["plain"]]
    stats: dict[str, Any] = {"case": case, "epochs": epochs, "steps": runs["plain"][0]["steps"], "arms": {}}
    for arm in arms:
        t = [x["fit_s"] for x in runs[arm]]
        stats["arms"][arm] = {
            "median_s": statistics.median(t), "min_s": min(t), "max_s": max(t), "total_s": sum(t),
            "ratio_of_medians": statistics.median(t) / statistics.median(plain),
            "paired_ratio_median": statistics.median(a / p for a, p in zip(t, plain)),
            "val_accuracy": [round(x["val_accuracy"], 4) for x in runs[arm]],
            "comm_msgs_median": statistics.median(x["comm_msgs"] for x in runs[arm]),
        }
    return stats


def _print(stats: dict[str, Any]) -> None:
    print(f"\n{stats['case']}: {stats['epochs']} epochs, {stats['steps']} steps per repeat")
    print(f"{'arm':<9}{'median s':>10}{'min s':>9}{'max s':>9}{'total s':>9}{'x plain':>9}{'paired':>9}"
          f"{'comm msgs':>11}  val_accuracy")
    for arm, s in stats["arms"].items():
        print(f"{arm:<9}{s['median_s']:>10.2f}{s['min_s']:>9.2f}{s['max_s']:>9.2f}{s['total_s']:>9.1f}"
              f"{s['ratio_of_medians']:>9.3f}{s['paired_ratio_median']:>9.3f}{s['comm_msgs_median']:>11.0f}  "
              f"{s['val_accuracy']}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="CI size: the head case, one repeat of ~2 s per arm")
    p.add_argument("--repeat-seconds", type=float, help="length of each repeat (default 40; quick 2)")
    p.add_argument("--repeats", type=int, help="interleaved repeats (default 5; quick 1)")
    p.add_argument("--per-class", type=int, help="demo images per class (default all; quick 30)")
    p.add_argument("--case", choices=CASES, action="append", help="case(s) to run (default both; quick: head)")
    p.add_argument("--no-workers", action="store_true", help="leave out the workers arm (no engine workers)")
    a = p.parse_args(argv)
    repeat_s = a.repeat_seconds or (2.0 if a.quick else 40.0)
    repeats = a.repeats or (1 if a.quick else 5)
    cases = a.case or (["head"] if a.quick else list(CASES))
    per_class = a.per_class or (30 if a.quick else None)
    home = tempfile.mkdtemp(prefix="tlw-fit-bench-home-")
    out = tempfile.mkdtemp(prefix="tlw-fit-bench-runs-")
    env = {**os.environ, "TL_WIDGETS_HOME": home, "TF_CPP_MIN_LOG_LEVEL": "2"}
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; {repeats} repeats of ~{repeat_s:g} s "
          f"per arm and case; cases {cases}; "
          f"demo images per class: {per_class or 'all'}", flush=True)
    kernel = Kernel(env)
    room = None if a.no_workers else WorkerRoom(env)
    try:
        kernel.run("import asyncio, json, sys\n"
                   f"sys.path.insert(0, {str(BENCH_DIR)!r})\n"
                   "import keras, tensorflow\nimport bench_fit_overhead as b\n"
                   f"OUT = {out!r}\nb.PER_CLASS = {per_class!r}")
        results = {}
        for case in cases:
            results[case] = run_case(kernel, case, repeats, repeat_s, room, per_class)
            _print(results[case])
    finally:
        kernel.close()
        if room is not None:
            room.close()
    ratios = {f"{case}_{arm}_over_plain": round(results[case]["arms"][arm]["ratio_of_medians"], 4)
              for case in cases for arm in results[case]["arms"] if arm != "plain"}
    print(json.dumps(ratios))
    return {"results": results, "ratios": ratios}


if __name__ == "__main__":
    main()
