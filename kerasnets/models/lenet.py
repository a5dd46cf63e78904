"""LeNet-5.

LeCun, Bottou, Bengio and Haffner (1998), "Gradient-based learning applied to
document recognition", Proc. IEEE 86(11), section II.B and Fig. 2.

C1 (6 maps, 5x5) - S2 (2x2 subsampling) - C3 (16 maps, 5x5) - S4 - C5 (120
maps, 5x5) - F6 (84 units) - output. Per-layer parameters with full C3
connectivity: 156, 2,416, 48,120, 10,164, 850, 61,706 in all for 10 classes.

Deliberate deviations of the default ("modern") variant, each switchable:
the output is a softmax layer instead of the paper's Euclidean RBF units; C3
connects every S2 map (`c3_connectivity="paper"` gives Table I, which connects
each C3 map to 3, 4 or 6 of them, 1,516 parameters, to break symmetry); S2/S4 are plain average
pooling rather than the paper's trainable subsampling (`pooling="subsampling"`
gives the paper's: sum of 2x2, times a trainable coefficient, plus a trainable
bias, through the activation).
"""

from __future__ import annotations

import keras
from keras import layers

from kerasnets.checks import check_choice
from kerasnets.checks import standardize_data_format
from kerasnets.models import common
from kerasnets.registry import Paper

PAPER = Paper(
    "LeCun, Bottou, Bengio, Haffner",
    1998,
    "Gradient-based learning applied to document recognition",
    "http://yann.lecun.com/exdb/publis/pdf/lecun-01a.pdf",
)

# The paper's 32x32 gray-scale input (section II.B); F6, fully connected on C5, fixes it.
INPUT_SHAPE = (32, 32, 1)
ACTIVATIONS = ("tanh", "scaled_tanh", "sigmoid", "relu")
POOLINGS = ("avg", "max", "subsampling")
C3_CONNECTIVITIES = ("full", "paper")

# Table I: the S2 maps each C3 map is connected to. Six maps see three
# contiguous S2 maps, six see four contiguous ones, three see four
# discontinuous ones, and the last sees all six.
C3_TABLE = (
    *(tuple(sorted((i + d) % 6 for d in range(3))) for i in range(6)),
    *(tuple(sorted((i + d) % 6 for d in range(4))) for i in range(6)),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


@keras.saving.register_keras_serializable(package="kerasnets")
def scaled_tanh(x):
    """The paper's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (Appendix A)."""
    return 1.7159 * keras.ops.tanh(x * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package="kerasnets")
class TrainableSubsampling(layers.Layer):
    """LeNet-5's S-layer: each 2x2 sum times a trainable coefficient plus a bias, per map.

    LeCun et al. (1998), section II.B: "The four inputs to a unit in S2 are added,
    then multiplied by a trainable coefficient, and added to a trainable bias."
    Two parameters per feature map (12 for S2, 32 for S4). The activation is
    applied by the caller.
    """

    def __init__(self, pool_size=2, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.data_format = standardize_data_format(data_format)

    def build(self, input_shape):
        axis = -1 if self.data_format == "channels_last" else 1
        channels = input_shape[axis]
        shape = (channels,) if axis == -1 else (channels, 1, 1)
        self.coefficient = self.add_weight(shape=shape, initializer="ones", name="coefficient")
        self.bias = self.add_weight(shape=shape, initializer="zeros", name="bias")

    def call(self, inputs):
        window = (self.pool_size, self.pool_size)
        mean = keras.ops.average_pool(
            inputs, window, strides=window, padding="valid", data_format=self.data_format
        )
        return mean * (self.pool_size**2) * self.coefficient + self.bias

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        spatial = (1, 2) if self.data_format == "channels_last" else (2, 3)
        for i in spatial:
            if shape[i] is not None:
                shape[i] //= self.pool_size
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, data_format=self.data_format)
        return config


@keras.saving.register_keras_serializable(package="kerasnets")
class PartiallyConnectedConv2D(layers.Layer):
    """A convolution whose output maps each see only some input maps (LeNet-5's C3).

    LeCun et al. (1998), section II.B and Table I: "Why not connect every S2
    feature map to every C3 feature map? ... keeps the number of connections
    within reasonable bounds [and] forces a break of symmetry in the network."
    `connections[j]` lists the input maps of output map j. Each output map has
    its own kxk kernel over its inputs and a bias: 1,516 parameters for C3.
    Valid padding, stride 1.
    """

    def __init__(self, connections, kernel_size=5, activation=None, data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.connections = tuple(tuple(int(i) for i in maps) for maps in connections)
        if not self.connections or any(not maps for maps in self.connections):
            raise ValueError(
                f"`connections` must list at least one input map per output map; got {connections!r}"
            )
        self.kernel_size = int(kernel_size)
        self.activation = keras.activations.get(activation)
        self.data_format = standardize_data_format(data_format)

    def build(self, input_shape):
        axis = -1 if self.data_format == "channels_last" else 1
        channels = input_shape[axis]
        used = max(max(maps) for maps in self.connections)
        if channels is None or used >= channels:
            raise ValueError(
                f"`connections` refer to input map {used}, but the input has {channels} maps"
            )
        k = self.kernel_size
        self.kernels = [
            self.add_weight(shape=(k, k, len(maps), 1), initializer="glorot_uniform",
                            name=f"kernel_{j}")
            for j, maps in enumerate(self.connections)
        ]
        self.biases = [
            self.add_weight(shape=(1,), initializer="zeros", name=f"bias_{j}")
            for j in range(len(self.connections))
        ]

    def call(self, inputs):
        axis = -1 if self.data_format == "channels_last" else 1
        bias_shape = (1,) if axis == -1 else (1, 1, 1)
        maps = []
        for j, sources in enumerate(self.connections):
            x = keras.ops.take(inputs, sources, axis=axis)
            x = keras.ops.conv(x, self.kernels[j], padding="valid", data_format=self.data_format)
            maps.append(x + keras.ops.reshape(self.biases[j], bias_shape))
        return self.activation(keras.ops.concatenate(maps, axis=axis))

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        spatial, channel = ((1, 2), 3) if self.data_format == "channels_last" else ((2, 3), 1)
        for i in spatial:
            if shape[i] is not None:
                shape[i] -= self.kernel_size - 1
        shape[channel] = len(self.connections)
        return tuple(shape)

    def multiply_adds(self, input_shape, output_shape):
        spatial = output_shape[1:3] if self.data_format == "channels_last" else output_shape[2:]
        inputs_seen = sum(len(maps) for maps in self.connections)
        return spatial[0] * spatial[1] * self.kernel_size**2 * inputs_seen

    def get_config(self):
        config = super().get_config()
        config.update(
            connections=[list(maps) for maps in self.connections],
            kernel_size=self.kernel_size,
            activation=keras.activations.serialize(self.activation),
            data_format=self.data_format,
        )
        return config


def _activation(name):
    return scaled_tanh if name == "scaled_tanh" else name


def subsampling_layer(x, pooling, activation, name):
    """S2/S4: 2x2 subsampling, of the paper's trainable kind or plain pooling."""
    if pooling == "subsampling":
        x = TrainableSubsampling(2, name=name)(x)
        return layers.Activation(_activation(activation), name=f"{name}_act")(x)
    pool = layers.AveragePooling2D if pooling == "avg" else layers.MaxPooling2D
    return pool(2, strides=2, name=name)(x)


def LeNet5(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    activation="tanh",
    subsampling="avg",
    c3_connectivity="full",
    fully_convolutional=False,
    name="lenet5",
    published_as="lenet5",
):
    """LeNet-5 (LeCun et al. 1998) with softmax output and full C3 connectivity.

    `activation`: "tanh" (default), "scaled_tanh" (the paper's 1.7159 tanh(2a/3)),
    "sigmoid" or "relu". `subsampling`: "avg" (default), "max" or "subsampling"
    (the paper's trainable S-layers, which add 12 + 32 parameters).
    `c3_connectivity`: "full" (default, 2,416 parameters) or "paper" (Table I,
    1,516 parameters).
    `pooling` keeps its keras.applications meaning (for include_top=False).
    `fully_convolutional=True` turns F6 and the output layer into 1x1
    convolutions (C5 is one already) for use on larger images.
    `published_as`: the registered network whose weights tags `weights` may name.
    """
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("subsampling", subsampling, POOLINGS)
    check_choice("c3_connectivity", c3_connectivity, C3_CONNECTIVITIES)
    if fully_convolutional:
        return common.fully_convolutional_variant(LeNet5, locals(), default_shape=INPUT_SHAPE)
    inputs, weights = common.prepare_inputs(
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=INPUT_SHAPE,
        min_shape=INPUT_SHAPE,
        fixed_input=True,
        published_as=published_as,
    )
    act = _activation(activation)
    x = layers.Conv2D(6, 5, activation=act, name="c1")(inputs)
    x = subsampling_layer(x, subsampling, activation, "s2")
    if c3_connectivity == "paper":
        x = PartiallyConnectedConv2D(C3_TABLE, 5, activation=act, name="c3")(x)
    else:
        x = layers.Conv2D(16, 5, activation=act, name="c3")(x)
    x = subsampling_layer(x, subsampling, activation, "s4")
    x = layers.Conv2D(120, 5, activation=act, name="c5")(x)

    def fully_connected(x):
        # F6 (84 units) then the output layer (the paper's RBF units, as a softmax layer).
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(84, activation=act, name="f6")(x)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)

    x = common.classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                               classifier_activation=classifier_activation, top=fully_connected)
    return common.finish_model(inputs, x, input_tensor=input_tensor, weights=weights, name=name)


register = common.registration(family="lenet", paper=PAPER, input_shape=INPUT_SHAPE,
                               preprocessing="unit", fixed_input=True, num_classes=10)


@register(params=61_706)
def lenet5(**kwargs):
    """LeNet-5: C1-S2-C3-S4-C5-F6-output, 32x32 gray-scale input."""
    kwargs.setdefault("classes", 10)
    return LeNet5(**kwargs)


@register(
    params=60_850,
    activation="scaled_tanh",
    subsampling="subsampling",
    c3_connectivity="paper",
)
def lenet5_paper(**kwargs):
    """LeNet-5 as in the paper but for the softmax output: scaled tanh, trainable S-layers, Table I."""
    return LeNet5(**{"name": "lenet5_paper", "published_as": "lenet5_paper", "classes": 10,
                     **kwargs})
