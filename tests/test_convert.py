"""kerasnets.models.convert: fully connected classifiers as convolutions (dense evaluation)."""

import keras
import numpy as np
import pytest

import kerasnets


@pytest.mark.parametrize(
    "name, size, fc6, first_fc",
    [("vgg16", 224, (7, 7), "fc1"), ("alexnet", 227, (6, 6), "fc6")],
)
def test_fully_convolutional_equals_the_original(name, size, fc6, first_fc):
    from kerasnets.models import fully_convolutional

    model = kerasnets.build(name)
    dense = fully_convolutional(model)
    assert dense.get_layer(first_fc).kernel_size == fc6
    assert dense.get_layer("predictions").kernel_size == (1, 1)
    assert dense.count_params() == model.count_params()
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (2, size, size, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(dense(x)), keras.ops.convert_to_numpy(model(x)),
        atol=1e-5, rtol=1e-5,
    )
    # Larger images: a score map, averaged over positions.
    big = rng.uniform(-1, 1, (1, size + 64, size + 32, 3)).astype("float32")
    scores = fully_convolutional(model, spatial_average=False)(big)
    assert scores.shape[1] >= 2 and scores.shape[2] >= 2 and scores.shape[3] == 1000
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(dense(big)),
        keras.ops.convert_to_numpy(keras.ops.mean(scores, axis=(1, 2))),
        atol=1e-6,
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.sum(scores, -1)), 1,
                               rtol=1e-5)


def test_fully_convolutional_builder_option():
    model = kerasnets.build("lenet5", fully_convolutional=False)
    assert model.input_shape == (None, 32, 32, 1)
    dense = kerasnets.build("vgg11", fully_convolutional=True, classes=10)
    assert dense.input_shape == (None, None, None, 3)
    assert dense.output_shape == (None, 10)
    assert dense(np.zeros((1, 256, 288, 3), "float32")).shape == (1, 10)
    with pytest.raises(ValueError, match="needs include_top=True"):
        kerasnets.build("alexnet", fully_convolutional=True, include_top=False)
    with pytest.raises(ValueError, match="smaller than the network's input"):
        kerasnets.build("alexnet", fully_convolutional=True, input_shape=(200, 200, 3))


def test_fully_convolutional_rejects_non_chains():
    from kerasnets.models import fully_convolutional

    with pytest.raises(ValueError, match="no Flatten \\+ Dense classifier"):
        fully_convolutional(kerasnets.build("nin_cifar10"))


# ---------------------------------------------------------------- .keras round trip
