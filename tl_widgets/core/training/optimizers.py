"""Optimizers for a training phase: the learning-rate schedule and discriminative (per-block) rates.

:func:`make_optimizer` builds a Keras optimizer from a :class:`PhaseConfig`
(built-in schedules only, so a saved model loads with plain Keras);
:func:`block_multipliers` turns a phase's ``lr_decay_per_block`` and
``block_lr_multipliers`` into a factor per variable, which the optimizer
applies in ``update_step``.
"""

from __future__ import annotations

from typing import Any

from tl_widgets.core.config.schema import PhaseConfig

__all__ = ["make_optimizer", "block_multipliers", "OPTIMIZER_CLASSES"]

#: Config name -> the Keras optimizer class (``keras.optimizers.<name>``) it builds.
OPTIMIZER_CLASSES = {
    "adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop",
    "adagrad": "Adagrad", "adamax": "Adamax", "nadam": "Nadam", "lion": "Lion",
}


def make_optimizer(phase: PhaseConfig, steps_per_epoch: int, lr_scale: float = 1.0,
                   multipliers: dict[str, float] | None = None) -> Any:
    """A Keras optimizer with the phase's learning-rate schedule (built-in schedules only).

    ``constant`` with warm-up and ``onecycle`` are expressed with
    ``CosineDecay`` (``alpha=1`` keeps the rate constant after warm-up), so a
    saved model loads with plain Keras.

    Args:
        phase: The phase (optimizer, rate, schedule).
        steps_per_epoch: Steps per epoch, for schedules.
        lr_scale: Factor on the rate (linear scaling with replicas).
        multipliers: Variable path -> factor on the rate (discriminative
            learning rates); the optimizer then scales each variable's step.
    """
    import keras

    lr = phase.learning_rate * lr_scale
    total = max(1, phase.epochs * max(1, steps_per_epoch))
    warmup = min(total - 1, int(round(phase.warmup_epochs * steps_per_epoch))) if phase.warmup_epochs else 0
    schedule: Any = lr
    if phase.schedule == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else lr, decay_steps=max(1, total - warmup), alpha=0.0,
            warmup_target=lr if warmup else None, warmup_steps=warmup,
        )
    elif phase.schedule == "onecycle":
        up = max(1, int(0.3 * total))
        schedule = keras.optimizers.schedules.CosineDecay(
            lr / 25.0, decay_steps=max(1, total - up), alpha=1e-4, warmup_target=lr, warmup_steps=up,
        )
    elif warmup:
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, total - warmup), alpha=1.0, warmup_target=lr, warmup_steps=warmup,
        )
    cls = getattr(keras.optimizers, OPTIMIZER_CLASSES[phase.optimizer])
    if multipliers:
        cls = _per_variable_rates(cls, dict(multipliers))
    kwargs = {"momentum": 0.9} if phase.optimizer == "sgd" else {}
    return cls(learning_rate=schedule, **kwargs)


def _per_variable_rates(base: type, multipliers: dict[str, float]) -> type:
    """A subclass of optimizer ``base`` that scales each variable's step by its factor.

    Keras calls ``update_step`` once per variable on every backend, so scaling
    the rate there gives per-block rates without changing the optimizer's math.
    Models are re-compiled with the plain optimizer before saving.
    """

    class PerVariableRates(base):  # type: ignore[misc, valid-type]
        def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> Any:
            # Backends may pass the raw variable (tf.Variable): find the Keras variable by the optimizer's index.
            keras_var = self._trainable_variables[self._get_variable_index(variable)]
            factor = multipliers.get(keras_var.path, 1.0)
            if factor != 1.0:
                learning_rate = learning_rate * factor
            return super().update_step(gradient, variable, learning_rate)

    PerVariableRates.__name__ = f"PerVariableRates{base.__name__}"
    return PerVariableRates


def block_multipliers(phase: PhaseConfig, report: Any, blocks: list[Any], backbone: Any) -> dict[str, float]:
    """Variable path -> learning-rate factor for the phase's discriminative rates (empty when uniform).

    Raises:
        FreezeError: ``block_lr_multipliers`` names a block the backbone lacks.
    """
    from tl_widgets.core.models.freezing import FreezeError

    names = [b.name for b in blocks]
    unknown = sorted(set(phase.block_lr_multipliers) - set(names))
    if unknown:
        raise FreezeError(f"Expected block_lr_multipliers to name blocks of the backbone ({', '.join(names)}). "
                          f"Received: {unknown[0]!r}")
    if phase.lr_decay_per_block == 1.0 and not phase.block_lr_multipliers:
        return {}
    trainable = [b.name for b in report.blocks if b.trainable_params > 0]
    factor_of = {name: phase.lr_decay_per_block ** (len(trainable) - 1 - i) for i, name in enumerate(trainable)}
    for name, f in phase.block_lr_multipliers.items():
        factor_of[name] = factor_of.get(name, 1.0) * f
    layers = {layer.name: layer for layer in backbone.layers}
    out: dict[str, float] = {}
    for block in blocks:
        f = factor_of.get(block.name, 1.0)
        if f == 1.0:
            continue
        for lname in block.layers:
            for w in layers[lname].trainable_weights:
                out[w.path] = f
    return out
