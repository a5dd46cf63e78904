"""Multi-backend custom layers (keras.ops; `Conv2D` and `BatchNormalization` add tensorflow's own fast kernels), all registered for `.keras` saving."""

from kerasnets.layers.channel_padding import ChannelZeroPadding
from kerasnets.layers.channel_shuffle import ChannelShuffle
from kerasnets.layers.convolution import Conv2D, conv2d, grouped_convolutions, grouped_form
from kerasnets.layers.lrn import LocalResponseNormalization
from kerasnets.layers.normalization import BatchNormalization
from kerasnets.layers.squeeze_excite import SqueezeExcite
from kerasnets.layers.stochastic_depth import (
    DROP_PATH_RULES,
    BatchStochasticDepth,
    StochasticDepth,
    drop_path_rates,
    linear_decay_rates,
    uniform_rates,
)

__all__ = [
    "BatchNormalization",
    "BatchStochasticDepth",
    "DROP_PATH_RULES",
    "ChannelShuffle",
    "ChannelZeroPadding",
    "Conv2D",
    "LocalResponseNormalization",
    "SqueezeExcite",
    "StochasticDepth",
    "conv2d",
    "drop_path_rates",
    "grouped_convolutions",
    "grouped_form",
    "linear_decay_rates",
    "uniform_rates",
]
