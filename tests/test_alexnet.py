"""AlexNet (Krizhevsky et al. 2012): two towers, LRN, overlapping pooling."""

import keras
import numpy as np
import pytest

import kerasnets


def test_alexnet_structure():
    model = kerasnets.build("alexnet")
    assert model.input_shape == (None, 227, 227, 3)
    groups = {l.name: l.groups for l in model.layers if isinstance(l, keras.layers.Conv2D)}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    shapes = {l.name: l.output.shape[1:] for l in model.layers}
    assert shapes["conv1"] == (55, 55, 96)
    assert shapes["pool1"] == (27, 27, 96)
    assert shapes["pool2"] == (13, 13, 256)
    assert shapes["pool5"] == (6, 6, 256)
    pools = [l for l in model.layers if isinstance(l, keras.layers.MaxPooling2D)]
    assert all(p.pool_size == (3, 3) and p.strides == (2, 2) for p in pools)  # overlapping
    lrns = [l.name for l in model.layers if type(l).__name__ == "LocalResponseNormalization"]
    assert lrns == ["norm1", "norm2"]
    norm = model.get_layer("norm1")
    assert (norm.k, norm.n, norm.alpha, norm.beta) == (2.0, 5, 1e-4, 0.75)
    drops = [l.rate for l in model.layers if isinstance(l, keras.layers.Dropout)]
    assert drops == [0.5, 0.5]


def test_alexnet_one_tower_without_lrn():
    model = kerasnets.build("alexnet", towers=1, lrn=False)
    assert model.count_params() == 62_378_344
    assert not [l for l in model.layers if type(l).__name__ == "LocalResponseNormalization"]
    assert all(l.groups == 1 for l in model.layers if isinstance(l, keras.layers.Conv2D))
    with pytest.raises(ValueError, match=r"`towers` must be one of \(1, 2\); got 3"):
        kerasnets.build("alexnet", towers=3)


def test_alexnet_batch_norm_after_every_convolution():
    model = kerasnets.build("alexnet", batch_norm=True, lrn=False, classes=10)
    names = [l.name for l in model.layers]
    assert names[1:5] == ["conv1", "conv1_bn", "conv1_relu", "pool1"]
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    for conv in convs:  # BN's beta replaces the bias; ReLU after the normalization
        assert not conv.use_bias and conv.activation.__name__ == "linear"
        assert names[names.index(conv.name) + 1:names.index(conv.name) + 3] == [
            f"{conv.name}_bn", f"{conv.name}_relu"]
    assert not [l for l in model.layers if type(l).__name__ == "LocalResponseNormalization"]
    # None on the fully connected layers (torchvision's vgg*_bn practice).
    assert len([l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]) == 5
    # By hand: kernels (conv2, conv4, conv5 see half the maps), 4 BN values per channel
    # (gamma, beta, moving mean and variance) instead of a bias, and fc6 to fc8.
    kernels = 11 * 11 * 3 * 96 + 5 * 5 * 48 * 256 + 3 * 3 * 256 * 384 + 3 * 3 * 192 * 384 \
        + 3 * 3 * 192 * 256
    channels = 96 + 256 + 384 + 384 + 256
    dense = 6 * 6 * 256 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 10 + 10
    assert model.count_params() == kernels + 4 * channels + dense == 56_913_322
    # For 1000 classes: the paper's 60,965,224 with 3 more values per conv channel.
    assert model.count_params() + 4096 * 990 + 990 == 60_965_224 + 3 * channels
    x = np.random.default_rng(0).uniform(0, 1, (2, 227, 227, 3)).astype("float32")
    out = keras.ops.convert_to_numpy(model(x, training=False))
    assert out.shape == (2, 10) and np.allclose(out.sum(axis=1), 1, atol=1e-5)
    # LRN is its own switch: lrn=True keeps norm1/norm2 after the ReLUs.
    lrn = kerasnets.build("alexnet_one_tower", batch_norm=True, lrn=True, classes=10)
    names = [l.name for l in lrn.layers]
    assert names[1:6] == ["conv1", "conv1_bn", "conv1_relu", "norm1", "pool1"]
    with pytest.raises(ValueError, match=r"`weights='bvlc'`: no published AlexNet checkpoint "
                                         r"has batch normalization; got batch_norm=True"):
        kerasnets.build("alexnet", batch_norm=True, weights="bvlc")
    with pytest.raises(ValueError, match=r"`batch_norm` must be True or False; got 'yes'"):
        kerasnets.build("alexnet", batch_norm="yes")


def test_alexnet_default_keeps_its_biases_and_names():
    model = kerasnets.build("alexnet_one_tower", include_top=False)
    assert [l.name for l in model.layers][1:3] == ["conv1", "pool1"]
    assert all(l.use_bias for l in model.layers if isinstance(l, keras.layers.Conv2D))
    assert not [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
