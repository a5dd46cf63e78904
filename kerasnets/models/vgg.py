"""VGG: the ConvNet configurations A to E.

Simonyan and Zisserman (2015), "Very Deep Convolutional Networks for
Large-Scale Image Recognition", ICLR, Table 1.

Five blocks of 3x3 convolutions (stride 1, padding 1) with ReLU, each closed by
2x2/2 max pooling; then FC-4096, FC-4096 (dropout 0.5 on both) and FC-1000.
A-LRN adds local response normalization after the first convolution;
configuration C has a 1x1 convolution as the last layer of blocks 3 to 5.
Layer names and weight order follow keras.applications VGG16/VGG19
(`block1_conv1`, ..., `fc1`, `fc2`, `predictions`), so their weight files load
into `vgg16` and `vgg19`. keras.applications leaves out the dropout layers;
they carry no weights, so the weight order is the same.

torchvision's VGG (`weights="tv_in1k"`, from timm's copy on the Hugging Face hub)
has this very structure: 3x3 convolutions padded by 1, 2x2/2 pooling, the three
fully connected layers; it needs no structure option, only its own input
normalization (RGB, ImageNet mean and std).

`batch_norm=True` adds batch normalization (Ioffe and Szegedy 2015) after every
convolution, before its ReLU, as torchvision's `vgg*_bn` do; the fully connected
layers have none. `initialize_from` starts a deeper configuration from a
trained configuration A, as section 3.1 of the paper does.
"""

from __future__ import annotations

from keras import layers

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.layers import BatchNormalization, LocalResponseNormalization
from kerasnets.models import common, pretrained
from kerasnets.registry import Paper, normalization
from kerasnets.weights.vgg import timm_vgg

PAPER = Paper(
    "Simonyan, Zisserman",
    2015,
    "Very Deep Convolutional Networks for Large-Scale Image Recognition",
    "https://arxiv.org/abs/1409.1556",
)

# Table 1: per block, the convolutions as (filters, kernel size).
CONFIGS = {
    "A": [[(64, 3)], [(128, 3)], [(256, 3)] * 2, [(512, 3)] * 2, [(512, 3)] * 2],
    "B": [[(64, 3)] * 2, [(128, 3)] * 2, [(256, 3)] * 2, [(512, 3)] * 2, [(512, 3)] * 2],
    "C": [
        [(64, 3)] * 2,
        [(128, 3)] * 2,
        [(256, 3), (256, 3), (256, 1)],
        [(512, 3), (512, 3), (512, 1)],
        [(512, 3), (512, 3), (512, 1)],
    ],
    "D": [[(64, 3)] * 2, [(128, 3)] * 2, [(256, 3)] * 3, [(512, 3)] * 3, [(512, 3)] * 3],
    "E": [[(64, 3)] * 2, [(128, 3)] * 2, [(256, 3)] * 4, [(512, 3)] * 4, [(512, 3)] * 4],
}
CONFIGS["A-LRN"] = CONFIGS["A"]
# The registered name of each configuration (D and E are keras.applications'
# VGG16 and VGG19, whose ImageNet weights are published).
NAMES = {"A": "vgg11", "A-LRN": "vgg11_lrn", "B": "vgg13", "C": "vgg16_conv1", "D": "vgg16",
         "E": "vgg19"}

DEFAULT_SHAPE = (224, 224, 3)
# Five 2x2/2 poolings: 32 leaves a 1x1 map (without the fully connected classifier).
MIN_SHAPE = (32, 32, 3)

# A-LRN uses AlexNet's normalization (section 2.2: "the LRN layer parameters
# are those of (Krizhevsky et al., 2012)").
LRN_ARGS = dict(k=2.0, n=5, alpha=1e-4, beta=0.75)


def conv_block(x, convolutions, block, lrn=False, batch_norm=False):
    """One block of Table 1: 3x3 (or 1x1) convolutions with ReLU, then 2x2/2 max pooling.

    With `batch_norm`, each convolution has no bias and is followed by batch
    normalization (`{conv}_bn`, whose beta takes the bias's place) and then its
    ReLU (`{conv}_relu`).
    """
    for i, (filters, kernel_size) in enumerate(convolutions, start=1):
        name = f"block{block}_conv{i}"
        if batch_norm:
            x = layers.Conv2D(filters, kernel_size, padding="same", use_bias=False,
                              name=name)(x)
            x = BatchNormalization(axis=common.channel_axis(), name=f"{name}_bn")(x)
            x = layers.Activation("relu", name=f"{name}_relu")(x)
        else:
            x = layers.Conv2D(filters, kernel_size, padding="same", activation="relu",
                              name=name)(x)
        if lrn and i == 1:
            x = LocalResponseNormalization(**LRN_ARGS, name=f"block{block}_lrn")(x)
    return layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)


def VGG(
    config,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    dropout_rate=0.5,
    fully_convolutional=False,
    batch_norm=False,
    published_as=None,
    name="vgg",
):
    """A VGG ConvNet of Table 1, `config` in "A", "A-LRN", "B", "C", "D", "E".

    `fully_convolutional=True` gives fc6/fc7/fc8 as 7x7 and 1x1 convolutions
    for the paper's dense evaluation at any input size of at least 224.
    `published_as` is the registered network being built (None: that of
    `config`, see NAMES); configurations D and E (`vgg16`, `vgg19`) take
    `weights="imagenet"`: keras.applications' VGG16/VGG19 files, whose weight
    order ours keeps (Caffe preprocessing).

    `batch_norm=True`: batch normalization after every convolution, before its
    ReLU, the convolutions without bias (`block1_conv1`, `block1_conv1_bn`,
    `block1_conv1_relu`); none on the fully connected layers, as in
    torchvision's `vgg*_bn` (which keep a redundant bias in their
    convolutions: their weights would need it). No published checkpoint has
    that structure: `weights` then takes only a file.
    """
    check_choice("config", config, tuple(CONFIGS))
    check_range("dropout_rate", dropout_rate, 0, 1, high_inclusive=False)
    check_bool("batch_norm", batch_norm)
    if published_as is None:
        published_as = NAMES[config]
    if batch_norm and pretrained.is_tag(weights, published_as):
        raise ValueError(
            f"`weights={weights!r}`: no published {published_as} checkpoint has batch "
            "normalization; got batch_norm=True. Use weights=None or a weights file of this "
            "structure."
        )
    if fully_convolutional:
        return common.fully_convolutional_variant(
            VGG, locals(), default_shape=DEFAULT_SHAPE
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
        published_as=published_as,
    )
    x = inputs
    for block, convolutions in enumerate(CONFIGS[config], start=1):
        x = conv_block(x, convolutions, block, lrn=config == "A-LRN" and block == 1,
                       batch_norm=batch_norm)

    def fully_connected(x):
        return common.fully_connected_classifier(
            x, (4096, 4096), ("fc1", "fc2"), dropout_rate=dropout_rate, classes=classes,
            classifier_activation=classifier_activation,
        )

    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation, top=fully_connected)
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


# Section 3.1: "we initialised the first four convolutional layers and the last three
# fully-connected layers with the layers of net A". A's first four convolutions are
# conv1_1, conv2_1, conv3_1 and conv3_2 in the Caffe names of the released models: the
# deeper nets' layers of the same names have the same shapes (B's second convolution,
# 64 -> 64, is not A's, 64 -> 128), so the layers are matched by name, not by position.
A_CONVOLUTIONS = ("block1_conv1", "block2_conv1", "block3_conv1", "block3_conv2")
FULLY_CONNECTED = ("fc1", "fc2", "predictions")


def initialize_from(trained_a, deeper):
    """Copies a trained configuration A's first four convolutions and its fully connected
    layers into `deeper` (Simonyan and Zisserman 2015, section 3.1); returns their names.

    `trained_a` is a VGG configuration A model (`vgg11` or `vgg11_lrn`), `deeper` a
    VGG of configuration B to E built alike; the convolutions `block1_conv1`,
    `block2_conv1`, `block3_conv1`, `block3_conv2` (with their `_bn` layers when both
    models have batch normalization) and `fc1`, `fc2`, `predictions` are copied into
    the layers of the same names, which must have the same weight shapes (the same
    `classes` and input size). The other layers keep their initialisation ("the
    intermediate layers were initialised randomly"). Models without the classifier
    (include_top=False) share only the convolutions.
    """
    convolutions = [layer.name for layer in trained_a.layers
                    if isinstance(layer, layers.Conv2D)][:len(A_CONVOLUTIONS)]
    if tuple(convolutions) != A_CONVOLUTIONS:
        raise ValueError(
            f"`trained_a` must be a VGG configuration A (vgg11), whose first convolutions "
            f"are {', '.join(A_CONVOLUTIONS)}; got {trained_a.name!r} with "
            f"{', '.join(convolutions) or 'no convolutions'}"
        )
    names = [*A_CONVOLUTIONS]
    names += [f"{conv}_bn" for conv in A_CONVOLUTIONS
              if _has_layer(trained_a, f"{conv}_bn") and _has_layer(deeper, f"{conv}_bn")]
    names += [name for name in FULLY_CONNECTED if _has_layer(trained_a, name)]
    names += [name for name in FULLY_CONNECTED
              if _has_layer(deeper, name) and name not in names]
    order = {layer.name: i for i, layer in enumerate(deeper.layers)}
    names.sort(key=lambda name: order.get(name, -1))
    for name in names:
        for model, which in ((trained_a, "`trained_a`"), (deeper, "`deeper`")):
            if not _has_layer(model, name):
                raise ValueError(
                    f"layer {name!r} is in one model but not in {which} ({model.name!r}): "
                    "build both with the same include_top (the fully connected layers)"
                )
        source = [tuple(w.shape) for w in trained_a.get_layer(name).weights]
        target = [tuple(w.shape) for w in deeper.get_layer(name).weights]
        if source != target:
            raise ValueError(
                f"layer {name!r} of {deeper.name!r} has weight shapes {target}, those of "
                f"{trained_a.name!r} are {source}: build the deeper network with the same "
                "classes, input size and batch_norm as net A"
            )
    for name in names:
        deeper.get_layer(name).set_weights(trained_a.get_layer(name).get_weights())
    return names


def _has_layer(model, name):
    return any(layer.name == name for layer in model.layers)


def torchvision_weights(name, top1):
    """The `tv_in1k` tag: torchvision's `name` weights as timm hosts them (`timm/{name}.tv_in1k`).

    `top1`: torchvision's published acc@1 (the weights tables of
    https://pytorch.org/vision/stable/models.html, `VGG11_Weights.IMAGENET1K_V1`, ...).
    """
    return pretrained.hub_weights(
        f"timm/{name}.tv_in1k", convert=timm_vgg, top1=top1, licence="BSD-3-Clause",
        source="torchvision", input_size=(224, 224), crop_fraction=0.875,
        normalization=normalization("torch"),
    )


register = common.registration(family="vgg", paper=PAPER, input_shape=DEFAULT_SHAPE,
                               min_input_shape=MIN_SHAPE, fixed_input=True, augmentation="vgg")


def _register(config, params, doc, published_weights=None):
    """Registers the network of `config` under its name in NAMES."""
    name = NAMES[config]

    def builder(**kwargs):
        return VGG(config, **{"name": name, **kwargs})

    builder.__doc__ = doc
    builder.__name__ = name
    return register(name, params=params, published_weights=published_weights)(builder)


vgg11 = _register("A", 132_863_336, "VGG configuration A: 11 weight layers.",
                  {"tv_in1k": torchvision_weights("vgg11", 69.020)})
vgg11_lrn = _register("A-LRN", 132_863_336, "VGG configuration A-LRN: A with LRN.")
vgg13 = _register("B", 133_047_848, "VGG configuration B: 13 weight layers.",
                  {"tv_in1k": torchvision_weights("vgg13", 69.928)})
vgg16_conv1 = _register("C", 133_638_952, "VGG configuration C: 16 layers, with 1x1 convolutions.")
vgg16 = _register("D", 138_357_544, "VGG configuration D (VGG16): 16 weight layers.",
                  {**pretrained.tf_kernels("vgg16", "vgg16", "64373286793e3c8b2b4e3219cbf3544b",
                                           "6d6bbae143d832006294945121d1f1fc"),
                   "tv_in1k": torchvision_weights("vgg16", 71.592)})
vgg19 = _register("E", 143_667_240, "VGG configuration E (VGG19): 19 weight layers.",
                  {**pretrained.tf_kernels("vgg19", "vgg19", "cbe5617147190e668d6c5d5026f83318",
                                           "253f8cb515780f3b799900260a226db6"),
                   "tv_in1k": torchvision_weights("vgg19", 72.376)})
