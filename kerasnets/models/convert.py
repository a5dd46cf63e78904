"""Turning a network's fully connected classifier into convolutions (dense evaluation).

Sermanet et al. (2014), "OverFeat", and Simonyan and Zisserman (2015), "Very
Deep Convolutional Networks for Large-Scale Image Recognition", section 3.2:
"the fully-connected layers are first converted to convolutional layers (the
first FC layer to a 7x7 conv. layer, the last two FC layers to 1x1 conv.
layers). The resulting fully-convolutional net is then applied to the whole
(uncropped) image. The result is a class score map ... spatially averaged."
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

__all__ = ["fully_convolutional"]


def _chain(model):
    """The layers of `model` in order, checking that each feeds the next and nothing else."""
    chain = list(model.layers)
    if not chain or not isinstance(chain[0], layers.InputLayer):
        raise ValueError(f"model {model.name!r} does not start with an Input layer")
    for previous, layer in zip(chain, chain[1:]):
        if isinstance(layer, keras.Model) or len(layer._inbound_nodes) != 1:
            raise ValueError(
                f"fully_convolutional needs a plain chain of layers (AlexNet, VGG, LeNet-5 "
                f"style); layer {layer.name!r} of {model.name!r} is nested or shared"
            )
        node = layer._inbound_nodes[0]
        sources = [t._keras_history.operation for t in node.input_tensors]
        if sources != [previous]:
            raise ValueError(
                f"fully_convolutional needs a plain chain of layers (AlexNet, VGG, LeNet-5 "
                f"style); layer {layer.name!r} of {model.name!r} does not take its input "
                f"from {previous.name!r} alone"
            )
    return chain


def _clone(layer):
    copy = layer.__class__.from_config(layer.get_config())
    return copy


def fully_convolutional(model, spatial_average=True, input_shape=None, name=None):
    """The fully convolutional form of a Flatten + Dense classifier network.

    The first Dense layer after the Flatten becomes an h x w convolution
    (h x w being the flattened map's size: 7x7 for VGG, 6x6 for AlexNet), the
    following Dense layers 1x1 convolutions, all carrying the original
    weights. Every other layer is copied with its weights. The new model takes
    images of any size at least as large as the original input; it returns the
    class score map (`spatial_average=False`) or its spatial average
    (`spatial_average=True`, the default), the classifier activation being
    applied at each position before averaging. At the original input size the
    map is 1x1 and the output equals the original model's.
    """
    chain = _chain(model)
    data_format = keras.config.image_data_format()
    original = tuple(model.input_shape[1:])
    if len(original) != 3:
        raise ValueError(f"model {model.name!r} does not take images; input {model.input_shape}")
    if data_format == "channels_last":
        channels, spatial = original[2], original[:2]
    else:
        channels, spatial = original[0], original[1:]
    if input_shape is None:
        input_shape = (None, None, channels) if data_format == "channels_last" else (channels, None, None)
    input_shape = tuple(input_shape)
    new_spatial = input_shape[:2] if data_format == "channels_last" else input_shape[1:]
    for size, least in zip(new_spatial, spatial):
        if size is not None and least is not None and size < least:
            raise ValueError(
                f"`input_shape` {input_shape} is smaller than the network's input "
                f"{original}: the converted classifier needs at least that size"
            )

    inputs = layers.Input(shape=input_shape, name=chain[0].name)
    x = inputs
    flattened = None  # (h, w, c) of the map the first Dense layer saw
    converted = 0
    pending = []  # (new layer, weights) to set once built
    for layer in chain[1:]:
        if isinstance(layer, layers.Flatten):
            shape = tuple(layer.input.shape[1:])
            if any(d is None for d in shape) or len(shape) != 3:
                raise ValueError(f"the Flatten layer {layer.name!r} sees a map of unknown size")
            flattened = shape if data_format == "channels_last" else (shape[1], shape[2], shape[0])
            continue
        if flattened is not None and isinstance(layer, layers.Dense):
            kernel_size = flattened[:2] if converted == 0 else (1, 1)
            conv = layers.Conv2D(
                layer.units,
                kernel_size,
                activation=layer.activation,
                use_bias=layer.use_bias,
                dtype=layer.dtype_policy,
                name=layer.name,
            )
            x = conv(x)
            weights = layer.get_weights()
            kernel = weights[0]
            if converted == 0:
                h, w, c = flattened
                if data_format == "channels_last":
                    kernel = kernel.reshape(h, w, c, layer.units)
                else:
                    kernel = kernel.reshape(c, h, w, layer.units).transpose(1, 2, 0, 3)
            else:
                kernel = kernel.reshape(1, 1, *kernel.shape)
            pending.append((conv, [kernel, *weights[1:]]))
            converted += 1
            continue
        if flattened is not None and not isinstance(layer, (layers.Dropout, layers.Activation)):
            raise ValueError(
                f"fully_convolutional converts Dense, Dropout and Activation layers after the "
                f"Flatten; {layer.name!r} is a {type(layer).__name__}"
            )
        copy = _clone(layer)
        x = copy(x)
        pending.append((copy, layer.get_weights()))
    if flattened is None or converted == 0:
        raise ValueError(
            f"model {model.name!r} has no Flatten + Dense classifier to convert "
            "(build it with include_top=True)"
        )
    for new_layer, weights in pending:
        if weights:
            new_layer.set_weights([np.asarray(w) for w in weights])
    if spatial_average:
        x = layers.GlobalAveragePooling2D(name="spatial_average")(x)
    return keras.Model(inputs, x, name=name or f"{model.name}_fully_convolutional")
