"""Zero channels appended to a feature map: the CIFAR ResNets' option A shortcut."""

from __future__ import annotations

import numbers

import keras
from keras import ops

from kerasnets.checks import standardize_data_format


@keras.saving.register_keras_serializable(package="kerasnets")
class ChannelZeroPadding(keras.layers.Layer):
    """Pads the channel axis with zero channels: the CIFAR ResNets' option A shortcut.

    He et al. (2016), section 3.3, option (A): "the shortcut still performs
    identity mapping, with extra zero entries padded for increasing
    dimensions" (after 1x1/2 subsampling, done by a max pooling before this
    layer). `padding=(before, after)` zero channels; the default residual
    networks append them after the input channels, as fb.resnet.torch's
    shortcut type A. The channel axis is given by `data_format` (None means
    `keras.config.image_data_format()`). The layer has no weights.
    """

    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(**kwargs)
        padding = tuple(padding) if isinstance(padding, (tuple, list)) else padding
        if not (
            isinstance(padding, tuple)
            and len(padding) == 2
            and all(isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 0
                    for p in padding)
        ):
            raise ValueError(
                f"`padding` must be a pair (before, after) of integers >= 0; got {padding!r}"
            )
        self.padding = tuple(int(p) for p in padding)
        self.data_format = standardize_data_format(data_format)

    def _channel_axis(self, rank):
        return rank - 1 if self.data_format == "channels_last" else 1

    def call(self, inputs):
        rank = len(inputs.shape)
        pad_width = [[0, 0]] * rank
        pad_width[self._channel_axis(rank)] = list(self.padding)
        return ops.pad(inputs, pad_width)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axis = self._channel_axis(len(shape))
        if shape[axis] is not None:
            shape[axis] += sum(self.padding)
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": list(self.padding), "data_format": self.data_format})
        return config
