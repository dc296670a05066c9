"""Optuna studies for sweeps: where they are stored, how they sample and prune.

The default storage is one SQLite file under the user's home
(``$TL_WIDGETS_HOME/sweeps.sqlite``); any database URL Optuna supports
(``postgresql://…``, ``mysql://…``) works too, and several processes or hosts
that open the same study share its trials: Optuna hands every trial number
out once. Optuna is the ``optuna`` extra (``pip install tl_widgets[optuna]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tl_widgets.core.settings import home_path
from tl_widgets.core.sweeps.spec import SweepError, SweepSpec

__all__ = ["default_storage", "storage_for", "open_study", "make_pruner", "require_optuna"]



def require_optuna() -> Any:
    """Imports Optuna, or raises a clear error naming the extra to install."""
    try:
        import optuna
    except ImportError:
        raise RuntimeError("Expected Optuna for sweeps. Received: it is not installed; "
                           "run `pip install tl_widgets[optuna]`") from None
    return optuna


def default_storage() -> str:
    """``sqlite:///$TL_WIDGETS_HOME/sweeps.sqlite`` (the folder is created)."""
    path = home_path("sweep_store")
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


def storage_for(url: str | None) -> Any:
    """An Optuna storage for ``url`` (None: :func:`default_storage`).

    SQLite gets a long busy timeout so that several local processes can
    share one file.

    Raises:
        SweepError: ``url`` is not a database URL.
    """
    optuna = require_optuna()
    url = url or default_storage()
    if not isinstance(url, str) or "://" not in url:
        raise SweepError("storage", f"Expected a database URL such as 'sqlite:///sweeps.sqlite' or "
                                    f"'postgresql://user@host/db'. Received: {url!r}")
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        Path(url.split(":///", 1)[-1]).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    return optuna.storages.RDBStorage(url, **kwargs)


def make_pruner(name: str) -> Any:
    """The Optuna pruner called ``name``: ``median``, ``successive_halving`` or ``none``."""
    optuna = require_optuna()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise SweepError("pruner", f"Expected 'median', 'successive_halving' or 'none'. Received: {name!r}")


def open_study(spec: SweepSpec, storage: str | None = None) -> Any:
    """Creates the sweep's study, or opens it when it exists (several processes may call this at once)."""
    optuna = require_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=spec.study_name, storage=storage_for(storage), direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=4),
        pruner=make_pruner(spec.pruner), load_if_exists=True,
    )
