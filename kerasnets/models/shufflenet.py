"""ShuffleNet (v1): pointwise group convolutions with a channel shuffle between them.

Zhang, Zhou, Lin, Sun (2018), "ShuffleNet: An Extremely Efficient
Convolutional Neural Network for Mobile Devices", CVPR (arXiv 1707.01083),
section 3 and Table 1.

A ShuffleNet unit (Figure 2b) is a bottleneck residual block: a 1x1 group
convolution (BN, ReLU), a channel shuffle, a 3x3 depthwise convolution (BN,
no ReLU), a 1x1 group convolution (BN), the identity added, then ReLU. The
stride-2 unit (Figure 2c) gives the depthwise convolution stride 2, puts a
3x3/2 average pooling on the shortcut and concatenates instead of adding, so
the branch makes only the channels the unit adds (the ReLU after that
concatenation is applied to the branch before it: the pooled shortcut is
already >= 0, every unit's input being a ReLU's output, so the outputs are
the paper's, and the ReLU fuses into the branch's last convolution where
LiteRT would otherwise run it alone). The bottleneck has 1/4 of
the unit's output channels (section 3.3), and the first 1x1 convolution of
Stage 2 is not grouped: its input has only 24 channels. Table 1: a 3x3/2
convolution of 24 channels, 3x3/2 max pooling, Stages 2-4 of 1 + 3, 1 + 7 and
1 + 3 units, global average pooling and a fully connected classifier.

`groups` is the paper's g (1, 2, 3, 4 or 8), `scale` its s ("ShuffleNet s x"
multiplies the number of filters of ShuffleNet 1x by s). Table 1 gives no
channels for s != 1, and group convolutions need channel counts divisible by
g, so (our choice): each stage's output channels are s times Table 1's,
rounded to the nearest multiple of 4g (halves up), which makes the bottleneck
(1/4) a multiple of g and leaves every 1x count unchanged; the first
convolution has 24 * s channels rounded up to a multiple of g (24 for s = 1;
0.5x g=8 gets 16 and 0.25x g=8 gets 8, as in the authors' released code for
0.5x).

Padding (our choice, the authors' released PyTorch code's): the 3x3/2
layers - first convolution, max pooling, the stride-2 depthwise convolution
and the shortcut's average pooling - pad one pixel on every side with an
explicit ZeroPadding2D and then pool or convolve "valid". The branch and the
shortcut of a stride-2 unit then look at windows with the same centres
(TensorFlow's "same" would pad only bottom and right for even sizes), and the
average pooling counts the padded zeros (PyTorch's count_include_pad=True:
every window is divided by 9). Keras' AveragePooling2D(padding="same") is
avoided on purpose: it does not count the padding on tensorflow and jax, and
on torch with uneven padding it replicates edge values, so the backends would
disagree; a zero pad and a valid pooling are the same on all three (the
TFLite export computes both poolings in equal forms without the PAD, which
XNNPACK runs faster, and in int8 the channel shuffle by whole channel planes:
kerasnets.export.rewrite). The zero padding is
harmless for the max pooling, whose input follows a ReLU. The channel shuffle
is left out where the preceding 1x1 convolution is not grouped (g = 1, and
the first unit of Stage 2): a fixed permutation after a dense convolution
changes nothing the next layers can learn.

No ImageNet weights are published for ShuffleNet in keras.applications; the
authors' (megvii's ShuffleNet-Series, PyTorch) load with two structure options.
`shuffle="transposed"` is the channel shuffle of their released code: it
reshapes the channels to (C / g, g) where the paper (section 3.1) reshapes
them to (g, C / g) before the transpose, so it is the inverse permutation of
the paper's (`ChannelShuffle(C // g)` instead of `ChannelShuffle(g)`); both
send every group's output to every next group, but a trained checkpoint
needs its own. `bn_epsilon` is the BatchNorm epsilon (Keras' 1e-3 by default,
PyTorch's 1e-5 in their code). The rest of their ShuffleNet v1 is this one:
the channels of Table 1 for 1.0x, the ungrouped first 1x1 convolution of
Stage 2 (their `first_group`), zero-padded max pooling after a ReLU and
average pooling that counts the padding, no ReLU on the shortcut of a
stride-2 unit (its input already follows a ReLU). Their code shuffles after
the ungrouped convolution too; that permutation is folded into its weights
when the checkpoint is converted (`kerasnets.weights.shufflenet`), and their
bias-free classifier loads with a zero bias.
"""

from __future__ import annotations

import math

from keras import layers

from kerasnets.checks import check_choice, check_range
from kerasnets.layers import BatchNormalization, ChannelShuffle, conv2d
from kerasnets.models import common, pretrained
from kerasnets.registry import Normalization, Paper, register_model
from kerasnets.weights.shufflenet import megvii_shufflenet_v1

PAPER = Paper(
    "Zhang, Zhou, Lin, Sun",
    2018,
    "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile Devices",
    "https://arxiv.org/abs/1707.01083",
)

DEFAULT_SHAPE = (224, 224, 3)
# Five stride-2 layers: 32 leaves a 1x1 map (the MobileNets' minimum too).
MIN_SHAPE = (32, 32, 3)

GROUPS = (1, 2, 3, 4, 8)
# "paper": section 3.1's channel shuffle; "transposed": megvii's released code's.
SHUFFLES = ("paper", "transposed")
KERAS_BN_EPSILON = 1e-3
SCALES = (0.25, 0.5, 1.0, 1.5, 2.0)
FIRST_CONV_FILTERS = 24
# Section 3.3: "we set the number of bottleneck channels to 1/4 of the output
# channels for each ShuffleNet unit".
BOTTLENECK_RATIO = 4
# Table 1: units of Stages 2, 3, 4 (the first of each has stride 2).
STAGE_UNITS = (4, 8, 4)
# Table 1: output channels of Stages 2, 3, 4 for each g (ShuffleNet 1x).
STAGE_CHANNELS = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
# Parameter counts (1000 classes) by (groups, scale), for the registry.
PARAMS = {
    (1, 0.25): 213_418, (1, 0.5): 541_828, (1, 1.0): 1_546_624, (1, 1.5): 3_015_388,
    (1, 2.0): 4_948_120,
    (2, 0.25): 272_934, (2, 0.5): 654_560, (2, 1.0): 1_754_248, (2, 1.5): 3_304_820,
    (2, 2.0): 5_298_696,
    (3, 0.25): 312_022, (3, 0.5): 730_564, (3, 1.0): 1_890_208, (3, 1.5): 3_479_932,
    (3, 2.0): 5_499_736,
    (4, 0.25): 346_672, (4, 0.5): 792_544, (4, 1.0): 1_996_088, (4, 1.5): 3_618_492,
    (4, 2.0): 5_649_016,
    (8, 0.25): 464_296, (8, 0.5): 1_031_032, (8, 1.0): 2_473_936, (8, 1.5): 4_331_152,
    (8, 2.0): 6_600_568,
}
# Multiply-adds at 224x224 of each (groups, scale), as kerasnets.profile counts them
# (Table 2 of the paper rounds them: 140M for 1x, g = 3); the presets' descriptions state them.
MACS = {
    (1, 0.25): 11_003_184, (1, 0.5): 38_517_408, (1, 1.0): 143_078_976,
    (1, 1.5): 313_684_704, (1, 2.0): 550_334_592,
    (2, 0.25): 11_243_032, (2, 0.5): 38_914_784, (2, 1.0): 140_836_512,
    (2, 1.5): 309_765_152, (2, 2.0): 539_138_624,
    (3, 0.25): 11_009_808, (3, 0.5): 37_589_856, (3, 1.0): 137_460_672,
    (3, 1.5): 299_612_448, (3, 2.0): 524_045_184,
    (4, 0.25): 11_937_136, (4, 0.5): 37_943_936, (4, 1.0): 134_339_776,
    (4, 1.5): 294_882_496, (4, 2.0): 510_289_536,
    (8, 0.25): 12_426_240, (8, 0.5): 40_469_760, (8, 1.0): 138_365_952,
    (8, 1.5): 302_607_360, (8, 2.0): 521_942_016,
}


def stage_channels(groups, scale):
    """Output channels of Stages 2-4: s x Table 1, rounded to a multiple of 4g (halves up)."""
    step = BOTTLENECK_RATIO * groups
    return tuple(
        max(step, int(math.floor(scale * c / step + 0.5)) * step)
        for c in STAGE_CHANNELS[groups]
    )


def first_conv_channels(groups, scale):
    """Channels of the first convolution: 24 s, rounded up to a multiple of g."""
    return int(math.ceil(FIRST_CONV_FILTERS * scale / groups)) * groups


def conv_bn(x, filters, kernel_size, name, strides=1, groups=1, relu=True,
            bn_epsilon=KERAS_BN_EPSILON):
    """A convolution without bias (every one is followed by BN), BN and optionally ReLU."""
    x = conv2d(filters, kernel_size, strides=strides, groups=groups, use_bias=False, name=name)(x)
    x = BatchNormalization(axis=common.channel_axis(), epsilon=bn_epsilon,
                           name=f"{name}_bn")(x)
    if relu:
        x = layers.ReLU(name=f"{name}_relu")(x)
    return x


def shuffle_unit(x, out_channels, groups, strides, name, group_first_conv=True,
                 shuffle="paper", bn_epsilon=KERAS_BN_EPSILON):
    """Figure 2 (b) at stride 1, (c) at stride 2: GConv-shuffle-DWConv-GConv + shortcut.

    `out_channels` are the unit's output channels (after the concatenation at
    stride 2, whose branch then makes out_channels - in_channels of them);
    the bottleneck has out_channels / 4. `group_first_conv=False` is Stage 2's
    ungrouped first 1x1 convolution. `shuffle` and `bn_epsilon` as in `ShuffleNetV1`.
    """
    axis = common.channel_axis()
    in_channels = x.shape[axis]
    branch_channels = out_channels - in_channels if strides == 2 else out_channels
    bottleneck = out_channels // BOTTLENECK_RATIO
    first_groups = groups if group_first_conv else 1
    shortcut = x
    x = conv_bn(x, bottleneck, 1, f"{name}_gconv1", groups=first_groups, bn_epsilon=bn_epsilon)
    if first_groups > 1:
        # "transposed" reshapes to (C / g, g): the inverse permutation of the paper's.
        shuffle_groups = groups if shuffle == "paper" else bottleneck // groups
        x = ChannelShuffle(shuffle_groups, name=f"{name}_shuffle")(x)
    if strides == 2:
        x = layers.ZeroPadding2D(1, name=f"{name}_dwconv_pad")(x)
    x = layers.DepthwiseConv2D(
        3, strides=strides, padding="valid" if strides == 2 else "same", use_bias=False,
        name=f"{name}_dwconv",
    )(x)
    # Section 3.2: no ReLU after the depthwise convolution.
    x = BatchNormalization(axis=axis, epsilon=bn_epsilon, name=f"{name}_dwconv_bn")(x)
    # At stride 2 the unit's ReLU after the concatenation acts on the branch
    # alone: the shortcut pools a ReLU's output (every unit's input is one), so
    # it is already >= 0. Applied before the concatenation, the ReLU fuses into
    # the branch's last convolution; after it, it is a separate op over every
    # channel, which LiteRT's XNNPACK does not take in int8 (it ran as a
    # reference kernel: 1.0 of ShuffleNet's 4.7 ms, benchmarks/README.md).
    x = conv_bn(x, branch_channels, 1, f"{name}_gconv2", groups=groups, relu=strides == 2,
                bn_epsilon=bn_epsilon)
    if strides == 1:
        x = layers.Add(name=f"{name}_add")([shortcut, x])
        return layers.ReLU(name=f"{name}_relu")(x)
    shortcut = layers.ZeroPadding2D(1, name=f"{name}_shortcut_pad")(shortcut)
    shortcut = layers.AveragePooling2D(
        3, strides=2, padding="valid", name=f"{name}_shortcut_pool"
    )(shortcut)
    return layers.Concatenate(axis=axis, name=f"{name}_concat")([shortcut, x])


def stage(x, out_channels, units, groups, stage_id, shuffle="paper",
          bn_epsilon=KERAS_BN_EPSILON):
    """Table 1: one stride-2 unit, then `units - 1` stride-1 units, all `out_channels` wide."""
    for unit in range(1, units + 1):
        x = shuffle_unit(
            x, out_channels, groups, strides=2 if unit == 1 else 1,
            name=f"stage{stage_id}_unit{unit}",
            group_first_conv=not (stage_id == 2 and unit == 1),
            shuffle=shuffle, bn_epsilon=bn_epsilon,
        )
    return x


def _check_number_choice(argument, value, allowed):
    # check_choice alone would take True for 1 and 2 for 2.0.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in allowed:
        raise ValueError(f"`{argument}` must be one of {tuple(allowed)}; got {value!r}")


def ShuffleNetV1(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    groups=3,
    scale=1.0,
    shuffle="paper",
    bn_epsilon=KERAS_BN_EPSILON,
    published_as="shufflenet_v1",
    name="shufflenet_v1",
):
    """ShuffleNet s x (g = `groups`, s = `scale`), Zhang et al. 2018, Table 1.

    See the module docstring for the channels of s != 1 and the padding.
    `shuffle` is the channel shuffle: "paper" (section 3.1) or "transposed"
    (megvii's ShuffleNet-Series code, the inverse permutation); `bn_epsilon`
    the BatchNorm epsilon (1e-3, Keras'; 1e-5 in megvii's code). `weights`
    takes a tag of `published_as` (megvii's checkpoints of g = 3 and 8 at 1.0x).
    """
    _check_number_choice("groups", groups, GROUPS)
    _check_number_choice("scale", scale, SCALES)
    check_choice("shuffle", shuffle, SHUFFLES)
    check_range("bn_epsilon", bn_epsilon, 0, low_inclusive=False)
    if isinstance(groups, float) and not groups.is_integer():
        raise ValueError(f"`groups` must be one of {GROUPS}; got {groups!r}")
    groups, scale = int(groups), float(scale)
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
        weights_structure={"groups": groups, "scale": scale, "shuffle": shuffle,
                           "bn_epsilon": bn_epsilon},
    )
    x = layers.ZeroPadding2D(1, name="conv1_pad")(inputs)
    x = conv_bn(x, first_conv_channels(groups, scale), 3, "conv1", strides=2,
                bn_epsilon=bn_epsilon)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage_id, (channels, units) in enumerate(
        zip(stage_channels(groups, scale), STAGE_UNITS), start=2
    ):
        x = stage(x, channels, units, groups, stage_id, shuffle=shuffle, bn_epsilon=bn_epsilon)
    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation,
                               pool_name="global_average_pooling")
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


# megvii's released checkpoints (ShuffleNet-Series, ShuffleNetV1/README.md, "Trained
# Models"): on OneDrive (and BaiduYun), a shared folder rather than a file URL, so they
# are not downloaded: fetch them by hand and place them in the weights cache under
# these names (`kerasnets.models.pretrained.cache_folder()`). Top-1 is 100 minus
# the README's top-1 error (32.2 for g = 3, 32.0 for g = 8, 1.0x).
MEGVII_URL = "https://1drv.ms/f/s!AgaP37NGYuEXhRfQxHRseR7eSxXo"
MEGVII_TOP1 = {3: 67.8, 8: 68.0}
# Their evaluation: OpenCV resize of the short side to 256, centre crop 224, BGR
# pixels 0-255 with no mean subtracted nor scaling (their ToBGRTensor).
MEGVII_NORMALIZATION = Normalization("caffe", 255.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "BGR")
MEGVII_STRUCTURE = {"shuffle": "transposed", "bn_epsilon": 1e-5}


def megvii_weights(group, structure=None):
    """The `{"megvii": ...}` entry of the 1.0x checkpoint of g = `group`, needing `structure`
    besides megvii's (the presets fix the groups and scale themselves)."""
    return {"megvii": pretrained.url_weights(
        MEGVII_URL, filename=f"shufflenet_v1_megvii_group{group}_1.0x.pth.tar",
        convert=megvii_shufflenet_v1, top1=MEGVII_TOP1[group], licence="MIT",
        source="megvii", network=f"ShuffleNet v1 1.0x (g = {group})", input_size=(224, 224),
        crop_fraction=224 / 256, normalization=MEGVII_NORMALIZATION, direct_download=False,
        structure={**(structure or {}), **MEGVII_STRUCTURE},
    )}


@register_model(
    "shufflenet_v1",
    family="shufflenet",
    paper=PAPER,
    input_shape=DEFAULT_SHAPE,
    min_input_shape=MIN_SHAPE,
    params=PARAMS[(3, 1.0)],
    # The paper trains with ResNeXt's settings (fb.resnet.torch: [0, 1] scaling,
    # ImageNet mean and std per channel); megvii's checkpoints say their own.
    preprocessing="torch",
    # The default network's (g = 3, 1.0x) checkpoint, as its presets have it.
    published_weights=megvii_weights(3, {"groups": 3, "scale": 1.0}),
)
def shufflenet_v1(**kwargs):
    """ShuffleNet 1x (g = 3): 140M multiply-adds at 224."""
    return ShuffleNetV1(**{"name": "shufflenet_v1", **kwargs})


common.register_presets("shufflenet_v1", {
    f"shufflenet_v1_g{groups}_{scale}": dict(
        params=count, groups=groups, scale=scale,
        description=(f"ShuffleNet {scale:g}x (g = {groups}): "
                     f"{MACS[groups, scale] / 1e6:.1f}M multiply-adds at 224."),
        **({"published_weights": megvii_weights(groups)}
           if scale == 1.0 and groups in MEGVII_TOP1 else {}),
    )
    for (groups, scale), count in PARAMS.items()
})
