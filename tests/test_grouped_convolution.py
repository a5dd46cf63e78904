"""kerasnets.layers.Conv2D: grouped convolutions computed natively on tensorflow, same weights.

The fast forms ("native": one oneDNN grouped convolution; "split": one per
group, concatenated) must give Keras' outputs and gradients, and a model's
weight files and `.keras` files written with `keras.layers.Conv2D` (what every
release before this one built) must load into today's models and back.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasnets
from kerasnets.models.resnet import ResNeXt
from kerasnets.layers import Conv2D, conv2d, grouped_convolutions, grouped_form
from kerasnets.layers.convolution import onednn_enabled

FAST_FORMS = ["split", pytest.param("native", marks=pytest.mark.skipif(
    not onednn_enabled(), reason="tensorflow without oneDNN has no grouped gradient"))]

# (input shape, filters, kernel, groups, strides, padding, use_bias, activation):
# ResNeXt's 3x3 (stride 1 and 2), ShuffleNet's 1x1 (g = 3), AlexNet's towers.
CASES = [
    ((2, 12, 12, 32), 32, 3, 8, 1, "same", False, None),
    ((2, 13, 13, 32), 64, 3, 8, 2, "valid", False, None),
    ((2, 9, 9, 24), 48, 1, 3, 1, "valid", False, None),
    ((2, 15, 15, 16), 32, 5, 2, 1, "same", True, "relu"),
]


def _pair(case):
    shape, filters, kernel, groups, strides, padding, use_bias, activation = case
    args = dict(filters=filters, kernel_size=kernel, groups=groups, strides=strides,
                padding=padding, use_bias=use_bias, activation=activation)
    ours, theirs = Conv2D(**args), keras.layers.Conv2D(**args)
    ours.build(shape)
    theirs.build(shape)
    rng = np.random.default_rng(0)
    theirs.set_weights([rng.normal(size=w.shape).astype("float32") for w in ours.get_weights()])
    ours.set_weights(theirs.get_weights())
    return ours, theirs, rng.normal(size=shape).astype("float32")


def _outputs_and_gradients(layer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * tf.cos(y))
    grads = tape.gradient(loss, [x, *layer.trainable_variables])
    return [np.asarray(t) for t in (y, *grads)]


@pytest.mark.parametrize("form", FAST_FORMS)
@pytest.mark.parametrize("case", CASES, ids=["resnext", "resnext_stride2", "shufflenet", "alexnet"])
def test_fast_forms_equal_keras_outputs_and_gradients(case, form):
    ours, theirs, x = _pair(case)
    with grouped_convolutions(form):
        got = _outputs_and_gradients(ours, x)
    want = _outputs_and_gradients(theirs, x)
    assert len(got) == len(want) == (4 if case[6] else 3)
    for name, a, b in zip(["output", "d input", "d kernel", "d bias"], got, want):
        scale = float(np.abs(b).max())
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale, err_msg=name)


def test_form_follows_the_machine_and_the_override():
    assert grouped_form() == ("native" if onednn_enabled() else "split")
    with grouped_convolutions("keras"):
        assert grouped_form() == "keras"
    assert grouped_form() == ("native" if onednn_enabled() else "split")
    with pytest.raises(ValueError, match="`form` must be one of.*'xla'"):
        with grouped_convolutions("xla"):
            pass


def test_conv2d_picks_our_layer_only_for_grouped_convolutions():
    assert type(conv2d(8, 3, groups=2)) is Conv2D
    assert type(conv2d(8, 3)) is keras.layers.Conv2D
    # By name `Conv2D`, so weight files address it as Keras' (`conv2d`, `conv2d_1`, ...).
    assert Conv2D.__name__ == "Conv2D"
    assert keras.saving.get_registered_name(Conv2D) == "kerasnets>Conv2D"


def _small_resnext(**kwargs):
    return ResNeXt(blocks=(1, 1, 1, 1), cardinality=8, **kwargs)


def test_the_networks_with_grouped_convolutions_use_it():
    model = _small_resnext(input_shape=(32, 32, 3), classes=10)
    grouped = [l for l in model.layers if isinstance(l, keras.layers.Conv2D) and l.groups > 1]
    assert len(grouped) == 4 and all(type(l) is Conv2D for l in grouped)
    assert all(type(l) is keras.layers.Conv2D
               for l in model.layers if isinstance(l, keras.layers.Conv2D) and l.groups == 1)
    alexnet = kerasnets.build("alexnet", include_top=False)
    assert [l.name for l in alexnet.layers if type(l) is Conv2D] == ["conv2", "conv4", "conv5"]


def _with_keras_conv2d(model):
    """`model` as releases before this one built it: every Conv2D Keras' own, same weights."""
    def plain(layer):
        if type(layer) is not Conv2D:
            return layer.__class__.from_config(layer.get_config())
        return keras.layers.Conv2D.from_config(layer.get_config())

    old = keras.models.clone_model(model, clone_function=plain)
    old.set_weights(model.get_weights())
    assert not [l for l in old.layers if type(l) is Conv2D]
    return old


def _shufflenet(**kwargs):
    return kerasnets.build("shufflenet_v1", groups=3, scale=0.5, **kwargs)


@pytest.mark.parametrize("build, kwargs", [
    (_shufflenet, dict(input_shape=(64, 64, 3), classes=10)),
    (_small_resnext, dict(input_shape=(32, 32, 3), classes=10)),
], ids=["shufflenet_v1", "resnext"])
def test_weight_files_of_keras_conv2d_models_load_both_ways(tmp_path, build, kwargs):
    new = build(**kwargs)
    rng = np.random.default_rng(3)
    new.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") for w in new.get_weights()])
    old = _with_keras_conv2d(new)
    x = rng.uniform(-1, 1, (2, *kwargs["input_shape"])).astype("float32")
    want = np.asarray(old(x, training=False))

    # A weights file and a .keras file saved from the old form.
    old.save_weights(tmp_path / "old.weights.h5")
    old.save(tmp_path / "old.keras")
    fresh = build(**kwargs)
    fresh.load_weights(tmp_path / "old.weights.h5")
    np.testing.assert_allclose(np.asarray(fresh(x, training=False)), want, rtol=1e-5, atol=1e-5)
    reloaded = keras.saving.load_model(tmp_path / "old.keras")
    np.testing.assert_allclose(np.asarray(reloaded(x, training=False)), want,
                               rtol=1e-5, atol=1e-5)

    # And today's weights file loads into the old form: the files have the same paths.
    new.save_weights(tmp_path / "new.weights.h5")
    again = _with_keras_conv2d(build(**kwargs))
    again.load_weights(tmp_path / "new.weights.h5")
    np.testing.assert_allclose(np.asarray(again(x, training=False)), want, rtol=1e-5, atol=1e-5)

    # Today's .keras file keeps our layer.
    new.save(tmp_path / "new.keras")
    loaded = keras.saving.load_model(tmp_path / "new.keras")
    assert sum(type(l) is Conv2D for l in loaded.layers) == sum(
        type(l) is Conv2D for l in new.layers) > 0
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), want, rtol=1e-5, atol=1e-5)
