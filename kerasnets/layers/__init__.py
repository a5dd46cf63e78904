"""Multi-backend custom layers (keras.ops only), all registered for `.keras` saving."""

from kerasnets.layers.channel_padding import ChannelZeroPadding
from kerasnets.layers.channel_shuffle import ChannelShuffle
from kerasnets.layers.lrn import LocalResponseNormalization
from kerasnets.layers.squeeze_excite import SqueezeExcite
from kerasnets.layers.stochastic_depth import StochasticDepth, linear_decay_rates

__all__ = [
    "ChannelShuffle",
    "ChannelZeroPadding",
    "LocalResponseNormalization",
    "SqueezeExcite",
    "StochasticDepth",
    "linear_decay_rates",
]
