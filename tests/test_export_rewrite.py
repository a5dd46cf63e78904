"""Export-time rewrites (kerasnets.export.rewrite): same outputs, ops XNNPACK runs in int8."""

import collections

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets.export import convert_tflite
from kerasnets.export.metadata import random_inputs
from kerasnets.export.rewrite import (
    average_pooling_as_depthwise,
    max_pooling_as_same,
    per_tensor_where_uniform,
)


def _shufflenet():
    return kerasnets.build("shufflenet_v1", groups=3, scale=0.25, input_shape=(64, 64, 3),
                           classes=10)


def test_valid_average_pooling_becomes_an_equal_depthwise_convolution():
    model = _shufflenet()
    rewritten = average_pooling_as_depthwise(model)
    pools = [f"stage{s}_unit1_shortcut_pool" for s in (2, 3, 4)]
    for name in pools:
        layer = rewritten.get_layer(name)
        assert type(layer) is keras.layers.DepthwiseConv2D and not layer.trainable
        assert layer.strides == (2, 2) and layer.kernel_size == (3, 3)
        np.testing.assert_array_equal(layer.get_weights()[0], np.float32(1 / 9))
    # Every other layer is the model's own object: the same weights, not copies.
    originals = {id(l) for l in model.layers}
    others = [l for l in rewritten.layers
              if l.name not in pools and not isinstance(l, keras.layers.InputLayer)]
    assert others and all(id(l) in originals for l in others)
    x = np.random.default_rng(0).uniform(-2, 2, (3, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(rewritten(x)), np.asarray(model(x)), rtol=1e-5,
                               atol=1e-6)


def test_models_without_valid_average_pooling_are_returned_as_they_are():
    mobilenet = kerasnets.build("mobilenet_v2", alpha=0.35, input_shape=(32, 32, 3), classes=10)
    assert average_pooling_as_depthwise(mobilenet) is mobilenet
    inputs = keras.Input((8, 8, 4))
    same = keras.Model(inputs, keras.layers.AveragePooling2D(3, 1, padding="same")(inputs))
    assert average_pooling_as_depthwise(same) is same


def _random_statistics(model, seed=0):
    """Random batch-normalization statistics, so that no output is 0 by construction."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            n = layer.get_weights()[0].shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.5, n),
                               rng.normal(0, 0.1, n), rng.uniform(0.5, 1.5, n)])
    return model


def test_stem_max_pooling_becomes_same_pooling_with_equal_outputs():
    # conv1 3x3/2 gives 32x32 (even: the convolution grows by a row and a column,
    # the pooling crops them) at 64x64, and 33x17 (odd: nothing to crop) at 65x33.
    for shape, padding, crop in [((64, 64, 3), ((1, 3), (1, 3)), ((0, 1), (0, 1))),
                                 ((65, 33, 3), ((1, 1), (1, 1)), ((0, 0), (0, 0)))]:
        model = _random_statistics(kerasnets.build(
            "shufflenet_v1", groups=3, scale=0.25, input_shape=shape, classes=10))
        rewritten = max_pooling_as_same(model)
        assert type(rewritten.get_layer("pool1_pad")) is keras.layers.Identity
        assert rewritten.get_layer("conv1_pad").padding == padding
        pool, cropping = rewritten.get_layer("pool1").layers
        assert type(pool) is keras.layers.MaxPooling2D and pool.padding == "same"
        assert cropping.cropping == crop
        # The convolution, its normalization and ReLU are the model's own layers.
        for name in ("conv1", "conv1_bn", "conv1_relu"):
            assert rewritten.get_layer(name) is model.get_layer(name)
        x = np.random.default_rng(1).uniform(-2, 2, (3, *shape)).astype("float32")
        np.testing.assert_array_equal(np.asarray(rewritten(x)), np.asarray(model(x)))
    resnet = kerasnets.build("resnet18", input_shape=(64, 64, 3), classes=10)
    rewritten = max_pooling_as_same(resnet)
    assert type(rewritten.get_layer("pool1_pad")) is keras.layers.Identity
    x = np.random.default_rng(2).uniform(-2, 2, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(rewritten(x)), np.asarray(resnet(x)))


def _stem(activation, second_consumer=False):
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.ZeroPadding2D(1)(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2)(x)
    x = keras.layers.BatchNormalization()(x)
    x = activation(x)
    y = keras.layers.MaxPooling2D(3, 2)(keras.layers.ZeroPadding2D(1)(x))
    if second_consumer:  # the ReLU's map also feeds another branch
        y = keras.layers.Concatenate()([y, keras.layers.MaxPooling2D(2)(x)])
    return keras.Model(inputs, y)


def test_max_pooling_is_left_alone_unless_its_padding_is_provably_equal():
    relu = _stem(keras.layers.ReLU())
    assert max_pooling_as_same(relu) is not relu
    # Inputs that may be negative: zero padding can then be the maximum.
    for activation in (keras.layers.LeakyReLU(0.1), keras.layers.Activation("tanh"),
                       keras.layers.ReLU(negative_slope=0.1)):
        model = _stem(activation)
        assert max_pooling_as_same(model) is model
    # The convolution's map reaches another consumer, which a larger map would change.
    shared = _stem(keras.layers.ReLU(), second_consumer=True)
    assert max_pooling_as_same(shared) is shared
    sequential = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.ReLU(),
                                   keras.layers.ZeroPadding2D(1), keras.layers.MaxPooling2D(3, 2)])
    assert max_pooling_as_same(sequential) is sequential


class _Scale(keras.layers.Layer):
    """A custom layer whose config Keras cannot write (an object in its arguments)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, x):
        return x * 2.0


def test_a_model_without_a_config_is_rewritten_and_converts():
    stem = _stem(keras.layers.ReLU())
    model = keras.Model(stem.inputs[0], _Scale(object())(stem.outputs[0]))
    with pytest.raises(NotImplementedError):
        model.get_config()
    # The graph is read from the layer calls, not from the config.
    rewritten = max_pooling_as_same(model)
    assert rewritten is not model
    assert any(type(layer) is keras.layers.Identity for layer in rewritten.layers)
    x = np.random.default_rng(4).uniform(-2, 2, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(rewritten(x)), np.asarray(model(x)))
    assert convert_tflite(model, "float32")[4:8] == b"TFL3"


def _ops_after_delegation(content):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    return collections.Counter(op["op_name"] for op in interpreter._get_ops_details())


def test_int8_shufflenet_runs_in_one_xnnpack_partition():
    model = _shufflenet()
    spec = kerasnets.get_spec("shufflenet_v1")
    data = random_inputs((64, 64, 3), spec.preprocessing, count=4)
    int8 = _ops_after_delegation(convert_tflite(model, "int8", representative_data=data))
    # No average pooling (XNNPACK's is float-only) and no ReLU after a concatenation:
    # one XNNPACK partition; only the final softmax stays with TFLite's kernels.
    assert int8["AVERAGE_POOL_2D"] == 0 and int8["RELU"] == 0
    assert int8["DELEGATE"] == 1
    # The stem's max pooling pads by itself ("same"): of the model's 8 zero paddings
    # the 7 that XNNPACK fuses into the convolution after them are left.
    assert int8["PAD"] == 7 and int8["MAX_POOL_2D"] == 1 and int8["STRIDED_SLICE"] == 1
    # The float32 file gets the same rewrites.
    float32 = _ops_after_delegation(convert_tflite(model, "float32"))
    assert float32["DELEGATE"] == 1
    for op in ("AVERAGE_POOL_2D", "PAD", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "CONV_2D"):
        assert float32[op] == int8[op], op


def test_rewritten_float_file_computes_the_models_outputs():
    from kerasnets.export.tflite import TFLiteModel

    model = _random_statistics(_shufflenet())
    content = convert_tflite(model, "float32")
    images = np.random.default_rng(3).uniform(-1, 1, (4, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(TFLiteModel(content).predict(images),
                               np.asarray(model(images)), rtol=1e-4, atol=1e-6)


def _filter_scales(content):
    """{DEPTHWISE_CONV_2D / CONV_2D filter name: number of scales} of a .tflite file."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    counts = {}
    for op in interpreter._get_ops_details():
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            filt = tensors[op["inputs"][1]]
            counts[filt["name"]] = len(filt["quantization_parameters"]["scales"])
    return counts


def _run_int8(content, resolver):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    images = np.random.default_rng(1).integers(-128, 128, (3, 1, 64, 64, 3)).astype(np.int8)
    outputs = []
    for image in images:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    return np.array(outputs)


def test_uniform_per_channel_quantization_is_stored_per_tensor(monkeypatch):
    from ai_edge_litert.interpreter import OpResolverType

    import kerasnets.export.tflite as tflite

    model = _shufflenet()
    data = random_inputs((64, 64, 3), kerasnets.get_spec("shufflenet_v1").preprocessing, count=4)
    collapsed = convert_tflite(model, "int8", representative_data=data)
    monkeypatch.setattr(tflite, "per_tensor_where_uniform", lambda content: content)
    converted = convert_tflite(model, "int8", representative_data=data)

    before, after = _filter_scales(converted), _filter_scales(collapsed)
    pools = {name for name in before if "shortcut_pool" in name}
    assert len(pools) == 3 and all(before[name] > 1 for name in pools)
    # The poolings' kernels (one weight, 1/9, in every channel) get one scale;
    # the trained convolutions keep theirs per channel.
    assert {name: after[name] for name in pools} == dict.fromkeys(pools, 1)
    assert {k: v for k, v in after.items() if k not in pools} == \
        {k: v for k, v in before.items() if k not in pools}
    assert all(v > 1 for k, v in after.items() if k not in pools)
    # 12 bytes (float32 scale, int64 zero point) a channel, for the kernels and
    # for their biases, less the one scale and zero point each keeps and padding.
    channels = sum(before[name] for name in pools)
    assert 23 * channels <= len(converted) - len(collapsed) <= 24 * channels
    # The same integers out, with XNNPACK and with TFLite's own kernels.
    for resolver in (OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES):
        np.testing.assert_array_equal(_run_int8(collapsed, resolver),
                                      _run_int8(converted, resolver))
    assert _ops_after_delegation(collapsed)["DELEGATE"] == 1
    # Nothing left to collapse: the same bytes back.
    assert per_tensor_where_uniform(collapsed) is collapsed


def test_channel_shuffle_by_planes_is_the_same_permutation():
    from kerasnets.export.rewrite import ChannelShuffleByPlanes
    from kerasnets.layers.channel_shuffle import ChannelShuffle

    rng = np.random.default_rng(5)
    for shape, groups in [((2, 5, 7, 12), 3), ((1, 4, 4, 12), 4), ((3, 9, 6), 2), ((4, 10), 5)]:
        x = rng.normal(size=shape).astype("float32")
        np.testing.assert_array_equal(np.asarray(ChannelShuffleByPlanes(groups)(x)),
                                      np.asarray(ChannelShuffle(groups)(x)))
    # Channels first is left to ChannelShuffle's own form.
    x = rng.normal(size=(2, 6, 3, 5)).astype("float32")
    np.testing.assert_array_equal(
        np.asarray(ChannelShuffleByPlanes(3, data_format="channels_first")(x)),
        np.asarray(ChannelShuffle(3, data_format="channels_first")(x)))


def test_channel_shuffles_by_planes_keep_the_models_outputs_and_int8_integers(monkeypatch):
    import kerasnets.export.tflite as tflite
    from kerasnets.export.rewrite import ChannelShuffleByPlanes, channel_shuffle_by_planes

    model = _random_statistics(_shufflenet())
    rewritten = channel_shuffle_by_planes(model)
    shuffles = [l.name for l in model.layers if type(l).__name__ == "ChannelShuffle"]
    assert len(shuffles) == 15
    for layer in rewritten.layers:
        if layer.name in shuffles:
            assert type(layer) is ChannelShuffleByPlanes
            assert layer.groups == model.get_layer(layer.name).groups
        elif not isinstance(layer, keras.layers.InputLayer):
            assert layer is model.get_layer(layer.name)
    x = np.random.default_rng(6).uniform(-2, 2, (3, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(rewritten(x)), np.asarray(model(x)))
    mobilenet = kerasnets.build("mobilenet_v2", alpha=0.35, input_shape=(32, 32, 3), classes=10)
    assert channel_shuffle_by_planes(mobilenet) is mobilenet

    data = random_inputs((64, 64, 3), kerasnets.get_spec("shufflenet_v1").preprocessing, count=4)
    by_planes = convert_tflite(model, "int8", representative_data=data)
    monkeypatch.setattr(tflite, "channel_shuffle_by_planes", lambda m: m)
    in_pixels = convert_tflite(model, "int8", representative_data=data)
    ops_planes, ops_pixels = _ops_after_delegation(by_planes), _ops_after_delegation(in_pixels)
    # Two transposes per shuffle instead of one, in the same single XNNPACK partition.
    assert ops_pixels["TRANSPOSE"] == 15 and ops_planes["TRANSPOSE"] == 30
    assert ops_planes["DELEGATE"] == 1
    # A permutation changes no quantization range: the same integers out.
    from ai_edge_litert.interpreter import OpResolverType

    np.testing.assert_array_equal(_run_int8(by_planes, OpResolverType.AUTO),
                                  _run_int8(in_pixels, OpResolverType.AUTO))
    # The float files keep the one-transpose form (by planes is slower there at 2 threads).
    assert _ops_after_delegation(convert_tflite(model, "float32"))["TRANSPOSE"] == 15
