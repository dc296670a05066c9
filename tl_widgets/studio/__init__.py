"""The Studio: every panel composed into one guided app, an editor for a :class:`TrainConfig`.

Where things are:

- :mod:`~tl_widgets.studio.app`: the :class:`Studio` class, its declared parts, ``config`` (the one
  assembler) and ``set_config`` (its one inverse);
- :mod:`~tl_widgets.studio.chrome`: the step header and the run bar;
- :mod:`~tl_widgets.studio.loading`: building the engine-dependent steps once Keras has loaded;
- :mod:`~tl_widgets.studio.results`: the Evaluate and Try-it & export steps;
- :mod:`~tl_widgets.studio.limits`: a workshop's limits and a seat's disk quota;
- :mod:`~tl_widgets.studio.room`: a served seat's link to its room (queue, instructor);
- :mod:`~tl_widgets.studio.sweep`: the Train step's hyperparameter sweep.
"""

from __future__ import annotations

from tl_widgets.core.settings import MAX_UPLOAD_ENV
from tl_widgets.studio.app import STEPS, TABS, Studio, default_studio_config

__all__ = ["Studio", "default_studio_config", "MAX_UPLOAD_ENV", "TABS", "STEPS"]
