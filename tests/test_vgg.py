"""VGG (Simonyan and Zisserman 2015): the configurations of Table 1."""

import keras

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
