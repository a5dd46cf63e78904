"""Export-time rewrites: the same function in ops the phone runtime runs fast.

LiteRT's XNNPACK delegate takes AVERAGE_POOL_2D in float only: in an int8
model every average pooling runs as TFLite's reference kernel, and splits the
graph into separate XNNPACK partitions around it (ShuffleNet's three
stride-2 shortcuts cut its int8 graph into seven). A "valid" average pooling
is a depthwise convolution whose weights are all 1 / (window area), which
XNNPACK runs in int8, and int8 represents that weight exactly (it is the
per-channel maximum, stored as 127 x scale). So before an int8 conversion the
model is rebuilt with such a `DepthwiseConv2D` in place of each valid
`AveragePooling2D`; every other layer is the model's own (shared, same
weights). "Same" poolings are left alone: at the borders they divide by the
number of pixels inside the image, which no fixed weight does.
"""

from __future__ import annotations

import numpy as np


def _replaceable(layer):
    import keras

    return (type(layer) is keras.layers.AveragePooling2D and layer.padding == "valid"
            and layer.data_format == "channels_last")


def average_pooling_as_depthwise(model):
    """`model`, with each valid channels-last `AveragePooling2D` computed by a `DepthwiseConv2D`.

    Returns `model` itself when it has none. The new layers keep the pooling
    layers' names; their weights are 1 / (pool height x pool width) and fixed.
    Outputs equal the model's to float rounding (tests/test_export_rewrite.py).
    """
    import keras

    if not any(_replaceable(layer) for layer in model.layers):
        return model

    def replace(layer):
        if not _replaceable(layer):
            return layer
        area = float(np.prod(layer.pool_size))
        return keras.layers.DepthwiseConv2D(
            layer.pool_size, strides=layer.strides, padding="valid", use_bias=False,
            depthwise_initializer=keras.initializers.Constant(1.0 / area),
            trainable=False, name=layer.name,
        )

    return keras.models.clone_model(model, clone_function=replace)
