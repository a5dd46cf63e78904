"""GoogLeNet (Inception v1).

Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke and Rabinovich
(2015), "Going deeper with convolutions", CVPR, section 5, Table 1 and Figure 3.

A 7x7/2 convolution, 3x3/2 max pooling and local response normalization, a
1x1 "reduce" and a 3x3 convolution, normalization and pooling again, then nine
inception modules (3a, 3b, 4a-4e, 5a, 5b) with 3x3/2 max pooling after 3b and
4e, global 7x7 average pooling, dropout 40% and one linear layer with softmax.
ReLU after every convolution, no batch normalization. Each inception module
concatenates four branches on the channel axis: a 1x1 convolution, a 1x1
reduction then a 3x3 convolution, a 1x1 reduction then a 5x5 convolution, and
3x3/1 max pooling then a 1x1 projection. 6,998,552 parameters for 1000 classes.

During training the paper adds two auxiliary classifiers on the outputs of 4a
and 4d (5x5/3 average pooling, a 1x1 convolution of 128 maps, a fully
connected layer of 1024 units, dropout 70% and a softmax classifier) whose
losses are weighted by 0.3; `aux_logits=True` returns them as extra outputs
(13,378,280 parameters in all at 224x224).

Layer names follow the BVLC Caffe model (`inception_3a_3x3_reduce` for
`inception_3a/3x3_reduce`). The paper's table pads nothing explicitly; we use
"same" padding throughout, which gives its sizes 224 -> 112 -> 56 -> 28 -> 14
-> 7. `padding="symmetric", ceil_mode=True` is the BVLC Caffe model's own
arithmetic (conv1 padded by 3 on every side, stride-2 pooling in Caffe's
ceil mode), which its published weights need (`weights="bvlc"`).
"""

from __future__ import annotations

from keras import layers

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.layers import BatchNormalization, LocalResponseNormalization
from kerasnets.models import common, pretrained
from kerasnets.registry import Normalization, Paper, register_model
from kerasnets.weights.caffe import bvlc_googlenet

PAPER = Paper(
    "Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke, Rabinovich",
    2015,
    "Going deeper with convolutions",
    "https://arxiv.org/abs/1409.4842",
)

# The paper gives no normalization constants; the BVLC Caffe GoogLeNet uses
# local_size 5, alpha 1e-4, beta 0.75 (k=1). Caffe's alpha multiplies the mean
# of the squares over the window, ours their sum: 1e-4 / 5 = 2e-5.
LRN_ARGS = dict(k=1.0, n=5, alpha=2e-5, beta=0.75)

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj per module.
# The table's `ops` column (multiply-adds) for the modules is 128M, 304M, 73M,
# 88M, 100M, 119M, 170M, 54M and 71M, which these widths reproduce within 1%
# (but 5a: 51.1M, 5.4% under the table); 1.58G multiply-adds in all. The
# table's conv1 row does not add up: a 7x7 convolution from 3 to 64 maps has
# 9.4K weights and costs 118M multiply-adds at 112x112, not the 2.7K and 34M
# printed there.
INCEPTION_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}

# With "same" padding (sizes round up) any input from 1x1 runs mechanically;
# the smallest sensible one is the network's output stride, 32x32, where 5a/5b
# see a 1x1 grid (VGG's minimum too). The main classifier pools globally, so
# include_top=True works at any size from there.
MIN_SHAPE = (32, 32, 3)
DEFAULT_SHAPE = (224, 224, 3)
# With the auxiliary classifiers the 4a/4d grid (input / 16, rounded up) must
# hold one 5x5 average pooling window: ceil(h / 16) >= 5, so h >= 65.
MIN_SHAPE_AUX = (65, 65, 3)


PADDING_CHOICES = ("same", "symmetric")


def conv_relu(x, filters, kernel_size, name, strides=1, padding="same", batch_norm=False):
    """A convolution with bias and ReLU, as every convolution in the paper.

    "same" padding, or with `padding="symmetric"` (the strided conv1 only)
    (kernel_size - 1) / 2 zeros on every side, as Caffe and PyTorch pad; keras
    "same" pads a stride-2 7x7 convolution of an even input by 2 before and 3
    after. With `batch_norm`, the convolution has no bias and batch
    normalization (`{name}_bn`, whose beta takes the bias's place) comes
    before the ReLU (`{name}_relu`).
    """
    if padding == "symmetric" and strides > 1:
        x = layers.ZeroPadding2D((kernel_size - 1) // 2, name=f"{name}_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    if not batch_norm:
        return layers.Conv2D(
            filters, kernel_size, strides=strides, padding=padding, activation="relu", name=name
        )(x)
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False,
                      name=name)(x)
    x = BatchNormalization(axis=common.channel_axis(), name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def max_pool(x, name, strides=2, ceil_mode=False):
    """3x3 max pooling, "same"-padded (stride 2 between stages, 1 inside modules).

    `ceil_mode=True` pools stride 2 as Caffe does (and PyTorch's
    `ceil_mode=True`): no padding, and a last, partial window at the bottom and
    right edges, ceil((n - 3) / 2) + 1 outputs (keras "same": ceil(n / 2), one
    more for odd n). One row and column of zeros after the map gives those
    windows; zeros are what clipping leaves, since the pooled maps are ReLU
    outputs (non-negative).
    """
    if ceil_mode and strides > 1:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
        return layers.MaxPooling2D(3, strides=strides, padding="valid", name=name)(x)
    return layers.MaxPooling2D(3, strides=strides, padding="same", name=name)(x)


def inception_module(x, filters_1x1, filters_3x3_reduce, filters_3x3, filters_5x5_reduce,
                     filters_5x5, pool_proj, name, batch_norm=False):
    """Four parallel branches concatenated on the channel axis (Figure 2(b))."""
    bn = dict(batch_norm=batch_norm)
    branch_1x1 = conv_relu(x, filters_1x1, 1, f"{name}_1x1", **bn)
    branch_3x3 = conv_relu(x, filters_3x3_reduce, 1, f"{name}_3x3_reduce", **bn)
    branch_3x3 = conv_relu(branch_3x3, filters_3x3, 3, f"{name}_3x3", **bn)
    branch_5x5 = conv_relu(x, filters_5x5_reduce, 1, f"{name}_5x5_reduce", **bn)
    branch_5x5 = conv_relu(branch_5x5, filters_5x5, 5, f"{name}_5x5", **bn)
    branch_pool = max_pool(x, f"{name}_pool", strides=1)
    branch_pool = conv_relu(branch_pool, pool_proj, 1, f"{name}_pool_proj", **bn)
    return layers.Concatenate(axis=common.channel_axis(), name=f"{name}_output")(
        [branch_1x1, branch_3x3, branch_5x5, branch_pool]
    )


def auxiliary_classifier(x, name, *, dropout_rate, classes, classifier_activation,
                         batch_norm=False):
    """An auxiliary classifier, on 4a or 4d (section 5).

    5x5/3 average pooling, a 1x1 convolution of 128 maps, a fully connected
    layer of 1024 units, dropout, and a linear layer with softmax. The
    pooling is "valid" (14x14 -> 4x4, so the FC layer sees 4*4*128 = 2048
    values at 224x224); it also avoids Keras' torch backend, which pads
    uneven "same" average pooling by replicating edges.

    Not `common.classifier_head`: a training-time head of its own layers
    (`{name}_...`) that exists only with include_top=True.
    """
    x = layers.AveragePooling2D(5, strides=3, padding="valid", name=f"{name}_ave_pool")(x)
    x = conv_relu(x, 128, 1, f"{name}_conv", batch_norm=batch_norm)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(dropout_rate, name=f"{name}_drop_fc")(x)
    return layers.Dense(classes, activation=classifier_activation, name=f"{name}_predictions")(x)


def GoogLeNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    aux_logits=False,
    dropout_rate=0.4,
    aux_dropout_rate=0.7,
    lrn=True,
    padding="same",
    ceil_mode=False,
    batch_norm=False,
    name="googlenet",
):
    """GoogLeNet (Szegedy et al. 2015), Table 1.

    `aux_logits=True` (needs include_top=True) makes the model return
    `[predictions, aux1_predictions, aux2_predictions]`, the auxiliary
    classifiers on 4a and 4d used during training; their fully connected
    layer sees a flattened map, so its size (and the parameter count) follows
    the input size, and the input needs a known height and width of at least
    65. `lrn=False` drops the two response normalizations (which later work
    found to add little). The main classifier pools globally, so any input of
    at least 32x32 works with include_top=True.

    `padding="symmetric"` pads the strided conv1 by 3 on every side (Caffe,
    PyTorch) instead of keras "same" (2 before, 3 after); `ceil_mode=True`
    pools stride 2 in Caffe's ceil mode (the same sizes as "same" for even
    maps, one less for odd ones). Both are the BVLC Caffe GoogLeNet's
    arithmetic and that of its PyTorch port (crowsonkb/pytorch-caffe-models),
    which `weights="bvlc"` sets. That checkpoint is the deploy network,
    without the auxiliary classifiers: it does not load with `aux_logits=True`.

    `batch_norm=True` (the "Inception" baseline of Ioffe and Szegedy 2015 with
    batch normalization added; their BN-Inception also changes the modules, see
    `bn_inception`) puts batch normalization after every convolution, the
    auxiliary classifiers' included, before its ReLU, the convolutions then
    without bias (`conv1_7x7_s2`, `conv1_7x7_s2_bn`, `conv1_7x7_s2_relu`);
    response normalization stays as `lrn` says (`lrn=False` goes with it, as
    in the batch-normalized networks). No published checkpoint has that
    structure.
    """
    check_bool("aux_logits", aux_logits)
    check_bool("lrn", lrn)
    check_choice("padding", padding, PADDING_CHOICES)
    check_bool("ceil_mode", ceil_mode)
    check_bool("batch_norm", batch_norm)
    if batch_norm and pretrained.is_tag(weights, "googlenet"):
        raise ValueError(
            f"`weights={weights!r}`: no published GoogLeNet checkpoint has batch "
            "normalization; got batch_norm=True. Use weights=None or a weights file of this "
            "structure."
        )
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    check_range("aux_dropout_rate", aux_dropout_rate, 0, 1, high_inclusive=False)
    if aux_logits and include_top is not True:
        raise ValueError(
            "`aux_logits=True` adds auxiliary classifiers to the classifier and needs "
            f"include_top=True; got include_top={include_top!r}"
        )
    inputs, weights = common.prepare_inputs(
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=DEFAULT_SHAPE,
        min_shape=MIN_SHAPE_AUX if aux_logits else MIN_SHAPE,
        published_as="googlenet",
        weights_structure={"lrn": lrn, "padding": padding, "ceil_mode": ceil_mode},
    )
    if aux_logits:
        spatial = inputs.shape[1:3] if common.channel_axis() == -1 else inputs.shape[2:4]
        if any(d is None for d in spatial):
            raise ValueError(
                "`aux_logits=True` needs an `input_shape` with a known height and width "
                "(the auxiliary classifiers flatten a map into a fully connected layer); "
                f"got input shape {tuple(inputs.shape[1:])}"
            )

    bn = dict(batch_norm=batch_norm)
    x = conv_relu(inputs, 64, 7, "conv1_7x7_s2", strides=2, padding=padding, **bn)
    x = max_pool(x, "pool1_3x3_s2", ceil_mode=ceil_mode)
    if lrn:
        x = LocalResponseNormalization(**LRN_ARGS, name="pool1_norm1")(x)
    x = conv_relu(x, 64, 1, "conv2_3x3_reduce", **bn)
    x = conv_relu(x, 192, 3, "conv2_3x3", **bn)
    if lrn:
        x = LocalResponseNormalization(**LRN_ARGS, name="conv2_norm2")(x)
    x = max_pool(x, "pool2_3x3_s2", ceil_mode=ceil_mode)

    aux_args = dict(dropout_rate=aux_dropout_rate, classes=classes,
                    classifier_activation=classifier_activation, **bn)
    aux_outputs = []
    for module, filters in INCEPTION_MODULES.items():
        if module in ("4a", "5a"):
            # Caffe's pool3 ends stage 3 and pool4 stage 4.
            x = max_pool(x, f"pool{int(module[0]) - 1}_3x3_s2", ceil_mode=ceil_mode)
        x = inception_module(x, *filters, name=f"inception_{module}", **bn)
        if aux_logits and module == "4a":
            aux_outputs.append(auxiliary_classifier(x, "aux1", **aux_args))
        if aux_logits and module == "4d":
            aux_outputs.append(auxiliary_classifier(x, "aux2", **aux_args))

    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation,
                               dropout_rate=dropout_rate)
    outputs = [x, *aux_outputs] if aux_logits else x
    return common.finish_model(inputs, outputs, input_tensor=input_tensor, weights=weights,
                               name=name)


@register_model(
    family="googlenet",
    paper=PAPER,
    input_shape=DEFAULT_SHAPE,
    min_input_shape=MIN_SHAPE,
    params=6_998_552,
    # The paper subtracts the mean image and the BVLC Caffe model it was
    # released as subtracts the BGR ImageNet means from 0-255 pixels, without
    # scaling: keras.applications' "caffe" mode.
    preprocessing="caffe",
    aliases=("inception_v1",),
    aux_loss_weight=0.3,  # section 5: the auxiliary losses weighted by 0.3
    published_weights={
        # The BVLC model (https://github.com/BVLC/caffe/tree/master/models/bvlc_googlenet:
        # "released for unrestricted use"; 68.7% top-1 with the centre crop, its readme) as
        # crowsonkb/pytorch-caffe-models ports it (MIT); the hash is the sha256 prefix in
        # the file name, which torch.hub checks.
        "bvlc": pretrained.url_weights(
            "https://github.com/crowsonkb/pytorch-caffe-models/releases/download/models-2/"
            "bvlc_googlenet-1f25f8c8778a8802.pth",
            file_hash="1f25f8c8778a8802", convert=bvlc_googlenet, top1=68.7,
            licence="unrestricted (BVLC model zoo); PyTorch port MIT", source="BVLC",
            network="BVLC GoogLeNet",
            structure={"lrn": True, "padding": "symmetric", "ceil_mode": True},
            input_size=(224, 224), crop_fraction=224 / 256,
            # 0-255 BGR less the BGR means (the port's transform: 104, 117, 123).
            normalization=Normalization("caffe", 255.0, (104.0, 117.0, 123.0),
                                        (1.0, 1.0, 1.0), "BGR"),
        ),
    },
)
def googlenet(**kwargs):
    """GoogLeNet / Inception v1: nine inception modules, LRN, global average pooling."""
    return GoogLeNet(**kwargs)

