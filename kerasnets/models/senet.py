"""Squeeze-and-Excitation networks: SE-ResNet, SE-ResNeXt, SENet-154 and SE-Inception-v3.

Hu, Shen and Sun (2018), "Squeeze-and-Excitation Networks", CVPR (extended
in TPAMI 2020 with Albanie and Wu). An SE block (`kerasnets.layers.
SqueezeExcite`) squeezes a feature map by global average pooling, excites it
with FC (C/r) + ReLU, FC (C) + sigmoid, and rescales the channels with the
result; r = 16 (`se_ratio`) throughout. Each block adds (2/r) C^2 weights
and C/r + C biases for C channels: (2/r) * sum_s N_s C_s^2 over the stages s
of N_s blocks, the paper's eq. (5), plus the biases.

SE-ResNet-50/101/152 and SE-ResNeXt-50/101 (32x4d) gate the residual branch
before the addition (fig. 3); they reuse `kerasnets.models.resnet` (its block
functions' `se_ratio` hook, the generic `ResNet` builder, `drop_path_rate`
stochastic depth) and its layer names (`conv3_block2_se` for a gate). Their
layout is that of the released models (the Caffe ones, as ported by Cadene's
pretrainedmodels and timm's legacy_senet, whose parameter counts ours
match): no convolution has a bias, projection shortcuts are 1x1
convolutions + BN, SE-ResNet bottlenecks downsample in their first 1x1
convolution and SE-ResNeXt ones in their grouped 3x3. Trainable parameters:
28,088,024 for SE-ResNet-50 and 27,559,896 for SE-ResNeXt-50, the SE blocks
adding 2,530,992 to the 25,557,032 and 25,028,904 of the plain networks.

SENet-154 (appendix, the ILSVRC 2017 winner): ResNeXt-152 style stages [3,
8, 36, 3] of 64-group bottlenecks whose first 1x1 convolution is 2f wide
and whose grouped 3x3 and last 1x1 convolutions are 4f wide (f = 64, 128,
256, 512), a stem of three 3x3 convolutions (64/2, 64, 128) instead of the
7x7/2 one, 3x3/2 convolutions (not 1x1/2) on the downsampling shortcuts,
and dropout 0.2 before the classifier; 115,088,984 trainable parameters.

SE-Inception-v3 gates the output of each of Inception v3's eleven modules
(fig. 2, `mixed{i}_se`), through `kerasnets.models.inception.InceptionV3`'s
`se_ratio`.

Deliberate choices and deviations (by default; the published weights set
the released models' structure themselves):
- The pooling after the stem is keras.applications' 3x3/2 max pooling on a
  one-pixel zero padding; the released models pool without padding, rounding
  up (Caffe's ceil mode, `ceil_mode=True`). The maps have the same sizes
  (56x56 at 224x224) but are aligned one pixel apart.
- Global average pooling instead of Cadene's fixed 7x7 average pooling (timm
  pools globally too), so any input from 32x32 (75x75 for SE-Inception-v3)
  runs; the two agree at 224x224.
- Batch normalization epsilon 1.001e-5 (keras.applications' ResNets), not
  the released models' 1e-5 (`bn_epsilon=1e-5`).
- Preprocessing "torch" (RGB in [0, 1], ImageNet mean and std per channel)
  for the residual networks: it is what the PyTorch ports of the released
  models (Cadene's pretrainedmodels, timm) publish for these layouts, and the
  ResNeXt family here uses it too. SE-Inception-v3 keeps Inception v3's "tf"
  ([-1, 1]), the recipe of its base network.

Published weights: the six released networks load Cadene's port of the Caffe
models (hujie-frank/SENet), as timm hosts it on the Hugging Face hub
(`weights="in1k"`, what "imagenet" means: `timm/legacy_seresnet50.in1k`, ...,
safetensors) or from Cadene's own `.pth` files (`weights="cadene"`); both
build `bn_epsilon=1e-5, ceil_mode=True` and map through
`kerasnets.weights.senet.cadene_senet`. SE-Inception-v3 has none.
"""

from __future__ import annotations

import functools

from keras import layers

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.layers import BatchNormalization
from kerasnets.models import common, pretrained
from kerasnets.models import inception as I
from kerasnets.models import resnet as R
from kerasnets.registry import Paper, normalization
from kerasnets.weights import senet as senet_weights

PAPER = Paper(
    "Hu, Shen, Sun",
    2018,
    "Squeeze-and-Excitation Networks",
    "https://arxiv.org/abs/1709.01507",
)

# The reduction ratio r of section 6.1, used by every network of the paper.
SE_RATIO = 16
# SENet-154's dropout ratio before the classifier (appendix).
SENET154_DROPOUT = 0.2
# SENet-154: 64 groups, and the stem's three 3x3 convolutions.
SENET154_CARDINALITY = 64
DEEP_STEM_FILTERS = (64, 64, 128)
# keras.applications' ResNet epsilon, the default here; the released models' is 1e-5.
BN_EPSILON = R.BN_EPSILON


# ----------------------------------------------------------------- blocks and stems


def batch_norm(x, name, bn_epsilon=BN_EPSILON):
    return BatchNormalization(axis=common.channel_axis(), epsilon=bn_epsilon,
                              name=name)(x)


def stem_pooling(x, ceil_mode=False):
    """The 3x3/2 max pooling after the stem (`pool1_pool`), on a one-pixel padding or in ceil mode.

    `ceil_mode=True` is the released models' `MaxPool2d(3, 2, ceil_mode=True)`
    (no padding, the size rounded up): one pixel of padding at the bottom and
    right only. Zeros pad either way: the input comes out of a ReLU, and
    every window holds at least one pixel of it, so they never win a max.
    """
    padding = ((0, 1), (0, 1)) if ceil_mode else ((1, 1), (1, 1))
    x = layers.ZeroPadding2D(padding=padding, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def imagenet_stem(x, *, preact=False, use_bias=False, filters=64, bn_epsilon=BN_EPSILON,
                  ceil_mode=False):
    """ResNet's conv1 (7x7/2, 64, three pixels of padding), BN-ReLU and the 3x3/2 max pooling.

    The signature is `resnet.ResNet`'s stem one (`preact` is not used: the SE
    networks are post-activation ones).
    """
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(x)
    x = layers.Conv2D(filters, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    x = batch_norm(x, "conv1_bn", bn_epsilon)
    x = layers.Activation("relu", name="conv1_relu")(x)
    return stem_pooling(x, ceil_mode)


def deep_stem(x, *, preact=False, use_bias=False, filters=64, bn_epsilon=BN_EPSILON,
              ceil_mode=False):
    """SENet-154's stem: 3x3/2 (64), 3x3 (64), 3x3 (128) convolutions with BN-ReLU, 3x3/2 max pool.

    It replaces the 7x7/2 convolution of ResNet's conv1 (`conv1_{1,2,3}_conv`);
    the signature is `resnet.ResNet`'s stem one (`filters` and `preact` are
    not used: the widths are the released model's).
    """
    for index, width in enumerate(DEEP_STEM_FILTERS, start=1):
        prefix = f"conv1_{index}"
        x = R.conv3x3(x, width, prefix, stride=2 if index == 1 else 1, use_bias=use_bias)
        x = batch_norm(x, f"{prefix}_bn", bn_epsilon)
        x = layers.Activation("relu", name=f"{prefix}_relu")(x)
    return stem_pooling(x, ceil_mode)


STEMS = {"imagenet": imagenet_stem, "deep": deep_stem}


def projection_shortcut(x, out_channels, stride, name, *, kernel_size=1, shortcut="projection",
                        use_bias=False, bn_epsilon=BN_EPSILON):
    """The shortcut of an SE block: identity, or a `kernel_size` convolution/`stride` + BN.

    `{name}_0_conv` and `{name}_0_bn`, where the shape changes (the paper's
    option B, `resnet.shortcut_connection`'s); 3x3 ones (SENet-154's
    downsampling shortcuts) pad one pixel on each side. `shortcut="zero_pad"`
    is `resnet.shortcut_connection`'s option A (no weights).
    """
    in_channels = x.shape[common.channel_axis()]
    if in_channels == out_channels and stride == 1:
        return x
    if shortcut != "projection":
        return R.shortcut_connection(x, out_channels, stride, name, shortcut=shortcut,
                                     use_bias=use_bias)
    if kernel_size == 3:
        x = R.conv3x3(x, out_channels, f"{name}_0", stride=stride, use_bias=use_bias)
    else:
        x = layers.Conv2D(out_channels, 1, strides=stride, use_bias=use_bias,
                          name=f"{name}_0_conv")(x)
    return batch_norm(x, f"{name}_0_bn", bn_epsilon)


def se_bottleneck_block(x, filters, stride=1, *, name, shortcut="projection", use_bias=False,
                        drop_rate=0.0, drop_scale_at="train", se_ratio=SE_RATIO, cardinality=1,
                        bottleneck_width=64, stride_at="1x1", bn_epsilon=BN_EPSILON):
    """SE-ResNet's and SE-ResNeXt's bottleneck (fig. 3): 1x1, 3x3, 1x1 (x4), SE gate, sum, ReLU.

    `resnet.bottleneck_block` with the gate and a `bn_epsilon`: the same
    layers, names and weight order. SE-ResNet downsamples in its first 1x1
    convolution (`stride_at="1x1"`, the released Caffe models'), SE-ResNeXt
    (`cardinality` groups of `bottleneck_width * filters / 64` channels in
    the 3x3) in the 3x3 (`stride_at="3x3"`).
    """
    width = int(filters * bottleneck_width / 64) * cardinality
    out_channels = R.BOTTLENECK_EXPANSION * filters
    stride_1x1, stride_3x3 = (stride, 1) if stride_at == "1x1" else (1, stride)
    residual_shortcut = projection_shortcut(x, out_channels, stride, name, shortcut=shortcut,
                                            use_bias=use_bias, bn_epsilon=bn_epsilon)
    x = layers.Conv2D(width, 1, strides=stride_1x1, use_bias=use_bias, name=f"{name}_1_conv")(x)
    x = batch_norm(x, f"{name}_1_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = R.conv3x3(x, width, f"{name}_2", stride=stride_3x3, use_bias=use_bias,
                  groups=cardinality)
    x = batch_norm(x, f"{name}_2_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(out_channels, 1, use_bias=use_bias, name=f"{name}_3_conv")(x)
    x = batch_norm(x, f"{name}_3_bn", bn_epsilon)
    x = R.merge(residual_shortcut, x, name, drop_rate=drop_rate, drop_scale_at=drop_scale_at,
                se_ratio=se_ratio)
    return layers.Activation("relu", name=f"{name}_out")(x)


def senet154_bottleneck_block(x, filters, stride=1, *, name, shortcut="projection",
                              use_bias=False, drop_rate=0.0, drop_scale_at="train",
                              se_ratio=SE_RATIO, cardinality=SENET154_CARDINALITY,
                              bn_epsilon=BN_EPSILON):
    """SENet-154's SE bottleneck: 1x1 (2f), grouped 3x3 (4f, stride), 1x1 (4f), SE, sum, ReLU.

    Wider than ResNeXt's (the released model's SEBottleneck): the 3x3
    convolution doubles the width of the first 1x1. Downsampling shortcuts
    are 3x3/2 convolutions + BN (`{name}_0_conv`); the one that only widens
    the channels (conv2_block1) is a 1x1 convolution + BN.
    """
    out_channels = R.BOTTLENECK_EXPANSION * filters
    residual_shortcut = projection_shortcut(x, out_channels, stride, name,
                                            kernel_size=3 if stride > 1 else 1,
                                            shortcut=shortcut, use_bias=use_bias,
                                            bn_epsilon=bn_epsilon)
    x = layers.Conv2D(2 * filters, 1, use_bias=use_bias, name=f"{name}_1_conv")(x)
    x = batch_norm(x, f"{name}_1_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = R.conv3x3(x, out_channels, f"{name}_2", stride=stride, use_bias=use_bias,
                  groups=cardinality)
    x = batch_norm(x, f"{name}_2_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(out_channels, 1, use_bias=use_bias, name=f"{name}_3_conv")(x)
    x = batch_norm(x, f"{name}_3_bn", bn_epsilon)
    x = R.merge(residual_shortcut, x, name, drop_rate=drop_rate, drop_scale_at=drop_scale_at,
                se_ratio=se_ratio)
    return layers.Activation("relu", name=f"{name}_out")(x)


# ----------------------------------------------------------------- the generic builders


def check_se_ratio(se_ratio):
    """An SE network needs its gates: `se_ratio` is a number > 0 (None is refused)."""
    check_range("se_ratio", se_ratio, 0, low_inclusive=False)


def SENet(
    stages,
    block,
    *,
    stem="imagenet",
    block_kwargs=None,
    se_ratio=SE_RATIO,
    dropout_rate=0.0,
    bn_epsilon=BN_EPSILON,
    ceil_mode=False,
    published_as=None,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="senet",
    **kwargs,
):
    """A residual network with an SE gate on every residual branch, `resnet.ResNet` underneath.

    `stages` (Stage(filters, blocks, stride) per stage), `block`
    (se_bottleneck_block, senet154_bottleneck_block or one of their
    signature) and the other keyword arguments (`block_kwargs`,
    `drop_path_rate`, `drop_path_scale_at`, `drop_path_mode`,
    `drop_path_rule`) are `resnet.ResNet`'s; `stem`
    is "imagenet" (7x7/2), "deep" (SENet-154's three 3x3) or a stem function
    of their signature; convolutions have no bias. `se_ratio` is the
    reduction ratio r (> 0), `dropout_rate` (in [0, 1)) a dropout before the
    classifier, as SENet-154's.

    Structure options, for the released models (Cadene's pretrainedmodels
    and timm's legacy SENets, `weights="in1k"` or `"cadene"`): `bn_epsilon`
    (> 0), every batch normalization's epsilon, keras.applications' 1.001e-5
    by default, 1e-5 in the released models (`nn.BatchNorm2d`'s default);
    `ceil_mode` (bool), the stem's 3x3/2 max pooling without padding and
    rounding up, their `MaxPool2d(3, stride=2, ceil_mode=True)`, instead of
    keras.applications' pooling on a one-pixel padding (False). `published_as`
    is the registered network whose published checkpoints `weights` may name.
    """
    check_se_ratio(se_ratio)
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    check_range("bn_epsilon", bn_epsilon, 0, low_inclusive=False)
    check_bool("ceil_mode", ceil_mode)
    if not callable(stem):
        check_choice("stem", stem, tuple(STEMS))
        stem = STEMS[stem]
    inputs, weights = common.prepare_inputs(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, default_shape=R.DEFAULT_SHAPE,
        min_shape=R.MIN_SHAPE, published_as=published_as,
        weights_structure={"bn_epsilon": bn_epsilon, "ceil_mode": ceil_mode},
    )
    return R.ResNet(stages, block, stem=functools.partial(stem, bn_epsilon=bn_epsilon,
                                                          ceil_mode=ceil_mode),
                    block_kwargs={"bn_epsilon": bn_epsilon, **(block_kwargs or {})},
                    use_bias=False, se_ratio=se_ratio, dropout_rate=dropout_rate,
                    include_top=include_top, weights=weights, input_tensor=inputs,
                    pooling=pooling, classes=classes,
                    classifier_activation=classifier_activation, name=name, **kwargs)


def SEResNet(depth, **kwargs):
    """SE-ResNet-`depth` (50, 101, 152): ResNet's bottleneck stages with SE gates (fig. 3)."""
    check_choice("depth", depth, (50, 101, 152))
    return SENet(R.imagenet_stages(R.IMAGENET_BLOCKS[depth]), se_bottleneck_block, **kwargs)


def SEResNeXt(blocks, *, cardinality=32, bottleneck_width=4, **kwargs):
    """SE-ResNeXt: ResNeXt's grouped bottlenecks (downsampling in the 3x3) with SE gates."""
    check_range("cardinality", cardinality, 1, integer=True)
    check_range("bottleneck_width", bottleneck_width, 1, integer=True)
    block_kwargs = {"cardinality": int(cardinality), "bottleneck_width": int(bottleneck_width),
                    "stride_at": "3x3"}
    return SENet(R.imagenet_stages(blocks), se_bottleneck_block, block_kwargs=block_kwargs,
                 **kwargs)


def SENet154(*, cardinality=SENET154_CARDINALITY, dropout_rate=SENET154_DROPOUT, **kwargs):
    """SENet-154 (appendix): deep stem, [3, 8, 36, 3] wide 64-group SE bottlenecks, dropout 0.2."""
    check_range("cardinality", cardinality, 1, integer=True)
    return SENet(R.imagenet_stages(R.IMAGENET_BLOCKS[152]), senet154_bottleneck_block,
                 stem="deep", block_kwargs={"cardinality": int(cardinality)},
                 dropout_rate=dropout_rate, **kwargs)


def SEInceptionV3(*, se_ratio=SE_RATIO, **kwargs):
    """SE-Inception-v3: Inception v3 with an SE gate on each module's output (fig. 2)."""
    check_se_ratio(se_ratio)
    # Inception v3's published weights have no gates: none are published for this.
    return I.InceptionV3(se_ratio=se_ratio, published_as=None, **kwargs)


# ----------------------------------------------------------------- registered variants


# ----------------------------------------------------------------- published weights


# What the released models (Caffe's, as Cadene and timm publish them) need:
# nn.BatchNorm2d's epsilon and the stem's MaxPool2d(3, 2, ceil_mode=True).
RELEASED_STRUCTURE = {"bn_epsilon": 1e-5, "ceil_mode": True}
CADENE_URL = "http://data.lip6.fr/cadene/pretrainedmodels/"


def released_weights(timm_name, cadene_file, top1):
    """The tags of a released SENet: timm's hub copy ("in1k", the default) and Cadene's file.

    Both hold Cadene's port of Jie Hu's Caffe models (hujie-frank/SENet), with
    the same keys (`kerasnets.weights.senet.cadene_senet`). `top1` is Cadene's
    README ("Our porting", pretrained-models.pytorch), measured at 224x224 on
    the central 87.5% (its TransformImage scale), torch's ImageNet mean/std on
    RGB in [0, 1] (pretrainedmodels/models/senet.py's settings, timm's cfg too).
    Licences: timm's model cards say Apache-2.0; Cadene's repository is
    BSD-3-Clause. `cadene_file` carries the leading digits of its sha256.
    """
    shared = {"convert": senet_weights.cadene_senet, "top1": top1,
              "structure": RELEASED_STRUCTURE, "input_size": (224, 224),
              "crop_fraction": 0.875, "normalization": normalization("torch")}
    file_hash = cadene_file.rsplit("-", 1)[1].split(".")[0]
    return {
        "in1k": pretrained.hub_weights(f"timm/{timm_name}.in1k", source="timm",
                                       licence="apache-2.0", **shared),
        "cadene": pretrained.url_weights(f"{CADENE_URL}{cadene_file}", file_hash=file_hash,
                                         source="cadene", licence="BSD-3-Clause", **shared),
    }


# ----------------------------------------------------------------- registered variants


register = common.registration(family="senet", paper=PAPER, input_shape=R.DEFAULT_SHAPE,
                               min_input_shape=R.MIN_SHAPE, preprocessing="torch")


@register(params=28_141_144, published_weights=released_weights(
    "legacy_seresnet50", "se_resnet50-ce0d4300.pth", top1=77.636))
def se_resnet50(**kwargs):
    """SE-ResNet-50: ResNet-50 with SE gates (28,088,024 trainable parameters)."""
    return SEResNet(50, **{"name": "se_resnet50", "published_as": "se_resnet50", **kwargs})


@register(params=49_432_216, published_weights=released_weights(
    "legacy_seresnet101", "se_resnet101-7e38fcc6.pth", top1=78.396))
def se_resnet101(**kwargs):
    """SE-ResNet-101: ResNet-101 with SE gates (49,326,872 trainable parameters)."""
    return SEResNet(101, **{"name": "se_resnet101", "published_as": "se_resnet101", **kwargs})


@register(params=66_973_272, published_weights=released_weights(
    "legacy_seresnet152", "se_resnet152-d17c99b7.pth", top1=78.658))
def se_resnet152(**kwargs):
    """SE-ResNet-152: ResNet-152 with SE gates (66,821,848 trainable parameters)."""
    return SEResNet(152, **{"name": "se_resnet152", "published_as": "se_resnet152", **kwargs})


@register(params=27_628_120, published_weights=released_weights(
    "legacy_seresnext50_32x4d", "se_resnext50_32x4d-a260b3a4.pth", top1=79.076))
def se_resnext50_32x4d(**kwargs):
    """SE-ResNeXt-50 (32x4d): ResNeXt-50 with SE gates (27,559,896 trainable parameters)."""
    return SEResNeXt((3, 4, 6, 3), **{"cardinality": 32, "bottleneck_width": 4,
                                      "name": "se_resnext50_32x4d",
                                      "published_as": "se_resnext50_32x4d", **kwargs})


@register(params=49_093_272, published_weights=released_weights(
    "legacy_seresnext101_32x4d", "se_resnext101_32x4d-3b2fe3d8.pth", top1=80.236))
def se_resnext101_32x4d(**kwargs):
    """SE-ResNeXt-101 (32x4d): ResNeXt-101 with SE gates (48,955,416 trainable)."""
    return SEResNeXt((3, 4, 23, 3), **{"cardinality": 32, "bottleneck_width": 4,
                                       "name": "se_resnext101_32x4d",
                                       "published_as": "se_resnext101_32x4d", **kwargs})


@register(params=115_336_536, published_weights=released_weights(
    "legacy_senet154", "senet154-c7b49a05.pth", top1=81.304))
def senet154(**kwargs):
    """SENet-154: the ILSVRC 2017 winner (115,088,984 trainable parameters)."""
    return SENet154(**{"name": "senet154", "published_as": "senet154", **kwargs})


@register(params=25_513_404, input_shape=I.V3_SHAPE, min_input_shape=I.V3_MIN_SHAPE,
          preprocessing="tf")
def se_inception_v3(**kwargs):
    """SE-Inception-v3: an SE gate on each of Inception v3's 11 modules (25,478,972 trainable)."""
    return SEInceptionV3(**{"name": "se_inception_v3", **kwargs})
