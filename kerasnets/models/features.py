"""Feature pyramids: any registered network as a backbone of multi-scale feature maps.

`backbone(name, out_indices=...)` builds a network without its classifier and
returns a model whose outputs are its feature maps at each reduction (the
input size over the map's size: 2, 4, 8, 16, 32), for detection and
segmentation heads; `feature_info` describes them (index, reduction, channels,
layer name), the way timm's `features_only=True` models and their
`feature_info` do (timm/models/_features.py) and keras-hub's backbones'
`pyramid_outputs`.

One rule finds the feature maps of every family, from the graph alone: for
each reduction, the last layer at that reduction whose output every later
layer depends on (a cut of the graph: the end of a stage, not a branch inside
a block), not counting layers that only pad or drop. So a ResNet's level is
its stage's last block output (`conv2_block3_out`), not the stride-1 1x1
convolution that starts the next stage beside the shortcut (torchvision's
stride placement); a pre-activation ResNet's last level is its final BN-ReLU
(`post_relu`), the normalized map its classifier reads, and its other levels
the residual sums before each strided block; an Inception network's level is
its last module at that reduction. Levels start at the first layer with
weights, so an input rescaling or a padding layer is never a level, and
reduction 1 is a level only where the paper has layers at full resolution
(VGG's first block, the CIFAR ResNets' first stage). The deepest level is the
map `include_top=False` returns.

Two families need a word more than the graph (`_NEXT_LEVEL_LAYERS`): a
DenseNet's transition (BN, ReLU, 1x1 compression) and a MobileNet v2 strided
block's expansion run at the old reduction but begin the next stage, so their
levels end with the dense block's concatenation and the stage's last inverted
residual, as timm's feature_info for those networks has it.

Reductions are computed from static shapes at a large probe size (4x the
network's default input) and rounded to powers of two, so valid (unpadded)
convolutions do not blur them: LeNet-5's levels are 1, 2, 4. Maps that are
1 x 1 at the probe size are pooled, never levels. Nothing is stored beyond the
graph and its layer names, so `feature_info` of a backbone saved to `.keras`
and loaded back is the same.
"""

from __future__ import annotations

import math
import re

import keras

from kerasnets import registry
from kerasnets.checks import check_range

__all__ = ["backbone", "feature_info", "feature_levels"]

# Layers that only pad, drop or pass their input on: never a level's end.
_PASS_THROUGH = (
    keras.layers.ZeroPadding2D,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.Identity,
)

# Layers that belong to the next level although they run at the reduction of
# the one before, by family (matched against layer names). DenseNet's
# transition (BN, ReLU, 1x1 compression, dropout, then the pooling) joins two
# dense blocks, so a level ends with its dense block's concatenation, as timm's
# DenseNet feature_info has it. MobileNet v2's strided inverted residual
# expands (1x1, BN, ReLU6) before its stride-2 depthwise convolution, so a level
# ends with the last block's projection (or its residual sum), the stage
# outputs timm's MobileNet v2 feature_info lists (16, 24, 32, 96 channels).
_NEXT_LEVEL_LAYERS = {
    "densenet": re.compile(r"pool\d+_(bn|relu|conv|drop)"),
    "mobilenet": re.compile(r"block_\d+_expand(_BN|_relu)?"),
}

# Arguments that `backbone` sets itself.
_FIXED_ARGUMENTS = ("include_top", "pooling", "classes", "classifier_activation")

_SUFFIX = "_features"


def _spatial_axes():
    return (1, 2) if keras.config.image_data_format() == "channels_last" else (2, 3)


def _channel_axis():
    return -1 if keras.config.image_data_format() == "channels_last" else 1


def _node_of(tensor):
    operation, node_index, _ = tensor._keras_history
    return operation._inbound_nodes[node_index]


def _ancestor_nodes(outputs):
    """The nodes that `outputs` depend on, in topological order (inputs first)."""
    order, seen = [], set()
    stack = [(_node_of(t), False) for t in reversed(outputs)]
    while stack:  # iterative depth-first search: ResNet-1202 has thousands of layers
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for tensor in reversed(node.input_tensors):
            parent = _node_of(tensor)
            if id(parent) not in seen:
                stack.append((parent, False))
    return order


def _cuts(nodes, sink):
    """The nodes (in order) after which the only tensor still needed is their own output.

    Every path from the input to `sink` passes through such a node's output: it
    ends a stage rather than one branch of a block.
    """
    consumers = {}
    for node in nodes:
        for tensor in node.input_tensors:
            consumers[id(tensor)] = consumers.get(id(tensor), 0) + 1
    live, cuts = set(), []
    for node in nodes:
        for tensor in node.input_tensors:
            consumers[id(tensor)] -= 1
            if consumers[id(tensor)] == 0:
                live.discard(id(tensor))
        for tensor in node.output_tensors:
            if consumers.get(id(tensor), 0) > 0 or tensor is sink:
                live.add(id(tensor))
        if len(node.output_tensors) == 1 and live == {id(node.output_tensors[0])}:
            cuts.append(node)
    return cuts


def _probe_shapes(nodes, model_input, size):
    """The static output shape of each node's tensors for a `size` x `size` input."""
    shape = list(model_input.shape)
    shape[0] = 1
    for axis in _spatial_axes():
        shape[axis] = size
    values = {id(model_input): keras.KerasTensor(tuple(shape), dtype=model_input.dtype)}
    shapes = {}
    for node in nodes:
        if node.is_input:
            continue
        args, kwargs = node.arguments.fill_in(values)
        outputs = node.operation.compute_output_spec(*args, **kwargs)
        for tensor, value in zip(node.output_tensors, keras.tree.flatten(outputs)):
            values[id(tensor)] = value
            shapes[id(tensor)] = tuple(value.shape)
    return shapes


def _probe_size(model, network):
    """4x the network's default input size (its registered one, else the model's, else 224)."""
    if network is not None:
        return 4 * registry.get_spec(network).input_shape[0]
    height = model.inputs[0].shape[_spatial_axes()[0]]
    return 4 * (height or 224)


def _network_of(model):
    """The registered network a model (or a backbone) was built as, if its name says so."""
    name = model.name[: -len(_SUFFIX)] if model.name.endswith(_SUFFIX) else model.name
    try:
        return registry.get_spec(name).name
    except ValueError:
        return None


def _reductions(model, nodes, network, probe_size):
    """The reduction (a power of two) of each node's 4-D output, by the output tensor's id."""
    if len(model.inputs) != 1:
        raise ValueError(f"feature maps need a model with one image input; {model.name!r} has "
                         f"{len(model.inputs)}")
    size = probe_size or _probe_size(model, network)
    reductions = {}
    for key, shape in _probe_shapes(nodes, model.inputs[0], size).items():
        height = shape[_spatial_axes()[0]] if len(shape) == 4 else None
        if height and height > 1:  # 1 x 1 at the probe size: pooled, not a level
            reductions[key] = 2 ** max(0, round(math.log2(size / height)))
    return reductions


def _levels(model, sink, network=None, probe_size=None):
    """(reduction, node) of each feature level of `model`'s graph up to the tensor `sink`."""
    network = network or _network_of(model)
    next_level = _NEXT_LEVEL_LAYERS.get(registry.get_spec(network).family) if network else None
    nodes = _ancestor_nodes([sink])
    reductions = _reductions(model, nodes, network, probe_size)
    weighted = [i for i, node in enumerate(nodes) if getattr(node.operation, "weights", None)]
    if not weighted:
        return []
    position = {id(node): i for i, node in enumerate(nodes)}
    levels = {}
    for node in _cuts(nodes, sink):
        operation = node.operation
        reduction = reductions.get(id(node.output_tensors[0]))
        if (reduction is None or position[id(node)] < weighted[0]
                or isinstance(operation, _PASS_THROUGH)
                or (next_level is not None and next_level.fullmatch(operation.name))):
            continue
        levels[reduction] = node  # the last one at each reduction wins
    return sorted(levels.items())


def _describe(levels):
    return [
        {
            "index": index,
            "reduction": reduction,
            "channels": int(node.output_tensors[0].shape[_channel_axis()]),
            "layer": node.operation.name,
        }
        for index, (reduction, node) in enumerate(levels)
    ]


def feature_levels(model, /, *, probe_size=None):
    """Every feature level of a Keras model (a classifier or a network without top).

    Returns the `feature_info` entries of all its levels: what `out_indices`
    index. `probe_size` is the square input size the reductions are measured at
    (default: 4x the registered network's input size, found from the model's
    name; else 4x the model's input size, or 896).
    """
    if probe_size is not None:
        check_range("probe_size", probe_size, 1, integer=True)
    sink = _deepest_feature_map(model)
    return _describe(_levels(model, sink, probe_size=probe_size))


def _deepest_feature_map(model):
    """The model's last 4-D tensor that everything after it depends on: its feature map."""
    sink = model.outputs[-1] if _is_backbone(model) else model.outputs[0]
    if len(sink.shape) == 4:
        return sink
    nodes = _ancestor_nodes([sink])
    for node in reversed(_cuts(nodes, sink)):
        tensor = node.output_tensors[0]
        if len(tensor.shape) == 4:
            return tensor
    raise ValueError(f"the model {model.name!r} has no feature map (no 4-D layer output)")


def _is_backbone(model):
    return model.name.endswith(_SUFFIX) and all(len(t.shape) == 4 for t in model.outputs)


def feature_info(model_or_name, /, *, probe_size=None, **build_kwargs):
    """The feature levels a backbone returns, or that a network has.

    `model_or_name`: a model made by :func:`backbone` (also after a `.keras`
    save and load: the description comes from the graph and the layer names),
    described output by output; another Keras model, or a registered network's
    name (built without its classifier, with `build_kwargs`), described level
    by level. Each entry is a dict: "index" (the level's index, what
    `out_indices` counts), "reduction" (input size / map size: 2, 4, 8, 16, 32),
    "channels" and "layer" (the name of the layer whose output it is).
    """
    if isinstance(model_or_name, str):
        return backbone(model_or_name, **build_kwargs).feature_info
    if build_kwargs:
        raise ValueError(f"build arguments {sorted(build_kwargs)} need a network name, not a model")
    model = model_or_name
    if not _is_backbone(model):
        return feature_levels(model, probe_size=probe_size)
    # A backbone's outputs are levels of the network it was cut from: the levels
    # up to its deepest output are those of its own graph.
    network = _network_of(model)
    levels = _levels(model, model.outputs[-1], network, probe_size)
    index = {reduction: i for i, (reduction, _) in enumerate(levels)}
    nodes = _ancestor_nodes(model.outputs)
    reductions = _reductions(model, nodes, network, probe_size)
    return [
        {
            "index": index[reductions[id(tensor)]],
            "reduction": reductions[id(tensor)],
            "channels": int(tensor.shape[_channel_axis()]),
            "layer": tensor._keras_history[0].name,
        }
        for tensor in model.outputs
    ]


def _check_out_indices(out_indices, levels, name):
    count = len(levels)
    allowed = (f"indices into the {count} feature levels of {name!r} (0..{count - 1}, or "
               f"-{count}..-1; reductions {', '.join(str(r) for r, _ in levels)})")
    if out_indices is None:
        return list(range(count))
    if isinstance(out_indices, int) and not isinstance(out_indices, bool):
        out_indices = (out_indices,)
    try:
        values = list(out_indices)
    except TypeError:
        raise ValueError(f"`out_indices` must be a sequence of {allowed}; got {out_indices!r}") from None
    chosen = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not -count <= value < count:
            raise ValueError(f"`out_indices` must be {allowed}; got {out_indices!r}")
        chosen.append(value % count)
    if not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"`out_indices` must be distinct {allowed}, at least one; "
                         f"got {out_indices!r}")
    return sorted(chosen)


def backbone(name, /, *, out_indices=None, input_shape=None, weights=None, **build_kwargs):
    """A registered network as a backbone: a model whose outputs are its feature maps.

    Builds `name` without its classifier (include_top=False, pooling=None; the
    fully connected networks too, at any size from their minimum) with
    `weights` (None, a path, or a published tag, as `kerasnets.build` takes
    them) and the other builder arguments, and returns a `keras.Model` named
    ``<model name>_features`` whose outputs are a list of feature maps, one per
    chosen level, shallowest first. `out_indices` picks levels by their index in
    `feature_info` (timm's convention; default: all of them, e.g. reductions 2,
    4, 8, 16, 32 for a ResNet); a bad index raises ValueError naming the
    allowed ones. The model carries `model.feature_info` (see `feature_info`).
    """
    spec = registry.get_spec(name)
    given = sorted(set(build_kwargs) & set(_FIXED_ARGUMENTS))
    if given:
        raise ValueError(
            f"backbone() builds {name!r} without its classifier and sets {given} itself; "
            f"remove {given} from the arguments"
        )
    model = registry.build(name, include_top=False, pooling=None, weights=weights,
                           input_shape=input_shape, **build_kwargs)
    levels = _levels(model, model.outputs[0], network=spec.name)
    if not levels:
        raise ValueError(f"{name!r} has no feature maps to return")
    chosen = _check_out_indices(out_indices, levels, name)
    outputs = [levels[i][1].output_tensors[0] for i in chosen]
    features = keras.Model(model.inputs, outputs, name=f"{model.name}{_SUFFIX}")
    info = _describe(levels)
    features.feature_info = [info[i] for i in chosen]
    return features
