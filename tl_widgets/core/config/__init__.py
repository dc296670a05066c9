"""The run config: one serialisable `TrainConfig` that fully describes a run.

`schema` holds the dataclasses (with their choices and bounds), `checks` the one
value validator that the config, the panels and the workshop file all use, and
`codegen` the Python/CLI code shown by the Studio's "Show code".
"""

from tl_widgets.core.config.checks import BoundsError, ConfigError, field_bounds, field_choices  # noqa: F401
from tl_widgets.core.config.schema import (  # noqa: F401  (the public names of this package)
    AugmentConfig,
    DataConfig,
    FreezeConfig,
    ModelConfig,
    PhaseConfig,
    StrategyConfig,
    TrainConfig,
    demo_config,
)
