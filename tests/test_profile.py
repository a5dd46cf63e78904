"""kerasnets.profile: parameters and multiply-adds per layer."""

import keras

import kerasnets
from kerasnets import profile


def test_profile_totals_match_the_issue():
    assert profile(kerasnets.build("lenet5")).macs == 416_520
    assert profile(kerasnets.build("alexnet")).macs == 724_406_816
    assert profile(kerasnets.build("vgg16")).macs == 15_470_264_320


def test_profile_per_layer_rows_and_table(capsys):
    result = profile(kerasnets.build("lenet5"), print_table=True)
    c1 = result.by_name("c1")
    assert (c1.params, c1.macs, c1.output_shape) == (156, 117_600, (None, 28, 28, 6))
    assert result.by_name("c3").macs == 240_000
    assert result.by_name("f6").macs == 10_080
    assert result.params == 61_706
    out = capsys.readouterr().out
    assert "416,520" in out and "61,706" in out and "c5" in out


def test_profile_counts_grouped_and_depthwise_convolutions():
    inputs = keras.Input((8, 8, 16))
    x = keras.layers.Conv2D(32, 3, padding="same", groups=4, name="grouped")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(x)
    x = keras.layers.SeparableConv2D(8, 3, strides=2, padding="same", name="sep")(x)
    model = keras.Model(inputs, x)
    result = profile(model)
    assert result.by_name("grouped").macs == 8 * 8 * 32 * 9 * 16 // 4
    assert result.by_name("dw").macs == 8 * 8 * 32 * 2 * 9
    assert result.by_name("sep").macs == 4 * 4 * 64 * 9 + 4 * 4 * 64 * 8


# ---------------------------------------------------------------- errors
