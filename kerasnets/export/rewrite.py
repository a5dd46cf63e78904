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

After an int8 conversion, `per_tensor_where_uniform` stores a convolution's
per-channel quantization as one scale where every channel's is the same (the
rewritten poolings' kernels and their zero biases): the same arithmetic,
12 bytes a channel less (ShuffleNet 1.0x: 17 KiB).
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


_CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def per_tensor_where_uniform(content):
    """The int8 `.tflite` `content` (bytes), with uniform per-channel quantization made per-tensor.

    The converter quantizes every convolution's filter (and its int32 bias)
    per output channel: a scale (float32) and a zero point (int64) for each.
    Where all of a filter's or bias's scales are equal and so are its zero
    points, one scale and one zero point say the same, and LiteRT and
    XNNPACK run per-tensor filters with the same arithmetic. Only the filter
    and bias inputs of CONV_2D and DEPTHWISE_CONV_2D are touched; returns
    `content` itself when none qualifies. The outputs are bit-identical
    (tests/test_export_rewrite.py).
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    names = {value: name for name, value in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
    changed = False
    for graph in model.subgraphs:
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if names.get(max(code.builtinCode, code.deprecatedBuiltinCode)) not in _CONVOLUTIONS:
                continue
            for index in list(op.inputs)[1:3]:
                quantization = graph.tensors[index].quantization if index >= 0 else None
                if quantization is None or quantization.scale is None:
                    continue
                scale = np.asarray(quantization.scale)
                zero_point = np.asarray(quantization.zeroPoint)
                if (scale.size > 1 and np.all(scale == scale[0])
                        and zero_point.size == scale.size and np.all(zero_point == zero_point[0])):
                    quantization.scale = scale[:1].tolist()
                    quantization.zeroPoint = zero_point[:1].tolist()
                    quantization.quantizedDimension = 0
                    changed = True
    if not changed:
        return content
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
