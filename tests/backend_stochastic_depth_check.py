"""Batch-mode stochastic depth under the backend in KERAS_BACKEND: skipped work, BN, fit().

Usage: KERAS_BACKEND=jax python tests/backend_stochastic_depth_check.py out.json [--no-fit]

tests/test_stochastic_depth_batch.py runs `check()` in-process on tensorflow
and this script in a subprocess for jax and torch. It builds a tiny resnet20
(16x16) with drop_path_mode="batch" and checks, on the backend:

- a dropped branch (the layer called with keep=False in training) gives
  zeros, leaves its batch normalization moving statistics as they were and
  is not computed; a kept one updates them and is computed. "Not computed"
  is shown per backend: on torch (eager, a Python `if`) and tensorflow eager
  by counting the calls of a branch layer; in compiled code by the
  conditional in the traced program (tensorflow: an `If`/`StatelessIf` op in
  the tf.function graph of a training call; jax: a `cond` in the jaxpr of
  the jitted stateless training call);
- model.fit runs two steps (batch 4) with a finite loss, compiled as keras
  compiles by default (tensorflow: tf.function, XLA where keras' "auto"
  picks it; jax: jax.jit), unless `--no-fit`.

Writes a JSON of the findings; the test asserts on them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

# The checkout's own kerasnets, whichever copy is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

import kerasnets  # noqa: E402

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf
elif keras.backend.backend() == "jax":
    import jax

SIZE = 16
BATCH = 4
BLOCK = "conv3_block2"


def _np(x):
    return keras.ops.convert_to_numpy(x)


def tiny_resnet20(**kwargs):
    return kerasnets.build("resnet20", input_shape=(SIZE, SIZE, 3), drop_path_rate=0.5,
                           drop_path_mode="batch", **kwargs)


def _count_calls(layer):
    """Patches `layer.call` to count its eager calls; returns the counter (a list of one int)."""
    counter = [0]
    original = layer.call

    def counting(*args, **kwargs):
        counter[0] += 1
        return original(*args, **kwargs)

    layer.call = counting
    return counter


def _traced_conditionals(model, wrapper, x_block, x):
    """How many conditionals the compiled training call of `wrapper` and of `model` contains."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        def count(fn, inputs):
            graph = tf.function(fn).get_concrete_function(
                tf.TensorSpec(inputs.shape, inputs.dtype)).graph
            return sum(op.type in ("If", "StatelessIf") for op in graph.get_operations())

        return (count(lambda t: wrapper(t, training=True), x_block),
                count(lambda t: model(t, training=True), x))
    if backend == "jax":
        def count(layer, inputs):
            trainable = [v.value for v in layer.trainable_variables]
            non_trainable = [v.value for v in layer.non_trainable_variables]
            jaxpr = jax.make_jaxpr(
                lambda t, n, a: layer.stateless_call(t, n, a, training=True)
            )(trainable, non_trainable, inputs)
            return str(jaxpr).count(" cond[")

        return count(wrapper, x_block), count(model, x)
    return None, None


def check(fit=True):
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = tiny_resnet20()
    wrapper = model.get_layer(f"{BLOCK}_drop")
    bn = wrapper.branch.get_layer(f"{BLOCK}_1_bn")
    conv = wrapper.branch.get_layer(f"{BLOCK}_1_conv")
    x_block = rng.normal(size=(BATCH, SIZE // 2, SIZE // 2, 32)).astype("float32")
    result = {"backend": keras.backend.backend()}

    calls = _count_calls(conv)
    mean0, var0 = _np(bn.moving_mean).copy(), _np(bn.moving_variance).copy()
    dropped = _np(wrapper(x_block, training=True, keep=False))
    result["dropped_max_abs"] = float(np.abs(dropped).max())
    result["dropped_shape"] = list(dropped.shape)
    result["dropped_stats_changed"] = bool(
        not np.array_equal(_np(bn.moving_mean), mean0)
        or not np.array_equal(_np(bn.moving_variance), var0))
    result["dropped_calls"] = calls[0]
    calls[0] = 0
    kept = _np(wrapper(x_block, training=True, keep=True))
    full = _np(wrapper.branch(x_block, training=True)) / wrapper.survival_probability
    result["kept_max_diff"] = float(np.abs(kept - full).max())
    result["kept_stats_changed"] = bool(not np.array_equal(_np(bn.moving_mean), mean0))
    result["kept_calls"] = calls[0] - 1  # the reference call above counts once
    del conv.call  # back to the class's method

    x = rng.uniform(size=(BATCH, SIZE, SIZE, 3)).astype("float32")
    wrapper_conds, model_conds = _traced_conditionals(model, wrapper, x_block, x)
    result["wrapper_conditionals"] = wrapper_conds
    result["model_conditionals"] = model_conds
    result["blocks"] = sum(
        isinstance(layer, kerasnets.layers.BatchStochasticDepth) for layer in model.layers)

    if not fit:
        return result
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, size=2 * BATCH)]
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    history = model.fit(np.concatenate([x, x[::-1]]), y, batch_size=BATCH, epochs=1, verbose=0)
    result["fit_loss"] = float(history.history["loss"][-1])
    result["jit_compile"] = bool(model.jit_compile)
    result["fit_steps"] = int(_np(model.optimizer.iterations))
    return result


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(check(fit="--no-fit" not in sys.argv[2:])))
