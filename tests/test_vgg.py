"""VGG (Simonyan and Zisserman 2015): the configurations of Table 1, keras.applications' weights."""

import keras
import numpy as np
import pytest

import kerasnets


def test_vgg_configurations_follow_table_1():
    def convs(name):
        model = kerasnets.build(name, include_top=False, input_shape=(32, 32, 3))
        return [
            l.kernel_size[0] for l in model.layers if isinstance(l, keras.layers.Conv2D)
        ]

    assert convs("vgg11") == [3] * 8
    assert convs("vgg13") == [3] * 10
    assert convs("vgg16_conv1") == [3] * 6 + [1] + [3, 3, 1] + [3, 3, 1]
    assert convs("vgg16") == [3] * 13
    assert convs("vgg19") == [3] * 16
    lrn = kerasnets.build("vgg11_lrn", include_top=False, input_shape=(32, 32, 3))
    names = [l.name for l in lrn.layers]
    assert names[1:4] == ["block1_conv1", "block1_lrn", "block1_pool"]


@pytest.mark.parametrize(
    "name, reference", [("vgg16", "VGG16"), ("vgg19", "VGG19")]
)
def test_keras_applications_weights_load_into_ours(name, reference):
    ref = getattr(keras.applications, reference)(weights=None)
    ours = kerasnets.build(name)
    assert [w.shape for w in ours.weights] == [w.shape for w in ref.weights]
    ours.set_weights(ref.get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(x, training=False)),
        keras.ops.convert_to_numpy(ref(x, training=False)),
        atol=1e-5, rtol=1e-5,
    )
    # The layer names match too, so by-name loading of published files works.
    ref_names = [l.name for l in ref.layers if l.weights]
    assert [l.name for l in ours.layers if l.weights] == ref_names


def test_vgg_batch_norm_after_every_convolution():
    model = kerasnets.build("vgg16", batch_norm=True, include_top=False, input_shape=(32, 32, 3))
    names = [l.name for l in model.layers]
    assert names[1:8] == ["block1_conv1", "block1_conv1_bn", "block1_conv1_relu",
                          "block1_conv2", "block1_conv2_bn", "block1_conv2_relu", "block1_pool"]
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == 13
    assert all(not c.use_bias and c.activation.__name__ == "linear" for c in convs)
    bns = [l.name for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert bns == [f"{c.name}_bn" for c in convs]
    # By hand from Table 1's configuration D: each 3x3 kernel, and 4 BN values per
    # channel (gamma, beta, moving mean and variance) in place of the bias.
    filters = [64] * 2 + [128] * 2 + [256] * 3 + [512] * 3 + [512] * 3
    inputs = [3] + filters[:-1]
    kernels = sum(3 * 3 * i * o for i, o in zip(inputs, filters))
    assert model.count_params() == kernels + 4 * sum(filters) == 14_727_360
    plain = kerasnets.build("vgg16", include_top=False, input_shape=(32, 32, 3))
    assert plain.count_params() == kernels + sum(filters) == 14_714_688
    x = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    assert tuple(model(x, training=False).shape) == (2, 1, 1, 512)
    # A-LRN: the normalization follows the first convolution's ReLU.
    lrn = kerasnets.build("vgg11_lrn", batch_norm=True, include_top=False,
                          input_shape=(32, 32, 3))
    assert [l.name for l in lrn.layers][1:6] == [
        "block1_conv1", "block1_conv1_bn", "block1_conv1_relu", "block1_lrn", "block1_pool"]
    with pytest.raises(ValueError, match=r"`weights='imagenet'`: no published vgg16 "
                                         r"checkpoint has batch normalization"):
        kerasnets.build("vgg16", batch_norm=True, weights="imagenet")
    with pytest.raises(ValueError, match=r"`batch_norm` must be True or False; got 1"):
        kerasnets.build("vgg11", batch_norm=1)


def test_initialize_from_a_copies_four_convolutions_and_the_classifier():
    from kerasnets.models.vgg import initialize_from

    net_a = kerasnets.build("vgg11", classes=10)  # include_top needs 224 (fc1 on 7x7x512)
    deeper = kerasnets.build("vgg16", classes=10)
    numpy = keras.ops.convert_to_numpy
    convs = [l.name for l in deeper.layers if isinstance(l, keras.layers.Conv2D)]
    before = {name: numpy(deeper.get_layer(name).kernel) for name in convs}
    copied = initialize_from(net_a, deeper)
    assert copied == ["block1_conv1", "block2_conv1", "block3_conv1", "block3_conv2",
                      "fc1", "fc2", "predictions"]
    for name in copied:
        for ours, theirs in zip(deeper.get_layer(name).weights, net_a.get_layer(name).weights):
            np.testing.assert_array_equal(numpy(ours), numpy(theirs))
    a_names = {l.name for l in net_a.layers}
    for name in convs:
        kernel = numpy(deeper.get_layer(name).kernel)
        if name in copied:
            continue
        # "the intermediate layers were initialised randomly": untouched, and not A's
        # where A has a layer of that name (block4_conv1, ...).
        np.testing.assert_array_equal(kernel, before[name])
        if name in a_names:
            assert not np.array_equal(kernel, numpy(net_a.get_layer(name).kernel))
    assert len(convs) - 4 == 9


def test_initialize_from_names_the_layer_that_does_not_fit():
    from kerasnets.models.vgg import initialize_from

    small = dict(include_top=False, input_shape=(32, 32, 3))
    net_a = kerasnets.build("vgg11", **small)
    # Without the classifier only the convolutions are shared; B's block1_conv2 (64 -> 64)
    # is not A's second convolution (64 -> 128): the copy goes by name.
    assert initialize_from(net_a, kerasnets.build("vgg13", **small)) == [
        "block1_conv1", "block2_conv1", "block3_conv1", "block3_conv2"]
    with pytest.raises(ValueError, match=r"layer 'block1_conv1' of 'vgg16' has weight shapes "
                                         r"\[\(3, 3, 3, 64\)\], those of 'vgg11' are "
                                         r"\[\(3, 3, 3, 64\), \(64,\)\]"):
        initialize_from(net_a, kerasnets.build("vgg16", batch_norm=True, **small))
    with pytest.raises(ValueError, match=r"`trained_a` must be a VGG configuration A \(vgg11\)"
                                         r".*got 'vgg13' with block1_conv1, block1_conv2"):
        initialize_from(kerasnets.build("vgg13", **small), kerasnets.build("vgg16", **small))
    with pytest.raises(ValueError, match=r"layer 'fc1' is in one model but not in `trained_a`"):
        initialize_from(net_a, kerasnets.build("vgg16", pooling=None, classes=3))
