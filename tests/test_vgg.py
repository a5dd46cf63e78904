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
