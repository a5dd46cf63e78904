"""Inception-v4 and Inception-ResNet v1 and v2.

Szegedy, Ioffe, Vanhoucke, Alemi (2017), "Inception-v4, Inception-ResNet and
the Impact of Residual Connections on Learning", AAAI (arXiv 1602.07261).

Every convolution has no bias and is followed by batch normalization and
ReLU, except the 1x1 "linear" convolution that closes the residual branch of
an Inception-ResNet block, which has a bias and neither normalization nor
activation (the paper: batch normalization "only on top of the traditional
layers, but not on top of the summations"). The normalizations have a learned scale (gamma) in the
networks built from the paper's figures, which gives Inception-v4 the
42,679,816 trainable parameters usually quoted for it (timm's count); the
TF-slim release and keras.applications leave the scale out (the ReLU that
follows makes it nearly redundant), and so does `inception_resnet_v2`, their
twin (`batch_norm_scale` chooses). Layers without the letter V in the
paper's figures are padded "same", those with it "valid".

`inception_v4` (Figure 9): the stem of Figure 3, 4 x Inception-A (Figure 4),
Reduction-A (Figure 7, k, l, m, n = 192, 224, 256, 384), 7 x Inception-B
(Figure 5), Reduction-B (Figure 8), 3 x Inception-C (Figure 6), global
average pooling, dropout (keep 0.8) and the softmax classifier.
42,679,816 trainable parameters for 1000 classes (42,742,984 with the batch
normalization moving statistics). Figure 3 marks the stem's last 3x3
convolution "192 V" without "stride 2"; it has stride 2 (the 71x71 map
becomes 35x35 next to the stride-2 max pooling, as in TF-slim).

`inception_resnet_v1` (Figure 15): the stem of Figure 14, 5 x
Inception-ResNet-A (Figure 10), Reduction-A (k, l, m, n = 192, 192, 256,
384), 10 x Inception-ResNet-B (Figure 11), Reduction-B (Figure 12), 5 x
Inception-ResNet-C (Figure 13), average pooling, dropout (keep 0.8), softmax.

Inception-ResNet v2 exists twice:

* `inception_resnet_v2` is the network of the TF-slim release, whose ImageNet
  weights keras.applications.InceptionResNetV2 publishes, with its structure,
  weight order and layer names, so that those weights load into it
  (55,873,736 parameters). It differs from the paper's figures in that
  (1) its stem is five plain convolutions and two max poolings (as
  Inception-v3's: 32 3x3/2 V, 32 3x3 V, 64 3x3, max pool, 80 1x1, 192 3x3 V,
  max pool) followed by an Inception-A module `mixed_5b` (96 | 48-64 5x5 |
  64-96-96 | avg pool-64, 320 channels) instead of Figure 3's stem (384
  channels); (2) it repeats the three Inception-ResNet blocks 10, 20 and 10
  times instead of 5, 10 and 5; (3) its last Inception-ResNet-C block adds
  its residual unscaled and has no ReLU; (4) a 1x1 convolution of 1536
  filters (`conv_7b`) comes before the average pooling; (5) it has no
  dropout (keras.applications has none; `dropout_rate` adds it). The
  residual branches (Figures 16, 17, 19), Reduction-A (k, l, m, n = 256, 256,
  384, 384) and Reduction-B (Figure 18) are the paper's. Reduction-A's filters
  are Table 1's for Inception-ResNet-v2 and those of TF-slim's `Mixed_6a`
  (keras.applications' `mixed_6a`, the published checkpoint): k = 256 (1x1),
  l = 256 (3x3), m = 384 (the chain's 3x3/2), n = 384 (the single 3x3/2);
  `inception_resnet_v2_paper` uses the same. We keep this form as
  `inception_resnet_v2` because it is the Inception-ResNet-v2 whose trained
  weights exist, the one keras.applications and TF-slim call by that name.
* `inception_resnet_v2_paper` is Figure 15 with the figures of the v2
  blocks: Figure 3's stem, 5 / 10 / 5 blocks, dropout, no `conv_7b`. Two of
  the paper's figures give channel counts that cannot be added to their
  shortcut (Figure 17's linear 1x1 convolution has 1154 filters on a
  1152-channel input, Figure 19's 2048 on 2144 channels); the linear
  convolution here always restores the input's channels.

The residual branch is multiplied by a constant before the addition
(section 3.3: the paper scales residuals by factors between 0.1 and 0.3 to
keep wide residual networks from dying early in training): `residual_scale`
is one number for all blocks or a triple for the A, B and C blocks, by
default (0.17, 0.1, 0.2), the scales of the TF-slim release and
keras.applications.

Layer names follow keras.applications where it names them (`block35_1_conv`,
`block35_1_ac`, `mixed_5b`, `mixed_6a`, `mixed_7a`, `conv_7b`, `avg_pool`,
`predictions`); its `conv2d_N` counters become names by position
(`conv_1a`, ..., `block35_1_branch2_conv3`, `mixed_6a_branch1_conv2`,
`mixed_5b_branch3_pool`) with `_bn` and `_ac` for the normalization and
activation, and the scaling and addition are `block35_1_scale` and
`block35_1_add` (keras.applications' unnamed CustomScaleLayer does both;
here they are keras' Rescaling and Add layers, so no custom layer is needed
to save and load the model). Inception-v4 names its modules `inception_a1`,
..., `reduction_a`, `inception_b1`, ..., `reduction_b`, `inception_c1`, ...

Published weights: `inception_v4` loads the ports of TF-slim's weights by
timm (`weights="tf_in1k"`, the default) and Cadene (`"cadene"`), which need
`factorized_order="tf_slim"` (TF-slim transposes three of the paper's 1xn /
nx1 chains); `inception_resnet_v2` loads keras.applications' file
(`"imagenet"`) and timm's ports (`"tf_in1k"`, `"tf_ens_adv_in1k"`), whose
normalizations have a scale (`batch_norm_scale=True`). A tag sets the
structure it needs itself.

The 3x3/1 average poolings of the Inception modules are padded "same" and,
as in TF-slim, do not count the padding in the average; with a 3x3 window and
stride 1 the padding is one pixel on each side, which all three Keras
backends average the same way.
"""

from __future__ import annotations

from keras import layers

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.layers import BatchNormalization
from kerasnets.models import common, pretrained
from kerasnets.registry import Paper, normalization
from kerasnets.weights import inception as inception_weights

PAPER = Paper(
    "Szegedy, Ioffe, Vanhoucke, Alemi",
    2017,
    "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
    "https://arxiv.org/abs/1602.07261",
)

DEFAULT_SHAPE = (299, 299, 3)
# Every stem reduces as 3x3/2 V, 3x3 V, (same), 3x3/2 V, (1x1,) 3x3 V, 3x3/2 V,
# then Reduction-A and -B are 3x3/2 V: 75 is the smallest input that leaves a
# 1x1 map at the end (75 -> 37 -> 35 -> 17 -> 15 -> 7 -> 3 -> 1), the minimum
# of keras.applications.InceptionResNetV2 too.
MIN_SHAPE = (75, 75, 3)

# Table 1: the filters k, l, m, n of Reduction-A.
REDUCTION_A_FILTERS = {
    "inception_v4": (192, 224, 256, 384),
    "inception_resnet_v1": (192, 192, 256, 384),
    "inception_resnet_v2": (256, 256, 384, 384),
}
# keras.applications' (TF-slim's) residual scales of the A, B and C blocks.
RESIDUAL_SCALE = (0.17, 0.1, 0.2)
# The order of the 1xn and nx1 convolutions in three chains (Figure 3's
# 7x1-1x7, Figure 5's 1x7-7x1-1x7-7x1, Figure 6's 1x3-3x1): as the figures
# draw them, or transposed as TF-slim builds them (and so timm's and Cadene's
# ports of its Inception-v4 weights).
FACTORIZED_ORDERS = ("paper", "tf_slim")

# ---------------------------------------------------------------- building bricks


def conv_bn(x, filters, kernel_size, name, strides=1, padding="same", bn_scale=True):
    """A convolution without bias, batch normalization (with a scale or not), ReLU."""
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name
    )(x)
    x = BatchNormalization(axis=common.channel_axis(), scale=bn_scale,
                           name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_ac")(x)


def conv(filters, kernel_size, strides=1, padding="same"):
    """One convolution of a branch: (filters, kernel size, strides, padding)."""
    return (filters, kernel_size, strides, padding)


def valid_reduction(filters):
    """The 3x3/2 V convolution that ends a reduction branch."""
    return conv(filters, 3, 2, "valid")


def factorized(kernel_size, factorized_order="paper"):
    """A 1xn or nx1 kernel of a chain that TF-slim transposes: as drawn, or transposed."""
    return tuple(kernel_size[::-1]) if factorized_order == "tf_slim" else kernel_size


AVG_POOL = "avg_pool"  # 3x3/1 average pooling, same padding
MAX_POOL = "max_pool"  # 3x3/2 max pooling, valid padding


def branch(x, steps, name, bn_scale=True):
    """A chain of convolutions (and at most one pooling) of an Inception module.

    A single convolution is named `{name}_conv`, several `{name}_conv1`,
    `{name}_conv2`, ...; a pooling `{name}_pool`.
    """
    numbered = sum(step not in (AVG_POOL, MAX_POOL) for step in steps) > 1
    index = 0
    for step in steps:
        if step == AVG_POOL:
            x = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
        elif step == MAX_POOL:
            x = layers.MaxPooling2D(3, strides=2, padding="valid", name=f"{name}_pool")(x)
        else:
            index += 1
            filters, kernel_size, strides, padding = step
            conv_name = f"{name}_conv{index}" if numbered else f"{name}_conv"
            x = conv_bn(x, filters, kernel_size, conv_name, strides=strides, padding=padding,
                        bn_scale=bn_scale)
    return x


def inception_module(x, branches, name, bn_scale=True):
    """Parallel branches concatenated along the channels, the output named `name`."""
    outputs = [branch(x, steps, f"{name}_branch{i}", bn_scale) for i, steps in enumerate(branches)]
    return layers.Concatenate(axis=common.channel_axis(), name=name)(outputs)


# ---------------------------------------------------------------- stems


def stem_figure_3(x, bn_scale=True, factorized_order="paper"):
    """Figure 3, the stem of Inception-v4 and Inception-ResNet-v2: 299x299x3 -> 35x35x384.

    `factorized_order="tf_slim"` puts mixed_4a's 1x7 before its 7x1 (TF-slim).
    """
    x = conv_bn(x, 32, 3, "conv_1a", strides=2, padding="valid", bn_scale=bn_scale)
    x = conv_bn(x, 32, 3, "conv_2a", padding="valid", bn_scale=bn_scale)
    x = conv_bn(x, 64, 3, "conv_2b", bn_scale=bn_scale)
    x = inception_module(x, [[MAX_POOL], [valid_reduction(96)]], "mixed_3a", bn_scale)
    x = inception_module(
        x,
        [
            [conv(64, 1), conv(96, 3, 1, "valid")],
            [conv(64, 1), conv(64, factorized((7, 1), factorized_order)),
             conv(64, factorized((1, 7), factorized_order)), conv(96, 3, 1, "valid")],
        ],
        "mixed_4a",
        bn_scale,
    )
    # Figure 3 leaves out this convolution's stride 2 (see the module docstring).
    return inception_module(x, [[valid_reduction(192)], [MAX_POOL]], "mixed_5a", bn_scale)


def stem_figure_14(x, bn_scale=True):
    """Figure 14, the stem of Inception-ResNet-v1: 299x299x3 -> 35x35x256."""
    x = conv_bn(x, 32, 3, "conv_1a", strides=2, padding="valid", bn_scale=bn_scale)
    x = conv_bn(x, 32, 3, "conv_2a", padding="valid", bn_scale=bn_scale)
    x = conv_bn(x, 64, 3, "conv_2b", bn_scale=bn_scale)
    x = layers.MaxPooling2D(3, strides=2, name="maxpool_3a")(x)
    x = conv_bn(x, 80, 1, "conv_3b", bn_scale=bn_scale)
    x = conv_bn(x, 192, 3, "conv_4a", padding="valid", bn_scale=bn_scale)
    return conv_bn(x, 256, 3, "conv_4b", strides=2, padding="valid", bn_scale=bn_scale)


def stem_tf_slim(x, bn_scale=True):
    """The stem of the released Inception-ResNet-v2 (keras.applications): 35x35x320.

    Inception-v3's convolutions and poolings, then the Inception-A module
    `mixed_5b`; it replaces Figure 3 in the trained network.
    """
    x = conv_bn(x, 32, 3, "conv_1a", strides=2, padding="valid", bn_scale=bn_scale)
    x = conv_bn(x, 32, 3, "conv_2a", padding="valid", bn_scale=bn_scale)
    x = conv_bn(x, 64, 3, "conv_2b", bn_scale=bn_scale)
    x = layers.MaxPooling2D(3, strides=2, name="maxpool_3a")(x)
    x = conv_bn(x, 80, 1, "conv_3b", padding="valid", bn_scale=bn_scale)
    x = conv_bn(x, 192, 3, "conv_4a", padding="valid", bn_scale=bn_scale)
    x = layers.MaxPooling2D(3, strides=2, name="maxpool_5a")(x)
    return inception_module(
        x,
        [
            [conv(96, 1)],
            [conv(48, 1), conv(64, 5)],
            [conv(64, 1), conv(96, 3), conv(96, 3)],
            [AVG_POOL, conv(64, 1)],
        ],
        "mixed_5b",
        bn_scale,
    )


STEMS = {"figure_3": stem_figure_3, "figure_14": stem_figure_14, "tf_slim": stem_tf_slim}

# ---------------------------------------------------------------- Inception-v4 modules


def inception_a(x, name, bn_scale=True):
    """Figure 4, Inception-A: 35x35x384 -> 35x35x384."""
    return inception_module(
        x,
        [
            [conv(96, 1)],
            [conv(64, 1), conv(96, 3)],
            [conv(64, 1), conv(96, 3), conv(96, 3)],
            [AVG_POOL, conv(96, 1)],
        ],
        name,
        bn_scale,
    )


def reduction_a(x, filters, name="mixed_6a", bn_scale=True):
    """Figure 7, Reduction-A: 35x35 -> 17x17, adding n + m channels.

    `filters` are Table 1's (k, l, m, n): n for the single 3x3/2 convolution,
    k, l, m for the 1x1, 3x3, 3x3/2 chain. Branches in TF-slim's order.
    """
    k, l, m, n = filters
    return inception_module(
        x, [[valid_reduction(n)], [conv(k, 1), conv(l, 3), valid_reduction(m)], [MAX_POOL]],
        name,
        bn_scale,
    )


def inception_b(x, name, bn_scale=True, factorized_order="paper"):
    """Figure 5, Inception-B: 17x17x1024 -> 17x17x1024.

    `factorized_order="tf_slim"`: the third branch starts with 7x1 (TF-slim).
    """
    row, column = factorized((1, 7), factorized_order), factorized((7, 1), factorized_order)
    return inception_module(
        x,
        [
            [conv(384, 1)],
            [conv(192, 1), conv(224, (1, 7)), conv(256, (7, 1))],
            [conv(192, 1), conv(192, row), conv(224, column), conv(224, row),
             conv(256, column)],
            [AVG_POOL, conv(128, 1)],
        ],
        name,
        bn_scale,
    )


def reduction_b(x, name, bn_scale=True):
    """Figure 8, Inception-v4's Reduction-B: 17x17x1024 -> 8x8x1536."""
    return inception_module(
        x,
        [
            [conv(192, 1), valid_reduction(192)],
            [conv(256, 1), conv(256, (1, 7)), conv(320, (7, 1)), valid_reduction(320)],
            [MAX_POOL],
        ],
        name,
        bn_scale,
    )


def inception_c(x, name, bn_scale=True, factorized_order="paper"):
    """Figure 6, Inception-C: 8x8x1536 -> 8x8x1536.

    Two branches split in two: a 1x3 and a 3x1 convolution on the same map.
    `factorized_order="tf_slim"`: the third branch's 3x1 comes before its 1x3
    (TF-slim); the split pairs keep their order.
    """
    axis = common.channel_axis()
    b0 = branch(x, [conv(256, 1)], f"{name}_branch0", bn_scale)
    b1 = conv_bn(x, 384, 1, f"{name}_branch1_conv1", bn_scale=bn_scale)
    b1 = layers.Concatenate(axis=axis, name=f"{name}_branch1")([
        conv_bn(b1, 256, (1, 3), f"{name}_branch1_conv2a", bn_scale=bn_scale),
        conv_bn(b1, 256, (3, 1), f"{name}_branch1_conv2b", bn_scale=bn_scale),
    ])
    b2 = branch(x, [conv(384, 1), conv(448, factorized((1, 3), factorized_order)),
                    conv(512, factorized((3, 1), factorized_order))], f"{name}_branch2", bn_scale)
    b2 = layers.Concatenate(axis=axis, name=f"{name}_branch2")([
        conv_bn(b2, 256, (1, 3), f"{name}_branch2_conv4a", bn_scale=bn_scale),
        conv_bn(b2, 256, (3, 1), f"{name}_branch2_conv4b", bn_scale=bn_scale),
    ])
    b3 = branch(x, [AVG_POOL, conv(256, 1)], f"{name}_branch3", bn_scale)
    return layers.Concatenate(axis=axis, name=name)([b0, b1, b2, b3])


# ---------------------------------------------------------------- Inception-ResNet blocks

# The residual branches of the A (35x35), B (17x17) and C (8x8) blocks, the
# reduction-B branches: Figures 10-13 (v1) and 16-19 (v2).
INCEPTION_RESNET_BRANCHES = {
    "v1": {
        "block35": [[conv(32, 1)], [conv(32, 1), conv(32, 3)],
                    [conv(32, 1), conv(32, 3), conv(32, 3)]],
        "block17": [[conv(128, 1)], [conv(128, 1), conv(128, (1, 7)), conv(128, (7, 1))]],
        "block8": [[conv(192, 1)], [conv(192, 1), conv(192, (1, 3)), conv(192, (3, 1))]],
        "reduction_b": [[conv(256, 1), valid_reduction(384)],
                        [conv(256, 1), valid_reduction(256)],
                        [conv(256, 1), conv(256, 3), valid_reduction(256)],
                        [MAX_POOL]],
    },
    "v2": {
        "block35": [[conv(32, 1)], [conv(32, 1), conv(32, 3)],
                    [conv(32, 1), conv(48, 3), conv(64, 3)]],
        "block17": [[conv(192, 1)], [conv(128, 1), conv(160, (1, 7)), conv(192, (7, 1))]],
        "block8": [[conv(192, 1)], [conv(192, 1), conv(224, (1, 3)), conv(256, (3, 1))]],
        "reduction_b": [[conv(256, 1), valid_reduction(384)],
                        [conv(256, 1), valid_reduction(288)],
                        [conv(256, 1), conv(288, 3), valid_reduction(320)],
                        [MAX_POOL]],
    },
}


def inception_resnet_block(x, branches, scale, name, activation="relu", bn_scale=True):
    """An Inception-ResNet block: x + scale * linear_1x1(concat(branches)), then ReLU.

    The linear 1x1 convolution (with bias, no normalization) restores the
    input's channel count so that the residual can be added to it.
    """
    axis = common.channel_axis()
    outputs = [
        branch(x, steps, f"{name}_branch{i}", bn_scale) for i, steps in enumerate(branches)
    ]
    mixed = layers.Concatenate(axis=axis, name=f"{name}_mixed")(outputs)
    residual = layers.Conv2D(x.shape[axis], 1, use_bias=True, name=f"{name}_conv")(mixed)
    residual = layers.Rescaling(scale, name=f"{name}_scale")(residual)
    x = layers.Add(name=f"{name}_add")([x, residual])
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_ac")(x)
    return x


def check_residual_scale(residual_scale):
    """`residual_scale` as an (A, B, C) triple, each in (0, 1]."""
    if isinstance(residual_scale, (list, tuple)):
        if len(residual_scale) != 3:
            raise ValueError(
                "`residual_scale` must be a number in (0, 1] or a triple of them for the "
                f"A, B and C blocks; got {residual_scale!r}"
            )
        scales = tuple(residual_scale)
    else:
        scales = (residual_scale,) * 3
    for scale in scales:
        check_range("residual_scale", scale, 0, 1, low_inclusive=False)
    return tuple(float(s) for s in scales)


def check_block_repeats(block_repeats):
    """`block_repeats` as an (A, B, C) triple of positive integers."""
    if not isinstance(block_repeats, (list, tuple)) or len(block_repeats) != 3:
        raise ValueError(
            "`block_repeats` must be a triple of positive integers (the number of A, B and "
            f"C blocks); got {block_repeats!r}"
        )
    for repeats in block_repeats:
        check_range("block_repeats", repeats, 1, integer=True)
    return tuple(int(r) for r in block_repeats)


# ---------------------------------------------------------------- the networks


def InceptionV4(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    dropout_rate=0.2,
    batch_norm_scale=True,
    factorized_order="paper",
    name="inception_v4",
):
    """Inception-v4 (Figure 9): stem, 4 x A, Reduction-A, 7 x B, Reduction-B, 3 x C.

    `dropout_rate` before the classifier: the paper keeps 0.8 of the units.
    `batch_norm_scale` gives the normalizations a learned scale (gamma): with
    it the network has the 42,679,816 trainable parameters usually quoted for
    Inception-v4 (timm's count); TF-slim leaves it out (42,648,232).
    `factorized_order` ("paper" or "tf_slim"): the stem, Inception-B and
    Inception-C follow the order of the 1x7 / 7x1 and 1x3 / 3x1 convolutions
    in Figures 3, 5 and 6 ("paper"), or TF-slim's, which transposes three of
    those chains (mixed_4a's second branch, Inception-B's third, Inception-C's
    third; the parameter count is the same): "tf_slim" is the structure of
    the released weights, as timm's and Cadene's `inception_v4` build it.
    Everything else is theirs already: convolutions without bias, batch
    normalization with a scale and epsilon 1e-3, the stride-2 convolutions
    "valid" and the others padded symmetrically (odd kernels, stride 1), and
    3x3 average pooling that leaves the padding out (count_include_pad=False).
    """
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    check_bool("batch_norm_scale", batch_norm_scale)
    check_choice("factorized_order", factorized_order, FACTORIZED_ORDERS)
    inputs, weights = common.prepare_inputs(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, default_shape=DEFAULT_SHAPE,
        min_shape=MIN_SHAPE, published_as="inception_v4",
        weights_structure={"batch_norm_scale": batch_norm_scale,
                           "factorized_order": factorized_order},
    )
    bn_scale, order = batch_norm_scale, factorized_order
    x = stem_figure_3(inputs, bn_scale, order)
    for i in range(1, 5):
        x = inception_a(x, f"inception_a{i}", bn_scale)
    x = reduction_a(x, REDUCTION_A_FILTERS["inception_v4"], "reduction_a", bn_scale)
    for i in range(1, 8):
        x = inception_b(x, f"inception_b{i}", bn_scale, order)
    x = reduction_b(x, "reduction_b", bn_scale)
    for i in range(1, 4):
        x = inception_c(x, f"inception_c{i}", bn_scale, order)
    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation,
                               dropout_rate=dropout_rate)
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


def InceptionResNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    *,
    version,
    stem,
    block_repeats,
    residual_scale=RESIDUAL_SCALE,
    dropout_rate=0.2,
    final_conv=None,
    linear_last_block=False,
    batch_norm_scale=True,
    published_as=None,
    name,
):
    """Inception-ResNet: stem, A blocks, Reduction-A, B blocks, Reduction-B, C blocks.

    `version` ("v1", "v2") picks the residual branches and Reduction-A/B of
    Figures 10-13 or 16-19 and Table 1; `stem` one of STEMS;
    `block_repeats` the numbers of A, B and C blocks; `residual_scale` the
    residual scaling of section 3.3 (one number, or a triple for A, B, C);
    `final_conv` the filters of a 1x1 convolution before the pooling (TF-slim's
    `conv_7b`) or None; `linear_last_block` leaves the scaling (1.0) and the
    ReLU out of the last C block, as TF-slim does; `batch_norm_scale` gives the
    normalizations a learned scale (TF-slim and keras.applications have none);
    `published_as` the registered twin whose weights `weights="imagenet"` loads.
    """
    check_choice("version", version, tuple(INCEPTION_RESNET_BRANCHES))
    check_choice("stem", stem, tuple(STEMS))
    block_repeats = check_block_repeats(block_repeats)
    scales = check_residual_scale(residual_scale)
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    check_bool("batch_norm_scale", batch_norm_scale)
    inputs, weights = common.prepare_inputs(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, default_shape=DEFAULT_SHAPE,
        min_shape=MIN_SHAPE, published_as=published_as,
        weights_structure={"batch_norm_scale": batch_norm_scale},
    )
    bn_scale = batch_norm_scale
    branches = INCEPTION_RESNET_BRANCHES[version]
    x = STEMS[stem](inputs, bn_scale)
    for i in range(1, block_repeats[0] + 1):
        x = inception_resnet_block(x, branches["block35"], scales[0], f"block35_{i}",
                                   bn_scale=bn_scale)
    x = reduction_a(x, REDUCTION_A_FILTERS[f"inception_resnet_{version}"], "mixed_6a",
                    bn_scale)
    for i in range(1, block_repeats[1] + 1):
        x = inception_resnet_block(x, branches["block17"], scales[1], f"block17_{i}",
                                   bn_scale=bn_scale)
    x = inception_module(x, branches["reduction_b"], "mixed_7a", bn_scale)
    for i in range(1, block_repeats[2] + 1):
        last = linear_last_block and i == block_repeats[2]
        x = inception_resnet_block(
            x, branches["block8"], 1.0 if last else scales[2], f"block8_{i}",
            activation=None if last else "relu", bn_scale=bn_scale,
        )
    if final_conv:
        x = conv_bn(x, final_conv, 1, "conv_7b", bn_scale=bn_scale)
    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation,
                               dropout_rate=dropout_rate)
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


# ---------------------------------------------------------------- registered variants

register = common.registration(family="inception_v4", paper=PAPER, input_shape=DEFAULT_SHAPE,
                               min_input_shape=MIN_SHAPE, preprocessing="tf")


# timm's and Cadene's ports of TF-slim's Inception-v4 weights (Apache-2.0, like
# TF-slim's): inputs scaled to [-1, 1] (mean = std = 0.5 on [0, 1]), 299x299.
V4_CHECKPOINT = {"structure": {"factorized_order": "tf_slim"}, "licence": "apache-2.0",
                 "input_size": (299, 299), "normalization": normalization("tf")}


@register(
    params=42_742_984,
    published_weights={
        # top-1: timm's results-imagenet.csv (299, crop 0.875, bicubic).
        "tf_in1k": pretrained.hub_weights(
            "timm/inception_v4.tf_in1k", convert=inception_weights.timm_inception_v4,
            top1=80.144, source="timm", crop_fraction=0.875, **V4_CHECKPOINT,
        ),
        # top-1: Cadene's README (pretrained-models.pytorch, "Our porting"); the
        # file has TF-slim's 1001 classes, the background first.
        "cadene": pretrained.url_weights(
            "http://data.lip6.fr/cadene/pretrainedmodels/inceptionv4-8e4777a0.pth",
            file_hash="8e4777a0", convert=inception_weights.cadene_inception_v4,
            top1=80.062, source="cadene", crop_fraction=0.875, **V4_CHECKPOINT,
        ),
    },
)
def inception_v4(**kwargs):
    """Inception-v4: the Figure 3 stem and 14 Inception modules, 42.7M parameters."""
    return InceptionV4(**{"name": "inception_v4", **kwargs})


@register(params=22_783_368)
def inception_resnet_v1(**kwargs):
    """Inception-ResNet-v1 (Figures 10-15): 5 / 10 / 5 residual Inception blocks."""
    return InceptionResNet(
        **{"name": "inception_resnet_v1", "block_repeats": (5, 10, 5), **kwargs},
        version="v1", stem="figure_14",
    )


# timm's ports of TF-slim's Inception-ResNet-v2 weights: the normalizations
# have a scale (all ones in TF-slim's files, which have none), [-1, 1] inputs.
IRV2_CHECKPOINT = {"structure": {"batch_norm_scale": True}, "licence": "apache-2.0",
                   "source": "timm", "input_size": (299, 299), "crop_fraction": 0.8975,
                   "normalization": normalization("tf"),
                   "convert": inception_weights.timm_inception_resnet_v2}


@register(
    params=55_873_736,
    published_weights={
        **pretrained.tf_kernels(
            "inception_resnet_v2", "inception_resnet_v2",
            "e693bd0210a403b3192acc6073ad2e96", "d19885ff4a710c122648d3b5c3b684e4",
            structure={"batch_norm_scale": False},
        ),
        # top-1: timm's results-imagenet.csv (299, crop 0.8975, bicubic).
        "tf_in1k": pretrained.hub_weights("timm/inception_resnet_v2.tf_in1k", top1=80.434,
                                          **IRV2_CHECKPOINT),
        # Ensemble adversarial training (Tramer et al. 2018, arXiv 1705.07204).
        "tf_ens_adv_in1k": pretrained.hub_weights("timm/inception_resnet_v2.tf_ens_adv_in1k",
                                                  top1=79.998, **IRV2_CHECKPOINT),
    },
)
def inception_resnet_v2(**kwargs):
    """Inception-ResNet-v2 as released (keras.applications' weights): 10 / 20 / 10 blocks.

    `residual_scale` applies to all blocks but the last, which TF-slim adds
    unscaled; `block_repeats` and `dropout_rate` (default 0, as released) can
    be changed, but then the released weights no longer fit. timm's ports of
    the same TF-slim weights (`weights="tf_in1k"`, `"tf_ens_adv_in1k"`) give
    the normalizations a scale: `batch_norm_scale=True` (the tags set it).
    """
    defaults = {"name": "inception_resnet_v2", "block_repeats": (10, 20, 10),
                "dropout_rate": 0.0, "batch_norm_scale": False}
    return InceptionResNet(
        **{**defaults, **kwargs}, version="v2", stem="tf_slim", final_conv=1536,
        linear_last_block=True, published_as="inception_resnet_v2",
    )


@register(params=32_466_792)
def inception_resnet_v2_paper(**kwargs):
    """Inception-ResNet-v2 as in Figure 15 with Figures 3, 16-19: 5 / 10 / 5 blocks."""
    return InceptionResNet(
        **{"name": "inception_resnet_v2_paper", "block_repeats": (5, 10, 5), **kwargs},
        version="v2", stem="figure_3",
    )
