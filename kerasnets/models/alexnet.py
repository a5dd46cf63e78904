"""AlexNet.

Krizhevsky, Sutskever and Hinton (2012), "ImageNet Classification with Deep
Convolutional Neural Networks", NIPS, section 3 and Figure 2.

Five convolutional and three fully connected layers on 227x227 input (the
paper says 224, but 11x11/4 convolution without padding needs 227 to give its
55x55 maps). The network is split over two GPUs ("towers"): conv2, conv4 and
conv5 see only the maps of their own tower, which is a grouped convolution
with two groups; conv3 and the fully connected layers see both. ReLU after
every layer, local response normalization (k=2, n=5, alpha=1e-4, beta=0.75)
after conv1 and conv2, overlapping 3x3/2 max pooling after both
normalizations and after conv5, dropout 0.5 on fc6 and fc7.
60,965,224 parameters for 1000 classes.

`lrn_convention="caffe"` normalizes as the BVLC Caffe model does (Caffe's
LRN layer, deploy.prototxt of BVLC/caffe models/bvlc_alexnet: local_size 5,
alpha 1e-4 divided by the window size, k=1), which its published weights
need (`weights="bvlc"`, read from the original .caffemodel). The rest of the
BVLC network is the paper's: the same layers, towers as groups of 2, ReLU
before each normalization and pooling after it; its ceil-mode pooling divides
exactly at 227x227.

Order of normalization and pooling: the paper's (section 3.5: "Response-
normalization layers follow the first and second convolutional layers.
Max-pooling layers ... follow both response-normalization layers"), which
this builder follows: conv, ReLU, LRN, then max pooling. Caffe's reference
CaffeNet (BVLC/caffe models/bvlc_reference_caffenet, and summaries drawn
from it) pools first and normalizes the pooled maps; that order is not built
here.
"""

from __future__ import annotations

from keras import layers

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.layers import BatchNormalization, LocalResponseNormalization, conv2d
from kerasnets.models import common
from kerasnets.models import pretrained
from kerasnets.registry import Normalization, Paper
from kerasnets.weights.alexnet import bvlc_alexnet

PAPER = Paper(
    "Krizhevsky, Sutskever, Hinton",
    2012,
    "ImageNet Classification with Deep Convolutional Neural Networks",
    "https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks",
)

DEFAULT_SHAPE = (227, 227, 3)
MIN_SHAPE = (67, 67, 3)  # the smallest input whose pool5 map is not empty

# The paper's normalization constants (section 3.3).
LRN_ARGS = dict(k=2.0, n=5, alpha=1e-4, beta=0.75)
# The same layer with Caffe's constants (BVLC deploy.prototxt: local_size 5,
# alpha 1e-4, beta 0.75, k 1): Caffe multiplies the *mean* of the window's
# squares by alpha, so alpha per sum is 1e-4 / 5.
CAFFE_LRN_ARGS = dict(k=1.0, n=5, alpha=1e-4 / 5, beta=0.75)
LRN_CONVENTIONS = {"paper": LRN_ARGS, "caffe": CAFFE_LRN_ARGS}


def conv_layer(x, filters, kernel_size, name, strides=1, padding="same", groups=1,
               batch_norm=False):
    """A convolution with ReLU; `groups=2` keeps each tower's maps apart.

    With `batch_norm`, the convolution has no bias and batch normalization
    (`{name}_bn`, whose beta takes the bias's place) comes before the ReLU
    (`{name}_relu`).
    """
    if not batch_norm:
        return conv2d(
            filters, kernel_size, strides=strides, padding=padding, groups=groups,
            activation="relu", name=name,
        )(x)
    x = conv2d(filters, kernel_size, strides=strides, padding=padding, groups=groups,
               use_bias=False, name=name)(x)
    x = BatchNormalization(axis=common.channel_axis(), name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def overlapping_pool(x, name):
    """3x3 max pooling with stride 2: neighbouring windows overlap (section 3.4)."""
    return layers.MaxPooling2D(3, strides=2, name=name)(x)


def AlexNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    towers=2,
    lrn=True,
    dropout_rate=0.5,
    fully_convolutional=False,
    lrn_convention="paper",
    batch_norm=False,
    name="alexnet",
):
    """AlexNet (Krizhevsky et al. 2012).

    `towers=2` (the paper) groups conv2, conv4 and conv5 in two; `towers=1` is
    one full-width tower (62,378,344 parameters). `lrn=False` drops the
    response normalization: `towers=1, lrn=False` is the common single-GPU
    form. `fully_convolutional=True` gives fc6/fc7/fc8 as 6x6 and 1x1
    convolutions for dense evaluation at any input size (see
    `kerasnets.models.fully_convolutional`).
    `lrn_convention`: "paper" (k=2, alpha 1e-4 times the window's sum of
    squares, section 3.3) or "caffe" (the BVLC Caffe model's: k=1, alpha 1e-4
    times their mean, as `torch.nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0)`),
    which `weights="bvlc"` needs (the BVLC model zoo's AlexNet).

    `batch_norm=True` (for Ioffe and Szegedy's comparison, 2015) puts batch
    normalization after each of the five convolutions, before its ReLU, the
    convolutions then without bias (`conv1`, `conv1_bn`, `conv1_relu`); the
    fully connected layers have none, as in torchvision's `vgg*_bn`. Response
    normalization stays as `lrn` says: the batch-normalized networks drop it,
    so `lrn=False` goes with it. No published checkpoint has that structure.
    """
    check_choice("towers", towers, (1, 2))
    check_bool("lrn", lrn)
    check_bool("batch_norm", batch_norm)
    if batch_norm and pretrained.is_tag(weights, "alexnet"):
        raise ValueError(
            f"`weights={weights!r}`: no published AlexNet checkpoint has batch normalization; "
            "got batch_norm=True. Use weights=None or a weights file of this structure."
        )
    check_choice("lrn_convention", lrn_convention, tuple(LRN_CONVENTIONS))
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    if fully_convolutional:
        return common.fully_convolutional_variant(
            AlexNet, locals(), default_shape=DEFAULT_SHAPE
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
        min_shape=MIN_SHAPE,
        fixed_input=True,
        published_as="alexnet",
        weights_structure={"towers": towers, "lrn": lrn, "lrn_convention": lrn_convention},
    )
    lrn_args = LRN_CONVENTIONS[lrn_convention]
    bn = dict(batch_norm=batch_norm)
    x = conv_layer(inputs, 96, 11, "conv1", strides=4, padding="valid", **bn)
    if lrn:
        x = LocalResponseNormalization(**lrn_args, name="norm1")(x)
    x = overlapping_pool(x, "pool1")
    x = conv_layer(x, 256, 5, "conv2", groups=towers, **bn)
    if lrn:
        x = LocalResponseNormalization(**lrn_args, name="norm2")(x)
    x = overlapping_pool(x, "pool2")
    x = conv_layer(x, 384, 3, "conv3", **bn)
    x = conv_layer(x, 384, 3, "conv4", groups=towers, **bn)
    x = conv_layer(x, 256, 3, "conv5", groups=towers, **bn)
    x = overlapping_pool(x, "pool5")

    def fully_connected(x):
        return common.fully_connected_classifier(
            x, (4096, 4096), ("fc6", "fc7"), dropout_rate=dropout_rate, classes=classes,
            classifier_activation=classifier_activation,
        )

    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation, top=fully_connected)
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


# What both variants' registry entries say.
register = common.registration(
    family="alexnet",
    paper=PAPER,
    input_shape=DEFAULT_SHAPE,
    min_input_shape=MIN_SHAPE,
    fixed_input=True,
    augmentation="alexnet",
    crop_fraction=227 / 256,  # 227 x 227 crops of 256 x 256 images (section 4.1)
)


@register(
    params=60_965_224,
    published_weights={
        # The BVLC model zoo's AlexNet (https://github.com/BVLC/caffe/tree/master/models/
        # bvlc_alexnet: "released for unrestricted use"; its readme: 57.1% top-1, 80.2%
        # top-5, single centre crop), read from the original .caffemodel (no Caffe needed),
        # checked against the sha1 the readme publishes.
        "bvlc": pretrained.url_weights(
            "http://dl.caffe.berkeleyvision.org/bvlc_alexnet.caffemodel",
            file_hash="9116a64c0fbe4459d18f4bb6b56d647b63920377",
            convert=bvlc_alexnet, top1=57.1, licence="unrestricted (BVLC model zoo)",
            source="BVLC", network="BVLC AlexNet",
            structure={"towers": 2, "lrn": True, "lrn_convention": "caffe"},
            input_size=(227, 227), crop_fraction=227 / 256,
            # 0-255 BGR less the BGR pixel means (the model zoo's users' stand-in for
            # the mean image the model was trained with).
            normalization=Normalization("caffe", 255.0, (104.0, 117.0, 123.0),
                                        (1.0, 1.0, 1.0), "BGR"),
        ),
    },
)
def alexnet(**kwargs):
    """AlexNet: two towers, LRN, overlapping pooling, dropout (the paper's network)."""
    return AlexNet(**kwargs)


@register(params=62_378_344, towers=1, lrn=False)
def alexnet_one_tower(**kwargs):
    """AlexNet as one full-width tower without LRN (the common single-GPU form)."""
    return AlexNet(**{"name": "alexnet_one_tower", **kwargs})
