"""tl_widgets: interactive transfer learning for Keras 3 in JupyterLab and Voilà.

Public API, loaded lazily: ``import tl_widgets`` imports none of Keras, TensorFlow, ipywidgets or plotly; each
name loads its own module on first use. Notebooks and scripts import from here (and ``tl_widgets.views`` for the
chart widgets); the modules under ``tl_widgets.core`` and the panels are the package's inside::

    from tl_widgets import Studio, TrainConfig, DataConfig, ModelConfig, PhaseConfig, FreezeConfig
    from tl_widgets import train, evaluate, export, find_lr, check_dataset, image_dataset, RunStore
    from tl_widgets import set_language; set_language("zh-CN")   # then Studio() speaks 简体中文

:func:`image_dataset` is ``keras.utils.image_dataset_from_directory`` for your own Keras models (same arguments
and output), faster on photos and never stopped by a bad file. The verbs, by step: :func:`train` (or a
:class:`TrainingSession` to follow its events), :func:`find_lr`,
:func:`evaluate` (a run folder's model on its validation split), :func:`gradcam`, :func:`export` (verified against
Keras), :func:`check_dataset` (a dataset's health). Fixing the data a run learned from (what ``tl-widgets curate``
does): :func:`run_label_errors` lists suspected label errors, :func:`decide` records decisions in a curation file,
:func:`child_config` is the run's config retrained with them (pass it to :func:`train`), :func:`compare_with_parent`
gives per-class numbers before and after, :func:`export_curated` writes a cleaned copy of the dataset. Figures
(plain data in, a Plotly ``Figure`` or HTML out) end in ``_figure`` / ``_html``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> "module" (the same name there) or "module:attribute"; one owner per name, the module that defines it.
_LAZY = {
    # apps
    "Studio": "tl_widgets.studio.app",
    "default_studio_config": "tl_widgets.studio.defaults",
    "RoomPanel": "tl_widgets.panels.room",
    # the run config and its parts
    "TrainConfig": "tl_widgets.core.config.schema",
    "DataConfig": "tl_widgets.core.config.schema",
    "AugmentConfig": "tl_widgets.core.config.schema",
    "ModelConfig": "tl_widgets.core.config.schema",
    "FreezeConfig": "tl_widgets.core.config.schema",
    "PhaseConfig": "tl_widgets.core.config.schema",
    "StrategyConfig": "tl_widgets.core.config.schema",
    "demo_config": "tl_widgets.core.config.schema",
    "ConfigError": "tl_widgets.core.config.checks",
    "python_code": "tl_widgets.core.config.codegen",
    "cli_command": "tl_widgets.core.config.codegen",
    # training
    "train": "tl_widgets.core.training.session",
    "TrainingSession": "tl_widgets.core.training.session",
    "RunResult": "tl_widgets.core.training.control",
    "find_lr": "tl_widgets.core.training.lr_finder",
    "describe_strategy": "tl_widgets.core.training.strategy_planning",
    "JobSpec": "tl_widgets.core.training.job_export",
    "export_job": "tl_widgets.core.training.job_export",
    "EventBus": "tl_widgets.core.events",
    "Engine": "tl_widgets.core.engine.base",
    "InProcessEngine": "tl_widgets.core.engine.base",
    "PoolEngine": "tl_widgets.core.engine.client",
    "EventHandler": "tl_widgets.core.events",
    # backbones, weights, freezing
    "list_backbones": "tl_widgets.core.models.backbones",
    "get_backbone": "tl_widgets.core.models.backbones",
    "build_backbone": "tl_widgets.core.models.backbones",
    "weights_file": "tl_widgets.core.models.weights",
    "prefetch": "tl_widgets.core.models.weights",
    "FreezePlan": "tl_widgets.core.models.freezing",
    "describe_freeze": "tl_widgets.core.models.facts",
    "describe_graph": "tl_widgets.core.models.facts",
    "backbone_facts": "tl_widgets.core.models.facts",
    "block_names": "tl_widgets.core.models.facts",
    # evaluate, explain, export
    "evaluate": "tl_widgets.core.evaluation.evaluate:evaluate_run",
    "load_run": "tl_widgets.core.evaluation.evaluate",
    "run_datasets": "tl_widgets.core.evaluation.evaluate",
    "gradcam": "tl_widgets.core.evaluation.gradcam",
    "export": "tl_widgets.core.export.formats:export_run",
    # the data: a drop-in for keras.utils.image_dataset_from_directory, health and curation
    "image_dataset": "tl_widgets.core.data.image_dataset",
    "check_dataset": "tl_widgets.core.data.health",
    "run_label_errors": "tl_widgets.core.evaluation.label_errors",
    "decide": "tl_widgets.core.data.curation",
    "read_decisions": "tl_widgets.core.data.curation",
    "export_curated": "tl_widgets.core.data.curation",
    "child_config": "tl_widgets.core.runs.lineage",
    "compare_with_parent": "tl_widgets.core.runs.lineage",
    # runs
    "RunStore": "tl_widgets.core.runs.store",
    "RunFolder": "tl_widgets.core.runs.folder",
    # language and environment
    "set_language": "tl_widgets.core.i18n",
    "current_language": "tl_widgets.core.i18n",
    "SEATS_ENV": "tl_widgets.core.settings",
    # figures (tl_widgets.views.figures.*)
    "class_counts_figure": "tl_widgets.views.figures.basic",
    "layer_map_figure": "tl_widgets.views.figures.basic",
    "lr_finder_figure": "tl_widgets.views.figures.basic",
    "runs_overlay_figure": "tl_widgets.views.figures.basic",
    "confusion_figure": "tl_widgets.views.figures.evaluation",
    "per_class_figure": "tl_widgets.views.figures.evaluation",
    "top_losses_figure": "tl_widgets.views.figures.evaluation",
    "gradcam_figure": "tl_widgets.views.figures.evaluation",
    "report_html": "tl_widgets.views.figures.evaluation",
    "reliability_figure": "tl_widgets.views.figures.calibration",
    "top_k_figure": "tl_widgets.views.figures.try_it",
    "sweep_figures": "tl_widgets.views.figures.sweep",
    "model_graph": "tl_widgets.views.figures.graph",
    "findings_html": "tl_widgets.views.figures.health",
    "config_diff_html": "tl_widgets.views.figures.run_diff",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, _, attribute = _LAZY[name].partition(":")
        return getattr(importlib.import_module(module), attribute or name)
    raise AttributeError(f"module 'tl_widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "tl-widgets-labextension"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "tl_widgets.server"}]
