"""Xception: Inception modules replaced by depthwise separable convolutions.

Chollet (2017), "Xception: Deep Learning with Depthwise Separable
Convolutions", CVPR, Figure 5.

36 convolutional layers in 14 modules, all but the first and last with linear
residual connections. The entry flow has two plain 3x3 convolutions (32 and 64
filters, the first with stride 2) and three modules of two separable 3x3
convolutions and a 3x3/2 max pooling, 128, 256 and 728 filters, with a 1x1/2
convolution on the shortcut. The middle flow repeats eight times a module of
three ReLU + separable 3x3 convolutions of 728 filters with an identity
shortcut. The exit flow has one more downsampling module (728 and 1024
filters), then separable convolutions of 1536 and 2048 filters, global average
pooling and the classifier. Every convolution is followed by batch
normalization (section 4.2), and none has a bias. 22,910,480 parameters for
1000 classes, the count of keras.applications.Xception.

The structure, call order and layer names follow keras.applications
(`block1_conv1`, `block2_sepconv1`, ..., `block14_sepconv2`, `predictions`),
so its weights load into `xception` with `set_weights` or `load_weights`.
keras.applications leaves the shortcut convolutions and their normalization
unnamed (their names then depend on what else the session has built); here
they are `block{n}_residual_conv` and `block{n}_residual_conv_bn`, which
changes no weight order. Blocks are numbered by position, so with
`middle_flow_repeats=r` the exit flow is blocks 5 + r and 6 + r.
"""

from __future__ import annotations

from keras import layers

from kerasnets.checks import check_range
from kerasnets.layers import BatchNormalization
from kerasnets.models import common, pretrained
from kerasnets.registry import Paper, register_model

PAPER = Paper(
    "Chollet",
    2017,
    "Xception: Deep Learning with Depthwise Separable Convolutions",
    "https://arxiv.org/abs/1610.02357",
)

DEFAULT_SHAPE = (299, 299, 3)
# Five stride-2 stages and two valid 3x3 convolutions: 71 is the smallest
# input that keras.applications accepts (the exit flow is then 3x3).
MIN_SHAPE = (71, 71, 3)

# Figure 5: the filters of the entry flow's three downsampling modules.
ENTRY_FLOW_FILTERS = (128, 256, 728)
MIDDLE_FLOW_FILTERS = 728
# The exit flow's downsampling module, then its two separable convolutions.
EXIT_FLOW_FILTERS = ((728, 1024), (1536, 2048))


def conv_bn(x, filters, kernel_size, name, strides=1, padding="valid", relu=True):
    """A convolution without bias, batch normalization and (optionally) ReLU."""
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name
    )(x)
    x = BatchNormalization(axis=common.channel_axis(), name=f"{name}_bn")(x)
    if relu:
        x = layers.Activation("relu", name=f"{name}_act")(x)
    return x


def separable_conv_bn(x, filters, name, relu_first=True):
    """ReLU, depthwise separable 3x3 convolution without bias, batch normalization.

    The paper applies ReLU before each separable convolution inside a module
    (Figure 5); `relu_first=False` leaves it out where the module starts right
    after a ReLU (block 2) or the ReLU follows the normalization (block 14).
    """
    if relu_first:
        x = layers.Activation("relu", name=f"{name}_act")(x)
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return BatchNormalization(axis=common.channel_axis(), name=f"{name}_bn")(x)


def linear_residual(x, filters, block):
    """The shortcut of a downsampling module: 1x1 convolution with stride 2, then BN."""
    return conv_bn(
        x, filters, 1, f"block{block}_residual_conv", strides=2, padding="same", relu=False
    )


def downsampling_module(x, filters, block, relu_first=True):
    """Two separable convolutions and 3x3/2 max pooling, plus a 1x1/2 convolution shortcut.

    The module of the entry flow and of the start of the exit flow;
    `filters` are those of the two separable convolutions (the shortcut has
    the second). The keras.applications names: a module's first ReLU is
    `block{n}_sepconv1_act` (block 2 has none, as it follows block1_conv2_act),
    its second `block{n}_sepconv2_act`.
    """
    first, second = filters
    prefix = f"block{block}"
    # The shortcut is made first: keras.applications' weight order.
    residual = linear_residual(x, second, block)
    x = separable_conv_bn(x, first, f"{prefix}_sepconv1", relu_first=relu_first)
    x = separable_conv_bn(x, second, f"{prefix}_sepconv2")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{prefix}_pool")(x)
    return layers.Add(name=f"{prefix}_add")([x, residual])


def entry_flow_block(x, filters, block):
    """One module of the entry flow: `downsampling_module` with `filters` twice."""
    return downsampling_module(x, (filters, filters), block, relu_first=block != 2)


def entry_flow(x):
    """Figure 5, entry flow: two convolutions, then three downsampling modules (299 -> 19)."""
    x = conv_bn(x, 32, 3, "block1_conv1", strides=2)
    x = conv_bn(x, 64, 3, "block1_conv2")
    for block, filters in enumerate(ENTRY_FLOW_FILTERS, start=2):
        x = entry_flow_block(x, filters, block)
    return x


def middle_flow_block(x, block, filters=MIDDLE_FLOW_FILTERS):
    """One module of the middle flow: three ReLU + separable convolutions, identity shortcut."""
    residual = x
    for i in (1, 2, 3):
        x = separable_conv_bn(x, filters, f"block{block}_sepconv{i}")
    return layers.Add(name=f"block{block}_add")([x, residual])


def middle_flow(x, repeats, first_block=5):
    """Figure 5, middle flow: `repeats` (the paper: 8) middle flow modules at 19x19."""
    for block in range(first_block, first_block + repeats):
        x = middle_flow_block(x, block)
    return x


def exit_flow(x, first_block):
    """Figure 5, exit flow: one downsampling module, then 1536 and 2048 separable convolutions.

    The last two convolutions have ReLU after the normalization and no
    shortcut; global average pooling and the classifier come after.
    """
    x = downsampling_module(x, EXIT_FLOW_FILTERS[0], first_block)
    prefix = f"block{first_block + 1}"
    for i, filters in enumerate(EXIT_FLOW_FILTERS[1], start=1):
        x = separable_conv_bn(x, filters, f"{prefix}_sepconv{i}", relu_first=False)
        x = layers.Activation("relu", name=f"{prefix}_sepconv{i}_act")(x)
    return x


def Xception(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    middle_flow_repeats=8,
    published_as="xception",
    name="xception",
):
    """Xception (Chollet 2017): entry flow, `middle_flow_repeats` middle modules, exit flow.

    `middle_flow_repeats` is the number of middle flow modules (8 in the
    paper); each adds 1,618,344 parameters. The paper's optional fully
    connected layers before the classifier (section 4.3) are left out, as in
    its reported models and keras.applications. `weights="imagenet"` loads
    the published ImageNet weights of `published_as` (keras.applications'
    files, for 8 middle flow modules; see `kerasnets.models.pretrained`).
    """
    check_range("middle_flow_repeats", middle_flow_repeats, 1, integer=True)
    middle_flow_repeats = int(middle_flow_repeats)
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
        weights_structure={"middle_flow_repeats": middle_flow_repeats},
    )
    x = entry_flow(inputs)
    first_middle = 2 + len(ENTRY_FLOW_FILTERS)
    x = middle_flow(x, middle_flow_repeats, first_block=first_middle)
    x = exit_flow(x, first_block=first_middle + middle_flow_repeats)
    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation)
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


@register_model(
    "xception",
    family="xception",
    paper=PAPER,
    input_shape=DEFAULT_SHAPE,
    min_input_shape=MIN_SHAPE,
    params=22_910_480,
    preprocessing="tf",
    published_weights=pretrained.tf_kernels(
        "xception", "xception",
        "0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97",
        structure={"middle_flow_repeats": 8},
    ),
)
def xception(**kwargs):
    """Xception: 36 convolutional layers, 8 middle flow modules (keras.applications' weights)."""
    return Xception(**{"name": "xception", **kwargs})
