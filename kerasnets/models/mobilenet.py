"""MobileNet v1 and v2: depthwise separable convolutions, then inverted residuals.

MobileNet v1: Howard, Zhu, Chen, Kalenichenko, Wang, Weyand, Andreetto, Adam
(2017), "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", arXiv 1704.04861, Table 1. A standard 3x3/2 convolution of 32
channels, then 13 depthwise separable convolutions (a 3x3 depthwise
convolution and a 1x1 pointwise one, each followed by batch normalization and
ReLU), global average pooling and the classifier. The width multiplier
`alpha` thins every layer to int(alpha * channels) (section 3.3); the
resolution multiplier is the input size (224, 192, 160 or 128; section 3.4).

MobileNet v2: Sandler, Howard, Zhu, Zhmoginov, Chen (2018), "MobileNetV2:
Inverted Residuals and Linear Bottlenecks", CVPR, Table 2. A 3x3/2
convolution of 32 channels, 17 inverted residual blocks (a 1x1 expansion by
`expansion` t with ReLU6, a 3x3 depthwise convolution with ReLU6 and a linear
1x1 projection; a residual connection where the stride is 1 and the channels
are equal), a 1x1 convolution of 1280 channels, global average pooling and the
classifier.

Both follow keras.applications (`MobileNet`, `MobileNetV2`) call for call,
with its layer names (`conv1`, `conv_dw_1`, `conv_pw_1_bn`, ... and `Conv1`,
`block_1_expand`, `block_16_project_BN`, `Conv_1`, ...), so its weights load
into ours, and `weights="imagenet"` loads the files it publishes (every
`alpha` at every size it trained, see `kerasnets.models.pretrained`).
Deliberate choices that are keras.applications' and not the papers':
ReLU6 (the v1 paper says ReLU; its released TensorFlow models use ReLU6),
a small dropout before the v1 classifier (`dropout_rate`, 1e-3), and the v1
classifier as a 1x1 convolution on the pooled map. Stride-2 depthwise
convolutions pad one pixel at the bottom and right (TensorFlow's "same" for
even sizes) with an explicit ZeroPadding2D, as keras.applications does.
keras.applications leaves the global average pooling unnamed; here it is
`global_average_pooling`, which changes no weight order.

Structure options for PyTorch-side checkpoints (timm's `mobilenetv1_100`,
`mobilenetv2_100`, torchvision's `mobilenet_v2`): `padding="symmetric"` pads
every stride-2 layer (the first convolution and the stride-2 depthwise
convolutions) one pixel on each side with an explicit ZeroPadding2D and then
convolves "valid", as PyTorch's `padding=1` does (keras' "same" pads even
sizes only at the bottom and right, which moves every window of the
checkpoint by a pixel); `bn_epsilon` is the BatchNorm epsilon (PyTorch's
1e-5 where keras.applications uses 1e-3). The defaults are keras.applications'.
Their tags, on `mobilenet_v1` and `mobilenet_v2` (alpha 1.0), set both:
"ra4_e3600_r224_in1k" (timm, v1), "ra_in1k" (timm, v2) and "tv_in1k"
(torchvision, v2); `weights="imagenet"` stays keras.applications' files.
"""

from __future__ import annotations

import dataclasses

from keras import layers

from kerasnets.checks import check_choice, check_range
from kerasnets.layers import BatchNormalization
from kerasnets.models import common, pretrained
from kerasnets.registry import Paper, normalization
from kerasnets.weights import mobilenet as mobilenet_weights

PAPER_V1 = Paper(
    "Howard, Zhu, Chen, Kalenichenko, Wang, Weyand, Andreetto, Adam",
    2017,
    "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
    "https://arxiv.org/abs/1704.04861",
)
PAPER_V2 = Paper(
    "Sandler, Howard, Zhu, Zhmoginov, Chen",
    2018,
    "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
    "https://arxiv.org/abs/1801.04381",
)

DEFAULT_SHAPE = (224, 224, 3)
# keras.applications' minimum: five stride-2 stages leave a 1x1 map.
MIN_SHAPE = (32, 32, 3)

# keras.applications' batch normalization for v2 (v1 uses the Keras defaults:
# the same epsilon, momentum 0.99); `bn_epsilon` replaces the epsilon.
V2_BN = {"epsilon": 1e-3, "momentum": 0.999}
KERAS_BN_EPSILON = 1e-3
# "same": keras.applications' (TensorFlow's) padding; "symmetric": PyTorch's.
PADDINGS = ("same", "symmetric")

# Table 1 of the v1 paper: (pointwise filters, stride) of the 13 depthwise
# separable convolutions after the first 3x3/2 convolution of 32 filters.
V1_FIRST_FILTERS = 32
V1_BLOCKS = (
    (64, 1),
    (128, 2), (128, 1),
    (256, 2), (256, 1),
    (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)

# Table 2 of the v2 paper: (expansion t, output channels c, repeats n, first stride s).
V2_FIRST_FILTERS = 32
V2_BOTTLENECKS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
V2_LAST_FILTERS = 1280
V2_ALPHA_RANGE = (0.35, 1.4)

# keras.applications' parameter counts (1000 classes) of the published widths;
# the input size does not change them.
V1_PARAMS = {0.25: 475_544, 0.5: 1_342_536, 0.75: 2_601_976, 1.0: 4_253_864}
V2_PARAMS = {0.35: 1_691_208, 0.5: 1_987_224, 0.75: 2_663_064, 1.0: 3_538_984,
             1.3: 5_431_048, 1.4: 6_156_712}
# Multiply-adds of each published (alpha, input size), as kerasnets.profile counts them;
# the presets' descriptions state them.
V1_MACS = {
    0.25: {128: 13_570_048, 160: 21_059_200, 192: 30_212_608, 224: 41_030_272},
    0.5: {128: 49_160_192, 160: 76_524_800, 192: 109_970_432, 224: 149_497_088},
    0.75: {128: 106_770_432, 160: 166_396_800, 192: 239_273_472, 224: 325_400_448},
    1.0: {128: 186_400_768, 160: 290_675_200, 192: 418_121_728, 224: 568_740_352},
}
V2_MACS = {
    0.35: {96: 11_934_128, 128: 20_220_672, 160: 30_874_800, 192: 43_896_512,
           224: 59_285_808},
    0.5: {96: 18_885_440, 128: 32_578_560, 160: 50_184_000, 192: 71_701_760, 224: 97_131_840},
    0.75: {96: 39_445_472, 128: 69_129_728, 160: 107_295_200, 192: 153_941_888,
           224: 209_069_792},
    1.0: {96: 56_289_152, 128: 99_074_048, 160: 154_083_200, 192: 221_316_608,
          224: 300_774_272},
    1.3: {96: 94_916_960, 128: 167_447_040, 160: 260_700_000, 192: 374_675_840,
          224: 509_374_560},
    1.4: {96: 108_396_784, 128: 191_311_616, 160: 297_916_400, 192: 428_211_136,
          224: 582_195_824},
}


# ---------------------------------------------------------------- MobileNet v1


def strided_padding(x, padding, name):
    """The input of a stride-2 3x3 layer and the padding mode that layer then takes.

    "same" leaves the padding to the layer (keras.applications); "symmetric"
    pads one pixel on every side here and returns "valid" (PyTorch's padding=1).
    """
    if padding == "same":
        return x, "same"
    return layers.ZeroPadding2D(1, name=name)(x), "valid"


def standard_conv(x, filters, strides=2, name="conv1", padding="same",
                  bn_epsilon=KERAS_BN_EPSILON):
    """Table 1's first layer: a full 3x3 convolution without bias, BN and ReLU6."""
    x, conv_padding = strided_padding(x, padding, f"{name}_pad")
    x = layers.Conv2D(filters, 3, strides=strides, padding=conv_padding, use_bias=False,
                      name=name)(x)
    x = BatchNormalization(axis=common.channel_axis(), epsilon=bn_epsilon,
                           name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x)


def depthwise_separable_conv(x, pointwise_filters, block_id, strides=1, depth_multiplier=1,
                             padding="same", bn_epsilon=KERAS_BN_EPSILON):
    """Figure 3 (right): 3x3 depthwise conv, BN, ReLU6, then 1x1 pointwise conv, BN, ReLU6.

    `pointwise_filters` is already multiplied by the width multiplier.
    """
    axis = common.channel_axis()
    if strides == 1:
        conv_padding = "same"
    elif padding == "same":
        # TensorFlow's "same" for even sizes, made explicit (keras.applications).
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
        conv_padding = "valid"
    else:
        x, conv_padding = strided_padding(x, padding, f"conv_pad_{block_id}")
    x = layers.DepthwiseConv2D(
        3, strides=strides, padding=conv_padding, depth_multiplier=depth_multiplier,
        use_bias=False, name=f"conv_dw_{block_id}",
    )(x)
    x = BatchNormalization(axis=axis, epsilon=bn_epsilon, name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(pointwise_filters, 1, use_bias=False, name=f"conv_pw_{block_id}")(x)
    x = BatchNormalization(axis=axis, epsilon=bn_epsilon, name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def check_structure(padding, bn_epsilon):
    """The checkpoint-structure options shared by both MobileNets."""
    check_choice("padding", padding, PADDINGS)
    check_range("bn_epsilon", bn_epsilon, 0, low_inclusive=False)


def _check_alpha_v1(alpha):
    check_range("alpha", alpha, 0, 1, low_inclusive=False)
    if int(V1_FIRST_FILTERS * alpha) < 1:
        raise ValueError(
            f"`alpha` must be at least {1 / V1_FIRST_FILTERS} (one filter in the first "
            f"layer); got {alpha!r}"
        )


def MobileNetV1(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    alpha=1.0,
    depth_multiplier=1,
    dropout_rate=1e-3,
    padding="same",
    bn_epsilon=KERAS_BN_EPSILON,
    published_as="mobilenet_v1",
    name="mobilenet_v1",
):
    """MobileNet v1 (Howard et al. 2017, Table 1) with width multiplier `alpha` in (0, 1].

    The resolution multiplier is the input size. `depth_multiplier` is the
    number of depthwise output channels per input channel (keras.applications'
    argument; 1 in the paper). `dropout_rate` is keras.applications' `dropout`
    before the classifier. `alpha` above 1 (which keras.applications accepts)
    is refused: the paper defines alpha in (0, 1]. `weights="imagenet"` loads
    the file of `published_as`'s preset of this alpha and input size
    (`mobilenet_v1_0.25_128`, ...; an input of unknown size takes the 224 one).

    `padding` ("same", keras.applications'; "symmetric", PyTorch's: timm's
    `mobilenetv1_100`) is the padding of the stride-2 layers and `bn_epsilon`
    the BatchNorm epsilon (1e-3, keras'; 1e-5 in timm); see the module docstring.
    """
    _check_alpha_v1(alpha)
    check_range("depth_multiplier", depth_multiplier, 1, integer=True)
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    check_structure(padding, bn_epsilon)
    depth_multiplier = int(depth_multiplier)
    inputs, weights = common.prepare_inputs(
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=DEFAULT_SHAPE,
        min_shape=MIN_SHAPE,
        published_as=published_as,
        weights_structure={"alpha": alpha, "depth_multiplier": depth_multiplier,
                           "padding": padding, "bn_epsilon": bn_epsilon},
    )
    x = standard_conv(inputs, int(V1_FIRST_FILTERS * alpha), padding=padding,
                      bn_epsilon=bn_epsilon)
    for block_id, (filters, strides) in enumerate(V1_BLOCKS, start=1):
        x = depthwise_separable_conv(
            x, int(filters * alpha), block_id, strides=strides,
            depth_multiplier=depth_multiplier, padding=padding, bn_epsilon=bn_epsilon,
        )

    def convolutional_classifier(x):
        # keras.applications' layers: the 1x1 convolution "conv_preds" is the classifier.
        x = layers.GlobalAveragePooling2D(keepdims=True, name="global_average_pooling")(x)
        x = layers.Dropout(dropout_rate, name="dropout")(x)
        x = layers.Conv2D(classes, 1, name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        return layers.Activation(classifier_activation, name="predictions")(x)

    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation,
                               top=convolutional_classifier)
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


# ---------------------------------------------------------------- MobileNet v2


def make_divisible(value, divisor=8, min_value=None):
    """Rounds a channel count to a multiple of `divisor`, never more than 10% down.

    The rule of the v2 reference code (keras.applications' `_make_divisible`),
    which Table 2's channels under a width multiplier follow.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _correct_pad(x, kernel_size=3):
    """Padding before a stride-2 valid convolution that gives TensorFlow's "same" windows.

    keras.applications' `correct_pad`: one pixel at the bottom and right for
    even (or unknown) sizes, one on each side for odd sizes.
    """
    spatial = x.shape[1:3] if common.channel_axis() == -1 else x.shape[2:4]
    correct = kernel_size // 2
    pads = []
    for dim in spatial:
        adjust = 1 if dim is None else 1 - dim % 2
        pads.append((correct - adjust, correct))
    return tuple(pads)


def inverted_residual(x, expansion, filters, stride, block_id, padding="same",
                      bn_epsilon=KERAS_BN_EPSILON):
    """Table 1 of the v2 paper: 1x1 expansion + ReLU6, 3x3 depthwise + ReLU6, linear 1x1.

    `filters` is the output width (already multiplied and rounded). The
    block adds its input back only at stride 1 with as many input as output
    channels (Figure 4). The first block (t = 1) has no expansion layer, and
    keras.applications names it `expanded_conv`. `padding` and `bn_epsilon`
    as in `MobileNetV2`.
    """
    axis = common.channel_axis()
    bn = {**V2_BN, "epsilon": bn_epsilon}
    in_channels = x.shape[axis]
    inputs = x
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, 1, use_bias=False, name=f"{prefix}expand")(x)
        x = BatchNormalization(axis=axis, **bn, name=f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        # "same": TensorFlow's windows, made explicit (keras.applications' correct_pad).
        x = layers.ZeroPadding2D(_correct_pad(x) if padding == "same" else 1,
                                 name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(
        3, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False,
        name=f"{prefix}depthwise",
    )(x)
    x = BatchNormalization(axis=axis, **bn, name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    # The linear bottleneck: no non-linearity after the projection (section 3.2).
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{prefix}project")(x)
    x = BatchNormalization(axis=axis, **bn, name=f"{prefix}project_BN")(x)
    if stride == 1 and in_channels == filters:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def MobileNetV2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    alpha=1.0,
    padding="same",
    bn_epsilon=KERAS_BN_EPSILON,
    published_as="mobilenet_v2",
    name="mobilenet_v2",
):
    """MobileNet v2 (Sandler et al. 2018, Table 2) with width multiplier `alpha` in [0.35, 1.4].

    Channels are int(alpha * c) rounded by `make_divisible`; the first
    convolution is make_divisible(32 * alpha) and the last 1280 channels are
    widened only for alpha > 1 (section 4, "we do not apply the width
    multiplier to the last convolutional layer" below 1). `weights="imagenet"`
    loads the file of `published_as`'s preset of this alpha and input size.

    `padding` ("same", keras.applications'; "symmetric", PyTorch's: timm's
    `mobilenetv2_100` and torchvision's `mobilenet_v2`) is the padding of the
    stride-2 layers and `bn_epsilon` the BatchNorm epsilon (1e-3, keras'; 1e-5
    in timm and torchvision); see the module docstring.
    """
    check_range("alpha", alpha, *V2_ALPHA_RANGE)
    check_structure(padding, bn_epsilon)
    inputs, weights = common.prepare_inputs(
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=DEFAULT_SHAPE,
        min_shape=MIN_SHAPE,
        published_as=published_as,
        weights_structure={"alpha": alpha, "padding": padding, "bn_epsilon": bn_epsilon},
    )
    axis = common.channel_axis()
    bn = {**V2_BN, "epsilon": bn_epsilon}
    x, conv_padding = strided_padding(inputs, padding, "Conv1_pad")
    x = layers.Conv2D(
        make_divisible(V2_FIRST_FILTERS * alpha), 3, strides=2, padding=conv_padding,
        use_bias=False, name="Conv1",
    )(x)
    x = BatchNormalization(axis=axis, **bn, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    block_id = 0
    for expansion, channels, repeats, first_stride in V2_BOTTLENECKS:
        filters = make_divisible(int(channels * alpha))
        for i in range(repeats):
            x = inverted_residual(
                x, expansion, filters, first_stride if i == 0 else 1, block_id,
                padding=padding, bn_epsilon=bn_epsilon,
            )
            block_id += 1
    last = make_divisible(V2_LAST_FILTERS * alpha) if alpha > 1.0 else V2_LAST_FILTERS
    x = layers.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = BatchNormalization(axis=axis, **bn, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation,
                               pool_name="global_average_pooling")
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


# ---------------------------------------------------------------- registered variants

# What the PyTorch-side checkpoints need: PyTorch's padding and BatchNorm epsilon.
PYTORCH_STRUCTURE = {"alpha": 1.0, "padding": "symmetric", "bn_epsilon": 1e-5}
# keras.applications' files need the default structure (a tag of a PyTorch checkpoint
# sets the other one; building that with weights="imagenet" is refused).
KERAS_STRUCTURE = {"padding": "same", "bn_epsilon": KERAS_BN_EPSILON}

V1_WEIGHTS = {
    # timm's MobileNet v1 1.0 (Wightman 2024, the MobileNet-V4 "ra4" recipe, 3600 epochs);
    # top-1 at 224 from the model card's comparison table (76.1 at its test size, 256).
    "ra4_e3600_r224_in1k": pretrained.hub_weights(
        "timm/mobilenetv1_100.ra4_e3600_r224_in1k", convert=mobilenet_weights.timm_mobilenet_v1,
        top1=75.382, licence="apache-2.0", source="timm", network="MobileNet v1 1.0",
        input_size=(224, 224), crop_fraction=0.875, normalization=normalization("tf"),
        structure=PYTORCH_STRUCTURE,
    ),
}
V2_WEIGHTS = {
    # timm's MobileNet v2 1.0 (RandAugment "RA" recipe); top-1 from timm's results table
    # (results-imagenet.csv).
    "ra_in1k": pretrained.hub_weights(
        "timm/mobilenetv2_100.ra_in1k", convert=mobilenet_weights.timm_mobilenet_v2,
        top1=72.970, licence="apache-2.0", source="timm", network="MobileNet v2 1.0",
        input_size=(224, 224), crop_fraction=0.875, normalization=normalization("torch"),
        structure=PYTORCH_STRUCTURE,
    ),
    # torchvision's MobileNet_V2_Weights.IMAGENET1K_V1 (acc@1 71.878 in its docs).
    "tv_in1k": pretrained.url_weights(
        "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth", file_hash="b0353104",
        convert=mobilenet_weights.torchvision_mobilenet_v2, top1=71.878,
        licence="BSD-3-Clause", source="torchvision", network="MobileNet v2 1.0",
        input_size=(224, 224), crop_fraction=0.875, normalization=normalization("torch"),
        structure=PYTORCH_STRUCTURE,
    ),
}


def keras_files(files):
    """keras.applications' entries, with the structure they need stated."""
    return {tag: dataclasses.replace(published, structure={**published.structure,
                                                            **KERAS_STRUCTURE})
            for tag, published in files.items()}


register = common.registration(family="mobilenet", input_shape=DEFAULT_SHAPE,
                               min_input_shape=MIN_SHAPE, preprocessing="tf")


@register(paper=PAPER_V1, params=V1_PARAMS[1.0], published_weights=V1_WEIGHTS)
def mobilenet_v1(**kwargs):
    """MobileNet v1 1.0-224: 28 layers, 569M multiply-adds (keras.applications' weights)."""
    return MobileNetV1(**{"name": "mobilenet_v1", **kwargs})


@register(paper=PAPER_V2, params=V2_PARAMS[1.0], published_weights=V2_WEIGHTS)
def mobilenet_v2(**kwargs):
    """MobileNet v2 1.0-224: 17 inverted residual blocks, 300M multiply-adds."""
    return MobileNetV2(**{"name": "mobilenet_v2", **kwargs})


# One preset per (alpha, size) keras.applications trained, with its files.
common.register_presets("mobilenet_v1", {
    f"mobilenet_v1_{float(alpha)}_{size}": dict(
        params=count, alpha=float(alpha), input_shape=(size, size, 3),
        description=(f"MobileNet v1 {float(alpha)}-{size}: 28 layers, "
                     f"{V1_MACS[alpha][size] / 1e6:.1f}M multiply-adds (keras.applications' "
                     "weights)."),
        published_weights=keras_files(pretrained.mobilenet_v1_files(alpha, size)),
    )
    for alpha, count in V1_PARAMS.items() for size in pretrained.MOBILENET_V1_SIZES
})
common.register_presets("mobilenet_v2", {
    f"mobilenet_v2_{float(alpha)}_{size}": dict(
        params=count, alpha=float(alpha), input_shape=(size, size, 3),
        description=(f"MobileNet v2 {float(alpha)}-{size}: 17 inverted residual blocks, "
                     f"{V2_MACS[alpha][size] / 1e6:.1f}M multiply-adds."),
        published_weights=keras_files(pretrained.mobilenet_v2_files(alpha, size)),
    )
    for alpha, count in V2_PARAMS.items() for size in pretrained.MOBILENET_V2_SIZES
})
