"""The Studio with real (tiny) sessions: Start -> finished, Stop -> stopped, refusals, config round trip."""

from __future__ import annotations

import dataclasses

import pytest
import traitlets

from tl_widgets.core.config.schema import (
    AugmentConfig,
    DataConfig,
    FreezeConfig,
    ModelConfig,
    PhaseConfig,
    StrategyConfig,
    TrainConfig,
)


def _fields(obj, prefix=""):
    """Flattens a config into {"path": value} for a field-by-field comparison."""
    out = {}
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            out.update(_fields(getattr(obj, f.name), f"{prefix}{f.name}."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(_fields(v, f"{prefix}[{i}]."))
    else:
        out[prefix.rstrip(".")] = obj
    return out


@pytest.fixture
def rich_config(data_root, tmp_path):
    return TrainConfig(
        data=DataConfig(source="folder", path=str((data_root / "digits_target").resolve()), validation_split=0.3,
                        batch_size=16, max_per_class=7, class_weights=True, cache="none",
                        augmentation=AugmentConfig(flip="horizontal", rotation=0.1, zoom=0.2, contrast=0.3)),
        model=ModelConfig(backbone="demo_cnn", weights="none", input_size=40, dropout=0.4, hidden_units=16,
                          pooling="max"),
        freeze=FreezeConfig(mode="up_to", block="block2", overrides={"stem": True}, train_batchnorm=True),
        phases=[PhaseConfig(name="head", epochs=3, learning_rate=2e-3, optimizer="sgd", schedule="cosine",
                            warmup_epochs=0.5),
                PhaseConfig(name="fine_tune", epochs=2, learning_rate=5e-5, optimizer="adamw",
                            freeze=FreezeConfig(mode="top", top_n=3, block="block1", train_batchnorm=True),
                            lr_decay_per_block=0.5, block_lr_multipliers={"block4": 2.0, "block3": 0.0})],
        strategy=StrategyConfig(kind="one_device", mixed_precision="mixed_bfloat16", jit_compile=False,
                                steps_per_execution=4, lr_scaling="linear"),
        seed=7, output_dir=str(tmp_path / "out"), run_name="rich", early_stopping_patience=2, reduce_lr_patience=1,
        feature_cache=False, rollback=False,
    )


def test_config_round_trip_field_by_field(rich_config, data_root):
    from tl_widgets.studio import Studio

    studio = Studio(config=rich_config, data_roots=[data_root])
    got, want = _fields(studio.config), _fields(rich_config)
    assert got.keys() == want.keys()
    diffs = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not diffs
    assert studio.freeze.toggles["stem"].value is True  # the override shows
    counts = studio.data.report["counts"]
    assert len(counts) == 5 and set(counts.values()) == {7}


def test_discriminative_learning_rates_survive_the_studio(rich_config, data_root, tmp_path):
    """Issue 12's bug: a config with per-block learning rates lost them when opened in the Studio."""
    from tl_widgets.studio import Studio

    studio = Studio(config=rich_config, data_roots=[data_root])
    studio.train.ft.lr.value = 1e-4  # edit the fine-tune phase: the fields it does not show still pass through
    ft = studio.config.phases[1]
    assert ft.learning_rate == 1e-4
    assert ft.lr_decay_per_block == 0.5 and ft.block_lr_multipliers == {"block4": 2.0, "block3": 0.0}
    assert ft.freeze == FreezeConfig(mode="top", top_n=3, block="block1", train_batchnorm=True)


def test_panels_never_change_their_base_config(rich_config, data_root):
    from tl_widgets.studio import Studio

    studio = Studio(config=rich_config, data_roots=[data_root])
    before = studio.train._base.copy()
    studio.train.ft_top.value = 1
    studio.train.fine_tune.value = True
    first = studio.config
    assert first.phases[1].freeze.top_n == 1
    assert studio.train._base == before and studio._base == rich_config
    first.phases[1].freeze.top_n = 4  # the config handed out shares nothing with the panels
    assert studio.config.phases[1].freeze.top_n == 1
    # Turning the fine-tune off and on again starts from the same base.
    studio.train.fine_tune.value = False
    assert len(studio.config.phases) == 1 and studio.train._base == before


def test_choices_and_bounds_shown_come_from_the_schema(data_root):
    from tl_widgets.core.config.checks import field_bounds, field_choices
    from tl_widgets.studio import Studio

    studio = Studio(data_roots=[data_root])
    assert tuple(studio.train.head.optimizer.options) == field_choices(PhaseConfig, "optimizer")
    assert studio.train.head.epochs.max == field_bounds(PhaseConfig, "epochs")[1]
    assert tuple(studio.freeze.mode_picker.options[i][1] for i in range(4)) == field_choices(FreezeConfig, "mode")
    # (label, value) pairs: the label in the user's language, the value the schema's
    assert tuple(v for _, v in studio.strategy.precision.options) == field_choices(StrategyConfig, "mixed_precision")
    assert tuple(v for _, v in studio.data.augment.flip.options) == field_choices(AugmentConfig, "flip")
    assert (studio.data.batch_size.min, studio.data.batch_size.max) == field_bounds(DataConfig, "batch_size")
    assert (studio.backbone.size.max) == field_bounds(ModelConfig, "input_size")[1]


def test_steps_have_names_hints_and_back_next(data_root):
    from tl_widgets.studio import STEPS, TABS, Studio

    studio = Studio(data_roots=[data_root])
    assert list(STEPS) == ["data", "model", "train", "evaluate", "try"] and list(TABS) == [*STEPS, "runs"]
    assert [b.description for b in studio.steps.buttons.values()] == [
        "1. Data", "2. Model", "3. Train", "4. Evaluate", "5. Try it & export", "Runs"]
    assert studio.tab == "data" and studio.tabs.children[studio.tabs.selected_index] is studio.data_tab
    assert "Transfer-learning studio" in studio.steps.children[0].children[0].value  # the title heads the row
    assert studio.steps.back.disabled and not studio.steps.next.disabled and "Step 1 of 5" in studio.steps.hint.value
    # Evaluate and Try need a finished run; the demo data is there, so Data and Train need nothing.
    assert studio.steps.missing == {"evaluate": "Train a model first: press Start.",
                                    "try": "Train a model first: press Start."}
    studio.data.report = {}  # nothing to train on: Data and Train say so
    assert studio.steps.missing["data"] == studio.steps.missing["train"] == "Pick a dataset first."
    calls = []
    studio.runs.refresh = lambda: calls.append(1)
    studio.steps.buttons["runs"].click()
    assert studio.tab == "runs" and studio.tabs.children[studio.tabs.selected_index] is studio.runs_tab and calls == [1]
    assert studio.steps.next.disabled
    studio.steps.back.click()  # from Runs, Back goes to the last step
    assert studio.tab == "try"
    studio.show_tab("backbone")  # the keys of the tabs before the guided flow still work
    assert studio.tab == "model" and studio.backbone in studio.tabs.children[studio.tabs.selected_index].children
    assert "tlw-step-missing" in studio.steps.buttons["train"]._dom_classes  # marked while it lacks data
    studio.steps.next.click()
    assert studio.tabs.children[studio.tabs.selected_index] is studio.train_tab and calls == [1]
    with pytest.raises(KeyError, match="Expected a step"):
        studio.show_tab("settings")
    with pytest.raises(traitlets.TraitError, match="Expected a step"):
        studio.steps.current = "settings"  # the browser cannot pick a step that does not exist


def test_run_bar_holds_start_stop_and_status_above_every_step(data_root):
    from tl_widgets.studio import Studio

    studio = Studio(data_roots=[data_root])
    row = studio.run_bar.children[0].children
    for widget in (studio.train.start_button, studio.train.stop_button, studio.train.progress_bar,
                   studio.train.status_line):
        assert widget in row and not _contains(studio.train, widget)  # shown once: in the bar, not in Train
    assert studio.train.notice in studio.run_bar.children
    assert studio.children.index(studio.run_bar) < studio.children.index(studio.tabs)
    assert not studio.train.start_button.disabled and studio.train.start_button.description == "Start"


def _contains(box, widget):
    return any(c is widget or _contains(c, widget) for c in getattr(box, "children", ()))


def test_default_round_trip_and_code():
    from tl_widgets.studio import Studio

    studio = Studio()
    assert "tlw-studio" in studio._dom_classes
    cfg = studio.config
    assert Studio(config=cfg).config == cfg
    code = studio.show_code()
    ns: dict = {}
    exec(code.split("result = train")[0], ns)
    assert ns["config"] == cfg
    assert "tl-widgets train" in studio.code.value


def test_restore_refuses_folder_outside_roots(tmp_path, data_root):
    from tl_widgets.panels.kit.validation import PanelError
    from tl_widgets.studio import Studio

    (tmp_path / "elsewhere" / "a").mkdir(parents=True)
    cfg = TrainConfig(data=DataConfig(source="folder", path=str(tmp_path / "elsewhere")))
    with pytest.raises(PanelError, match="data roots"):
        Studio(config=cfg, data_roots=[data_root])


def test_start_finishes_then_restart_with_new_freeze(tiny_config):
    from tl_widgets.studio import Studio

    studio = Studio(config=tiny_config)
    assert studio.status == "idle"
    first = studio.start()
    assert first and studio.status == "running"
    # Start while running (the browser can click a disabled button): refused, no second run.
    assert studio.train.start() is None and studio.train.run_id == first
    assert "already active" in studio.train.notice.text
    assert studio.train.wait(120) == "finished"
    assert studio.train.start_button.disabled is False and studio.train.stop_button.disabled is True
    assert studio.train.progress_bar.value == 1.0
    assert studio.train.charts.history["epoch"]["val_loss"]
    # Change the freeze and train again: a new run.
    studio.freeze.toggles["block4"].value = True
    assert studio.config.freeze.overrides == {"block4": True}
    second = studio.start()
    assert second and second != first
    assert studio.train.wait(120) == "finished"
    assert studio.train.session.config.freeze.overrides == {"block4": True}
    studio.show_tab("runs")
    assert {first, second} <= {r["run_id"] for r in studio.runs.runs}
    studio.runs.picker.value = (first, second)
    assert studio.runs.chart.n_traces == 2


def test_stop_gives_stopped(tiny_config):
    from tl_widgets.studio import Studio

    tiny_config.phases[0].epochs = 200
    studio = Studio(config=tiny_config)
    assert studio.start()
    studio.stop()
    assert studio.train.wait(120) == "stopped"
    assert studio.train.session.status == "stopped"
    # The "Stopping after the current batch..." notice does not outlive the run.
    assert studio.train.notice.text == f"Run {studio.train.run_id} stopped."
    studio.stop()
    assert "Nothing to stop" in studio.train.notice.text


def test_start_revalidates_hostile_values(tiny_config):
    from tl_widgets.studio import Studio

    studio = Studio(config=tiny_config)
    # Bypass the guards (as if a value slipped through): Start re-checks everything.
    studio.train.guard._busy.add(id(studio.train.head.epochs))
    studio.train.head.epochs.max = 10**9
    studio.train.head.epochs.value = 10**7
    assert studio.start() is None
    assert "epochs" in studio.train.notice.text and studio.status == "idle"


def test_failed_run_shows_reason(tiny_config, tmp_path):
    from tl_widgets.studio import Studio

    studio = Studio(config=tiny_config, data_roots=[tmp_path])
    (tmp_path / "broken" / "a").mkdir(parents=True)
    (tmp_path / "broken" / "b").mkdir(parents=True)
    (tmp_path / "broken" / "a" / "x.png").write_bytes(b"not a png")
    (tmp_path / "broken" / "b" / "y.png").write_bytes(b"not a png")
    studio.data.guard.set_options(studio.data.folder, [("broken", str(tmp_path / "broken"))], str(tmp_path / "broken"))
    studio.data.source_picker.value = "folder"
    studio.start()
    status = studio.train.wait(120)
    assert status.startswith("failed: ") and len(status) > len("failed: ")


def test_evaluate_step_evaluates_the_last_run_on_entry_and_try_step_exports_it(tiny_config):
    from tl_widgets.panels.evaluate import EvaluatePanel
    from tl_widgets.panels.export import ExportPanel
    from tl_widgets.studio import Studio

    studio = Studio(config=tiny_config)
    assert studio.evaluate_last_run() is False
    assert "Expected a finished or stopped run" in studio.notice.value
    studio.show_tab("evaluate")
    assert "No trained model yet" in studio.results.evaluate_hint.value
    assert not any(isinstance(c, EvaluatePanel) for c in studio.evaluation.children)
    studio.start()
    assert studio.train.wait(120) == "finished"
    assert "evaluate" not in studio.steps.missing and studio.results.evaluate_hint.value == ""
    studio.show_tab("train")
    studio.show_tab("evaluate")  # entering Evaluate evaluates the new run once
    panel = next(c for c in studio.evaluation.children if isinstance(c, EvaluatePanel))
    panel.wait(120)
    assert panel.error is None and panel.report is not None
    assert panel.report.count > 0
    assert sum(map(sum, panel.report.confusion)) == panel.report.count
    studio.show_tab("try")
    assert any(isinstance(c, ExportPanel) for c in studio.results.export_box.children)
    assert studio.try_it in studio.results.try_box.children
    studio.show_tab("evaluate")
    assert next(c for c in studio.evaluation.children if isinstance(c, EvaluatePanel)) is panel  # not again
    assert studio.evaluate_button.layout.display == "none"  # the panel's own Evaluate re-runs this run
    studio.evaluate_button.click()  # the browser can click a hidden button: it evaluates the last run again
    again = next(c for c in studio.evaluation.children if isinstance(c, EvaluatePanel))
    assert again is not panel
    again.wait(120)


def test_default_studio_config_reads_the_short_run_overrides(monkeypatch, tmp_path):
    import pytest as _pytest

    from tl_widgets.core.config import ConfigError
    from tl_widgets.core.settings import HOME_ENV, STUDIO_EPOCHS_ENV, STUDIO_MAX_PER_CLASS_ENV
    from tl_widgets.studio import default_studio_config

    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    monkeypatch.delenv(STUDIO_EPOCHS_ENV, raising=False)
    monkeypatch.delenv(STUDIO_MAX_PER_CLASS_ENV, raising=False)
    plain = default_studio_config()
    assert len(plain.phases) == 2 and plain.data.max_per_class is None
    assert plain.output_dir == str(tmp_path / "runs")
    monkeypatch.setenv(STUDIO_EPOCHS_ENV, "3")
    monkeypatch.setenv(STUDIO_MAX_PER_CLASS_ENV, "20")
    short = default_studio_config()
    assert [p.epochs for p in short.phases] == [3] and short.data.max_per_class == 20
    monkeypatch.setenv(STUDIO_EPOCHS_ENV, "three")
    with _pytest.raises(ConfigError, match="Expected an integer. Received: TL_WIDGETS_STUDIO_EPOCHS='three'"):
        default_studio_config()
