"""Squeeze-and-excitation channel gating (SENet)."""

from __future__ import annotations

import math

import keras
from keras import ops

from kerasnets.checks import check_range, standardize_data_format


@keras.saving.register_keras_serializable(package="kerasnets")
class SqueezeExcite(keras.layers.Layer):
    """Rescales each channel by a gate computed from the global average of all channels.

    Hu, Shen, Albanie, Sun and Wu, "Squeeze-and-Excitation Networks", CVPR 2018
    (TPAMI 2020), fig. 3: global average pooling (squeeze) ->
    Dense(C // ratio, relu) -> Dense(C, sigmoid) (excitation) -> the input
    multiplied channelwise by the gate.

    Conventions: `ratio` is the paper's reduction ratio r (16 in the paper);
    the bottleneck has max(min_units, C // ratio) units. Both Dense layers
    have biases and are built in `build` as the sublayers `reduce` and
    `expand`, so a block has C * (C // r) + C // r + (C // r) * C + C
    parameters (8464 for C = 256, r = 16). The channel axis is given by
    `data_format` (None means `keras.config.image_data_format()`); batch and
    spatial sizes may be unknown, and inputs may have any rank >= 3.
    """

    def __init__(self, ratio=16, min_units=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.ratio = check_range("ratio", ratio, 0, low_inclusive=False,
                                 describe="the reduction ratio r")
        self.min_units = int(check_range("min_units", min_units, 1, integer=True))
        self.data_format = standardize_data_format(data_format)

    def _channel_axis(self, rank):
        return rank - 1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        rank = len(input_shape)
        if rank < 3:
            raise ValueError(
                "SqueezeExcite needs inputs of rank >= 3 (batch, spatial axes and "
                f"channels); got shape {tuple(input_shape)}"
            )
        channels = input_shape[self._channel_axis(rank)]
        if channels is None:
            raise ValueError(
                f"SqueezeExcite needs a known channel count (data_format="
                f"{self.data_format!r}); got shape {tuple(input_shape)}"
            )
        units = max(self.min_units, int(channels // self.ratio))
        self.reduce = keras.layers.Dense(
            units, activation="relu", name="reduce", dtype=self.dtype_policy
        )
        self.expand = keras.layers.Dense(
            channels, activation="sigmoid", name="expand", dtype=self.dtype_policy
        )
        self.reduce.build((None, channels))
        self.expand.build((None, units))

    def call(self, inputs):
        rank = len(inputs.shape)
        channel_axis = self._channel_axis(rank)
        spatial_axes = tuple(a for a in range(1, rank) if a != channel_axis)
        squeezed = ops.mean(inputs, axis=spatial_axes)
        gate = self.expand(self.reduce(squeezed))
        # Back to the input's rank with size-1 spatial axes, to broadcast.
        for axis in spatial_axes:
            gate = ops.expand_dims(gate, axis)
        return inputs * gate

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def multiply_adds(self, input_shape, output_shape):
        """Multiply-adds of one call, for `kerasnets.profile`: the two FC layers and the rescale.

        C * (C // r) + (C // r) * C for the excitation, plus one multiplication
        per input element for the channel rescale (H * W * C): the products
        of the SE overhead in the paper's section 4 ("Model and Computational
        Complexity"). The global pooling's additions, the biases and the
        activations are left out, as kerasnets.profile leaves them out
        everywhere.
        """
        rank = len(input_shape)
        channel_axis = self._channel_axis(rank)
        channels = input_shape[channel_axis]
        spatial = [d for a, d in enumerate(input_shape) if a not in (0, channel_axis)]
        if channels is None or any(d is None for d in spatial):
            raise ValueError(
                "multiply-adds need a known spatial size and channel count; got input shape "
                f"{tuple(input_shape)}. Build the model with a fixed input_shape."
            )
        units = max(self.min_units, int(channels // self.ratio))
        return 2 * channels * units + math.prod(spatial) * channels

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "ratio": self.ratio,
                "min_units": self.min_units,
                "data_format": self.data_format,
            }
        )
        return config
