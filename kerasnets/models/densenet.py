"""DenseNet: every layer takes the feature maps of all preceding layers of its block.

Huang, Liu, van der Maaten, Weinberger (2017), "Densely Connected
Convolutional Networks", CVPR (arXiv 1608.06993), section 3 and Table 1.

A dense block of l layers concatenates each layer's `growth_rate` (k) new
feature maps to its input, so a block entered with c channels leaves with
c + l * k. A dense layer is the composite function H: BN-ReLU-3x3 conv,
preceded in DenseNet-B by a bottleneck BN-ReLU-1x1 conv of 4k channels.
Between blocks a transition layer (BN-ReLU-1x1 conv-2x2 average pooling)
halves the resolution and, in DenseNet-C, keeps floor(theta * m) of its m
channels (`compression` theta). DenseNet-BC has both.

The ImageNet networks (Table 1) are DenseNet-BC with k = 32, a 7x7/2
convolution of 2k channels and 3x3/2 max pooling before four dense blocks,
and BN-ReLU, global average pooling and the classifier after them. Their
structure, call order and layer names follow keras.applications' DenseNet
(`conv1_conv`, `conv2_block1_0_bn`, `pool2_conv`, `bn`, `avg_pool`,
`predictions`), so `densenet121`, `densenet169` and `densenet201` take its
weights with `set_weights` or `load_weights`, and keep its choices: batch
normalization epsilon 1.001e-5, no convolution biases (every feature map is
normalized before anything uses it). Their `weights="imagenet"` are
keras.applications' files; `weights="tv_in1k"` loads torchvision's
checkpoints (as timm hosts them: `timm/densenet121.tv_in1k`), which need
`bn_epsilon=1e-5` (set by the tag; `kerasnets.weights.densenet` maps the
keys). torchvision's stem pads as ours does. keras.applications leaves its two
ZeroPadding2D layers unnamed; here they are `conv1_pad` and `pool1_pad`
(its ResNet names), which changes no weight order.

The CIFAR networks (section 4.2) have a 3x3 convolution of 16 channels
(2k for DenseNet-BC) and three dense blocks on 32x32, 16x16 and 8x8 maps;
as in the authors' code, BN-ReLU comes before the global average pooling.
`drop_rate` adds the paper's dropout (0.2 for CIFAR without data
augmentation) after each convolution but the first; it is off by default.
"""

from __future__ import annotations

import math

from keras import layers

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.layers import BatchNormalization
from kerasnets.models import common, pretrained
from kerasnets.registry import Paper, normalization
from kerasnets.weights.densenet import torchvision_densenet

PAPER = Paper(
    "Huang, Liu, van der Maaten, Weinberger",
    2017,
    "Densely Connected Convolutional Networks",
    "https://arxiv.org/abs/1608.06993",
)

# keras.applications' value: cuDNN refuses an epsilon below 1e-5, and
# 1.001e-5 keeps clear of the float rounding at the bound.
BN_EPSILON = 1.001e-5
# Section 3, DenseNet-B: "each 1x1 convolution produce[s] 4k feature-maps".
BOTTLENECK_WIDTH = 4
STEMS = ("imagenet", "cifar")

# Table 1: dense layers per block.
DENSENET121_BLOCKS = (6, 12, 24, 16)
DENSENET169_BLOCKS = (6, 12, 32, 32)
DENSENET201_BLOCKS = (6, 12, 48, 32)
DENSENET264_BLOCKS = (6, 12, 64, 48)
# Section 4.2: depth L = 3 * layers per block * convolutions per layer + 4
# (the first convolution, two transitions, the classifier).
DENSENET40_BLOCKS = (12, 12, 12)  # (40 - 4) / 3
DENSENET_BC100_BLOCKS = (16, 16, 16)  # (100 - 4) / 6, two convolutions per layer

IMAGENET_SHAPE = (224, 224, 3)
CIFAR_SHAPE = (32, 32, 3)


def _min_shape(stem, blocks):
    """The smallest input with a 1x1 map after the last transition.

    The ImageNet stem divides by 4 (both strides round up), each of the
    blocks - 1 transitions by 2 (rounding down): 2 ** (blocks + 1), 32 for
    four blocks, the keras.applications minimum. The CIFAR stem keeps the size.
    """
    size = 2 ** (blocks + 1) if stem == "imagenet" else 2 ** (blocks - 1)
    return (size, size, 3)


def _bn_relu(x, name, bn_epsilon=BN_EPSILON):
    x = BatchNormalization(axis=common.channel_axis(), epsilon=bn_epsilon,
                           name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _dropout(x, drop_rate, name):
    return layers.Dropout(drop_rate, name=f"{name}_drop")(x) if drop_rate else x


def dense_layer(x, growth_rate, name, bottleneck=True, drop_rate=0.0, bn_epsilon=BN_EPSILON):
    """The composite function H_l: [BN-ReLU-1x1 conv (4k)]-BN-ReLU-3x3 conv (k), concatenated.

    Section 3. The names are those of keras.applications' `conv_block`:
    `{name}_0_*` the first BN-ReLU, `{name}_1_*` the bottleneck convolution
    and its BN-ReLU, `{name}_2_conv` the 3x3 convolution; without the
    bottleneck the `_1_` layers are simply absent.
    """
    y = _bn_relu(x, f"{name}_0", bn_epsilon)
    if bottleneck:
        y = layers.Conv2D(BOTTLENECK_WIDTH * growth_rate, 1, use_bias=False,
                          name=f"{name}_1_conv")(y)
        y = _dropout(y, drop_rate, f"{name}_1")
        y = _bn_relu(y, f"{name}_1", bn_epsilon)
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    y = _dropout(y, drop_rate, f"{name}_2")
    return layers.Concatenate(axis=common.channel_axis(), name=f"{name}_concat")([x, y])


def dense_block(x, layers_in_block, growth_rate, name, bottleneck=True, drop_rate=0.0,
                bn_epsilon=BN_EPSILON):
    """`layers_in_block` dense layers: adds layers_in_block * growth_rate channels."""
    for i in range(1, layers_in_block + 1):
        x = dense_layer(x, growth_rate, f"{name}_block{i}", bottleneck=bottleneck,
                        drop_rate=drop_rate, bn_epsilon=bn_epsilon)
    return x


def transition_layer(x, compression, name, drop_rate=0.0, bn_epsilon=BN_EPSILON):
    """BN-ReLU-1x1 conv to floor(compression * m) channels, then 2x2 average pooling, stride 2.

    Section 3 (transition layers, compression). The pooling has valid
    padding, so odd sizes round down, as in keras.applications.
    """
    channels = x.shape[common.channel_axis()]
    # The paper's floor(theta * m); the small margin keeps 0.29 * 100 at 29.
    filters = math.floor(channels * compression + 1e-6)
    if filters < 1:
        raise ValueError(
            f"`compression` {compression!r} leaves no channels of the {channels} entering "
            f"{name}: use a larger compression (floor(compression * {channels}) >= 1)"
        )
    x = _bn_relu(x, name, bn_epsilon)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_conv")(x)
    x = _dropout(x, drop_rate, name)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def imagenet_stem(x, filters, bn_epsilon=BN_EPSILON):
    """Table 1: 7x7/2 convolution, BN-ReLU, 3x3/2 max pooling (224 -> 56).

    Both pad one (three) pixels on every side, as torchvision's DenseNet:
    the zero padding of the pooling is the -inf of PyTorch's after the ReLU.
    """
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(x)
    x = layers.Conv2D(filters, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn_relu(x, "conv1", bn_epsilon)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1")(x)


def cifar_stem(x, filters, bn_epsilon=BN_EPSILON):
    """Section 4.2: one 3x3 convolution; the first dense layer's BN-ReLU follows it.

    `bn_epsilon` is unused (no normalization here): the signature is `imagenet_stem`'s.
    """
    return layers.Conv2D(filters, 3, padding="same", use_bias=False, name="conv1_conv")(x)


def _check_block_config(block_config):
    if isinstance(block_config, (str, bytes)) or not hasattr(block_config, "__len__"):
        raise ValueError(
            f"`block_config` must be a sequence of dense layers per block, such as "
            f"(6, 12, 24, 16); got {block_config!r}"
        )
    if not block_config:
        raise ValueError("`block_config` must have at least one dense block; got ()")
    for i, layers_in_block in enumerate(block_config):
        check_range(f"block_config[{i}]", layers_in_block, 1, integer=True)
    return tuple(int(n) for n in block_config)


def DenseNet(
    block_config,
    growth_rate=32,
    bottleneck=True,
    compression=0.5,
    initial_channels=None,
    stem="imagenet",
    drop_rate=0.0,
    bn_epsilon=BN_EPSILON,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    published_as=None,
    name="densenet",
):
    """DenseNet (Huang et al. 2017): a stem, dense blocks joined by transition layers, classifier.

    `block_config` are the dense layers per block, `growth_rate` the paper's
    k, `bottleneck` DenseNet-B's 1x1 convolutions of 4k channels,
    `compression` DenseNet-C's theta in (0, 1] (1: no compression),
    `initial_channels` those of the first convolution (default 2k, the
    paper's choice for DenseNet-BC and ImageNet), `stem` "imagenet" (7x7/2
    conv and max pooling, default input 224x224) or "cifar" (3x3 conv,
    default input 32x32), `drop_rate` the dropout after each convolution but
    the first. `bn_epsilon` (> 0) is every batch normalization's epsilon:
    keras.applications' 1.001e-5 by default, 1e-5 in torchvision's DenseNet
    (`nn.BatchNorm2d`'s default), whose checkpoints (tag "tv_in1k") need it.
    `published_as` is the registered network whose published weights
    `weights="imagenet"` (or a tag) loads (None: none are published).
    """
    block_config = _check_block_config(block_config)
    check_range("growth_rate", growth_rate, 1, integer=True)
    growth_rate = int(growth_rate)
    check_bool("bottleneck", bottleneck)
    check_range("compression", compression, 0, 1, low_inclusive=False)
    if initial_channels is None:
        initial_channels = 2 * growth_rate
    check_range("initial_channels", initial_channels, 1, integer=True)
    check_choice("stem", stem, STEMS)
    check_range("drop_rate", drop_rate, 0, 1, high_inclusive=False)
    check_range("bn_epsilon", bn_epsilon, 0, low_inclusive=False)
    inputs, weights = common.prepare_inputs(
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=IMAGENET_SHAPE if stem == "imagenet" else CIFAR_SHAPE,
        min_shape=_min_shape(stem, len(block_config)),
        published_as=published_as,
        weights_structure={"bn_epsilon": bn_epsilon},
    )
    make_stem = imagenet_stem if stem == "imagenet" else cifar_stem
    x = make_stem(inputs, int(initial_channels), bn_epsilon)
    # keras.applications' names: dense block b is conv{b+1}, the transition after it pool{b+1}.
    for b, layers_in_block in enumerate(block_config, start=2):
        x = dense_block(x, layers_in_block, growth_rate, f"conv{b}", bottleneck=bottleneck,
                        drop_rate=drop_rate, bn_epsilon=bn_epsilon)
        if b < len(block_config) + 1:
            x = transition_layer(x, compression, f"pool{b}", drop_rate=drop_rate,
                                 bn_epsilon=bn_epsilon)
    x = BatchNormalization(axis=common.channel_axis(), epsilon=bn_epsilon, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation)
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


def torchvision_weights(network, top1):
    """torchvision's checkpoint of `network`, as timm hosts it (`timm/densenet121.tv_in1k`).

    Ported from LuaTorch by torchvision (BSD-3-Clause); `top1` is its docs'
    acc@1 (torchvision/models/densenet.py), at 224x224 after resizing to 256
    (crop 0.875), torch's ImageNet mean/std on RGB in [0, 1]. It needs
    nn.BatchNorm2d's epsilon, 1e-5.
    """
    return pretrained.hub_weights(
        f"timm/{network}.tv_in1k", convert=torchvision_densenet, top1=top1,
        licence="BSD-3-Clause", source="torchvision", structure={"bn_epsilon": 1e-5},
        input_size=(224, 224), crop_fraction=0.875, normalization=normalization("torch"),
    )


# What the ImageNet and the CIFAR networks' registry entries share.
register_imagenet = common.registration(
    family="densenet", paper=PAPER, input_shape=IMAGENET_SHAPE,
    min_input_shape=_min_shape("imagenet", len(DENSENET121_BLOCKS)), preprocessing="torch",
)
register_cifar = common.registration(
    family="densenet", paper=PAPER, input_shape=CIFAR_SHAPE,
    min_input_shape=_min_shape("cifar", len(DENSENET40_BLOCKS)), preprocessing="torch",
    num_classes=10, augmentation="cifar",  # section 4.1's C10+: ResNet's pad-crop and flip
)


@register_imagenet(
    params=8_062_504,
    published_weights={
        **pretrained.tf_kernels("densenet", "densenet121", "9d60b8095a5708f2dcce2bca79d332c7",
                                "30ee3e1110167f948a6b9946edeeb738", structure={"bn_epsilon": BN_EPSILON}),
        "tv_in1k": torchvision_weights("densenet121", top1=74.434),
    },
)
def densenet121(**kwargs):
    """DenseNet-121 (DenseNet-BC, k = 32, blocks 6-12-24-16; keras.applications' weights)."""
    return DenseNet(DENSENET121_BLOCKS, published_as="densenet121",
                    **{"name": "densenet121", **kwargs})


@register_imagenet(
    params=14_307_880,
    published_weights={
        **pretrained.tf_kernels("densenet", "densenet169", "d699b8f76981ab1b30698df4c175e90b",
                                "b8c4d4c20dd625c148057b9ff1c1176b", structure={"bn_epsilon": BN_EPSILON}),
        "tv_in1k": torchvision_weights("densenet169", top1=75.600),
    },
)
def densenet169(**kwargs):
    """DenseNet-169 (DenseNet-BC, k = 32, blocks 6-12-32-32; keras.applications' weights)."""
    return DenseNet(DENSENET169_BLOCKS, published_as="densenet169",
                    **{"name": "densenet169", **kwargs})


@register_imagenet(
    params=20_242_984,
    published_weights={
        **pretrained.tf_kernels("densenet", "densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807",
                                "c13680b51ded0fb44dff2d8f86ac8bb1", structure={"bn_epsilon": BN_EPSILON}),
        "tv_in1k": torchvision_weights("densenet201", top1=76.896),
    },
)
def densenet201(**kwargs):
    """DenseNet-201 (DenseNet-BC, k = 32, blocks 6-12-48-32; keras.applications' weights)."""
    return DenseNet(DENSENET201_BLOCKS, published_as="densenet201",
                    **{"name": "densenet201", **kwargs})


# DenseNet-264 has no keras.applications twin and no published Keras weights.
# Its count, from the per-layer sums (BN: 4 parameters per channel with the
# moving statistics; a dense layer entered with c channels has
# 4c + 32 * 4 * c + 4 * 128 + 9 * 128 * 32 = 132c + 37,376):
#   stem 7*7*3*64 + 4*64                                          9,664
#   block 1: c = 64 + 32i, i < 6:    132 * 864 + 6 * 37,376      338,304
#   transition 256 -> 128: 4*256 + 256*128                        33,792
#   block 2: c = 128 + 32i, i < 12:  132 * 3,648 + 12 * 37,376   930,048
#   transition 512 -> 256: 4*512 + 512*256                       133,120
#   block 3: c = 256 + 32i, i < 64:  132 * 80,896 + 64 * 37,376 13,070,336
#   transition 2304 -> 1152: 4*2304 + 2304*1152                2,663,424
#   block 4: c = 1152 + 32i, i < 48: 132 * 91,392 + 48 * 37,376 13,857,792
#   final BN 4*2688, classifier 2688*1000 + 1000               2,699,752
#   total                                                      33,736,232
@register_imagenet(params=33_736_232)
def densenet264(**kwargs):
    """DenseNet-264 (DenseNet-BC, k = 32, blocks 6-12-64-48; no published weights)."""
    return DenseNet(DENSENET264_BLOCKS, **{"name": "densenet264", **kwargs})


@register_cifar(params=1_037_818)
def densenet40_k12(**kwargs):
    """DenseNet (L = 40, k = 12) for CIFAR: no bottleneck, no compression, 16 initial channels."""
    return DenseNet(
        DENSENET40_BLOCKS,
        **{"growth_rate": 12, "bottleneck": False, "compression": 1.0, "initial_channels": 16,
           "stem": "cifar", "classes": 10, "name": "densenet40_k12", **kwargs},
    )


@register_cifar(params=793_150)
def densenet_bc100_k12(**kwargs):
    """DenseNet-BC (L = 100, k = 12) for CIFAR: bottleneck, compression 0.5, 2k initial channels."""
    return DenseNet(
        DENSENET_BC100_BLOCKS,
        **{"growth_rate": 12, "bottleneck": True, "compression": 0.5, "stem": "cifar",
           "classes": 10, "name": "densenet_bc100_k12", **kwargs},
    )
