"""Runs every kerasnets layer on fixed inputs under the backend in KERAS_BACKEND.

Usage: KERAS_BACKEND=jax python tests/backend_layers_check.py inputs.npz outputs.npz

`inputs.npz` holds `x` (a channels_last batch with 12 channels), `sd_x` (a
larger batch for the stochastic depth training draws) and the SqueezeExcite
weights `se_reduce_kernel`, `se_reduce_bias`, `se_expand_kernel`,
`se_expand_bias`. tests/test_layers.py runs this once per backend in a
subprocess and compares the outputs with the same `compute` run in-process on
tensorflow. Every layer runs inside a Functional model with unknown batch and
spatial sizes, in both data formats.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# The checkout's own kerasnets, whichever copy is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from kerasnets.layers import (  # noqa: E402
    ChannelShuffle,
    LocalResponseNormalization,
    SqueezeExcite,
    StochasticDepth,
)

# (k, n, alpha, beta): AlexNet's, then GoogLeNet-style large alphas, window
# sizes from 1 to wider than the 12 channels.
LRN_CONFIGS = (
    (2.0, 5, 1e-4, 0.75),
    (1.0, 5, 1e-3, 0.75),
    (1.0, 3, 0.1, 0.5),
    (0.5, 7, 1.0, 1.0),
    (2.0, 1, 1e-2, 0.75),
    (1.0, 15, 1e-3, 0.75),
)
SHUFFLE_GROUPS = (2, 3, 4)
SD_RATE = 0.25


def _to_channels_first(x):
    return np.transpose(x, (0, 3, 1, 2))


def _run(layer, x, data_format, training=False):
    """Applies `layer` through a Functional model with None batch and spatial dims."""
    channels = x.shape[-1] if data_format == "channels_last" else x.shape[1]
    shape = (None, None, channels) if data_format == "channels_last" else (channels, None, None)
    inputs = keras.Input(shape=shape)
    model = keras.Model(inputs, layer(inputs))
    return keras.ops.convert_to_numpy(model(x, training=training))


def _se_layer(arrays, data_format):
    layer = SqueezeExcite(ratio=4, data_format=data_format)
    channels = arrays["x"].shape[-1]
    shape = (None, None, None, channels)
    if data_format == "channels_first":
        shape = (None, channels, None, None)
    layer.build(shape)
    layer.reduce.set_weights([arrays["se_reduce_kernel"], arrays["se_reduce_bias"]])
    layer.expand.set_weights([arrays["se_expand_kernel"], arrays["se_expand_bias"]])
    return layer


def _train_steps(arrays):
    """Two fit steps through every layer: training-mode graphs compile and stay finite."""
    x = arrays["x"].astype("float32") / 30.0
    inputs = keras.Input(shape=(None, None, x.shape[-1]))
    h = keras.layers.Conv2D(12, 1)(inputs)
    h = LocalResponseNormalization(k=1.0, n=3, alpha=1e-2, beta=0.75)(h)
    h = ChannelShuffle(3)(h)
    h = h + StochasticDepth(0.5, seed=1)(SqueezeExcite(ratio=4)(h))
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    model.compile(optimizer="sgd", loss="mse")
    y = np.ones((x.shape[0], 2), "float32")
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    return np.asarray(history.history["loss"], "float32")


def compute(arrays):
    """All layer outputs for `arrays` under the current backend, as numpy arrays."""
    keras.utils.set_random_seed(0)
    x = arrays["x"].astype("float32")
    x_cf = _to_channels_first(x)
    out = {}
    for i, (k, n, alpha, beta) in enumerate(LRN_CONFIGS):
        out[f"lrn_{i}"] = _run(LocalResponseNormalization(k, n, alpha, beta, "channels_last"),
                               x, "channels_last")
        out[f"lrn_{i}_cf"] = _run(LocalResponseNormalization(k, n, alpha, beta, "channels_first"),
                                  x_cf, "channels_first")
    for g in SHUFFLE_GROUPS:
        out[f"shuffle_{g}"] = _run(ChannelShuffle(g, "channels_last"), x, "channels_last")
        out[f"shuffle_{g}_cf"] = _run(ChannelShuffle(g, "channels_first"), x_cf, "channels_first")
    out["se"] = _run(_se_layer(arrays, "channels_last"), x, "channels_last")
    out["se_cf"] = _run(_se_layer(arrays, "channels_first"), x_cf, "channels_first")

    sd_x = arrays["sd_x"].astype("float32")
    for scale_at in ("train", "test"):
        out[f"sd_{scale_at}_infer"] = _run(StochasticDepth(SD_RATE, scale_at), x, "channels_last")
        out[f"sd_{scale_at}_rate0_train"] = _run(
            StochasticDepth(0.0, scale_at), x, "channels_last", training=True
        )
        out[f"sd_{scale_at}_train"] = _run(
            StochasticDepth(SD_RATE, scale_at, seed=3), sd_x, "channels_last", training=True
        )
    out["fit_loss"] = _train_steps(arrays)
    return out


def main(argv):
    if len(argv) != 3:
        sys.exit(f"usage: {argv[0]} inputs.npz outputs.npz")
    with np.load(argv[1]) as data:
        arrays = dict(data)
    outputs = compute(arrays)
    outputs["backend"] = np.asarray(keras.backend.backend())
    np.savez(argv[2], **outputs)


if __name__ == "__main__":
    main(sys.argv)
