"""BN-Inception (Inception v2) and Inception v3.

BN-Inception: Ioffe and Szegedy (2015), "Batch Normalization: Accelerating Deep
Network Training by Reducing Internal Covariate Shift", ICML, appendix,
Figure 5. GoogLeNet with batch normalization after every convolution, each
5x5 convolution replaced by two 3x3 convolutions ("double 3x3"), a third
28x28 module (3c), and no pooling layers between the stages: modules 3c and
4e reduce the grid themselves (stride 2 on the last 3x3 of their two 3x3
branches, 3x3/2 max pooling passed through unprojected, no 1x1 branch).

Inception v3: Szegedy, Vanhoucke, Ioffe, Shlens and Wojna (2016),
"Rethinking the Inception Architecture for Computer Vision", CVPR, Table 1 and
Figures 5, 6, 7, 8 and 10, as released by Google and built by
keras.applications.InceptionV3, whose weights load into `inception_v3`.
The auxiliary classifier (`aux_logits=True`) sits on the 17x17 grid, on the
output of the last 17x17 module (`mixed7`), where the paper's text puts it
(section 4: "on top of the last 17x17 layer") and where TF-slim and
torchvision attach theirs (`Mixed_6e`); keras.applications.InceptionV3 has
no auxiliary classifier. Its layout is torchvision's (see
`auxiliary_classifier`), with scale-free normalization as everywhere here.

Both networks: convolutions without bias, each followed by batch
normalization with a learned shift (beta) but no scale (gamma), then ReLU.
The scale is left out as in keras.applications' and TF-slim's Inception
(Google's reference code for both papers): every normalization feeds a ReLU
and then a linear layer, and ReLU(g*x) = g*ReLU(x) for g > 0, so the next
layer absorbs a positive scale. It saves one parameter per output channel of
every convolution (10,016 in BN-Inception, 17,216 in Inception v3).

BN-Inception's published weights (`weights="cadene"`: Cadene's PyTorch port
of the Caffe model of Xiong's TSN release) come from Caffe: convolutions with
biases, normalizations with a scale and epsilon 1e-5, symmetric padding of the
strided convolutions, ceil-mode max pooling and average pooling that counts
its padding. `BNInception` builds that twin with six structure options (see
its docstring), which the tag sets; the modules, filters and strides are the
paper form's, the same in the Caffe model.
"""

from __future__ import annotations

import keras
from keras import layers

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.layers import BatchNormalization, SqueezeExcite
from kerasnets.models import common, pretrained
from kerasnets.registry import Normalization, Paper, register_model
from kerasnets.weights import inception as inception_weights

BN_PAPER = Paper(
    "Ioffe, Szegedy",
    2015,
    "Batch Normalization: Accelerating Deep Network Training by Reducing Internal "
    "Covariate Shift",
    "https://arxiv.org/abs/1502.03167",
)
V3_PAPER = Paper(
    "Szegedy, Vanhoucke, Ioffe, Shlens, Wojna",
    2016,
    "Rethinking the Inception Architecture for Computer Vision",
    "https://arxiv.org/abs/1512.00567",
)


def conv_bn(x, filters, kernel_size, name, strides=1, padding="same", conv_suffix="_conv",
            act_suffix="_act", use_bias=False, bn_scale=False, bn_epsilon=1e-3):
    """Convolution without bias, batch normalization without scale, ReLU.

    Layer names: `{name}{conv_suffix}`, `{name}_bn`, `{name}{act_suffix}`.
    `use_bias`, `bn_scale` and `bn_epsilon` change that for the ports of
    other releases (BN-Inception's Caffe model).
    """
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
                      name=f"{name}{conv_suffix}")(x)
    x = BatchNormalization(axis=common.channel_axis(), scale=bn_scale, epsilon=bn_epsilon,
                           name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}{act_suffix}")(x)


def average_pool_3x3(x, name):
    """3x3/1 average pooling with "same" padding, the border windows averaged over the image.

    The padding is one pixel on each side, never uneven, so every backend
    excludes it from the average (TF's "SAME" semantics; the torch backend
    calls avg_pool2d with count_include_pad=False): at a corner the output is
    the mean of the 2x2 pixels inside the image. Caffe's released models
    count the padded zeros instead (divide by 9); we keep keras.applications'
    semantics, which its Inception v3 weights were trained with.
    """
    return layers.AveragePooling2D(3, strides=1, padding="same", name=name)(x)


def _check_aux(aux_logits, include_top):
    check_bool("aux_logits", aux_logits)
    if aux_logits and include_top is not True:
        raise ValueError(
            "`aux_logits=True` adds the auxiliary classifier to the classifier and needs "
            f"include_top=True; got include_top={include_top!r}"
        )


# ---------------------------------------------------------------------------
# BN-Inception (Inception v2)
# ---------------------------------------------------------------------------

# Figure 5 of the BN paper, per module: #1x1, #3x3 reduce, #3x3, double #3x3
# reduce, double #3x3, pool type, pool projection. 3c and 4e (stride 2) have
# no 1x1 branch (0) and pass their max pooling through unprojected (None).
BN_INCEPTION_MODULES = {
    "3a": (64, 64, 64, 64, 96, "avg", 32),
    "3b": (64, 64, 96, 64, 96, "avg", 64),
    "3c": (0, 128, 160, 64, 96, "max", None),
    "4a": (224, 64, 96, 96, 128, "avg", 128),
    "4b": (192, 96, 128, 96, 128, "avg", 128),
    "4c": (160, 128, 160, 128, 160, "avg", 128),
    "4d": (96, 128, 192, 160, 192, "avg", 128),
    "4e": (0, 128, 192, 192, 256, "max", None),
    "5a": (352, 192, 320, 160, 224, "avg", 128),
    "5b": (352, 192, 320, 192, 224, "max", 128),
}
STRIDED_MODULES = ("3c", "4e")
PADDINGS = ("same", "symmetric")
BN_INCEPTION_SHAPE = (224, 224, 3)
# "same" padding everywhere: any input runs; at 32x32 (the output stride) the
# 5a/5b grid is 1x1, the same minimum as GoogLeNet's.
BN_INCEPTION_MIN_SHAPE = (32, 32, 3)


def bn_conv(x, filters, kernel_size, name, strides=1, padding="same", **options):
    """A BN-Inception convolution: Caffe-style names `name`, `name_bn`, `name_relu`.

    With `padding="symmetric"` a strided convolution is padded by
    kernel_size // 2 on every side (`name_pad`) and then run "valid", as
    Caffe and PyTorch pad; "same" pads a stride-2 convolution of an even
    input by one pixel less at the top and left. Stride-1 convolutions (odd
    kernels) are padded symmetrically by "same" either way. `options`:
    conv_bn's use_bias, bn_scale and bn_epsilon.
    """
    if padding == "symmetric" and strides != 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        return conv_bn(x, filters, kernel_size, name, strides=strides, padding="valid",
                       conv_suffix="", act_suffix="_relu", **options)
    return conv_bn(x, filters, kernel_size, name, strides=strides, conv_suffix="",
                   act_suffix="_relu", **options)


def max_pool_3x3_s2(x, name, ceil_mode=False):
    """3x3/2 max pooling: "same", or unpadded with the output size rounded up (`ceil_mode`).

    Caffe's pooling (PyTorch's ceil_mode=True) adds a last, partial window
    when the input does not end on one: on an even input that is what "same"
    gives (one pixel of padding at the bottom and right); on an odd one
    "same" pads both sides and gives one output more than Caffe, which has
    then no padding ("valid"). For a known input size the missing rows and
    columns are added at the bottom and right as zeros (`name_pad`), which are
    neutral: every max pooling of BN-Inception takes ReLU outputs, never
    negative. An input of unknown size is pooled "same" (Caffe's result for
    even sizes).
    """
    if not ceil_mode:
        return layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)
    spatial = x.shape[1:3] if common.channel_axis() == -1 else x.shape[2:4]
    if any(size is None for size in spatial):
        return layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)
    # Output size ceil((n - 3) / 2) + 1; the last window ends at 2 * (out - 1) + 3.
    extra = [2 * (-(-(size - 3) // 2)) + 3 - size for size in spatial]
    if any(extra):
        x = layers.ZeroPadding2D(((0, extra[0]), (0, extra[1])), name=f"{name}_pad")(x)
    return layers.MaxPooling2D(3, strides=2, padding="valid", name=name)(x)


def average_pool_3x3_counting_padding(x, name):
    """3x3/1 average pooling over one pixel of zero padding, the zeros counted (divide by 9).

    Caffe's (and PyTorch's count_include_pad=True) average pooling: the
    released Caffe BN-Inception was trained with it.
    """
    x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return layers.AveragePooling2D(3, strides=1, padding="valid", name=name)(x)


def inception_module(x, filters_1x1, filters_3x3_reduce, filters_3x3, filters_double_reduce,
                     filters_double_3x3, pool, pool_proj, name, count_include_pad=False,
                     **options):
    """A BN-Inception module (Figure 5 of the BN paper), stride 1.

    Four branches concatenated on the channel axis: 1x1; 1x1 reduction then
    3x3; 1x1 reduction then two 3x3 (the GoogLeNet 5x5, factorized); 3x3/1
    average or max pooling then a 1x1 projection. `count_include_pad`: the
    average pooling divides by 9 at the borders too (Caffe). `options`: the
    convolutions' (bn_conv).
    """
    branch_1x1 = bn_conv(x, filters_1x1, 1, f"{name}_1x1", **options)
    branch_3x3 = bn_conv(x, filters_3x3_reduce, 1, f"{name}_3x3_reduce", **options)
    branch_3x3 = bn_conv(branch_3x3, filters_3x3, 3, f"{name}_3x3", **options)
    branch_double = bn_conv(x, filters_double_reduce, 1, f"{name}_double_3x3_reduce", **options)
    branch_double = bn_conv(branch_double, filters_double_3x3, 3, f"{name}_double_3x3_1",
                            **options)
    branch_double = bn_conv(branch_double, filters_double_3x3, 3, f"{name}_double_3x3_2",
                            **options)
    if pool == "avg" and count_include_pad:
        branch_pool = average_pool_3x3_counting_padding(x, f"{name}_pool")
    elif pool == "avg":
        branch_pool = average_pool_3x3(x, f"{name}_pool")
    else:
        branch_pool = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch_pool = bn_conv(branch_pool, pool_proj, 1, f"{name}_pool_proj", **options)
    return layers.Concatenate(axis=common.channel_axis(), name=f"{name}_output")(
        [branch_1x1, branch_3x3, branch_double, branch_pool]
    )


def strided_inception_module(x, filters_3x3_reduce, filters_3x3, filters_double_reduce,
                             filters_double_3x3, name, ceil_mode=False, **options):
    """A grid-reducing BN-Inception module (3c, 4e): stride 2 at the end of each branch.

    No 1x1 branch; the 3x3 and the second double-3x3 convolution have stride
    2, and 3x3/2 max pooling is concatenated as it is ("max + pass through").
    `ceil_mode`: see max_pool_3x3_s2; `options`: the convolutions' (bn_conv).
    """
    branch_3x3 = bn_conv(x, filters_3x3_reduce, 1, f"{name}_3x3_reduce", **options)
    branch_3x3 = bn_conv(branch_3x3, filters_3x3, 3, f"{name}_3x3", strides=2, **options)
    branch_double = bn_conv(x, filters_double_reduce, 1, f"{name}_double_3x3_reduce", **options)
    branch_double = bn_conv(branch_double, filters_double_3x3, 3, f"{name}_double_3x3_1",
                            **options)
    branch_double = bn_conv(branch_double, filters_double_3x3, 3, f"{name}_double_3x3_2",
                            strides=2, **options)
    branch_pool = max_pool_3x3_s2(x, f"{name}_pool", ceil_mode)
    return layers.Concatenate(axis=common.channel_axis(), name=f"{name}_output")(
        [branch_3x3, branch_double, branch_pool]
    )


def BNInception(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    dropout_rate=0.0,
    use_bias=False,
    batch_norm_scale=False,
    bn_epsilon=1e-3,
    padding="same",
    ceil_mode=False,
    count_include_pad=False,
    name="bn_inception",
):
    """BN-Inception (Ioffe and Szegedy 2015, Figure 5): 10 inception modules with BN.

    Stem: 7x7/2 convolution (64), 3x3/2 max pooling, 1x1 (64) and 3x3 (192)
    convolutions, 3x3/2 max pooling; modules 3a-3c (28x28), 4a-4e (14x14),
    5a-5b (7x7); global average pooling (7x7 at 224) and the linear
    classifier. "same" padding throughout (224 -> 112 -> 56 -> 28 -> 14 -> 7).

    Deliberate choices and deviations:
    - `dropout_rate` before the classifier defaults to 0: section 4.2.1
      removes GoogLeNet's 40% dropout from the batch-normalized networks (its
      BN-x5/x30 models); pass 0.4 for GoogLeNet's.
    - The first convolution is a full 7x7 convolution, as in the released
      Caffe BN-Inception; the appendix says theirs was a separable
      convolution with depth multiplier 8 (cheaper: 34M instead of 118M
      multiply-adds).
    - We follow the table's filter columns where its output-size column
      disagrees with them: 3c gives 14x14x576 (the table: 28x28, but the
      module has stride 2), 4c and 4d 608 channels (160+160+160+128 and
      96+192+192+128; the table: 576) and so 4e 192+256+608 = 1056 (the
      table: 1024), as in the released Caffe BN-Inception.
    - 11,295,240 parameters for 1000 classes; the paper's text says 13.6M,
      which the table's columns do not give (with BN scales: 11,305,256;
      counted without the moving statistics, as torch ports count, and
      with gamma: 10,016 less than ours). 2.03G multiply-adds at 224x224,
      the ~2G usually quoted.
    - No scale (gamma) in the normalizations (module docstring); with it the
      count would be 10,016 higher.

    Structure options, whose defaults are the paper form above; the released
    Caffe BN-Inception (Xiong's TSN port, which Cadene's pretrainedmodels
    `bninception` loads: its `cadene` weights) needs all six changed:
    - `use_bias`: the convolutions have a bias (Caffe's do; +10,016 weights).
    - `batch_norm_scale`: the normalizations have a scale (gamma).
    - `bn_epsilon`: the normalizations' epsilon (keras' 1e-3; PyTorch's 1e-5).
    - `padding`: "same", or "symmetric": the strided convolutions (the 7x7/2
      stem and the 3x3/2 of 3c and 4e) padded by kernel_size // 2 on every
      side, as Caffe and PyTorch pad ("same" pads one pixel less at the top
      and left of an even input).
    - `ceil_mode`: the 3x3/2 max poolings have no padding and round their
      output size up (Caffe; PyTorch's ceil_mode=True): equal to "same" on
      even inputs, one pixel less on odd ones. Needs padding="symmetric".
    - `count_include_pad`: the 3x3/1 average poolings divide by 9 at the
      borders too, counting the zero padding (Caffe; the default leaves it
      out, as TF and keras.applications do).
    """
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    check_bool("use_bias", use_bias)
    check_bool("batch_norm_scale", batch_norm_scale)
    check_range("bn_epsilon", bn_epsilon, 0, low_inclusive=False)
    check_choice("padding", padding, PADDINGS)
    check_bool("ceil_mode", ceil_mode)
    check_bool("count_include_pad", count_include_pad)
    if ceil_mode and padding != "symmetric":
        raise ValueError("`ceil_mode=True` (unpadded max pooling, Caffe's) needs "
                         f"padding='symmetric'; got padding={padding!r}")
    inputs, weights = common.prepare_inputs(
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=BN_INCEPTION_SHAPE,
        min_shape=BN_INCEPTION_MIN_SHAPE,
        published_as="bn_inception",
        weights_structure={"use_bias": use_bias, "batch_norm_scale": batch_norm_scale,
                           "bn_epsilon": bn_epsilon, "padding": padding,
                           "ceil_mode": ceil_mode, "count_include_pad": count_include_pad},
    )
    options = {"use_bias": use_bias, "bn_scale": batch_norm_scale, "bn_epsilon": bn_epsilon,
               "padding": padding}
    x = bn_conv(inputs, 64, 7, "conv1_7x7_s2", strides=2, **options)
    x = max_pool_3x3_s2(x, "pool1_3x3_s2", ceil_mode)
    x = bn_conv(x, 64, 1, "conv2_3x3_reduce", **options)
    x = bn_conv(x, 192, 3, "conv2_3x3", **options)
    x = max_pool_3x3_s2(x, "pool2_3x3_s2", ceil_mode)
    for module, filters in BN_INCEPTION_MODULES.items():
        name_ = f"inception_{module}"
        if module in STRIDED_MODULES:
            x = strided_inception_module(x, *filters[1:5], name=name_, ceil_mode=ceil_mode,
                                         **options)
        else:
            x = inception_module(x, *filters, name=name_, count_include_pad=count_include_pad,
                                 **options)
    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation, dropout_rate=dropout_rate)
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


# ---------------------------------------------------------------------------
# Inception v3
# ---------------------------------------------------------------------------

V3_SHAPE = (299, 299, 3)
# keras.applications' minimum: at 75x75 the 8x8 grid of the paper is 1x1.
V3_MIN_SHAPE = (75, 75, 3)
# The auxiliary classifier's 5x5/3 pooling then "valid" 5x5 convolution need
# the 17x17 grid of the paper: 299x299 is the smallest input that gives it
# (298 gives 16x16, and 5x5/3 pooling then leaves 4x4).
V3_MIN_SHAPE_AUX = (299, 299, 3)
# The auxiliary classifier of Figure 8 (torchvision's InceptionAux layout):
# 1x1 convolution to 128 maps, 5x5 "valid" convolution to 768, both + BN.
AUX_FILTERS = (128, 768)


def squeeze_excite(x, se_ratio, name):
    """The module's output, rescaled by a squeeze-and-excitation gate `{name}_se` if `se_ratio`.

    The SE-Inception module of Hu et al. (2018), fig. 2: the gate takes the
    concatenated output of the whole module. With `se_ratio=None` the module
    is returned as it is (keras.applications' graph).
    """
    if se_ratio is None:
        return x
    return SqueezeExcite(ratio=se_ratio, name=f"{name}_se")(x)


def v3_conv(x, filters, kernel_size, name, strides=1, padding="same"):
    """An Inception v3 convolution: `name_conv`, `name_bn`, `name_act` (keras' conv2d_bn)."""
    return conv_bn(x, filters, kernel_size, name, strides=strides, padding=padding)


def stem(x):
    """Table 1 up to the 35x35 grid: five convolutions and two 3x3/2 max poolings (299 -> 35)."""
    x = v3_conv(x, 32, 3, "stem_conv1", strides=2, padding="valid")
    x = v3_conv(x, 32, 3, "stem_conv2", padding="valid")
    x = v3_conv(x, 64, 3, "stem_conv3")
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool1")(x)
    x = v3_conv(x, 80, 1, "stem_conv4", padding="valid")
    x = v3_conv(x, 192, 3, "stem_conv5", padding="valid")
    return layers.MaxPooling2D(3, strides=2, name="stem_pool2")(x)


def factorized_5x5_module(x, pool_proj, name, se_ratio=None):
    """35x35 module (Figure 5: the 5x5 convolution factorized into two 3x3), mixed0-2.

    Google's released network, and keras.applications, keep a 1x1 -> 5x5
    branch (48 -> 64) beside the double 3x3 branch (64 -> 96 -> 96); kept for
    the weights. 1x1 branch 64, average pooling + projection `pool_proj`.
    """
    branch1x1 = v3_conv(x, 64, 1, f"{name}_branch1x1")
    branch5x5 = v3_conv(x, 48, 1, f"{name}_branch5x5_1")
    branch5x5 = v3_conv(branch5x5, 64, 5, f"{name}_branch5x5_2")
    branch3x3dbl = v3_conv(x, 64, 1, f"{name}_branch3x3dbl_1")
    branch3x3dbl = v3_conv(branch3x3dbl, 96, 3, f"{name}_branch3x3dbl_2")
    branch3x3dbl = v3_conv(branch3x3dbl, 96, 3, f"{name}_branch3x3dbl_3")
    branch_pool = average_pool_3x3(x, f"{name}_branch_pool_avg")
    branch_pool = v3_conv(branch_pool, pool_proj, 1, f"{name}_branch_pool")
    x = layers.Concatenate(axis=common.channel_axis(), name=name)(
        [branch1x1, branch5x5, branch3x3dbl, branch_pool]
    )
    return squeeze_excite(x, se_ratio, name)


def grid_reduction_35_to_17(x, name="mixed3", se_ratio=None):
    """Figure 10 at 35x35 -> 17x17: stride-2 3x3 (384), 1x1-3x3-3x3/2 (64, 96, 96), max pool."""
    branch3x3 = v3_conv(x, 384, 3, f"{name}_branch3x3", strides=2, padding="valid")
    branch3x3dbl = v3_conv(x, 64, 1, f"{name}_branch3x3dbl_1")
    branch3x3dbl = v3_conv(branch3x3dbl, 96, 3, f"{name}_branch3x3dbl_2")
    branch3x3dbl = v3_conv(branch3x3dbl, 96, 3, f"{name}_branch3x3dbl_3", strides=2,
                           padding="valid")
    branch_pool = layers.MaxPooling2D(3, strides=2, name=f"{name}_branch_pool")(x)
    x = layers.Concatenate(axis=common.channel_axis(), name=name)(
        [branch3x3, branch3x3dbl, branch_pool]
    )
    return squeeze_excite(x, se_ratio, name)


def factorized_7x7_module(x, filters_7x7, name, se_ratio=None):
    """17x17 module (Figure 6, n = 7): 7x7 convolutions factorized into 1x7 and 7x1, mixed4-7.

    Branches: 1x1 (192); 1x1, 1x7, 7x1 (`filters_7x7`, `filters_7x7`, 192);
    1x1, 7x1, 1x7, 7x1, 1x7 (`filters_7x7` x4, 192); 3x3 average pooling and
    a 1x1 projection (192). `filters_7x7` is 128, 160, 160, 192 in mixed4-7.
    """
    f = filters_7x7
    branch1x1 = v3_conv(x, 192, 1, f"{name}_branch1x1")
    branch7x7 = v3_conv(x, f, 1, f"{name}_branch7x7_1")
    branch7x7 = v3_conv(branch7x7, f, (1, 7), f"{name}_branch7x7_2")
    branch7x7 = v3_conv(branch7x7, 192, (7, 1), f"{name}_branch7x7_3")
    branch7x7dbl = v3_conv(x, f, 1, f"{name}_branch7x7dbl_1")
    branch7x7dbl = v3_conv(branch7x7dbl, f, (7, 1), f"{name}_branch7x7dbl_2")
    branch7x7dbl = v3_conv(branch7x7dbl, f, (1, 7), f"{name}_branch7x7dbl_3")
    branch7x7dbl = v3_conv(branch7x7dbl, f, (7, 1), f"{name}_branch7x7dbl_4")
    branch7x7dbl = v3_conv(branch7x7dbl, 192, (1, 7), f"{name}_branch7x7dbl_5")
    branch_pool = average_pool_3x3(x, f"{name}_branch_pool_avg")
    branch_pool = v3_conv(branch_pool, 192, 1, f"{name}_branch_pool")
    x = layers.Concatenate(axis=common.channel_axis(), name=name)(
        [branch1x1, branch7x7, branch7x7dbl, branch_pool]
    )
    return squeeze_excite(x, se_ratio, name)


def grid_reduction_17_to_8(x, name="mixed8", se_ratio=None):
    """Figure 10 at 17x17 -> 8x8: 1x1-3x3/2 (192, 320), 1x1-1x7-7x1-3x3/2 (192), max pool."""
    branch3x3 = v3_conv(x, 192, 1, f"{name}_branch3x3_1")
    branch3x3 = v3_conv(branch3x3, 320, 3, f"{name}_branch3x3_2", strides=2, padding="valid")
    branch7x7x3 = v3_conv(x, 192, 1, f"{name}_branch7x7x3_1")
    branch7x7x3 = v3_conv(branch7x7x3, 192, (1, 7), f"{name}_branch7x7x3_2")
    branch7x7x3 = v3_conv(branch7x7x3, 192, (7, 1), f"{name}_branch7x7x3_3")
    branch7x7x3 = v3_conv(branch7x7x3, 192, 3, f"{name}_branch7x7x3_4", strides=2,
                          padding="valid")
    branch_pool = layers.MaxPooling2D(3, strides=2, name=f"{name}_branch_pool")(x)
    x = layers.Concatenate(axis=common.channel_axis(), name=name)(
        [branch3x3, branch7x7x3, branch_pool]
    )
    return squeeze_excite(x, se_ratio, name)


def expanded_filter_bank_module(x, index, name, se_ratio=None):
    """8x8 module (Figure 7): expanded filter bank outputs, mixed9 and mixed10.

    The 3x3 convolutions end in parallel 1x3 and 3x1 convolutions whose
    outputs are concatenated: 1x1 (320); 1x1 (384) -> 1x3 | 3x1 (384 each);
    1x1 (448) -> 3x3 (384) -> 1x3 | 3x1 (384 each); average pooling and a 1x1
    projection (192). 2048 channels. The inner concatenation of the second
    branch keeps keras' name `mixed9_{index}`.
    """
    axis = common.channel_axis()
    branch1x1 = v3_conv(x, 320, 1, f"{name}_branch1x1")
    branch3x3 = v3_conv(x, 384, 1, f"{name}_branch3x3_1")
    branch3x3_a = v3_conv(branch3x3, 384, (1, 3), f"{name}_branch3x3_2a")
    branch3x3_b = v3_conv(branch3x3, 384, (3, 1), f"{name}_branch3x3_2b")
    branch3x3 = layers.Concatenate(axis=axis, name=f"mixed9_{index}")([branch3x3_a, branch3x3_b])
    branch3x3dbl = v3_conv(x, 448, 1, f"{name}_branch3x3dbl_1")
    branch3x3dbl = v3_conv(branch3x3dbl, 384, 3, f"{name}_branch3x3dbl_2")
    branch3x3dbl_a = v3_conv(branch3x3dbl, 384, (1, 3), f"{name}_branch3x3dbl_3a")
    branch3x3dbl_b = v3_conv(branch3x3dbl, 384, (3, 1), f"{name}_branch3x3dbl_3b")
    branch3x3dbl = layers.Concatenate(axis=axis, name=f"{name}_branch3x3dbl")(
        [branch3x3dbl_a, branch3x3dbl_b]
    )
    branch_pool = average_pool_3x3(x, f"{name}_branch_pool_avg")
    branch_pool = v3_conv(branch_pool, 192, 1, f"{name}_branch_pool")
    x = layers.Concatenate(axis=axis, name=name)(
        [branch1x1, branch3x3, branch3x3dbl, branch_pool]
    )
    return squeeze_excite(x, se_ratio, name)


def auxiliary_classifier(x, *, classes, classifier_activation, name="aux"):
    """The auxiliary classifier on the 17x17 grid (Figure 8), on mixed7's output.

    5x5/3 average pooling ("valid": 17x17 -> 5x5), 1x1 convolution (128) +
    BN + ReLU, 5x5 "valid" convolution (768) + BN + ReLU (-> 1x1), global
    average pooling (a no-op at 299x299, it lets larger inputs through), and
    a linear classifier: torchvision's InceptionAux layout, with keras'
    scale-free normalization. Figure 8 normalizes the auxiliary classifier's
    fully connected layer too (the BN-auxiliary of section 7); that
    normalization is left out, as in torchvision and TF-slim.

    Not `common.classifier_head`: a training-time head of its own layers
    (`{name}_...`) that exists only with include_top=True.
    """
    x = layers.AveragePooling2D(5, strides=3, padding="valid", name=f"{name}_pool")(x)
    x = v3_conv(x, AUX_FILTERS[0], 1, f"{name}_conv1")
    x = v3_conv(x, AUX_FILTERS[1], 5, f"{name}_conv2", padding="valid")
    x = layers.GlobalAveragePooling2D(name=f"{name}_global_pool")(x)
    return layers.Dense(classes, activation=classifier_activation, name=f"{name}_predictions")(x)


def InceptionV3(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    aux_logits=False,
    dropout_rate=0.0,
    se_ratio=None,
    published_as="inception_v3",
    name="inception_v3",
):
    """Inception v3 (Szegedy et al. 2016, Table 1), keras.applications' layer for layer.

    Stem (299 -> 35), three Figure 5 modules (mixed0-2), a Figure 10
    reduction (mixed3, -> 17), four Figure 6 modules (mixed4-7), a Figure 10
    reduction (mixed8, -> 8), two Figure 7 modules (mixed9, mixed10), global
    average pooling, classifier. 23,851,784 parameters for 1000 classes.

    `aux_logits=True` (needs include_top=True and an input of at least
    299x299) makes the model return `[predictions, aux_predictions]`, the
    auxiliary classifier on mixed7 used in training (3,327,592 more
    parameters for 1000 classes). The main path keeps its weights and their
    order: `keras.Model(m.inputs, m.outputs[0])` has the weights of the model
    built with aux_logits=False, so ImageNet weights load into it (the
    auxiliary head then starts from random values: no published file has it).

    `dropout_rate` (default 0, as keras.applications, whose graph is then
    ours exactly; TF-slim trains with 0.2, torchvision with 0.5) adds
    dropout before the classifier; it has no weights.

    `se_ratio` (None by default, or the reduction ratio r > 0) puts a
    squeeze-and-excitation gate `mixed{i}_se` on the output of each of the
    eleven modules: SE-Inception-v3 (Hu et al. 2018, fig. 2), which
    `kerasnets.models.senet` registers. No weights are published for it.

    `weights="imagenet"` loads the published weights of `published_as`
    (keras.applications' files, for se_ratio=None).
    """
    if se_ratio is not None:
        check_range("se_ratio", se_ratio, 0, low_inclusive=False)
    _check_aux(aux_logits, include_top)
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    inputs, weights = common.prepare_inputs(
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=V3_SHAPE,
        min_shape=V3_MIN_SHAPE_AUX if aux_logits else V3_MIN_SHAPE,
        published_as=published_as,
        weights_structure={"se_ratio": se_ratio},
    )
    x = stem(inputs)
    for index, pool_proj in enumerate((32, 64, 64)):
        x = factorized_5x5_module(x, pool_proj, f"mixed{index}", se_ratio=se_ratio)
    x = grid_reduction_35_to_17(x, "mixed3", se_ratio=se_ratio)
    for index, filters_7x7 in enumerate((128, 160, 160, 192), start=4):
        x = factorized_7x7_module(x, filters_7x7, f"mixed{index}", se_ratio=se_ratio)
    aux = x
    x = grid_reduction_17_to_8(x, "mixed8", se_ratio=se_ratio)
    for index in (0, 1):
        x = expanded_filter_bank_module(x, index, f"mixed{9 + index}", se_ratio=se_ratio)
    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation, dropout_rate=dropout_rate)
    if not aux_logits:
        return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights,
                                   name=name)

    # The head is built after the main path so that the main path's layers,
    # and so its weight order, are those of the model without it.
    aux = auxiliary_classifier(aux, classes=classes,
                               classifier_activation=classifier_activation)
    model = common.finish_model(inputs, [x, aux], input_tensor=input_tensor, weights=None,
                                name=name)
    if weights is not None:
        _load_aux_model_weights(model, weights)
    return model


def _load_aux_model_weights(model, weights):
    """Loads a file of the whole model, or else (a file without the head) of its main path."""
    try:
        common.load_weights(model, weights)
    except ValueError:
        main_path = keras.Model(model.inputs, model.outputs[0], name=model.name)
        common.load_weights(main_path, weights)


@register_model(
    family="inception",
    paper=BN_PAPER,
    input_shape=BN_INCEPTION_SHAPE,
    min_input_shape=BN_INCEPTION_MIN_SHAPE,
    params=11_295_240,
    preprocessing="tf",
    aliases=("inception_v2",),
    published_weights={
        # Cadene's port of the Caffe BN-Inception (Xiong's TSN release): Caffe's
        # BGR, 0-255 inputs less the mean (104, 117, 128). top-1: Cadene's README.
        "cadene": pretrained.url_weights(
            "http://data.lip6.fr/cadene/pretrainedmodels/bn_inception-52deb4733.pth",
            file_hash="52deb4733", convert=inception_weights.cadene_bn_inception,
            top1=73.524, licence="bsd-3-clause", source="cadene", input_size=(224, 224),
            crop_fraction=0.875,
            normalization=Normalization("caffe", 255.0, (104.0, 117.0, 128.0),
                                        (1.0, 1.0, 1.0), "BGR"),
            structure={"use_bias": True, "batch_norm_scale": True, "bn_epsilon": 1e-5,
                       "padding": "symmetric", "ceil_mode": True, "count_include_pad": True},
        ),
    },
)
def bn_inception(**kwargs):
    """BN-Inception / Inception v2: GoogLeNet with batch normalization and double 3x3 branches."""
    return BNInception(**{"name": "bn_inception", **kwargs})


@register_model(
    family="inception",
    paper=V3_PAPER,
    input_shape=V3_SHAPE,
    min_input_shape=V3_MIN_SHAPE,
    params=23_851_784,
    preprocessing="tf",
    # The authors' release (tf-slim, tensorflow/models) weights the auxiliary
    # loss by 0.4; the paper (section 4) gives no figure.
    aux_loss_weight=0.4,
    published_weights=pretrained.tf_kernels(
        "inception_v3", "inception_v3",
        "9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63",
        structure={"se_ratio": None},
    ),
)
def inception_v3(**kwargs):
    """Inception v3: factorized convolutions, grid reductions (keras.applications' weights)."""
    return InceptionV3(**{"name": "inception_v3", **kwargs})
