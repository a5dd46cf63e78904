"""Residual networks: ResNet v1 and v2, the CIFAR ResNets, ResNeXt, with stochastic depth.

He, Zhang, Ren and Sun (2016), "Deep Residual Learning for Image Recognition",
CVPR, Table 1 (ImageNet) and section 4.2 (CIFAR-10); He, Zhang, Ren and Sun
(2016), "Identity Mappings in Deep Residual Networks", ECCV (full
pre-activation units, "v2"); Xie, Girshick, Dollar, Tu and He (2017),
"Aggregated Residual Transformations for Deep Neural Networks", CVPR
(ResNeXt); Huang, Sun, Liu, Sedra and Weinberger (2016), "Deep Networks with
Stochastic Depth", ECCV.

One generic builder, `ResNet`, takes a stem ("imagenet": 7x7/2 convolution
and 3x3/2 max pooling; "cifar": one 3x3 convolution of 16 maps), a residual
block function and a stack configuration (filters, blocks and stride of each
stage); every registered network is a thin call of it.

ImageNet networks (224x224, any input from 32x32): stages conv2-conv5 of 64,
128, 256 and 512 filters (bottleneck blocks expand them 4 times).
`resnet50`/`101`/`152` and `resnet50_v2`/`101_v2`/`152_v2` have the structure,
weight order and layer names of keras.applications' ResNet50/101/152 and
ResNet50V2/101V2/152V2, whose ImageNet weights `weights="imagenet"` loads.
Their deliberate differences from the papers are keras.applications' (that
is, the original Caffe models'): v1 bottlenecks downsample in their first 1x1
convolution (not the 3x3, "ResNet v1.5"), which is why ResNet-50 costs 3.86
GMACs here and not torchvision's 4.09; v1 convolutions have biases; the v2s
downsample in the *last* block of conv2-conv4 (a 1x1/2 max pooling on the
identity shortcut) instead of the first block of conv3-conv5, and v2
bottlenecks keep the biases of their last 1x1 and shortcut convolutions
only. `resnet18`/`34` (basic blocks, 3x3 + 3x3) follow the v1 conventions too
(biases, BatchNormalization epsilon 1.001e-5) and the same names; basic
blocks downsample in their first 3x3 convolution. Every projection shortcut
(the paper's option B: 1x1 convolutions only where dimensions change) is
`conv{s}_block{b}_0_conv`.

CIFAR networks (`resnet20` ... `resnet1202`, 32x32, 10 classes): 6n + 2
layers, three stages of n basic blocks with 16, 32 and 64 filters, identity
shortcuts everywhere and, where the dimensions change, the paper's option A:
the shortcut subsamples (x[:, ::2, ::2], a 1x1/2 max pooling) and appends
zero channels (`kerasnets.layers.ChannelZeroPadding`; it has no weights).
Convolutions have no bias (each is followed by batch normalization).
`preact=True` gives their pre-activation ("v2") form: BN-ReLU-conv twice per
unit, a final `post_bn`/`post_relu`, and the first unit's shortcut taken
after its activation ("Identity Mappings", appendix).

Plain networks (`plain18`, `plain34`, `plain20` ... `plain56`): the same
layers and names without the shortcuts (`plain_block`), the "plain"
networks of Table 1 and section 4.2 with which He et al. show the
degradation problem (Figures 4 and 6). Option A shortcuts carry no weights,
so the CIFAR plain networks have their ResNets' parameter counts;
plain-18/34 have those of ResNet-18/34 less the three projection shortcuts.

ResNeXt (`resnext50_32x4d`, ...): bottleneck blocks whose 3x3 convolution is
grouped (`Conv2D(groups=cardinality)`) and `cardinality * bottleneck_width *
filters / 64` wide, downsampling in the 3x3 convolution (ResNeXt section
4), no convolution biases, projection shortcuts.

Stochastic depth (`drop_path_rate` = 1 - p_L, default 0): block l of the L
residual blocks of the network (counted from the input, across stages) drops
its whole residual branch for a sample with probability (l / L) * (1 - p_L),
the linear decay rule p_l = 1 - (l / L)(1 - p_L) (Huang et al., eq. 4),
through `kerasnets.layers.StochasticDepth` before the addition. The
shortcut always passes. `drop_path_scale_at="train"` (default) scales kept
branches by 1 / p_l in training and leaves inference alone;
`drop_path_scale_at="test"` is the paper's rule: unscaled in training,
branches multiplied by p_l at inference. Each makes a branch's expected
training output equal its inference output, and the two are the same
network up to a factor p_l on each residual branch: a model trained with
one convention runs under the other once the last scale of each branch
(the gamma and beta of the last batch normalization in v1 blocks) is
multiplied (train -> test: divided) by p_l. With drop_path_rate=0 no layer is
added, so the networks (and keras.applications' weights) are unchanged.
`drop_path_rule="uniform"` gives every block p_l = p_L instead (the paper's
uniform rule, section 3 and Figure 8). `drop_path_mode` says what is
dropped (deviation by default: the paper drops per mini-batch, the default
per sample): "sample" (default, timm's drop_path) a random subset of the
batch's samples, through `kerasnets.layers.StochasticDepth` on the branch's
output, the branch always computed; "batch" (the paper's) the whole
mini-batch's branch, which is then not computed: `merge` moves the branch's
layers (the SE gate included; in pre-activation units the BN-ReLU unless the
shortcut also starts after it) into a nested model `{block}_branch` owned by
a `kerasnets.layers.BatchStochasticDepth` layer `{block}_drop`, which runs
it inside `keras.ops.cond` (tf.cond, jax.lax.cond, a Python `if` on torch;
inside compiled train steps too), so a dropped block costs no convolution
and leaves its BN statistics alone. The layers keep their names, each block
its one Add of (shortcut, `{block}_drop`), and the parameters their count;
`named_layers(model)` finds the nested ones. On this 2-core CPU a ResNet-110
training step with p_L = 0.5 then takes 0.79 times the step without
stochastic depth (0.79 to 0.87 over five runs; benchmarks/README.md).

Published checkpoints (`weights=` a tag; `kerasnets.model_info(name)` lists
them with their top-1, licence and preprocessing): resnet50/101/152 keep
keras.applications' files as "imagenet" and add torchvision's and timm's;
resnet18/34 and the ResNeXts have torchvision's (`tv_in1k`, `"imagenet"`
for them; resnext101_32x4d: GluonCV's `gluon_in1k`), timm's and Facebook's,
through the timm hub; the CIFAR ResNets have akamaster/pytorch_resnet_cifar10's
(`akamaster`, CIFAR-10). A tag builds the structure its checkpoint needs:
PyTorch's BatchNorm epsilon (`bn_epsilon=1e-5`), no convolution biases
(`use_bias=False`), the stride on the bottleneck's 3x3 (`stride_at="3x3"`,
"ResNet v1.5") or option A's zero channels on both sides
(`zero_pad_side="both"`); `kerasnets.weights.resnet` maps the state dicts.
Every strided convolution and pooling here pads explicitly and symmetrically,
as PyTorch does, so no padding option is needed.

Identity-mapping ablations ("Identity Mappings", sections 3 and 4), options
of `ResNet`, `CifarResNet`, `ImageNetResNet` and so of every registered v1
network and ResNeXt (`kerasnets.build("resnet110",
shortcut_variant="exclusive_gating")`). `shortcut_variant` (Figure 2, on
post-activation units; CIFAR-10 test error of ResNet-110 in Table 1, "fail"
meaning above 20%): "identity" (a, the default: 6.61%); "constant_scaling"
(b, 0.5 on the shortcut and 0.5 on the branch: 12.35%; 0 and 0.5 on the
shortcut with 1 on the branch both fail); "exclusive_gating" (c, (1 - g(x))
on the shortcut and g(x) on the branch, g a sigmoid 1x1 convolution of the
unit's input whose bias b_g starts at `gate_bias`, -6 by default: 8.70%;
fails for b_g from 0 to -5, 9.81% at -7); "shortcut_only_gating" (d, 1 - g(x)
on the shortcut only: 6.91% at b_g = -6, 12.86% at 0); "conv1x1_shortcut"
(e, a 1x1 convolution and BN on every shortcut: 12.22%); "dropout_shortcut"
(f, dropout of ratio 0.5 on the shortcut: fails). Where a unit changes the
shape, the variants act on the network's own shortcut (option A or B), and
the 1x1 convolution of (e) is that unit's projection. Every gated unit adds a
1x1 convolution with bias (C_in * C_out + C_out weights; resnet110: 1,832,282
parameters); (e) adds C_in * C_out (+ C_out bias) and 4 C_out BN weights per
unit (resnet110: 1,838,330). `unit` (Figure 4; Table 2's CIFAR-10 test
errors for ResNet-110 basic / ResNet-164 bottleneck units): "original" (a:
BN after the last convolution, ReLU after the addition; 6.61% / 5.93%),
"bn_after_addition" (b: 8.17% / 6.50%), "relu_before_addition" (c: the
branch ends BN-ReLU, nothing after the addition; 7.84% / 6.14%),
"relu_only_preactivation" (d: ReLU-conv-BN-ReLU-conv-BN; 6.71% / 5.91%) and
"full_preactivation" (e: BN-ReLU-conv twice, the v2 units; 6.37% / 5.46%).
(e) is `preact=True` (the same network: the preact blocks, no BN-ReLU in
the stem, the first unit's shortcut after its activation, a final
`post_bn`/`post_relu`); (d) keeps the stem's BN-ReLU (the activation "after
conv1 and before splitting" of the paper's appendix, which the first unit's
ReLU repeats harmlessly) and adds a final `post_relu` (the extra activation
after the last addition; (d)'s activation is a ReLU alone). Every unit keeps
one Add whose inputs are the (scaled or gated) shortcut and branch: named
`{block}_add` when an activation follows it (a, b), `{block}_out` when it is
the unit's output (c, d, e). The shortcut variants take post-activation units
(a-d) only; published weights are for the defaults only.

Block functions take `se_ratio` (None by default): a
`kerasnets.layers.SqueezeExcite` gate with that reduction ratio on the
residual branch, before the addition (Hu et al., "Squeeze-and-Excitation
Networks", fig. 3), named `{block}_se`.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars

import keras
from keras import initializers, layers

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.layers import (
    DROP_PATH_RULES,
    BatchNormalization,
    BatchStochasticDepth,
    ChannelZeroPadding,
    SqueezeExcite,
    StochasticDepth,
    conv2d,
    drop_path_rates,
)
from kerasnets.models import common, pretrained
from kerasnets.registry import Paper, normalization
from kerasnets.weights.resnet import akamaster_cifar_resnet, torchvision_resnet

PAPER = Paper(
    "He, Zhang, Ren, Sun",
    2016,
    "Deep Residual Learning for Image Recognition",
    "https://arxiv.org/abs/1512.03385",
)
PAPER_V2 = Paper(
    "He, Zhang, Ren, Sun",
    2016,
    "Identity Mappings in Deep Residual Networks",
    "https://arxiv.org/abs/1603.05027",
)
PAPER_RESNEXT = Paper(
    "Xie, Girshick, Dollar, Tu, He",
    2017,
    "Aggregated Residual Transformations for Deep Neural Networks",
    "https://arxiv.org/abs/1611.05431",
)

DEFAULT_SHAPE = (224, 224, 3)
# keras.applications' minimum: five stride-2 steps leave a 1x1 map.
MIN_SHAPE = (32, 32, 3)
CIFAR_SHAPE = (32, 32, 3)
# Two stride-2 stages (sizes round up): any size runs; at 8x8 the last stage is 2x2.
CIFAR_MIN_SHAPE = (8, 8, 3)
CIFAR_CLASSES = 10

# keras.applications' ResNet normalization epsilon (the Caffe models' 1e-5,
# nudged above cuDNN's minimum).
BN_EPSILON = 1.001e-5
# PyTorch's BatchNorm2d default, which torchvision's, timm's and akamaster's checkpoints have.
TORCH_BN_EPSILON = 1e-5
BOTTLENECK_EXPANSION = 4

SHORTCUTS = ("projection", "zero_pad")
# Where option A puts the zero channels: after the input's (fb.resnet.torch) or
# half on each side (akamaster's CIFAR ResNets: F.pad(x, (..., planes // 4, planes // 4))).
ZERO_PAD_SIDES = ("after", "both")
# Where a bottleneck downsamples: its first 1x1 convolution (keras.applications,
# the original Caffe models) or its 3x3 (torchvision's "ResNet v1.5", timm, ResNeXt).
STRIDE_AT = ("1x1", "3x3")
DROP_PATH_SCALE_AT = ("train", "test")
# Stochastic depth per sample (`StochasticDepth`) or per mini-batch, the dropped
# branch not computed (`BatchStochasticDepth`, Huang et al.'s).
DROP_PATH_MODES = ("sample", "batch")
DOWNSAMPLE_AT = ("first", "last")

# "Identity Mappings", Figure 2 and Table 1: what multiplies or transforms the
# shortcut (and the branch) of a post-activation unit.
SHORTCUT_VARIANTS = ("identity", "constant_scaling", "exclusive_gating", "shortcut_only_gating",
                     "conv1x1_shortcut", "dropout_shortcut")
GATED_SHORTCUTS = ("exclusive_gating", "shortcut_only_gating")
# The initial gate bias b_g: the best of the paper's search (0 to -10) for both gatings.
GATE_BIAS = -6.0
# lambda of constant scaling (Table 1's 12.35% row: 0.5 on the shortcut and on F).
CONSTANT_SCALE = 0.5
SHORTCUT_DROPOUT = 0.5
# "Identity Mappings", Figure 4 and Table 2: where BN and ReLU sit in a unit. The
# first four are basic_block's and bottleneck_block's; the last is the
# preact_*_block's (the v2 networks, preact=True).
UNITS = ("original", "bn_after_addition", "relu_before_addition", "relu_only_preactivation",
         "full_preactivation")
POST_ACTIVATION_UNITS = UNITS[:4]

Stage = collections.namedtuple("Stage", "filters blocks stride")


def imagenet_stages(blocks, strides=(1, 2, 2, 2)):
    """conv2-conv5 of Table 1: 64, 128, 256, 512 filters with `blocks` blocks each."""
    return [Stage(f, b, s) for f, b, s in zip((64, 128, 256, 512), blocks, strides)]


def cifar_stages(n):
    """Section 4.2: three stages of `n` blocks, 16, 32 and 64 filters on 32, 16 and 8 maps."""
    return [Stage(f, n, s) for f, s in zip((16, 32, 64), (1, 2, 2))]


# Table 1 (and "Identity Mappings", which keeps its depths).
IMAGENET_BLOCKS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
# Table 1 has plain networks of these depths (Figure 4, left).
PLAIN_IMAGENET_DEPTHS = (18, 34)
# keras.applications' v2 stacks downsample in the last block of conv2-conv4.
V2_STRIDES = (2, 2, 2, 1)


# ----------------------------------------------------------------- pieces of a block


def batch_norm(x, name, epsilon=BN_EPSILON):
    return BatchNormalization(axis=common.channel_axis(), epsilon=epsilon, name=name)(x)


def conv3x3(x, filters, prefix, stride=1, use_bias=True, groups=1):
    """`{prefix}_conv`: a 3x3 convolution with one pixel of padding on each side.

    Strided ones pad explicitly (`{prefix}_pad`, as keras.applications' v2):
    "same" padding would pad a stride-2 convolution on an even map at the
    bottom/right only. Grouped ones (`groups` > 1, ResNeXt) are
    `kerasnets.layers.Conv2D`, which runs them natively on tensorflow.
    """
    if stride == 1:
        return conv2d(
            filters, 3, padding="same", use_bias=use_bias, groups=groups, name=f"{prefix}_conv"
        )(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{prefix}_pad")(x)
    return conv2d(
        filters, 3, strides=stride, use_bias=use_bias, groups=groups, name=f"{prefix}_conv"
    )(x)


def shortcut_connection(x, out_channels, stride, name, *, shortcut="projection",
                        use_bias=True, normalize=True, bn_epsilon=BN_EPSILON,
                        zero_pad_side="after"):
    """The shortcut of a block: identity, or what matches the residual branch's shape.

    Where the channels change: with `shortcut="projection"` (option B) a 1x1
    convolution with `stride` (`{name}_0_conv`, then `{name}_0_bn` unless
    `normalize=False`, as in pre-activation units); with `"zero_pad"` (option
    A) 1x1/`stride` subsampling and zero channels, appended after the input's
    (`zero_pad_side="after"`) or split evenly before and after it (`"both"`,
    the extra one after). Where only the size
    changes, 1x1/`stride` max pooling (`{name}_0_pool`, keras.applications'
    v2 downsampling).
    """
    in_channels = x.shape[common.channel_axis()]
    if in_channels == out_channels and stride == 1:
        return x
    if in_channels != out_channels and shortcut == "projection":
        x = layers.Conv2D(out_channels, 1, strides=stride, use_bias=use_bias,
                          name=f"{name}_0_conv")(x)
        return batch_norm(x, f"{name}_0_bn", bn_epsilon) if normalize else x
    if stride > 1:
        x = layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_pool")(x)
    if in_channels != out_channels:
        if out_channels < in_channels:
            raise ValueError(
                f"`shortcut='zero_pad'` can only add channels; block {name} goes from "
                f"{in_channels} to {out_channels}"
            )
        extra = out_channels - in_channels
        before = extra // 2 if zero_pad_side == "both" else 0
        x = ChannelZeroPadding((before, extra - before), name=f"{name}_0_pad")(x)
    return x


_DROP_PATH_MODE = contextvars.ContextVar("drop_path_mode", default="sample")


@contextlib.contextmanager
def drop_path_mode(mode):
    """Within it, `merge` applies stochastic depth in `mode`: "sample" (default) or "batch".

    `stack_stages` sets it around the blocks, so that block functions need
    not pass the mode on to `merge`.
    """
    check_choice("drop_path_mode", mode, DROP_PATH_MODES)
    token = _DROP_PATH_MODE.set(mode)
    try:
        yield
    finally:
        _DROP_PATH_MODE.reset(token)


def _producer(tensor):
    operation, node_index, _ = tensor._keras_history
    return operation, operation._inbound_nodes[node_index]


def residual_branch(shortcut, residual, name):
    """The residual branch of block `name` as a functional model, and the tensors it takes.

    Walks the graph back from `residual` through the layers named `{name}_*`
    and stops at the tensors that the shortcut also uses (the block's input;
    its pre-activation where the shortcut is taken after it; a gate) or that
    another block made. The branch's layers are called again on new inputs
    (`{name}_branch_input`, `_input_2`, ...): the model `{name}_branch` owns
    them under their own names, and the block's outer graph no longer uses
    `residual`.
    """
    prefix = f"{name}_"

    def inside(tensor):
        return _producer(tensor)[0].name.startswith(prefix)

    shortcut_side = set()
    stack = [shortcut]
    while stack:
        tensor = stack.pop()
        if id(tensor) in shortcut_side:
            continue
        shortcut_side.add(id(tensor))
        if inside(tensor):
            stack.extend(_producer(tensor)[1].input_tensors)

    sources, nodes, seen = [], [], set()

    def visit(tensor):
        if id(tensor) in seen:
            return
        seen.add(id(tensor))
        if id(tensor) in shortcut_side or not inside(tensor):
            sources.append(tensor)
            return
        node = _producer(tensor)[1]
        for parent in node.input_tensors:
            visit(parent)
        if all(node is not other for other in nodes):
            nodes.append(node)

    visit(residual)
    inputs = [
        keras.Input(batch_shape=tuple(source.shape), dtype=source.dtype,
                    name=f"{name}_branch_input" + (f"_{i + 1}" if i else ""))
        for i, source in enumerate(sources)
    ]
    values = {id(source): new for source, new in zip(sources, inputs)}
    for node in nodes:
        args, kwargs = node.arguments.fill_in(values)
        outputs = node.operation(*args, **kwargs)
        for old, new in zip(node.outputs, keras.tree.flatten(outputs)):
            values[id(old)] = new
    branch = keras.Model(inputs if len(inputs) > 1 else inputs[0], values[id(residual)],
                         name=f"{name}_branch")
    return branch, sources


def merge(shortcut, residual, name, *, drop_rate=0.0, drop_scale_at="train", se_ratio=None,
          add_name=None):
    """shortcut + residual branch, after its squeeze-and-excitation gate and stochastic depth.

    Stochastic depth (`drop_rate` > 0) in the mode `drop_path_mode` sets:
    "sample", a `StochasticDepth` layer `{name}_drop` on the branch's output;
    "batch", the branch's layers moved into a `BatchStochasticDepth` layer
    `{name}_drop` (see `residual_branch`) that computes it or not. Either
    way the block's one Add (`add_name`, `{name}_add` by default) sums the
    shortcut and the branch, in that order.
    """
    if se_ratio is not None:
        residual = SqueezeExcite(ratio=se_ratio, name=f"{name}_se")(residual)
    if drop_rate > 0 and _DROP_PATH_MODE.get() == "batch":
        branch, sources = residual_branch(shortcut, residual, name)
        residual = BatchStochasticDepth(branch, drop_rate, scale_at=drop_scale_at,
                                        name=f"{name}_drop")(
            sources if len(sources) > 1 else sources[0]
        )
    elif drop_rate > 0:
        residual = StochasticDepth(drop_rate, scale_at=drop_scale_at, name=f"{name}_drop")(
            residual
        )
    return layers.Add(name=add_name or f"{name}_add")([shortcut, residual])


# ----------------------------------------------------------------- identity-mapping ablations


def unit_shortcut(x, out_channels, stride, name, *, shortcut_variant="identity", **shortcut_kwargs):
    """A post-activation unit's shortcut: `shortcut_connection`'s, or a 1x1 convolution (Fig. 2e).

    `shortcut_variant="conv1x1_shortcut"` is "Identity Mappings" Fig. 2e: a
    1x1 convolution (`{name}_0_conv`, with `stride`) and its BN (`{name}_0_bn`;
    the paper puts BN after every weight layer) on every shortcut, as the
    original paper's option C ("all shortcuts are projections"): where the
    shapes change it is the projection, also in networks of option A. The other
    variants keep the network's own shortcut here (identity, option A zero
    padding or option B projection) and act on it in `variant_merge`.
    """
    if shortcut_variant != "conv1x1_shortcut":
        return shortcut_connection(x, out_channels, stride, name, **shortcut_kwargs)
    x = layers.Conv2D(out_channels, 1, strides=stride, use_bias=shortcut_kwargs["use_bias"],
                      name=f"{name}_0_conv")(x)
    return batch_norm(x, f"{name}_0_bn", shortcut_kwargs["bn_epsilon"])


def variant_merge(inputs, shortcut, residual, name, *, stride, shortcut_variant="identity",
                  gate_bias=GATE_BIAS, add_name=None, se_ratio=None, **drop_kwargs):
    """shortcut + branch through `merge`, scaled, gated or dropped as in Figure 2 (b), (c), (d), (f).

    "Identity Mappings", section 3.1, on the unit's own shortcut h(x) (the
    identity; where the shapes change, option A's or B's) and branch F(x)
    (after its squeeze-and-excitation gate):

    - "constant_scaling" (b): 0.5 h(x) + 0.5 F(x) (`{name}_shortcut_scale`,
      `{name}_residual_scale`: Rescaling layers);
    - "exclusive_gating" (c): (1 - g(x)) h(x) + g(x) F(x), with the gate
      g(x) = sigmoid(W_g x + b_g) a 1x1 convolution of the unit's input `inputs`
      (`{name}_gate`, with the unit's `stride`; its bias starts at `gate_bias`),
      1 - g(x) a Rescaling (`{name}_gate_complement`) and the products
      Multiply layers (`{name}_shortcut_gate`, `{name}_residual_gate`);
    - "shortcut_only_gating" (d): (1 - g(x)) h(x) + F(x);
    - "dropout_shortcut" (f): dropout(h(x)) + F(x), ratio 0.5
      (`{name}_shortcut_dropout`; keras' Dropout scales kept values by 2 in
      training, as Torch's).

    "identity" and "conv1x1_shortcut" (e) add h(x) + F(x) as they are. The
    block's single Add (`add_name`) sums the scaled or gated tensors; stochastic
    depth (`drop_kwargs`) drops the branch after its gate.
    """
    if shortcut_variant in ("identity", "conv1x1_shortcut"):
        return merge(shortcut, residual, name, se_ratio=se_ratio, add_name=add_name,
                     **drop_kwargs)
    if se_ratio is not None:
        residual = SqueezeExcite(ratio=se_ratio, name=f"{name}_se")(residual)
    if shortcut_variant == "constant_scaling":
        shortcut = layers.Rescaling(CONSTANT_SCALE, name=f"{name}_shortcut_scale")(shortcut)
        residual = layers.Rescaling(CONSTANT_SCALE, name=f"{name}_residual_scale")(residual)
    elif shortcut_variant in GATED_SHORTCUTS:
        gate = layers.Conv2D(
            residual.shape[common.channel_axis()], 1, strides=stride, activation="sigmoid",
            bias_initializer=initializers.Constant(gate_bias), name=f"{name}_gate",
        )(inputs)
        complement = layers.Rescaling(-1.0, offset=1.0, name=f"{name}_gate_complement")(gate)
        shortcut = layers.Multiply(name=f"{name}_shortcut_gate")([shortcut, complement])
        if shortcut_variant == "exclusive_gating":
            residual = layers.Multiply(name=f"{name}_residual_gate")([residual, gate])
    elif shortcut_variant == "dropout_shortcut":
        shortcut = layers.Dropout(SHORTCUT_DROPOUT, name=f"{name}_shortcut_dropout")(shortcut)
    return merge(shortcut, residual, name, add_name=add_name, **drop_kwargs)


def unit_end(inputs, shortcut, residual, name, last, *, stride, unit="original",
             bn_epsilon=BN_EPSILON, **merge_kwargs):
    """The end of a post-activation unit: the branch's last BN, the addition and what follows it.

    `residual` is the output of the branch's last convolution `{name}_{last}_conv`.
    "Identity Mappings", Figure 4, on a unit x -> x + F(x):

    - "original" (a): BN `{name}_{last}_bn`, add (`{name}_add`), ReLU (`{name}_out`);
    - "bn_after_addition" (b): add (`{name}_add`), BN (`{name}_add_bn`), ReLU (`{name}_out`);
    - "relu_before_addition" (c): BN, ReLU (`{name}_{last}_relu`), add (`{name}_out`);
    - "relu_only_preactivation" (d): BN, add (`{name}_out`); its ReLU is at the
      start of the branch (`{name}_preact_relu`, made by the block).

    The Add is `{name}_add` when an activation follows it in the unit and
    `{name}_out` when it is the unit's output, as in the pre-activation units.
    `merge_kwargs` go to `variant_merge`.
    """
    if unit != "bn_after_addition":
        residual = batch_norm(residual, f"{name}_{last}_bn", bn_epsilon)
    if unit == "relu_before_addition":
        residual = layers.Activation("relu", name=f"{name}_{last}_relu")(residual)
    activated = unit in ("original", "bn_after_addition")
    x = variant_merge(inputs, shortcut, residual, name, stride=stride,
                      add_name=f"{name}_add" if activated else f"{name}_out", **merge_kwargs)
    if unit == "bn_after_addition":
        x = batch_norm(x, f"{name}_add_bn", bn_epsilon)
    if activated:
        x = layers.Activation("relu", name=f"{name}_out")(x)
    return x


# ----------------------------------------------------------------- residual blocks


def basic_block(x, filters, stride=1, *, name, shortcut="projection", use_bias=True,
                drop_rate=0.0, drop_scale_at="train", se_ratio=None, bn_epsilon=BN_EPSILON,
                zero_pad_side="after", unit="original", shortcut_variant="identity",
                gate_bias=GATE_BIAS):
    """The building block of Figure 2 (left): two 3x3 convolutions, each with BN, ReLU after the sum.

    He et al. (2016), ResNet-18/34 and the CIFAR networks. Downsampling is done
    by the first convolution. `unit` (one of POST_ACTIVATION_UNITS) and
    `shortcut_variant` (SHORTCUT_VARIANTS, with `gate_bias`) are the
    "Identity Mappings" ablations (see `unit_end` and `variant_merge`).
    """
    inputs = x
    residual_shortcut = unit_shortcut(x, filters, stride, name, shortcut_variant=shortcut_variant,
                                      shortcut=shortcut, use_bias=use_bias, bn_epsilon=bn_epsilon,
                                      zero_pad_side=zero_pad_side)
    if unit == "relu_only_preactivation":
        x = layers.Activation("relu", name=f"{name}_preact_relu")(x)
    x = conv3x3(x, filters, f"{name}_1", stride=stride, use_bias=use_bias)
    x = batch_norm(x, f"{name}_1_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = conv3x3(x, filters, f"{name}_2", use_bias=use_bias)
    return unit_end(inputs, residual_shortcut, x, name, "2", stride=stride, unit=unit,
                    shortcut_variant=shortcut_variant, gate_bias=gate_bias,
                    bn_epsilon=bn_epsilon, drop_rate=drop_rate, drop_scale_at=drop_scale_at,
                    se_ratio=se_ratio)


def plain_block(x, filters, stride=1, *, name, shortcut=None, use_bias=True, drop_rate=0.0,
                drop_scale_at="train", se_ratio=None, bn_epsilon=BN_EPSILON):
    """The building block without its shortcut: two 3x3 convolutions, each with BN and ReLU.

    He et al. (2016), section 3.3 and Figure 3 (middle): the plain networks are
    the residual networks without their shortcuts, with the same layers and
    names (`{name}_1_conv` ... `{name}_out`). There is no residual branch to
    drop or gate: `drop_rate` must be 0 and `se_ratio` None (`shortcut` and
    `drop_scale_at`, which shape a residual block, do not apply).
    """
    if drop_rate > 0 or se_ratio is not None:
        raise ValueError(
            "a plain network has no residual branch: `drop_path_rate` must be 0 and "
            f"`se_ratio` None; got {drop_rate!r} (block {name}) and {se_ratio!r}"
        )
    x = conv3x3(x, filters, f"{name}_1", stride=stride, use_bias=use_bias)
    x = batch_norm(x, f"{name}_1_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = conv3x3(x, filters, f"{name}_2", use_bias=use_bias)
    x = batch_norm(x, f"{name}_2_bn", bn_epsilon)
    return layers.Activation("relu", name=f"{name}_out")(x)


def bottleneck_block(x, filters, stride=1, *, name, shortcut="projection", use_bias=True,
                     drop_rate=0.0, drop_scale_at="train", se_ratio=None, cardinality=1,
                     bottleneck_width=64, stride_at="1x1", bn_epsilon=BN_EPSILON,
                     zero_pad_side="after", unit="original", shortcut_variant="identity",
                     gate_bias=GATE_BIAS):
    """The bottleneck of Figure 5 (right): 1x1 reduce, 3x3, 1x1 expand (x4), ReLU after the sum.

    He et al. (2016), ResNet-50/101/152, with keras.applications' layers and
    `stride_at="1x1"` (its first 1x1 convolution downsamples; `"3x3"` is
    torchvision's and timm's "ResNet v1.5"). With
    `cardinality` > 1 it is ResNeXt's block (Xie et al., Figure 3c): the 3x3
    convolution has `cardinality` groups of `bottleneck_width * filters / 64`
    channels (`bottleneck_width` is the d of "32x4d"), and ResNeXt
    downsamples there (`stride_at="3x3"`). `unit`, `shortcut_variant` and
    `gate_bias`: as `basic_block`'s.
    """
    width = int(filters * bottleneck_width / 64) * cardinality
    out_channels = BOTTLENECK_EXPANSION * filters
    stride_1x1, stride_3x3 = (stride, 1) if stride_at == "1x1" else (1, stride)
    inputs = x
    # The shortcut is made first: keras.applications' weight order.
    residual_shortcut = unit_shortcut(x, out_channels, stride, name,
                                      shortcut_variant=shortcut_variant, shortcut=shortcut,
                                      use_bias=use_bias, bn_epsilon=bn_epsilon,
                                      zero_pad_side=zero_pad_side)
    if unit == "relu_only_preactivation":
        x = layers.Activation("relu", name=f"{name}_preact_relu")(x)
    x = layers.Conv2D(width, 1, strides=stride_1x1, use_bias=use_bias, name=f"{name}_1_conv")(x)
    x = batch_norm(x, f"{name}_1_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = conv3x3(x, width, f"{name}_2", stride=stride_3x3, use_bias=use_bias,
                groups=cardinality)
    x = batch_norm(x, f"{name}_2_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(out_channels, 1, use_bias=use_bias, name=f"{name}_3_conv")(x)
    return unit_end(inputs, residual_shortcut, x, name, "3", stride=stride, unit=unit,
                    shortcut_variant=shortcut_variant, gate_bias=gate_bias,
                    bn_epsilon=bn_epsilon, drop_rate=drop_rate, drop_scale_at=drop_scale_at,
                    se_ratio=se_ratio)


def preactivation(x, name, bn_epsilon=BN_EPSILON):
    """BN and ReLU before the weights: the "full pre-activation" of Identity Mappings, Fig. 4e."""
    x = batch_norm(x, f"{name}_preact_bn", bn_epsilon)
    return layers.Activation("relu", name=f"{name}_preact_relu")(x)


def _preact_shortcut(x, preact, out_channels, stride, name, shortcut, use_bias,
                     shortcut_from_preact, zero_pad_side="after"):
    in_channels = x.shape[common.channel_axis()]
    projection = shortcut == "projection" and in_channels != out_channels
    # Projections see the activated input (keras.applications v2); identity
    # shortcuts the raw one, except after the stem (Identity Mappings, appendix:
    # "the first activation right after conv1 and before splitting").
    source = preact if projection or shortcut_from_preact else x
    return shortcut_connection(source, out_channels, stride, name, shortcut=shortcut,
                               use_bias=use_bias, normalize=False,
                               zero_pad_side=zero_pad_side)


def preact_basic_block(x, filters, stride=1, *, name, shortcut="zero_pad", use_bias=False,
                       drop_rate=0.0, drop_scale_at="train", se_ratio=None,
                       shortcut_from_preact=False, bn_epsilon=BN_EPSILON,
                       zero_pad_side="after"):
    """A full pre-activation basic unit: (BN, ReLU, 3x3 convolution) twice, nothing after the sum.

    He et al., "Identity Mappings in Deep Residual Networks" (2016), Fig. 4e,
    for the CIFAR networks.
    """
    preact = preactivation(x, name, bn_epsilon)
    residual_shortcut = _preact_shortcut(x, preact, filters, stride, name, shortcut, use_bias,
                                         shortcut_from_preact, zero_pad_side)
    x = conv3x3(preact, filters, f"{name}_1", stride=stride, use_bias=use_bias)
    x = batch_norm(x, f"{name}_1_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = conv3x3(x, filters, f"{name}_2", use_bias=use_bias)
    return merge(residual_shortcut, x, name, drop_rate=drop_rate, drop_scale_at=drop_scale_at,
                 se_ratio=se_ratio, add_name=f"{name}_out")


def preact_bottleneck_block(x, filters, stride=1, *, name, shortcut="projection",
                            use_bias=True, drop_rate=0.0, drop_scale_at="train", se_ratio=None,
                            shortcut_from_preact=False, bn_epsilon=BN_EPSILON,
                            zero_pad_side="after"):
    """A full pre-activation bottleneck unit (Identity Mappings, Fig. 4e), keras.applications' v2.

    BN-ReLU, then 1x1, BN-ReLU 3x3 (with the stride), BN-ReLU 1x1 expanding 4
    times; the sum is the output. As keras.applications, the first two
    convolutions have no bias and the last one and the projection have one
    (when `use_bias`).
    """
    out_channels = BOTTLENECK_EXPANSION * filters
    preact = preactivation(x, name, bn_epsilon)
    residual_shortcut = _preact_shortcut(x, preact, out_channels, stride, name, shortcut,
                                         use_bias, shortcut_from_preact, zero_pad_side)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = batch_norm(x, f"{name}_1_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = batch_norm(x, f"{name}_2_bn", bn_epsilon)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(out_channels, 1, use_bias=use_bias, name=f"{name}_3_conv")(x)
    return merge(residual_shortcut, x, name, drop_rate=drop_rate, drop_scale_at=drop_scale_at,
                 se_ratio=se_ratio, add_name=f"{name}_out")


# The pre-activation form of each post-activation block (unit="full_preactivation").
PREACT_BLOCKS = {basic_block: preact_basic_block, bottleneck_block: preact_bottleneck_block}
# The blocks that take `unit` and `shortcut_variant`.
POST_ACTIVATION_BLOCKS = tuple(PREACT_BLOCKS)


def residual_unit(block, *, preact, unit, shortcut_variant, gate_bias, block_kwargs):
    """`(block, preact, unit, options)`: `ResNet`'s block and its arguments for the ablations.

    `unit=None` is the network's own: "full_preactivation" when `preact`,
    "original" otherwise. "full_preactivation" on a post-activation network
    swaps basic_block/bottleneck_block for their pre-activation form (and sets
    `preact`); the other units and the shortcut variants are options of
    basic_block and bottleneck_block, passed (`options`) only when not the
    default so that other block functions need not take them.
    """
    check_choice("shortcut_variant", shortcut_variant, SHORTCUT_VARIANTS)
    if unit is not None:
        check_choice("unit", unit, UNITS)
    if gate_bias is not None:
        if shortcut_variant not in GATED_SHORTCUTS:
            raise ValueError(
                f"`gate_bias` is the initial bias of a gated shortcut (`shortcut_variant` in "
                f"{GATED_SHORTCUTS}); got gate_bias={gate_bias!r} with "
                f"shortcut_variant={shortcut_variant!r}"
            )
        check_range("gate_bias", gate_bias, describe="the gate's initial bias b_g")
    own = "full_preactivation" if preact else "original"
    unit = own if unit is None else unit
    if preact and unit != "full_preactivation":
        raise ValueError(
            f"`unit={unit!r}` needs the post-activation network: a pre-activation network "
            f"(preact=True, the _v2 networks) has unit='full_preactivation' only"
        )
    if unit == "full_preactivation":
        if shortcut_variant != "identity":
            raise ValueError(
                f"`shortcut_variant={shortcut_variant!r}` is for post-activation units (`unit` in "
                f"{POST_ACTIVATION_UNITS}), as in section 3 of Identity Mappings; full "
                f"pre-activation units have shortcut_variant='identity' only"
            )
        if not preact:
            if block not in POST_ACTIVATION_BLOCKS:
                raise ValueError(
                    f"`unit='full_preactivation'` replaces basic_block or bottleneck_block by "
                    f"its pre-activation form; {getattr(block, '__name__', block)!r} has none"
                )
            if block_kwargs:
                raise ValueError(
                    f"`unit='full_preactivation'` builds {PREACT_BLOCKS[block].__name__}, which "
                    f"takes none of the block options {sorted(block_kwargs)}"
                )
            block = PREACT_BLOCKS[block]
        return block, True, unit, {}
    options = {}
    if unit != "original":
        options["unit"] = unit
    if shortcut_variant != "identity":
        options["shortcut_variant"] = shortcut_variant
    if gate_bias is not None:
        options["gate_bias"] = gate_bias
    if options and block not in POST_ACTIVATION_BLOCKS:
        raise ValueError(
            f"`unit` and `shortcut_variant` are options of basic_block and bottleneck_block; "
            f"{getattr(block, '__name__', block)!r} takes neither (got "
            f"{', '.join(f'{k}={v!r}' for k, v in options.items())})"
        )
    return block, False, unit, options


# ----------------------------------------------------------------- stems and stacks


def imagenet_stem(x, *, preact=False, use_bias=True, filters=64, bn_epsilon=BN_EPSILON):
    """Table 1's conv1 (7x7/2, 64) and the 3x3/2 max pooling; BN-ReLU only when not pre-activated."""
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(x)
    x = layers.Conv2D(filters, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = batch_norm(x, "conv1_bn", bn_epsilon)
        x = layers.Activation("relu", name="conv1_relu")(x)
    # Zeros, where PyTorch pads max pooling with -inf: the same after the ReLU
    # (v2 pools the convolution's raw output, as keras.applications' ResNet50V2).
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def cifar_stem(x, *, preact=False, use_bias=False, filters=16, bn_epsilon=BN_EPSILON):
    """Section 4.2: one 3x3 convolution of 16 maps; BN-ReLU only when not pre-activated."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = batch_norm(x, "conv1_bn", bn_epsilon)
        x = layers.Activation("relu", name="conv1_relu")(x)
    return x


STEMS = {"imagenet": imagenet_stem, "cifar": cifar_stem}


def stack_stages(x, block, stages, *, drop_rates, downsample_at="first", first_stage=2,
                 first_block_kwargs=None, drop_mode="sample", **block_kwargs):
    """The residual stages: `conv{s}_block{b}` for each Stage(filters, blocks, stride).

    A stage's stride is in its first block (the papers) or, with
    `downsample_at="last"`, its last (keras.applications' v2). `drop_rates`
    has one stochastic depth drop rate per block of the network, in order;
    `drop_mode` ("sample" or "batch") is how `merge` drops the branches.
    """
    index = 0
    with drop_path_mode(drop_mode):
        for s, stage in enumerate(stages, start=first_stage):
            strided = 1 if downsample_at == "first" else stage.blocks
            for b in range(1, stage.blocks + 1):
                kwargs = dict(block_kwargs)
                if index == 0 and first_block_kwargs:
                    kwargs.update(first_block_kwargs)
                x = block(
                    x, stage.filters, stage.stride if b == strided else 1,
                    name=f"conv{s}_block{b}", drop_rate=drop_rates[index], **kwargs,
                )
                index += 1
    return x


def named_layers(model):
    """`{name: layer}` for every layer of `model`, those inside nested models and branches too.

    Batch-mode stochastic depth (`BatchStochasticDepth`) keeps each block's
    branch in a nested model; weights are copied between networks by these
    names.
    """
    found = {}
    for layer in model.layers:
        found[layer.name] = layer
        if isinstance(layer, BatchStochasticDepth):
            found.update(named_layers(layer.branch))
        elif isinstance(layer, keras.Model):
            found.update(named_layers(layer))
    return found


# ----------------------------------------------------------------- the generic builder


# Keras maps a functional graph recursively, a few Python frames per layer:
# ResNet-1202's 4,000 layers go past Python's default limit of 1000.
RECURSION_PER_BLOCK = 40


def ResNet(
    stages,
    block,
    *,
    stem="imagenet",
    preact=False,
    shortcut="projection",
    use_bias=True,
    bn_epsilon=BN_EPSILON,
    zero_pad_side="after",
    downsample_at="first",
    block_kwargs=None,
    published_as=None,
    default_shape=DEFAULT_SHAPE,
    min_shape=MIN_SHAPE,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    drop_path_rate=0.0,
    drop_path_scale_at="train",
    drop_path_mode="sample",
    drop_path_rule="linear",
    se_ratio=None,
    dropout_rate=0.0,
    unit=None,
    shortcut_variant="identity",
    gate_bias=None,
    name="resnet",
):
    """A residual network: stem, `stages` of `block`, (post-activation), pooling, classifier.

    `stages` is a list of Stage(filters, blocks, stride); `block` a block
    function of this module's signature (basic_block, bottleneck_block,
    preact_basic_block, preact_bottleneck_block or one like them); `stem` a
    name in STEMS or a function `x -> x`. `preact=True` leaves the stem's
    BN-ReLU out and adds `post_bn`, `post_relu` before pooling (v2).
    `shortcut` is "projection" (option B) or "zero_pad" (option A).

    Structure options, for the checkpoints of other implementations (each
    published tag sets those it needs): `use_bias` (convolution biases;
    torchvision's and timm's ResNets have none), `bn_epsilon` (> 0; the
    default 1.001e-5 is keras.applications', PyTorch's BatchNorm2d has
    1e-5), `zero_pad_side` ("after" or "both": where option A shortcuts put
    their zero channels; "both" is akamaster's CIFAR ResNets, half on each
    side of the input's). The stem and the blocks receive `bn_epsilon` and
    `zero_pad_side` only when they differ from the defaults, so a stem or a
    block written for the defaults need not take them.
    `drop_path_rate` (1 - p_L, in [0, 1)), `drop_path_scale_at` ("train"
    or "test"), `drop_path_mode` ("sample" or "batch") and
    `drop_path_rule` ("linear" or "uniform") set stochastic depth,
    `se_ratio` (None or > 0) a squeeze-and-excitation gate in every block, `dropout_rate` (in [0, 1)) a
    dropout before the classifier (SENet-154's). `published_as` is the
    registered twin whose keras.applications weights `weights="imagenet"`
    loads (None: none are published for the network being built).

    The ablations of "Identity Mappings" (sections 3 and 4, see the module's
    docstring): `unit` (None: the network's own, "original" or, with
    `preact`, "full_preactivation"; one of UNITS) places BN and ReLU in every
    unit as in its Figure 4; "full_preactivation" on a network of
    basic_block/bottleneck_block builds it with their pre-activation forms
    and `preact=True`, and "relu_only_preactivation" adds a final ReLU
    (`post_relu`) after the last unit (its appendix: an extra activation after
    the last addition). `shortcut_variant` (one of SHORTCUT_VARIANTS,
    "identity" by default) sets every shortcut as in its Figure 2, on
    post-activation units only; `gate_bias` (None: -6, the paper's best) is
    the initial gate bias b_g of the two gated variants. Published weights
    are for the default units and shortcuts only.

    Stochastic depth adds layers on the residual branches, which changes the
    order of the model's layers (keras orders them by depth in the graph)
    and so the order weight files and `set_weights` follow; in batch mode
    the branches' layers are nested in `{block}_drop` layers. With
    `drop_path_rate > 0`, `weights` are therefore loaded into the network
    without stochastic depth and copied over by layer name (`named_layers`).
    """
    arguments = dict(locals())
    check_range("drop_path_rate", drop_path_rate, 0, 1, high_inclusive=False)
    check_choice("drop_path_scale_at", drop_path_scale_at, DROP_PATH_SCALE_AT)
    check_choice("drop_path_mode", drop_path_mode, DROP_PATH_MODES)
    check_choice("drop_path_rule", drop_path_rule, DROP_PATH_RULES)
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    if se_ratio is not None:
        check_range("se_ratio", se_ratio, 0, low_inclusive=False)
    check_choice("shortcut", shortcut, SHORTCUTS)
    check_bool("use_bias", use_bias)
    check_range("bn_epsilon", bn_epsilon, 0, low_inclusive=False)
    check_choice("zero_pad_side", zero_pad_side, ZERO_PAD_SIDES)
    check_choice("downsample_at", downsample_at, DOWNSAMPLE_AT)
    check_bool("preact", preact)
    block, preact, unit, unit_options = residual_unit(
        block, preact=arguments["preact"], unit=unit, shortcut_variant=shortcut_variant,
        gate_bias=gate_bias, block_kwargs=block_kwargs,
    )
    if ((unit_options or preact != arguments["preact"]) and published_as is not None
            and pretrained.is_tag(weights, published_as)):
        raise ValueError(
            f"`weights={weights!r}`: {published_as}'s published checkpoints have its own units "
            f"and identity shortcuts; got unit={unit!r}, shortcut_variant={shortcut_variant!r}. "
            f"Use weights=None or a weights file of this structure."
        )
    if not callable(stem):
        check_choice("stem", stem, tuple(STEMS))
        stem = STEMS[stem]
    inputs, weights = common.prepare_inputs(
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=default_shape,
        min_shape=min_shape,
        published_as=published_as,
        weights_structure=weights_structure(block_kwargs, use_bias=use_bias,
                                            bn_epsilon=bn_epsilon, zero_pad_side=zero_pad_side),
    )
    stem_kwargs = {} if bn_epsilon == BN_EPSILON else {"bn_epsilon": bn_epsilon}
    structure_kwargs = dict(stem_kwargs)
    if zero_pad_side != "after":
        structure_kwargs["zero_pad_side"] = zero_pad_side
    num_blocks = sum(stage.blocks for stage in stages)
    drop_rates = (
        drop_path_rates(drop_path_rate, num_blocks, drop_path_rule) if drop_path_rate > 0
        else [0.0] * num_blocks
    )
    x = stem(inputs, preact=preact, use_bias=use_bias, filters=stages[0].filters,
             **stem_kwargs)
    x = stack_stages(
        x, block, stages, drop_rates=drop_rates, downsample_at=downsample_at,
        first_block_kwargs={"shortcut_from_preact": True} if preact else None,
        shortcut=shortcut, use_bias=use_bias, drop_scale_at=drop_path_scale_at,
        drop_mode=drop_path_mode, se_ratio=se_ratio, **structure_kwargs, **unit_options,
        **(block_kwargs or {}),
    )
    if preact:
        x = batch_norm(x, "post_bn", bn_epsilon)
        x = layers.Activation("relu", name="post_relu")(x)
    elif unit == "relu_only_preactivation":
        x = layers.Activation("relu", name="post_relu")(x)
    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation,
                               dropout_rate=dropout_rate)
    by_name = weights is not None and drop_path_rate > 0
    with common.recursion_limit(RECURSION_PER_BLOCK * num_blocks):
        model = common.finish_model(
            inputs, x, input_tensor=input_tensor, weights=None if by_name else weights,
            name=name,
        )
    if by_name:
        plain = ResNet(**{
            **arguments, "weights": weights, "published_as": None, "drop_path_rate": 0.0,
            "input_tensor": None, "input_shape": tuple(model.input_shape[1:]),
        })
        targets = named_layers(model)
        for layer in plain.layers:
            if layer.weights:
                targets[layer.name].set_weights(layer.get_weights())
    return model


def weights_structure(block_kwargs, **structure):
    """The builder arguments published weights depend on: `structure` and the blocks' shape."""
    shape = {key: value for key, value in (block_kwargs or {}).items()
             if key in ("stride_at", "cardinality", "bottleneck_width")}
    return {**structure, **shape}


def ImageNetResNet(depth, *, name, stride_at=None, plain=False, unit=None, **kwargs):
    """ResNet-`depth` of Table 1 (v1): basic blocks for 18 and 34 layers, bottlenecks above.

    `stride_at` is where a bottleneck downsamples: "1x1" (None: the default,
    keras.applications' and the original Caffe models') or "3x3"
    (torchvision's and timm's ResNet-50/101/152, "ResNet v1.5"). Basic blocks
    downsample in their first 3x3 convolution: for them only None or "3x3".
    `plain=True` leaves the shortcuts out (Table 1's plain networks, 18 and
    34 layers only). `unit="full_preactivation"` builds the network of full
    pre-activation units, which downsample in their 3x3 (`stride_at` None or
    "3x3"), in the first block of conv3-conv5 as the paper's (not
    keras.applications' v2).
    """
    check_choice("depth", depth, tuple(IMAGENET_BLOCKS))
    check_bool("plain", plain)
    if plain:
        check_choice("depth", depth, PLAIN_IMAGENET_DEPTHS)
        return ResNet(imagenet_stages(IMAGENET_BLOCKS[depth]), plain_block, name=name,
                      unit=unit, **kwargs)
    preactivated = unit == "full_preactivation"
    if stride_at is not None:
        check_choice("stride_at", stride_at,
                     STRIDE_AT if depth >= 50 and not preactivated else ("3x3",))
    if depth < 50:
        return ResNet(imagenet_stages(IMAGENET_BLOCKS[depth]), basic_block, name=name,
                      unit=unit, **kwargs)
    return ResNet(imagenet_stages(IMAGENET_BLOCKS[depth]), bottleneck_block, name=name,
                  block_kwargs=None if preactivated else {"stride_at": stride_at or "1x1"},
                  unit=unit, **kwargs)


def ResNetV2(depth, *, name, **kwargs):
    """ResNet-`depth` with full pre-activation bottleneck units, as keras.applications' v2."""
    check_choice("depth", depth, tuple(IMAGENET_BLOCKS))
    return ResNet(
        imagenet_stages(IMAGENET_BLOCKS[depth], strides=V2_STRIDES), preact_bottleneck_block,
        preact=True, downsample_at="last", name=name, **kwargs,
    )


def CifarResNet(depth=20, *, preact=False, plain=False, unit=None, name=None,
                classes=CIFAR_CLASSES, **kwargs):
    """The CIFAR-10 ResNet of section 4.2 with `depth` = 6n + 2 layers (option A shortcuts).

    `preact=True`, or `unit="full_preactivation"`, gives the full
    pre-activation form of "Identity Mappings" (basic units, as its
    ResNet-110; named `resnet{depth}_v2`); the other `unit`s and
    `shortcut_variant` are `ResNet`'s. `plain=True` gives the plain network
    of section 4.2 (no shortcuts, named `plain{depth}`).
    """
    check_range("depth", depth, 8, integer=True)
    if (int(depth) - 2) % 6:
        raise ValueError(f"`depth` must be 6n + 2 (20, 32, 44, 56, 110, ...); got {depth!r}")
    check_bool("preact", preact)
    check_bool("plain", plain)
    if plain and preact:
        raise ValueError("`plain=True` has no pre-activation form: pass `preact=False`")
    n = (int(depth) - 2) // 6
    block = plain_block if plain else preact_basic_block if preact else basic_block
    preactivated = preact or unit == "full_preactivation"
    default_name = (f"plain{int(depth)}" if plain
                    else f"resnet{int(depth)}{'_v2' if preactivated else ''}")
    return ResNet(
        cifar_stages(n),
        block,
        stem="cifar",
        preact=preact,
        shortcut="zero_pad",
        use_bias=False,
        default_shape=CIFAR_SHAPE,
        min_shape=CIFAR_MIN_SHAPE,
        classes=classes,
        unit=unit,
        name=name or default_name,
        **kwargs,
    )


def ResNeXt(blocks=(3, 4, 6, 3), *, cardinality=32, bottleneck_width=4, name="resnext",
            **kwargs):
    """ResNeXt (Xie et al. 2017, Table 1): bottlenecks with grouped 3x3 convolutions.

    `cardinality` (C, the number of groups) and `bottleneck_width` (d, the
    channels per group in conv2) set the 3x3 convolutions' width,
    C * d * filters / 64. No convolution has a bias; blocks downsample in
    the 3x3 convolution.
    """
    check_range("cardinality", cardinality, 1, integer=True)
    check_range("bottleneck_width", bottleneck_width, 1, integer=True)
    return ResNet(
        imagenet_stages(blocks),
        bottleneck_block,
        use_bias=False,
        block_kwargs={"cardinality": int(cardinality),
                      "bottleneck_width": int(bottleneck_width), "stride_at": "3x3"},
        name=name,
        **kwargs,
    )


# ----------------------------------------------------------------- published checkpoints


# What torchvision's and timm's checkpoints need: PyTorch's BatchNorm epsilon, no
# convolution biases and, in bottlenecks, the stride on the 3x3 ("ResNet v1.5").
TORCH_STRUCTURE = {"bn_epsilon": TORCH_BN_EPSILON, "use_bias": False}
TORCH_BOTTLENECK_STRUCTURE = {**TORCH_STRUCTURE, "stride_at": "3x3"}
# ResNeXt has neither biases nor a choice of stride: the epsilon only.
TORCH_RESNEXT_STRUCTURE = {"bn_epsilon": TORCH_BN_EPSILON}
# The keras.applications files: the defaults, so that a tag's structure can't be mixed up.
KERAS_STRUCTURE = {"bn_epsilon": BN_EPSILON, "use_bias": True, "stride_at": "1x1"}

# The timm hub tags of ResNets (timm/<network>.<tag>, model.safetensors):
# tag -> (source, licence, evaluation size, centre crop fraction). All were
# trained on [0, 1] RGB images normalized with ImageNet's mean and std.
TIMM_TAGS = {
    # torchvision's weights (v1: the original recipe; v2: its 2021 recipe,
    # evaluated at 224 after resizing to 232).
    "tv_in1k": ("torchvision", "BSD-3-Clause", 224, 0.875),
    "tv2_in1k": ("torchvision", "BSD-3-Clause", 224, 0.965),
    # timm's "ResNet strikes back" A1 recipe, trained at 224, tested at 288 uncropped.
    "a1_in1k": ("timm", "Apache-2.0", 288, 1.0),
    # GluonCV's v1b / ResNeXt ports.
    "gluon_in1k": ("gluoncv (timm port)", "Apache-2.0", 224, 0.875),
    # Facebook's semi-supervised (YFCC100M) and weakly supervised (Instagram 1B)
    # pretraining, fine-tuned on ImageNet-1k: non-commercial licence.
    "fb_ssl_yfcc100m_ft_in1k": ("facebookresearch/semi-supervised-ImageNet1K-models",
                                "CC-BY-NC-4.0", 224, 0.875),
    "fb_wsl_ig1b_ft_in1k": ("facebookresearch/WSL-Images", "CC-BY-NC-4.0", 224, 0.875),
}


def timm_hub_tags(network, top1s, structure):
    """`{tag: PublishedWeights}` for `network`'s timm hub checkpoints; `top1s` is {tag: top-1}.

    Top-1 accuracies are torchvision's documented acc@1 for the tv tags and
    timm's results-imagenet.csv (at the size given in TIMM_TAGS) for the others.
    """
    tags = {}
    for tag, top1 in top1s.items():
        source, licence, size, crop = TIMM_TAGS[tag]
        tags[tag] = pretrained.hub_weights(
            f"timm/{network}.{tag}", convert=torchvision_resnet, top1=top1, licence=licence,
            source=source, structure=structure, input_size=(size, size), crop_fraction=crop,
            normalization=normalization("torch"),
        )
    return tags


AKAMASTER_URL = ("https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/"
                 "pretrained_models/{file}")


def akamaster_tags(file, file_hash, top1):
    """`{"akamaster": ...}`: akamaster/pytorch_resnet_cifar10's CIFAR-10 checkpoint `file`.

    Trained (trainer.py) on [0, 1] RGB images normalized with ImageNet's mean
    and std; `top1` is 100 minus the test error of its README.
    """
    return {"akamaster": pretrained.url_weights(
        AKAMASTER_URL.format(file=file), file_hash=file_hash, convert=akamaster_cifar_resnet,
        top1=top1, licence="BSD-2-Clause", source="akamaster/pytorch_resnet_cifar10",
        structure={"bn_epsilon": TORCH_BN_EPSILON, "zero_pad_side": "both"},
        input_size=(32, 32), crop_fraction=1.0, normalization=normalization("torch"),
        classes=CIFAR_CLASSES, dataset="cifar-10",
    )}


def keras_resnet_tags(stem, top_hash, notop_hash):
    """keras.applications' ResNet50/101/152 files, as `"imagenet"`."""
    return pretrained.tf_kernels("resnet", stem, top_hash, notop_hash, structure=KERAS_STRUCTURE)


# ----------------------------------------------------------------- registered variants


# He et al. train with VGG's scale augmentation (section 3.4).
register_imagenet = common.registration(family="resnet", paper=PAPER, input_shape=DEFAULT_SHAPE,
                                        min_input_shape=MIN_SHAPE, augmentation="vgg")


@register_imagenet(params=11_703_912, published_weights=timm_hub_tags(
    "resnet18", {"tv_in1k": 69.758, "a1_in1k": 73.164, "gluon_in1k": 70.844,
                 "fb_ssl_yfcc100m_ft_in1k": 72.636}, TORCH_STRUCTURE))
def resnet18(**kwargs):
    """ResNet-18 (Table 1): basic blocks, [2, 2, 2, 2]."""
    return ImageNetResNet(18, published_as="resnet18", **{"name": "resnet18", **kwargs})


@register_imagenet(params=21_823_208, published_weights=timm_hub_tags(
    "resnet34", {"tv_in1k": 73.314, "a1_in1k": 77.930, "gluon_in1k": 74.574}, TORCH_STRUCTURE))
def resnet34(**kwargs):
    """ResNet-34 (Table 1): basic blocks, [3, 4, 6, 3]."""
    return ImageNetResNet(34, published_as="resnet34", **{"name": "resnet34", **kwargs})


@register_imagenet(params=25_636_712, published_weights={
    **keras_resnet_tags("resnet50", "2cb95161c43110f7111970584f804107",
                        "4d473c1dd8becc155b73f8504c6f6626"),
    **timm_hub_tags("resnet50", {"tv_in1k": 76.130, "tv2_in1k": 80.858, "a1_in1k": 81.240,
                                 "gluon_in1k": 77.580, "fb_ssl_yfcc100m_ft_in1k": 79.252},
                    TORCH_BOTTLENECK_STRUCTURE)})
def resnet50(**kwargs):
    """ResNet-50 (Table 1): bottlenecks, [3, 4, 6, 3] (keras.applications' ResNet50 weights)."""
    return ImageNetResNet(50, published_as="resnet50", **{"name": "resnet50", **kwargs})


@register_imagenet(params=44_707_176, published_weights={
    **keras_resnet_tags("resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5",
                        "88cf7a10940856eca736dc7b7e228a21"),
    **timm_hub_tags("resnet101", {"tv_in1k": 77.374, "tv2_in1k": 81.886, "a1_in1k": 82.326,
                                  "gluon_in1k": 79.306}, TORCH_BOTTLENECK_STRUCTURE)})
def resnet101(**kwargs):
    """ResNet-101 (Table 1): bottlenecks, [3, 4, 23, 3] (keras.applications' ResNet101 weights)."""
    return ImageNetResNet(101, published_as="resnet101", **{"name": "resnet101", **kwargs})


@register_imagenet(params=60_419_944, published_weights={
    **keras_resnet_tags("resnet152", "100835be76be38e30d865e96f2aaae62",
                        "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    **timm_hub_tags("resnet152", {"tv_in1k": 78.312, "tv2_in1k": 82.284, "a1_in1k": 82.742,
                                  "gluon_in1k": 79.712}, TORCH_BOTTLENECK_STRUCTURE)})
def resnet152(**kwargs):
    """ResNet-152 (Table 1): bottlenecks, [3, 8, 36, 3] (keras.applications' ResNet152 weights)."""
    return ImageNetResNet(152, published_as="resnet152", **{"name": "resnet152", **kwargs})


@register_imagenet(paper=PAPER_V2, params=25_613_800, preprocessing="tf",
                   published_weights=pretrained.tf_kernels(
    "resnet", "resnet50v2", "3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"))
def resnet50_v2(**kwargs):
    """ResNet-50 v2: full pre-activation bottlenecks (keras.applications' ResNet50V2 weights)."""
    return ResNetV2(50, published_as="resnet50_v2", **{"name": "resnet50_v2", **kwargs})


@register_imagenet(paper=PAPER_V2, params=44_675_560, preprocessing="tf",
                   published_weights=pretrained.tf_kernels(
    "resnet", "resnet101v2", "6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"))
def resnet101_v2(**kwargs):
    """ResNet-101 v2: full pre-activation bottlenecks (keras.applications' ResNet101V2 weights)."""
    return ResNetV2(101, published_as="resnet101_v2", **{"name": "resnet101_v2", **kwargs})


@register_imagenet(paper=PAPER_V2, params=60_380_648, preprocessing="tf",
                   published_weights=pretrained.tf_kernels(
    "resnet", "resnet152v2", "a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"))
def resnet152_v2(**kwargs):
    """ResNet-152 v2: full pre-activation bottlenecks (keras.applications' ResNet152V2 weights)."""
    return ResNetV2(152, published_as="resnet152_v2", **{"name": "resnet152_v2", **kwargs})


# CIFAR images are normalized per channel (fb.resnet.torch's mean/std); section 4.2's
# augmentation: 4 pixels of zero padding a side, a random 32x32 crop, a random flip.
register_cifar = common.registration(family="resnet", paper=PAPER, input_shape=CIFAR_SHAPE,
                                     min_input_shape=CIFAR_MIN_SHAPE, num_classes=CIFAR_CLASSES,
                                     preprocessing="torch", augmentation="cifar")


@register_cifar(params=271_098, published_weights=akamaster_tags(
    "resnet20-12fca82f.th",
    "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8", 91.73))
def resnet20(**kwargs):
    """CIFAR ResNet-20 (section 4.2): n = 3, 0.27M parameters."""
    return CifarResNet(20, published_as="resnet20", **kwargs)


@register_cifar(params=466_426, published_weights=akamaster_tags(
    "resnet32-d509ac18.th",
    "d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850", 92.63))
def resnet32(**kwargs):
    """CIFAR ResNet-32 (section 4.2): n = 5, 0.46M parameters."""
    return CifarResNet(32, published_as="resnet32", **kwargs)


@register_cifar(params=661_754, published_weights=akamaster_tags(
    "resnet44-014dd654.th",
    "014dd6541728a1c700b1642ab640e211dc6eb8ed507d70697458dc8f8a0ae2e4", 93.10))
def resnet44(**kwargs):
    """CIFAR ResNet-44 (section 4.2): n = 7, 0.66M parameters."""
    return CifarResNet(44, published_as="resnet44", **kwargs)


@register_cifar(params=857_082, published_weights=akamaster_tags(
    "resnet56-4bfd9763.th",
    "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367", 93.39))
def resnet56(**kwargs):
    """CIFAR ResNet-56 (section 4.2): n = 9, 0.85M parameters."""
    return CifarResNet(56, published_as="resnet56", **kwargs)


@register_cifar(params=1_736_058, published_weights=akamaster_tags(
    "resnet110-1d1ed7c2.th", "1d1ed7c2", 93.68))
def resnet110(**kwargs):
    """CIFAR ResNet-110 (section 4.2): n = 18, 1.7M parameters."""
    return CifarResNet(110, published_as="resnet110", **kwargs)


@register_cifar(params=19_510_906, published_weights=akamaster_tags(
    "resnet1202-f3b1deed.th", "f3b1deed", 93.82))
def resnet1202(**kwargs):
    """CIFAR ResNet-1202 (section 4.2): n = 200, 19.4M parameters."""
    return CifarResNet(1202, published_as="resnet1202", **kwargs)


# Plain networks: the residual networks without their shortcuts (He et al. 2016,
# section 4), for the degradation experiment. No weights are published for them.
register_plain_imagenet = common.registration(family="plain", paper=PAPER,
                                              input_shape=DEFAULT_SHAPE,
                                              min_input_shape=MIN_SHAPE, augmentation="vgg")
register_plain_cifar = common.registration(family="plain", paper=PAPER, input_shape=CIFAR_SHAPE,
                                           min_input_shape=CIFAR_MIN_SHAPE,
                                           num_classes=CIFAR_CLASSES, preprocessing="torch",
                                           augmentation="cifar")


@register_plain_imagenet(params=11_527_400)
def plain18(**kwargs):
    """Plain-18 (Table 1, Figure 4 left): ResNet-18's layers without the shortcuts."""
    return ImageNetResNet(18, plain=True, **{"name": "plain18", **kwargs})


@register_plain_imagenet(params=21_646_696)
def plain34(**kwargs):
    """Plain-34 (Table 1, Figure 3 middle): ResNet-34's layers without the shortcuts."""
    return ImageNetResNet(34, plain=True, **{"name": "plain34", **kwargs})


@register_plain_cifar(params=271_098)
def plain20(**kwargs):
    """CIFAR plain-20 (section 4.2, Figure 6 left): resnet20's layers without shortcuts."""
    return CifarResNet(20, plain=True, **kwargs)


@register_plain_cifar(params=466_426)
def plain32(**kwargs):
    """CIFAR plain-32 (section 4.2, Figure 6 left): resnet32's layers without shortcuts."""
    return CifarResNet(32, plain=True, **kwargs)


@register_plain_cifar(params=661_754)
def plain44(**kwargs):
    """CIFAR plain-44 (section 4.2, Figure 6 left): resnet44's layers without shortcuts."""
    return CifarResNet(44, plain=True, **kwargs)


@register_plain_cifar(params=857_082)
def plain56(**kwargs):
    """CIFAR plain-56 (section 4.2, Figure 6 left): resnet56's layers without shortcuts."""
    return CifarResNet(56, plain=True, **kwargs)


# Trained with fb.resnet.torch's per-channel mean/std normalization and GoogLeNet's
# scale and aspect ratio augmentation (section 5.1 of Xie et al.).
register_resnext = common.registration(family="resnext", paper=PAPER_RESNEXT,
                                       input_shape=DEFAULT_SHAPE, min_input_shape=MIN_SHAPE,
                                       preprocessing="torch", augmentation="inception")


@register_resnext(params=25_097_128, published_weights=timm_hub_tags(
    "resnext50_32x4d", {"tv_in1k": 77.618, "tv2_in1k": 81.198, "a1_in1k": 81.480,
                        "gluon_in1k": 79.354, "fb_ssl_yfcc100m_ft_in1k": 80.316},
    TORCH_RESNEXT_STRUCTURE))
def resnext50_32x4d(**kwargs):
    """ResNeXt-50 (32x4d) (Table 1): cardinality 32, bottleneck width 4, [3, 4, 6, 3]."""
    return ResNeXt((3, 4, 6, 3), **{"cardinality": 32, "bottleneck_width": 4,
                                    "name": "resnext50_32x4d", "published_as": "resnext50_32x4d", **kwargs})


@register_resnext(params=44_315_560, published_weights=timm_hub_tags(
    "resnext101_32x4d", {"gluon_in1k": 80.336, "fb_ssl_yfcc100m_ft_in1k": 80.936},
    TORCH_RESNEXT_STRUCTURE))
def resnext101_32x4d(**kwargs):
    """ResNeXt-101 (32x4d): cardinality 32, bottleneck width 4, [3, 4, 23, 3]."""
    return ResNeXt((3, 4, 23, 3), **{"cardinality": 32, "bottleneck_width": 4,
                                     "name": "resnext101_32x4d", "published_as": "resnext101_32x4d", **kwargs})


@register_resnext(params=88_994_216, published_weights=timm_hub_tags(
    "resnext101_32x8d", {"tv_in1k": 79.312, "tv2_in1k": 82.834, "fb_wsl_ig1b_ft_in1k": 82.720,
                         "fb_ssl_yfcc100m_ft_in1k": 81.620}, TORCH_RESNEXT_STRUCTURE))
def resnext101_32x8d(**kwargs):
    """ResNeXt-101 (32x8d): cardinality 32, bottleneck width 8, [3, 4, 23, 3]."""
    return ResNeXt((3, 4, 23, 3), **{"cardinality": 32, "bottleneck_width": 8,
                                     "name": "resnext101_32x8d", "published_as": "resnext101_32x8d", **kwargs})
