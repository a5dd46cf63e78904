"""Export-time rewrites: the same function in ops the phone runtime runs fast.

LiteRT's XNNPACK delegate takes AVERAGE_POOL_2D in float only: in an int8
model every average pooling runs as TFLite's reference kernel, and splits the
graph into separate XNNPACK partitions around it (ShuffleNet's three
stride-2 shortcuts cut its int8 graph into seven). A "valid" average pooling
is a depthwise convolution whose weights are all 1 / (window area), which
XNNPACK runs in int8, and int8 represents that weight exactly (it is the
per-channel maximum, stored as 127 x scale). So before a conversion the
model is rebuilt with such a `DepthwiseConv2D` in place of each valid
`AveragePooling2D`; every other layer is the model's own (shared, same
weights). "Same" poolings are left alone: at the borders they divide by the
number of pixels inside the image, which no fixed weight does. In float
too, as XNNPACK then fuses the zero padding before the pooling into the
convolution (ShuffleNet float32: 1-3% faster, 27 KiB of weights more).

XNNPACK fuses an explicit zero PAD into the convolution after it, not into a
max pooling, and TFLite's MAX_POOL_2D knows only "same" and "valid"
padding: the PAD of a ResNet-style stem (convolution, ReLU, zero padding of
1, 3x3 max pooling of stride 2: the PyTorch layout, ShuffleNet's) stays a
copy of the whole map. `max_pooling_as_same` computes that pooling with
"same" padding instead (on a ReLU's output zero padding is the same as
none); where the map's side is even the convolution before it computes one
more row or column, which only the last "same" window reads, and a crop
drops that window (ShuffleNet: int8 5%, float32 2-4% faster).

In int8, XNNPACK transposes 1-byte elements slowly in small tiles, and a
channel shuffle is a transpose of a (groups, C / groups) tile in every pixel
(3 x 20 to 3 x 80 in ShuffleNet). `channel_shuffle_by_planes` computes the
same permutation on whole channel planes: the map transposed to channels
first (one large transpose), the planes permuted (each a contiguous block of
height x width bytes), and transposed back (ShuffleNet int8, 1 thread: its
shuffles' TRANSPOSEs 0.32 -> 0.08 ms timed alone, the model 2.01 -> 1.78
ms). In float it gains nothing at 1 thread and is slower at 2, so it is for
int8 conversions only.

After an int8 conversion, `per_tensor_where_uniform` stores a convolution's
per-channel quantization as one scale where every channel's is the same (the
rewritten poolings' kernels and their zero biases): the same arithmetic,
12 bytes a channel less (ShuffleNet 1.0x: 17 KiB).
"""

from __future__ import annotations

import collections

import numpy as np

from kerasnets.layers.channel_shuffle import ChannelShuffle


def _replace_layers(model, matches, replacement):
    """`model` rebuilt with `replacement(layer)` for each layer that `matches`.

    Returns `model` itself when no layer matches; every other layer is the
    model's own object (shared, same weights).
    """
    import keras

    if not any(matches(layer) for layer in model.layers):
        return model
    return keras.models.clone_model(
        model, clone_function=lambda layer: replacement(layer) if matches(layer) else layer)


def _valid_average_pooling(layer):
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

    def depthwise(layer):
        area = float(np.prod(layer.pool_size))
        return keras.layers.DepthwiseConv2D(
            layer.pool_size, strides=layer.strides, padding="valid", use_bias=False,
            depthwise_initializer=keras.initializers.Constant(1.0 / area),
            trainable=False, name=layer.name,
        )

    return _replace_layers(model, _valid_average_pooling, depthwise)


# Layers between the convolution and the max pooling's padding that act on each
# pixel alone: they run unchanged on a map one row and column larger.
_POINTWISE = ("BatchNormalization", "ReLU", "Activation")


def _non_negative(layer):
    """Whether `layer`'s outputs are >= 0 whatever its inputs (a ReLU)."""
    import keras

    if isinstance(layer, keras.layers.ReLU):
        return (float(layer.negative_slope) == 0.0 and float(layer.threshold) >= 0.0)
    if type(layer) is keras.layers.Activation:
        return getattr(layer.activation, "__name__", None) in ("relu", "relu6")
    return False


def _symmetric_padding(layer, amount):
    import keras

    return (type(layer) is keras.layers.ZeroPadding2D and layer.data_format == "channels_last"
            and tuple(map(tuple, layer.padding)) == ((amount, amount), (amount, amount)))


def _stem_pooling(graph, index, calls, outputs):
    """The layers of a "pad, convolution, ..., ReLU, pad of 1, 3x3/2 max pooling" chain, or None.

    `index` is the pooling's step in `graph` (`kerasnets.analysis.graph.trace`).
    Returns (convolution's padding, convolution, max pooling, its padding,
    axes of even size): every layer of the chain is called once, and each
    output but the pooling's has one consumer, so the map one row and column
    larger reaches nothing else.
    """
    import keras

    def before(index):
        """The step making step `index`'s one input, if that output has no other use."""
        inputs = graph.step_inputs(index)
        if len(inputs) != 1 or id(inputs[0]) in outputs \
                or len(graph.consumers.get(id(inputs[0]), ())) != 1:
            return None
        producer = graph.producer.get(id(inputs[0]))
        if producer is None or calls[id(graph.steps[producer].layer)] != 1:
            return None
        return producer

    def layer(index):
        return None if index is None else graph.steps[index].layer

    pool = layer(index)
    if not (type(pool) is keras.layers.MaxPooling2D and pool.padding == "valid"
            and pool.data_format == "channels_last" and tuple(pool.pool_size) == (3, 3)
            and tuple(pool.strides) == (2, 2) and calls[id(pool)] == 1):
        return None
    pad_index = before(index)
    if not _symmetric_padding(layer(pad_index), 1):
        return None
    step = before(pad_index)
    if not _non_negative(layer(step)):
        return None
    while step is not None and type(layer(step)).__name__ in _POINTWISE:
        step = before(step)
    conv = layer(step)
    if not (isinstance(conv, keras.layers.Conv2D) and conv.padding == "valid"
            and conv.data_format == "channels_last"):
        return None
    conv_pad = layer(before(step))
    if type(conv_pad) is not keras.layers.ZeroPadding2D or conv_pad.data_format != "channels_last":
        return None
    height, width = graph.step_inputs(pad_index)[0].shape[1:3]
    if height is None or width is None:
        return None
    even = tuple(axis for axis, size in ((0, height), (1, width)) if size % 2 == 0)
    return conv_pad, conv, pool, layer(pad_index), even


def max_pooling_as_same(model):
    """`model`, with each 3x3/2 max pooling after a ReLU and a zero padding of 1 in "same" padding.

    The chain matched is a stem: `ZeroPadding2D` -> `Conv2D` ("valid") ->
    batch normalizations and activations -> a ReLU -> `ZeroPadding2D(1)` ->
    `MaxPooling2D(3, 2)` ("valid"). The ReLU's output is >= 0, so padding it
    with zeros or not padding at all gives the same maxima, and a "same"
    pooling of a map of odd side pads 1 on each side: the same windows. On
    an axis of even side the convolution's padding grows by its stride at
    the end, the map by one row (column), and a `Cropping2D` drops the
    pooling's last row (column), the only one that reads it. The padding
    layer before the pooling goes. Returns `model` itself when no such chain
    exists, or when it is not a functional model; outputs equal the model's
    (tests/test_export_rewrite.py).
    """
    import keras

    from kerasnets.analysis.graph import trace

    try:
        graph = trace(model)
    except ValueError:  # Sequential or subclassed: no graph of layer calls to match in
        return model
    calls = collections.Counter(id(step.layer) for step in graph.steps)
    outputs = {id(tensor) for tensor in keras.tree.flatten(graph.outputs)}
    chains = [chain for chain in (_stem_pooling(graph, index, calls, outputs)
                                  for index in range(len(graph.steps))) if chain is not None]
    if not chains:
        return model
    paddings, removed, crops = {}, set(), {}
    for conv_pad, conv, pool, pad, even in chains:
        grow = [conv.strides[axis] if axis in even else 0 for axis in (0, 1)]
        (top, bottom), (left, right) = conv_pad.padding
        paddings[conv_pad.name] = ((top, bottom + grow[0]), (left, right + grow[1]))
        removed.add(pad.name)
        crops[pool.name] = tuple((0, int(axis in even)) for axis in (0, 1))

    def replace(layer):
        if layer.name in paddings:
            return keras.layers.ZeroPadding2D(paddings[layer.name], name=layer.name)
        if layer.name in removed:
            return keras.layers.Identity(name=layer.name)
        if layer.name in crops:
            return keras.Sequential([keras.layers.MaxPooling2D(3, 2, padding="same"),
                                     keras.layers.Cropping2D(crops[layer.name])],
                                    name=layer.name)
        return layer

    return keras.models.clone_model(model, clone_function=replace)


class ChannelShuffleByPlanes(ChannelShuffle):
    """`ChannelShuffle` (channels last) computed on channel planes: the same outputs.

    The (pixels, C) map (every leading axis folded) is transposed to
    (C, pixels), its planes (rows of `pixels` values) are permuted as
    (groups, C / groups) -> (C / groups, groups), and the result is
    transposed back. The converter merges the first two steps: two
    TRANSPOSEs over the map instead of one, but each moves large tiles or
    whole planes where the one-pass form moves single channels, which
    XNNPACK's int8 kernels do faster (see the module docstring). Export
    only: no weights, and not registered for saving.
    """

    def call(self, inputs):
        if self.data_format != "channels_last":
            return super().call(inputs)
        from keras import ops

        channels = inputs.shape[-1]
        # Every leading axis folds into the pixels (batch too: the permutation
        # is of channels alone), so that a static shape gives static sizes.
        x = ops.reshape(inputs, (-1, channels))
        pixels = ops.shape(x)[0]
        x = ops.reshape(ops.transpose(x), (self.groups, channels // self.groups, pixels))
        x = ops.reshape(ops.transpose(x, (1, 0, 2)), (channels, pixels))
        return ops.reshape(ops.transpose(x), ops.shape(inputs))


def _shuffle_in_pixels(layer):
    return type(layer) is ChannelShuffle and layer.data_format == "channels_last"


def channel_shuffle_by_planes(model):
    """`model`, with each channels-last `ChannelShuffle` computed by planes.

    Returns `model` itself when it has none; every other layer is the
    model's own. Outputs equal the model's exactly, as does the int8 file's
    quantization (a permutation changes no range; tests/test_export_rewrite.py).
    """
    return _replace_layers(model, _shuffle_in_pixels, lambda layer: ChannelShuffleByPlanes(
        layer.groups, data_format=layer.data_format, name=layer.name))


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
