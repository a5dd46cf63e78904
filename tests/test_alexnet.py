"""AlexNet (Krizhevsky et al. 2012): two towers, LRN, overlapping pooling."""

import keras
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
