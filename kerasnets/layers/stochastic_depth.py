"""Stochastic depth: drop a residual branch per sample (Huang et al. 2016)."""

from __future__ import annotations

import numbers

import keras
from keras import ops

from kerasnets.checks import check_choice, check_range

SCALE_AT_CHOICES = ("train", "test")


def _check_rate(argument, value):
    return float(check_range(argument, value, 0, 1, high_inclusive=False,
                             describe="the drop probability, 1 - survival probability"))


def linear_decay_rates(drop_path_rate, num_blocks):
    """The drop rate of each of `num_blocks` residual blocks under the linear decay rule.

    Huang, Sun, Liu, Sedra and Weinberger, "Deep Networks with Stochastic
    Depth", ECCV 2016, eq. (4): block l of L (1-based, input side first)
    survives with p_l = 1 - (l / L) * (1 - p_L), so its drop rate is
    (l / L) * drop_path_rate, where drop_path_rate = 1 - p_L is the drop rate
    of the last block (the paper uses p_L = 0.5). Returns a list of
    `num_blocks` floats, increasing to `drop_path_rate`.
    """
    drop_path_rate = _check_rate("drop_path_rate", drop_path_rate)
    num_blocks = int(check_range("num_blocks", num_blocks, 1, integer=True))
    return [drop_path_rate * block / num_blocks for block in range(1, num_blocks + 1)]


@keras.saving.register_keras_serializable(package="kerasnets")
class StochasticDepth(keras.layers.Layer):
    """Drops the whole residual branch of a random subset of the batch's samples.

    Huang, Sun, Liu, Sedra and Weinberger, "Deep Networks with Stochastic
    Depth", ECCV 2016. Apply to the residual branch before the addition,
    `shortcut + StochasticDepth(rate)(branch)`.

    Conventions: `rate` is the drop probability, 1 - p for the paper's
    survival probability p, in [0, 1). In training each sample keeps its
    branch with probability p (one Bernoulli draw per sample, broadcast over
    the other axes, so data_format does not matter), drawn with
    `keras.random` from a `SeedGenerator(seed)` owned by the layer.
    `scale_at="train"` (the default, timm's `drop_path`) multiplies the kept
    branches by 1 / p in training and is the identity at inference;
    `scale_at="test"` (the paper's rule) leaves training outputs unscaled and
    multiplies by p at inference. Both give a branch whose training-time
    expectation equals its inference output. rate=0 is the identity.
    """

    def __init__(self, rate, scale_at="train", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate("rate", rate)
        check_choice("scale_at", scale_at, SCALE_AT_CHOICES)
        self.scale_at = scale_at
        if seed is not None and (
            not isinstance(seed, numbers.Integral) or isinstance(seed, bool)
        ):
            raise ValueError(f"`seed` must be None or an integer; got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.survival_probability = 1.0 - self.rate

    def call(self, inputs, training=None):
        if self.rate == 0.0:
            return inputs
        p = self.survival_probability
        if not training:
            return inputs if self.scale_at == "train" else inputs * p
        rank = len(inputs.shape)
        mask_shape = (ops.shape(inputs)[0],) + (1,) * (rank - 1)
        uniform = keras.random.uniform(mask_shape, seed=self.seed_generator)
        keep = ops.cast(ops.less(uniform, p), inputs.dtype)
        if self.scale_at == "train":
            keep = keep / p
        return inputs * keep

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "scale_at": self.scale_at, "seed": self.seed})
        return config
