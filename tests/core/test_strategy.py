"""Strategies, mixed precision, XLA and steps_per_execution (real, tiny training)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

from tl_widgets.core.config.schema import StrategyConfig, TrainConfig
from tl_widgets.core.training.strategy import StrategyRuntime
from tl_widgets.core.training.strategy_planning import (
    Device,
    StrategyError,
    describe_strategy,
    resolve_mixed_precision,
)

_CPU = [Device("cpu", "cpu:0")]
_GPUS = [Device("cpu", "cpu:0"), Device("gpu", "gpu:0"), Device("gpu", "gpu:1")]


def _subprocess(code: str, backend: str, timeout: int = 300) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_mixed_precision_resolution_and_refusal():
    assert resolve_mixed_precision("auto", _CPU) == "float32"
    assert resolve_mixed_precision("auto", _GPUS) == "mixed_float16"
    assert resolve_mixed_precision("auto", [Device("tpu", "t0")]) == "mixed_bfloat16"
    assert resolve_mixed_precision("mixed_bfloat16", _CPU) == "mixed_bfloat16"
    with pytest.raises(StrategyError, match="Expected a GPU for mixed_precision='mixed_float16'.*Received devices: cpu"):
        resolve_mixed_precision("mixed_float16", _CPU)


def test_tensorflow_refusals_say_why():
    with pytest.raises(StrategyError, match="needs KERAS_BACKEND=jax"):
        StrategyRuntime.create(StrategyConfig(kind="data_parallel"))
    with pytest.raises(StrategyError, match="num_processes=2.*keras issue 20585.*KERAS_BACKEND=jax"):
        StrategyRuntime.create(StrategyConfig(num_processes=2, coordinator="127.0.0.1:1234"))
    with pytest.raises(StrategyError, match="GPUs or strategy.logical_cpus >= 2"):
        StrategyRuntime.create(StrategyConfig(kind="mirrored"))


def test_describe_strategy_plans_global_batch_and_lr_scaling(tiny_config):
    cfg = replace(tiny_config, strategy=StrategyConfig(kind="mirrored", lr_scaling="linear"))
    info = describe_strategy(cfg, devices=_GPUS, backend_name="tensorflow")
    assert (info["replicas"], info["per_replica_batch"], info["global_batch"]) == (2, 32, 64)
    assert info["learning_rates"] == [pytest.approx(2 * 3e-3)] and info["error"] == ""
    json.dumps(info)  # plain data only
    multi = replace(tiny_config, strategy=StrategyConfig(num_processes=3, coordinator="h:1"))
    info = describe_strategy(multi, devices=_GPUS, backend_name="jax")
    assert (info["kind"], info["replicas"], info["global_batch"]) == ("data_parallel", 9, 9 * 32)
    refused = describe_strategy(multi, devices=_CPU, backend_name="tensorflow")
    assert refused["replicas"] == 0 and "KERAS_BACKEND=jax" in refused["error"]
    options = {o["kind"]: o for o in refused["options"]}
    assert not options["multi_worker"]["available"] and "20585" in options["multi_worker"]["reason"]


def test_jax_refusals_and_runtime():
    out = _subprocess('''
        import json
        from tl_widgets.core.config.schema import StrategyConfig
        from tl_widgets.core.training.strategy import StrategyError, StrategyRuntime
        errors = {}
        for name, cfg in {
            "mirrored": StrategyConfig(kind="mirrored"),
            "default_2p": StrategyConfig(kind="default", num_processes=2, coordinator="127.0.0.1:1"),
            "no_coordinator": StrategyConfig(num_processes=2),
            "fp16_cpu": StrategyConfig(mixed_precision="mixed_float16"),
        }.items():
            try:
                StrategyRuntime.create(cfg)
                errors[name] = None
            except StrategyError as exc:
                errors[name] = str(exc)
        rt = StrategyRuntime.create(StrategyConfig(kind="data_parallel"))
        errors["dp"] = [rt.kind, rt.num_replicas, rt.local_batch_size(8), rt.global_batch_size(8)]
        print(json.dumps(errors))
    ''', "jax")
    assert "needs KERAS_BACKEND=tensorflow" in out["mirrored"]
    assert "each process would train its own model" in out["default_2p"]
    assert "HOST:PORT" in out["no_coordinator"] and "Received: None" in out["no_coordinator"]
    assert "mixed_float16" in out["fp16_cpu"]
    assert out["dp"] == ["data_parallel", 1, 8, 8]


def _losses(result) -> list[float]:
    return result.history["batch"]["loss"]


@pytest.mark.slow
def test_mixed_bfloat16_and_xla_train_with_finite_losses_and_float32_output(tiny_config):
    import numpy as np

    from tl_widgets.core.training.session import train

    cfg = replace(tiny_config, feature_cache=False,
                  strategy=StrategyConfig(mixed_precision="mixed_bfloat16", jit_compile=True))
    result = train(cfg, record=False)
    assert result.status == "finished", result.error
    assert _losses(result) and all(math.isfinite(v) for v in _losses(result))
    assert result.model.get_layer("predictions").compute_dtype == "float32"
    assert any(w.dtype == "float32" for w in result.model.weights)  # variables stay float32
    assert result.model.get_layer("backbone").compute_dtype == "bfloat16"
    out = result.model.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0)
    assert str(out.dtype) == "float32" and np.all(np.isfinite(out))


def test_steps_per_execution_groups_batch_events(tiny_config):
    from tl_widgets.core.events import BatchEnd, EventBus
    from tl_widgets.core.training.session import train

    bus = EventBus()
    seen: list[BatchEnd] = []
    bus.subscribe(lambda e: seen.append(e) if isinstance(e, BatchEnd) else None)
    cfg = replace(tiny_config, feature_cache=False, strategy=StrategyConfig(steps_per_execution=4))
    result = train(cfg, bus=bus, record=False)
    assert result.status == "finished", result.error
    steps = seen[0].steps_per_epoch
    assert steps and steps > 4
    chunks = [e.steps_in_chunk for e in seen]
    assert chunks[0] == 4 and all(c == 4 for c in chunks[:-1]) and 1 <= chunks[-1] <= 4
    assert seen[0].step == 4 and len(seen) == math.ceil(steps / 4)
    # Keras reports the last, partial chunk as a full one (batch index past the epoch's end):
    # EventCallback must clamp it so steps and global_step are not over-counted.
    assert sum(chunks) == steps and seen[-1].step == steps, [(e.step, e.steps_in_chunk) for e in seen]


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_trains_like_default(tmp_path):
    out = _subprocess(f'''
        import json
        from dataclasses import replace
        from tl_widgets.core.config.schema import DataConfig, ModelConfig, PhaseConfig, StrategyConfig, TrainConfig
        from tl_widgets.core.events import EventBus, RunStarted
        from tl_widgets.core.training.session import train
        base = TrainConfig(
            data=DataConfig(source="demo", demo="digits", batch_size=32, max_per_class=60),
            model=ModelConfig(backbone="demo_cnn", weights="pretrained", input_size=32),
            phases=[PhaseConfig(name="head", epochs=3, learning_rate=3e-3)],
            output_dir={str(tmp_path / "runs")!r}, feature_cache=False,
        )
        res = {{}}
        # Mirrored first: the logical devices must be set before TensorFlow starts.
        for kind in ("mirrored", "default"):
            s = StrategyConfig(kind=kind, logical_cpus=2)
            bus, started = EventBus(), []
            bus.subscribe(lambda e: started.append(e.num_replicas) if isinstance(e, RunStarted) else None)
            # data.batch_size is per replica: same global batch (32) for both
            data = replace(base.data, batch_size=16 if kind == "mirrored" else 32)
            r = train(replace(base, data=data, strategy=s, run_name=kind), bus=bus, record=False)
            assert r.status == "finished", r.error
            res[kind] = {{"acc": r.metrics["val_accuracy"], "loss": r.metrics["loss"],
                         "replicas": started[0]}}
        print(json.dumps(res))
    ''', "tensorflow", timeout=400)
    mirrored, default = out["mirrored"], out["default"]
    print("mirrored", mirrored, "default", default)
    assert (mirrored["replicas"], default["replicas"]) == (2, 1)
    assert mirrored["acc"] > 0.5 and default["acc"] > 0.5
    assert abs(mirrored["acc"] - default["acc"]) <= 0.1
    assert abs(mirrored["loss"] - default["loss"]) <= 0.25 * default["loss"]


def test_config_round_trips_strategy_fields():
    cfg = TrainConfig(strategy=StrategyConfig(kind="data_parallel", num_processes=2, coordinator="h:1", process_id=1))
    assert TrainConfig.from_json(cfg.to_json()).strategy == cfg.strategy
