"""Export-time rewrites (kerasnets.export.rewrite): same outputs, ops XNNPACK runs in int8."""

import collections

import keras
import numpy as np

import kerasnets
from kerasnets.export import convert_tflite
from kerasnets.export.metadata import random_inputs
from kerasnets.export.rewrite import average_pooling_as_depthwise


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
    float32 = _ops_after_delegation(convert_tflite(model, "float32"))
    assert float32["AVERAGE_POOL_2D"] == 3 and float32["DELEGATE"] == 1
