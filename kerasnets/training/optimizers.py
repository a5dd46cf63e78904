"""Optimizers and learning-rate schedules of the papers, with weight decay both ways.

Weight decay comes in two forms, chosen by `weight_decay_mode`:

* ``"coupled"``: L2 regularisation added to the gradient, ``g <- g + wd * w``,
  before the optimizer's own update, so that it is carried through momentum
  (and RMSProp's or Adam's normalisation). With SGD and momentum this is the
  update rule of Krizhevsky et al. (2012), section 5::

      v <- momentum * v - wd * lr * w - lr * dL/dw
      w <- w + v

  It is the same as adding ``wd / 2 * ||w||^2`` to the loss, without the term
  showing in the reported loss. The classes :class:`SGD`, :class:`RMSprop`,
  :class:`Adam` and :class:`Adagrad` here implement it (after gradient clipping, as Caffe does).
* ``"decoupled"``: Keras' own ``weight_decay`` (Loshchilov and Hutter, 2019),
  ``w <- w - lr * wd * w`` before the update, outside the momentum.

Either way only kernels decay by default (``weight_decay_on="kernels"``:
convolution and dense kernels, any variable of rank >= 2); biases and batch
normalisation's scales and offsets do not (the practice of the AlexNet and
Inception releases). ``"all"`` decays every trainable variable;
``"kernels_except_depthwise"`` spares depthwise kernels too (MobileNet v1).
"""

from __future__ import annotations

import math

import keras

__all__ = [
    "SGD",
    "RMSprop",
    "Adam",
    "Adagrad",
    "build_optimizer",
    "build_schedule",
    "steps_for",
]


def _decays(variable, weight_decay_on):
    if weight_decay_on == "kernels_except_depthwise" and variable.name == "depthwise_kernel":
        return False
    return weight_decay_on == "all" or len(variable.shape) >= 2


class _CoupledWeightDecay:
    """Mixin: adds ``l2 * w`` to the gradient of each decaying variable in `update_step`."""

    def __init__(self, *args, l2=0.0, weight_decay_on="kernels", **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not l2 >= 0:
            raise ValueError(f"`l2` must be a number >= 0; got {l2!r}")
        if weight_decay_on not in ("kernels", "all", "kernels_except_depthwise"):
            raise ValueError("`weight_decay_on` must be kernels, all or kernels_except_depthwise; "
                             f"got {weight_decay_on!r}")
        self.l2 = float(l2)
        self.weight_decay_on = weight_decay_on

    def update_step(self, gradient, variable, learning_rate):
        # Called per variable after the gradients are all-reduced across replicas and
        # clipped, so the decay term is added once, to the global gradient.
        if self.l2 and _decays(variable, self.weight_decay_on):
            gradient = gradient + keras.ops.cast(self.l2, variable.dtype) * variable
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2, "weight_decay_on": self.weight_decay_on}


@keras.saving.register_keras_serializable(package="kerasnets")
class SGD(_CoupledWeightDecay, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with coupled weight decay `l2` (the AlexNet update rule)."""


@keras.saving.register_keras_serializable(package="kerasnets")
class RMSprop(_CoupledWeightDecay, keras.optimizers.RMSprop):
    """`keras.optimizers.RMSprop` with coupled weight decay `l2`."""


@keras.saving.register_keras_serializable(package="kerasnets")
class Adam(_CoupledWeightDecay, keras.optimizers.Adam):
    """`keras.optimizers.Adam` with coupled weight decay `l2` (L2, not AdamW)."""


@keras.saving.register_keras_serializable(package="kerasnets")
class Adagrad(_CoupledWeightDecay, keras.optimizers.Adagrad):
    """`keras.optimizers.Adagrad` (Duchi, Hazan and Singer 2011) with coupled weight decay `l2`."""


def steps_for(epochs, steps_per_epoch):
    """A number of epochs (a float allowed) as optimizer steps."""
    return max(1, int(round(epochs * steps_per_epoch)))


def build_schedule(config, learning_rate, steps_per_epoch):
    """The learning rate `Optimizer(learning_rate=...)` takes for `config.schedule`.

    A float for "constant" and "plateau" (the plateau schedule is the
    `ReduceLROnPlateau` callback of :func:`kerasnets.training.callbacks`), a
    `keras.optimizers.schedules.LearningRateSchedule` otherwise, in steps.
    """
    schedule = config.schedule
    name = schedule["name"]
    total = steps_for(config.epochs, steps_per_epoch)
    schedules = keras.optimizers.schedules
    if name in ("constant", "plateau"):
        return float(learning_rate)
    if name == "cosine":
        return schedules.CosineDecay(learning_rate, total, alpha=schedule["alpha"])
    if name == "linear":
        return schedules.PolynomialDecay(learning_rate, total,
                                         end_learning_rate=schedule["end"] * learning_rate,
                                         power=1.0)
    if name == "exponential":
        return schedules.ExponentialDecay(
            learning_rate, steps_for(schedule["every"], steps_per_epoch),
            schedule["rate"], staircase=schedule["staircase"])
    if name == "step":
        # Keras keeps the first value up to and including a boundary step: one step earlier
        # makes the first step of the boundary epoch take the new value.
        boundaries = [steps_for(epoch, steps_per_epoch) - 1 for epoch in schedule["boundaries"]]
        values = [learning_rate * schedule["factor"] ** i for i in range(len(boundaries) + 1)]
        return schedules.PiecewiseConstantDecay(boundaries, values)
    raise ValueError(f"unknown schedule {name!r}")  # check_schedule prevents it


def build_optimizer(config, learning_rate=None, steps_per_epoch=1):
    """The optimizer of a :class:`~kerasnets.training.config.TrainConfig`.

    `learning_rate` (the config's by default) is the rate after scaling for
    the number of replicas; the schedule counts `steps_per_epoch` steps.
    """
    learning_rate = config.learning_rate if learning_rate is None else learning_rate
    if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate)
            and learning_rate > 0):
        raise ValueError(f"`learning_rate` must be a positive number; got {learning_rate!r}")
    rate = build_schedule(config, float(learning_rate), steps_per_epoch)
    common = {"learning_rate": rate, "clipnorm": config.clipnorm,
              "global_clipnorm": config.global_clipnorm, "clipvalue": config.clipvalue}
    coupled = config.weight_decay_mode == "coupled"
    if config.weight_decay and not coupled:
        common["weight_decay"] = config.weight_decay
    decay = {"l2": config.weight_decay if coupled else 0.0,
             "weight_decay_on": config.weight_decay_on}
    if config.optimizer == "sgd":
        optimizer = SGD(momentum=config.momentum, nesterov=config.nesterov, **decay, **common)
    elif config.optimizer == "rmsprop":
        extra = {} if config.epsilon is None else {"epsilon": config.epsilon}
        optimizer = RMSprop(rho=config.rho, momentum=config.momentum, **extra, **decay, **common)
    elif config.optimizer == "adagrad":
        extra = {} if config.epsilon is None else {"epsilon": config.epsilon}
        optimizer = Adagrad(**extra, **decay, **common)
    else:
        extra = {} if config.epsilon is None else {"epsilon": config.epsilon}
        optimizer = Adam(**extra, **decay, **common)
    if config.weight_decay and not coupled and config.weight_decay_on != "all":
        # Keras matches these against variable names: the rank-1 variables of our layers.
        names = ["bias", "gamma", "beta", "moving_mean", "moving_variance"]
        if config.weight_decay_on == "kernels_except_depthwise":
            names.append("depthwise_kernel")
        optimizer.exclude_from_weight_decay(var_names=names)
    return optimizer
