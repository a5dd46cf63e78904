"""Stochastic depth: drop a residual branch per sample or per mini-batch (Huang et al. 2016).

Huang, Sun, Liu, Sedra and Weinberger, "Deep Networks with Stochastic
Depth", ECCV 2016. Two layers, two ways of dropping a block's residual
branch f_l in training (the shortcut always passes):

- `StochasticDepth` (the "sample" mode, timm's `drop_path`): applied to the
  branch's output, it zeroes it for a random subset of the samples of the
  batch. The branch is always computed.
- `BatchStochasticDepth` (the "batch" mode, the paper's: "if b_l = 0 the
  ResBlock is bypassed" for the whole mini-batch): owns the branch (a
  functional `keras.Model`) and runs it inside `keras.ops.cond`, so that a
  dropped branch is not computed at all (and its batch normalization
  statistics are not updated), on every backend and inside compiled train
  steps (tf.function / XLA, jax.jit).

The survival probability p_l of block l of L follows a rule:
`linear_decay_rates` (the paper's eq. 4, p_l = 1 - (l / L)(1 - p_L)) or
`uniform_rates` (p_l = p_L for every block, the paper's uniform rule of
section 3 and Figure 8); `drop_path_rates(rate, num_blocks, rule)` picks one.
Both layers take `rate` = 1 - p_l and the same two scaling conventions
(`scale_at`).
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

from kerasnets.checks import check_choice, check_range

SCALE_AT_CHOICES = ("train", "test")
DROP_PATH_RULES = ("linear", "uniform")


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


def uniform_rates(drop_path_rate, num_blocks):
    """The drop rate of each of `num_blocks` residual blocks under the uniform rule.

    Huang et al. (2016), section 3 ("Survival probabilities") and Figure 8:
    every block survives with the same p_l = p_L, so each drops with
    `drop_path_rate` = 1 - p_L. Returns a list of `num_blocks` equal floats.
    """
    drop_path_rate = _check_rate("drop_path_rate", drop_path_rate)
    num_blocks = int(check_range("num_blocks", num_blocks, 1, integer=True))
    return [drop_path_rate] * num_blocks


def drop_path_rates(drop_path_rate, num_blocks, rule="linear"):
    """Per-block drop rates under `rule`: "linear" (`linear_decay_rates`) or "uniform"."""
    check_choice("drop_path_rule", rule, DROP_PATH_RULES)
    if rule == "uniform":
        return uniform_rates(drop_path_rate, num_blocks)
    return linear_decay_rates(drop_path_rate, num_blocks)


def _check_seed(seed):
    if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
        raise ValueError(f"`seed` must be None or an integer; got {seed!r}")
    return None if seed is None else int(seed)


def _set_drop(layer, rate, scale_at, seed):
    """The checked settings both layers share: rate, scale_at, seed and its generator, p."""
    layer.rate = _check_rate("rate", rate)
    check_choice("scale_at", scale_at, SCALE_AT_CHOICES)
    layer.scale_at = scale_at
    layer.seed = _check_seed(seed)
    layer.seed_generator = keras.random.SeedGenerator(layer.seed)
    layer.survival_probability = 1.0 - layer.rate


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
        _set_drop(self, rate, scale_at, seed)

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


@keras.saving.register_keras_serializable(package="kerasnets")
class BatchStochasticDepth(keras.layers.Layer):
    """A residual branch that the whole mini-batch skips, uncomputed, with probability `rate`.

    Huang et al. (2016), section 3: in training, block l's branch f_l is kept
    (b_l = 1) with probability p = 1 - `rate`, one Bernoulli draw per call
    for the whole batch; "if b_l = 0 the ResBlock is bypassed". `branch` is
    the residual branch as a functional `keras.Model` with one output (its
    layers keep their names); this layer calls it inside `keras.ops.cond`, so
    a dropped branch is not computed (tf.cond, an XLA conditional under
    jit_compile; jax.lax.cond; a Python `if` on torch) and returns zeros of
    the branch's output shape, and its batch normalization moving statistics
    stay as they were. On jax the branch runs through `stateless_call` inside
    both sides of the cond and its non-trainable variables are assigned after
    it, so no tracer leaks out of the cond. The dropped branch's weights get
    zero gradients on every backend (momentum and weight decay still move
    them). Use it as
    `shortcut + BatchStochasticDepth(branch, rate)(branch_inputs)`.

    `scale_at` as `StochasticDepth`: "train" (default) divides a kept branch
    by p in training, the identity at inference; "test" (the paper's rule)
    leaves training outputs unscaled and multiplies the branch by p at
    inference. At inference the branch always runs. `seed` (None or an
    integer) seeds the layer's `SeedGenerator`. `call(..., keep=...)` (a
    bool or a boolean scalar tensor) forces the training-time decision, for
    tests and experiments; it is ignored at inference. The spatial sizes of
    the branch's output must be static (the zeros of a dropped branch take
    them).
    """

    def __init__(self, branch, rate, scale_at="train", seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(branch, keras.Model) or len(branch.outputs) != 1:
            raise ValueError(
                "`branch` must be a functional keras.Model with one output; "
                f"got {branch!r}"
            )
        if any(dim is None for dim in branch.outputs[0].shape[1:]):
            raise ValueError(
                "`branch` must have an output of static shape (but the batch size) for "
                f"batch-mode stochastic depth; got {tuple(branch.outputs[0].shape)}"
            )
        self.branch = branch
        _set_drop(self, rate, scale_at, seed)

    def build(self, input_shape):
        if not self.branch.built:
            self.branch.build(input_shape)
        self.built = True

    def _zeros(self, inputs):
        batch = ops.shape(keras.tree.flatten(inputs)[0])[0]
        output = self.branch.outputs[0]
        return ops.zeros((batch,) + tuple(output.shape[1:]), dtype=output.dtype)

    def _zero_anchor(self):
        """0 times the sum of the branch's weights: zero gradients (not none) for them.

        jax.lax.cond (and tf.cond in a graph) give a dropped branch's weights
        zero gradients, so momentum and weight decay still move them, as in
        the paper's Torch code; torch's Python `if` and tensorflow's eager
        cond would give none (and keras a warning each step). Summing the
        weights costs little next to the convolutions it saves.
        """
        total = 0.0
        for variable in self.branch.trainable_variables:
            total = total + ops.sum(variable)
        return ops.cast(total, self.branch.outputs[0].dtype) * 0.0

    def _scale_kept(self, outputs):
        if self.scale_at == "train" and self.rate > 0.0:
            return outputs / ops.cast(self.survival_probability, outputs.dtype)
        return outputs

    def call(self, inputs, training=None, keep=None):
        if not training:
            outputs = self.branch(inputs, training=training)
            if self.scale_at == "test" and self.rate > 0.0:
                outputs = outputs * ops.cast(self.survival_probability, outputs.dtype)
            return outputs
        if keep is None:
            uniform = keras.random.uniform((), seed=self.seed_generator)
            keep = ops.less(uniform, self.survival_probability)
        elif isinstance(keep, bool):
            keep = ops.convert_to_tensor(keep)
        if keras.backend.backend() != "jax":
            return ops.cond(
                keep,
                lambda: self._scale_kept(self.branch(inputs, training=True)),
                lambda: self._zeros(inputs) + self._zero_anchor(),
            )
        # jax: variable updates inside lax.cond would leak tracers; run the
        # branch statelessly and assign its new non-trainable values after.
        variables = self.branch.non_trainable_variables
        trainable = [v.value for v in self.branch.trainable_variables]
        non_trainable = [v.value for v in variables]

        def compute():
            outputs, updated = self.branch.stateless_call(
                trainable, non_trainable, inputs, training=True
            )
            return self._scale_kept(outputs), list(updated)

        def skip():
            return self._zeros(inputs), list(non_trainable)

        outputs, updated = ops.cond(keep, compute, skip)
        for variable, value in zip(variables, updated):
            variable.assign(value)
        return outputs

    def compute_output_shape(self, input_shape):
        batch = keras.tree.flatten(input_shape)[0]
        return (batch,) + tuple(self.branch.outputs[0].shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update({
            "branch": keras.saving.serialize_keras_object(self.branch),
            "rate": self.rate,
            "scale_at": self.scale_at,
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["branch"] = keras.saving.deserialize_keras_object(config["branch"])
        return cls(**config)
