"""tl_widgets: interactive transfer learning for Keras 3 in JupyterLab and Voilà.

Public API (loaded lazily, so ``import tl_widgets.core`` never pulls in
ipywidgets, plotly or IPython)::

    from tl_widgets import Studio, TrainConfig, train, list_backbones
    from tl_widgets import set_language; set_language("zh-CN")   # then Studio() speaks 简体中文
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Studio": "tl_widgets.studio",
    "TrainConfig": "tl_widgets.core.config.schema",
    "demo_config": "tl_widgets.core.config.schema",
    "ConfigError": "tl_widgets.core.config.schema",
    "train": "tl_widgets.core.training.session",
    "TrainingSession": "tl_widgets.core.training.session",
    "RunResult": "tl_widgets.core.training.session",
    "list_backbones": "tl_widgets.core.models.backbones",
    "get_backbone": "tl_widgets.core.models.backbones",
    "FreezePlan": "tl_widgets.core.models.freezing",
    "EventBus": "tl_widgets.core.events",
    "RunStore": "tl_widgets.core.runs.store",
    "set_language": "tl_widgets.core.i18n",
    "current_language": "tl_widgets.core.i18n",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tl_widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "tl-widgets-labextension"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "tl_widgets.server"}]
