"""Network in Network.

Lin, Chen and Yan (2014), "Network In Network", ICLR.

Stacked "mlpconv" layers: each is a convolution followed by a two-layer
perceptron shared over positions, i.e. two 1x1 convolutions, all with ReLU.
No fully connected layers: the last mlpconv layer has one map per class, and
global average pooling turns the maps into the class scores (section 3.2).

`nin` is the authors' ImageNet model (released with the paper in the Caffe
model zoo: four mlpconv layers, 96-256-384-1024 maps, 7,595,176 parameters for
1000 classes); `nin_cifar10` is the CIFAR-10 network of section 4.2 (three
mlpconv layers of 192 maps, 966,986 parameters for 10 classes; 3x3/2 pooling
without padding, 32 -> 15 -> 7: "same"-padded average pooling with uneven
padding gives different numbers on the torch backend of Keras, which pads by
replicating edges).

The classifier convolution keeps the ReLU of the released models before the
global average pooling and the softmax.

The released ImageNet model pools in Caffe's ceil mode (224 -> 54 -> 27 -> 13
-> 6, where "valid" pooling gives 26, 12 and 5): `ceil_mode=True`, which its
published weights set (`weights="caffe"`, the PyTorch port
ProGamerGov/pytorch-nin).
"""

from __future__ import annotations

from keras import layers

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.models import common, pretrained
from kerasnets.registry import Normalization, Paper
from kerasnets.weights.caffe import caffe_nin

PAPER = Paper(
    "Lin, Chen, Yan",
    2014,
    "Network In Network",
    "https://arxiv.org/abs/1312.4400",
)

# Per mlpconv layer: (filters of the conv and the two 1x1 convs, kernel size,
# stride, pooling after it: (kind, size, stride, padding) or None, dropout after).
IMAGENET = [
    ((96, 96, 96), 11, 4, "valid", ("max", 3, 2, "valid"), False),
    ((256, 256, 256), 5, 1, "same", ("max", 3, 2, "valid"), False),
    ((384, 384, 384), 3, 1, "same", ("max", 3, 2, "valid"), True),
    ((1024, 1024, None), 3, 1, "same", None, False),
]
CIFAR10 = [
    ((192, 160, 96), 5, 1, "same", ("max", 3, 2, "valid"), True),
    ((192, 192, 192), 5, 1, "same", ("avg", 3, 2, "valid"), True),
    ((192, 192, None), 3, 1, "same", None, False),
]
CONFIGS = {"imagenet": IMAGENET, "cifar10": CIFAR10}
# Default and smallest input of each configuration.
SHAPES = {"imagenet": ((224, 224, 3), (67, 67, 3)), "cifar10": ((32, 32, 3), (8, 8, 3))}


def mlpconv(x, filters, kernel_size, strides, padding, name):
    """An mlpconv layer: a kxk convolution and two 1x1 convolutions, each with ReLU.

    `filters` is (conv, first 1x1, second 1x1); a None last entry stops after the
    first 1x1 convolution (the classifier convolution then follows).
    """
    conv_filters, mlp1, mlp2 = filters
    x = layers.Conv2D(conv_filters, kernel_size, strides=strides, padding=padding,
                      activation="relu", name=f"{name}_conv")(x)
    x = layers.Conv2D(mlp1, 1, activation="relu", name=f"{name}_mlp1")(x)
    if mlp2 is not None:
        x = layers.Conv2D(mlp2, 1, activation="relu", name=f"{name}_mlp2")(x)
    return x


def pool(x, kind, size, strides, padding, name, ceil_mode=False):
    """Max or average pooling; `ceil_mode=True` (max pooling) as Caffe pools.

    Caffe (and PyTorch's `ceil_mode=True`) keeps a last, partial window at the
    bottom and right edges: ceil((n - size) / stride) + 1 outputs where
    "valid" pooling gives floor(...) + 1. Zeros after the map give those
    windows; zeros are what clipping leaves, since the pooled maps are ReLU
    outputs (non-negative).
    """
    if ceil_mode:
        # For the 3x3/2 pooling of the ImageNet model: one row and column of
        # zeros give floor(n / 2) = ceil((n - 3) / 2) + 1 windows, none of them
        # starting in the padding.
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
    pool_layer = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
    return pool_layer(size, strides=strides, padding=padding, name=name)(x)


def NiN(
    config="imagenet",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    dropout_rate=0.5,
    ceil_mode=False,
    name="nin",
):
    """Network in Network: mlpconv layers, a per-class map, global average pooling.

    The classifier is the last 1x1 convolution (one map per class) and the
    global average pooling; include_top=False stops before that convolution.
    `ceil_mode=True` pools as Caffe does (partial windows at the bottom and
    right edges kept), as the released ImageNet model and its PyTorch port
    (ProGamerGov/pytorch-nin, `ceil_mode=True`) do; only for configurations
    that max-pool ("imagenet").
    """
    check_choice("config", config, tuple(CONFIGS))
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    check_bool("ceil_mode", ceil_mode)
    if ceil_mode and any(p is not None and p[:3] != ("max", 3, 2) for *_, p, _ in CONFIGS[config]):
        raise ValueError(
            f"`ceil_mode=True` pools as Caffe's max pooling does; configuration {config!r} "
            "average-pools too, whose partial windows Caffe divides otherwise: use "
            "ceil_mode=False"
        )
    default_shape, min_shape = SHAPES[config]
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
        published_as="nin" if config == "imagenet" else None,
        weights_structure={"ceil_mode": ceil_mode},
    )
    x = inputs
    for i, (filters, kernel_size, strides, padding, pooling_after, dropout) in enumerate(
        CONFIGS[config], start=1
    ):
        x = mlpconv(x, filters, kernel_size, strides, padding, name=f"block{i}")
        if pooling_after is not None:
            x = pool(x, *pooling_after, name=f"block{i}_pool", ceil_mode=ceil_mode)
        if dropout:
            x = layers.Dropout(dropout_rate, name=f"block{i}_dropout")(x)

    def convolutional_classifier(x):
        # The last mlpconv layer has one map per class, averaged over the image (section 3.2).
        last = len(CONFIGS[config])
        x = layers.Conv2D(classes, 1, activation="relu", name=f"block{last}_mlp2")(x)
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return layers.Activation(classifier_activation, name="predictions")(x)

    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation,
                               top=convolutional_classifier)
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


register = common.registration(family="nin", paper=PAPER)


@register(
    input_shape=SHAPES["imagenet"][0],
    min_input_shape=SHAPES["imagenet"][1],
    params=7_595_176,
    # The authors' ImageNet model was trained with AlexNet's recipe.
    augmentation="alexnet",
    published_weights={
        # The Caffe model zoo's NIN-ImageNet (https://gist.github.com/mavenlin/
        # d802a5849de39225bcc6: "license: BSD", top-1 59.36% on the validation set, centre
        # 224 crops of 256 images) as ProGamerGov/pytorch-nin ports it (no licence stated).
        "caffe": pretrained.url_weights(
            "https://raw.githubusercontent.com/ProGamerGov/pytorch-nin/master/nin_imagenet.pth",
            convert=caffe_nin, top1=59.36, licence="BSD (Caffe model zoo)",
            source="Caffe model zoo",
            network="NIN-ImageNet", structure={"ceil_mode": True},
            input_size=(224, 224), crop_fraction=224 / 256,
            # Trained on 0-255 BGR less the ImageNet mean image, whose channel means are
            # about (104, 117, 123).
            normalization=Normalization("caffe", 255.0, (104.0, 117.0, 123.0),
                                        (1.0, 1.0, 1.0), "BGR"),
        ),
    },
)
def nin(**kwargs):
    """Network in Network for ImageNet (the authors' released model)."""
    return NiN("imagenet", **kwargs)


@register(
    input_shape=SHAPES["cifar10"][0],
    min_input_shape=SHAPES["cifar10"][1],
    params=966_986,
    num_classes=10,
)
def nin_cifar10(**kwargs):
    """Network in Network for CIFAR-10 (section 4.2 of the paper)."""
    return NiN("cifar10", **{"name": "nin_cifar10", "classes": 10, **kwargs})
