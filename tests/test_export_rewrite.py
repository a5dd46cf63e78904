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


def _filter_scales(content):
    """{DEPTHWISE_CONV_2D / CONV_2D filter name: number of scales} of a .tflite file."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content,
                              experimental_preserve_all_tensors=True)
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
    from kerasnets.export.rewrite import per_tensor_where_uniform

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
