"""All benchmarks side by side; the last printed line is one JSON object of named ratios.

    python bench/run.py --quick     # CI size (a few minutes on 2 cores); proves the benchmarks still run
    python bench/run.py             # full size; results go to docs/PERFORMANCE.md

a. frozen-backbone phase: the Keras guide's recipe (frozen base run every epoch) vs ours (feature cache)
b. live streaming: plain model.fit(verbose=0) vs TrainingSession with the Studio's charts attached,
   and one chart update at 1,000 vs 50,000 points of history (bench_charts.py)
c. input pipeline vs keras.utils.image_dataset_from_directory (bench_pipeline.py)
d. full fine-tuning: TrainingSession vs plain model.fit
e. livelossplot's Keras callback on the same run (reference for streaming overhead)
f. memory: resident memory growth over consecutive runs in one process
g. history memory: kernel RSS/PSS growth per 1,000 steps of one long run with the Studio's charts attached
   (history_memory.py; 100,000 steps, 10,000 with --quick)
i. fit-loop overhead in a real kernel: plain model.fit vs TrainingSession vs the Studio, interleaved
   (bench_fit_overhead.py; --quick: the head-only case, one short repeat; full size by hand, see PERFORMANCE.md)
h. large folders: set-up, first/second epoch and peak RSS, tl_widgets.image_dataset vs
   image_dataset_from_directory vs the decode limit (bench_large_folders.py; 10,000 images, 2,000 with --quick;
   100,000 and camera photos by hand)

Each pair runs interleaved, best of ``--repeats``, in this one process. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))


def _cfg(out: str, *, backbone: str, size: int, epochs: int, per_class: int | None, cache: bool, freeze: str):
    from tl_widgets.core.config.schema import DataConfig, FreezeConfig, ModelConfig, PhaseConfig, TrainConfig

    return TrainConfig(
        data=DataConfig(source="demo", demo="digits", batch_size=32, max_per_class=per_class),
        model=ModelConfig(backbone=backbone, weights="pretrained" if backbone == "demo_cnn" else "none",
                          input_size=size),
        freeze=FreezeConfig(mode=freeze),
        phases=[PhaseConfig(name="p", epochs=epochs, learning_rate=3e-3 if freeze == "all" else 3e-4)],
        output_dir=out, feature_cache=cache, seed=0,
    )


def _plain(cfg, callbacks=None) -> tuple[float, float]:
    """The Keras way: same data and model, model.fit(verbose=0). Returns (fit seconds, val_accuracy)."""
    import keras

    from tl_widgets.core.models.backbones import resolve_backbone
    from tl_widgets.core.data.loading import load_datasets
    from tl_widgets.core.models.freezing import FreezePlan
    from tl_widgets.core.models.assembly import build_model, input_size_for

    keras.utils.set_random_seed(0)
    spec = resolve_backbone(cfg.model.backbone)
    data = load_datasets(cfg.data, input_size_for(spec, cfg.model), seed=0)
    am = build_model(cfg.model, len(data.class_names))
    FreezePlan(cfg.freeze).apply(am.backbone, spec.blocks(am.backbone))
    am.model.compile(keras.optimizers.Adam(cfg.phases[0].learning_rate), "sparse_categorical_crossentropy",
                     metrics=["accuracy"])
    t = time.perf_counter()
    hist = am.model.fit(data.train, validation_data=data.val, epochs=cfg.phases[0].epochs, verbose=0,
                        callbacks=callbacks or [], shuffle=False)
    return time.perf_counter() - t, float(hist.history["val_accuracy"][-1])


def _ours(cfg, charts: bool = False) -> tuple[float, float]:
    """TrainingSession; returns (time in the phase, val_accuracy)."""
    from tl_widgets.core.training.session import TrainingSession

    session = TrainingSession(cfg, record=False)
    live = None
    if charts:
        from tl_widgets.views.live import LiveTrainingCharts

        live = LiveTrainingCharts()
        live.attach(session.bus, history=session.history_recorder)
    session.start()
    result = session.wait()
    if live is not None:
        live.detach()
    assert result is not None and result.status == "finished", result and result.error
    t = result.summary["timings"]
    return t["phase0_s"] + t.get("features_s", 0.0), float(result.metrics["val_accuracy"])


def _best(fn, repeats: int):
    runs = [fn() for _ in range(repeats)]
    return min(r[0] for r in runs), runs[-1][1]


def bench_frozen(out: str, quick: bool, repeats: int) -> dict:
    epochs = 3 if quick else 10
    res = {}
    for backbone, size in (("demo_cnn", 48), ("mobilenet_v2", 96)):
        per_class = 60 if quick else None
        guide = _best(lambda: _plain(_cfg(out, backbone=backbone, size=size, epochs=epochs, per_class=per_class,
                                          cache=False, freeze="all")), repeats)
        ours = _best(lambda: _ours(_cfg(out, backbone=backbone, size=size, epochs=epochs, per_class=per_class,
                                        cache=True, freeze="all")), repeats)
        res[backbone] = {"guide_s": guide[0], "ours_s": ours[0], "guide_val_acc": guide[1], "ours_val_acc": ours[1],
                         "speedup": guide[0] / ours[0]}
    return res


def bench_finetune(out: str, quick: bool, repeats: int) -> dict:
    epochs = 1 if quick else 3
    per_class = 60 if quick else None

    def cfg():
        return _cfg(out, backbone="demo_cnn", size=48, epochs=epochs, per_class=per_class, cache=False, freeze="none")

    runners = {
        "plain_fit_s": lambda: _plain(cfg())[0],
        "session_s": lambda: _ours(cfg())[0],
        "session_with_charts_s": lambda: _ours(cfg(), charts=True)[0],
        "livelossplot_s": lambda: _livelossplot(cfg()),
    }
    names = list(runners)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):  # interleaved, order rotated each round, so drifting load hits all alike
        for n in names[r % len(names):] + names[: r % len(names)]:
            times[n].append(runners[n]())
    return {n: min(v) for n, v in times.items()}


def _livelossplot(cfg) -> float:
    from livelossplot import PlotLossesKeras
    from livelossplot.outputs import MatplotlibPlot

    import matplotlib

    matplotlib.use("Agg")
    cb = PlotLossesKeras(outputs=[MatplotlibPlot()])
    return _plain(cfg, callbacks=[cb])[0]


def bench_memory(out: str, runs: int) -> dict:
    import psutil

    proc = psutil.Process()
    rss = []
    for _ in range(runs):
        _ours(_cfg(out, backbone="demo_cnn", size=32, epochs=1, per_class=30, cache=False, freeze="all"))
        gc.collect()
        rss.append(proc.memory_info().rss / 2**20)
    return {"rss_mb": [round(r, 1) for r in rss], "growth_after_first": rss[-1] / rss[0] - 1.0}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI size")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per measurement (best is kept)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    os.environ.setdefault("TL_WIDGETS_HOME", tempfile.mkdtemp(prefix="tlw-bench-home-"))
    out = tempfile.mkdtemp(prefix="tlw-bench-runs-")
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
          f"python {platform.python_version()}", flush=True)

    frozen = bench_frozen(out, args.quick, repeats)
    print("a. frozen backbone:", json.dumps(frozen), flush=True)
    ft = bench_finetune(out, args.quick, repeats)
    print("b/d/e. fine-tune + streaming:", json.dumps(ft), flush=True)
    import bench_charts

    charts = bench_charts.main(["--quick"] if args.quick else [])
    print("b. charts:", json.dumps(charts), flush=True)
    import bench_pipeline

    with tempfile.TemporaryDirectory() as d:
        n, side = (300, 160) if args.quick else (2000, 160)
        bench_pipeline.write_jpegs(Path(d), n, side)
        pipe = bench_pipeline.run_case(Path(d), n, 96, 32)
    print("c. pipeline:", json.dumps(pipe), flush=True)
    mem = bench_memory(out, 4 if args.quick else 10)
    print("f. memory:", json.dumps(mem), flush=True)
    import history_memory

    hist_mem = history_memory.main(["--quick"] if args.quick else [])
    print("g. history memory:", json.dumps(hist_mem), flush=True)
    import bench_fit_overhead

    fit_overhead = bench_fit_overhead.main(["--quick"] if args.quick else ["--repeat-seconds", "10", "--repeats", "3"])
    print("i. fit-loop overhead:", json.dumps(fit_overhead["ratios"]), flush=True)
    import bench_large_folders

    large = bench_large_folders.main(["--quick"] if args.quick else ["--sizes", "10000"])
    large = next(iter(large.values()))["ours_over_keras"]
    print("h. large folders:", json.dumps(large), flush=True)

    ratios = {
        "a_speedup_demo_cnn": frozen["demo_cnn"]["speedup"],
        "a_speedup_mobilenet_v2_96": frozen["mobilenet_v2"]["speedup"],
        "a_val_acc_delta_demo_cnn": frozen["demo_cnn"]["ours_val_acc"] - frozen["demo_cnn"]["guide_val_acc"],
        "b_session_with_charts_over_plain_fit": ft["session_with_charts_s"] / ft["plain_fit_s"],
        "b_chart_update_50k_over_1k": charts.get("ours_update_ms_50k_over_1k"),
        "c_pipeline_first_epoch_ours_over_keras": pipe["ratio_first_epoch"],
        "c_pipeline_cached_epoch_ours_over_keras_plain": pipe["ratio_cached_epoch_vs_keras_plain"],
        "d_session_over_plain_fit": ft["session_s"] / ft["plain_fit_s"],
        "e_livelossplot_over_plain_fit": ft["livelossplot_s"] / ft["plain_fit_s"],
        "f_rss_growth": mem["growth_after_first"],
        "g_history_rss_kb_per_1000_steps": hist_mem["rss_kb_per_1000_steps"],
        **{f"i_{k}": v for k, v in fit_overhead["ratios"].items()},
        "h_large_folder_first_epoch_ours_over_keras": large["first_epoch"],
        "h_large_folder_first_epoch_by_cpu_ours_over_keras": large["first_epoch_by_cpu_time"],
        "h_large_folder_peak_rss_ours_over_keras": large["peak_rss"],
    }
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in ratios.items()}))
    return ratios


if __name__ == "__main__":
    main()
