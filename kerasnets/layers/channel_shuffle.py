"""Channel shuffle between grouped convolutions (ShuffleNet)."""

from __future__ import annotations


import keras
from keras import ops

from kerasnets.checks import check_range, standardize_data_format


@keras.saving.register_keras_serializable(package="kerasnets")
class ChannelShuffle(keras.layers.Layer):
    """Interleaves the channels of `groups` groups so that the next group conv mixes them.

    Zhang, Zhou, Lin and Sun, "ShuffleNet: An Extremely Efficient Convolutional
    Neural Network for Mobile Devices", CVPR 2018, section 3.1: reshape the
    channel axis to (groups, C / groups), transpose to (C / groups, groups) and
    flatten back. Output channel j is input channel
    (j % groups) * (C // groups) + j // groups.

    Conventions: C must be known and divisible by `groups` (checked in
    `build`). The channel axis is given by `data_format` (None means
    `keras.config.image_data_format()`); batch and spatial sizes may be
    unknown, and inputs may have any rank >= 2. Shuffling with `groups` and
    then with C // groups restores the original order. The layer has no
    weights.
    """

    def __init__(self, groups, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(check_range("groups", groups, 1, integer=True))
        self.data_format = standardize_data_format(data_format)

    def _channel_axis(self, rank):
        return rank - 1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        rank = len(input_shape)
        if rank < 2:
            raise ValueError(
                f"ChannelShuffle needs inputs of rank >= 2 (batch and channels); got shape "
                f"{tuple(input_shape)}"
            )
        channels = input_shape[self._channel_axis(rank)]
        if channels is None:
            raise ValueError(
                f"ChannelShuffle needs a known channel count (data_format="
                f"{self.data_format!r}); got shape {tuple(input_shape)}"
            )
        if channels % self.groups:
            raise ValueError(
                f"ChannelShuffle: the channel count ({channels}) must be divisible by "
                f"`groups` ({self.groups}); got shape {tuple(input_shape)}"
            )

    def call(self, inputs):
        rank = len(inputs.shape)
        shape = ops.shape(inputs)
        channels = inputs.shape[self._channel_axis(rank)]
        per_group = channels // self.groups
        if self.data_format == "channels_last":
            # Every leading axis folds into one, so unknown batch and spatial
            # sizes need no special case.
            grouped = ops.reshape(inputs, (-1, self.groups, per_group))
            shuffled = ops.transpose(grouped, (0, 2, 1))
        else:
            grouped = ops.reshape(inputs, (shape[0], self.groups, per_group, -1))
            shuffled = ops.transpose(grouped, (0, 2, 1, 3))
        return ops.reshape(shuffled, shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"groups": self.groups, "data_format": self.data_format})
        return config
