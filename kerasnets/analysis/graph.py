"""A functional model as a list of layer calls, its blocks, and re-running it rewired.

The model's graph is read through `keras.models.clone_model` with the layers
themselves as their clones (`clone_function=lambda layer: layer`) and a
`call_function` that records each call: the result is the model's own graph
(the layer calls of *this* model, even when its layers are shared with
others), in an order where every tensor is made before it is used.

A unit is a block of that graph with one tensor going in and one coming
out: a residual block of `kerasnets.models.resnet` (the layers named
`conv{s}_block{b}_*`, around the Add layer `conv{s}_block{b}_add` or
`conv{s}_block{b}_out`, whose inputs are the shortcut then the residual branch), or a layer of a plain network. `execute` runs the
graph again, on symbolic or concrete tensors, with the same layer objects
(so the same weights), where units can be deleted (their branch left out), put
in another order, or have the gradient of their branch or shortcut stopped.
"""

from __future__ import annotations

import dataclasses
import re

import keras
from keras import ops

# The blocks of kerasnets.models.resnet (and senet, which builds on it).
BLOCK_NAME = re.compile(r"^(conv(\d+)_block(\d+))_")
ADD_NAME = re.compile(r"^(conv(\d+)_block(\d+))_(add|out)$")
# A stage number in a plain network's layer names: conv3_block2_..., block3_conv1.
STAGE_NAME = re.compile(r"(?:conv|block)(\d+)")
# Layers that carry a convolution's output on to the next layer in a plain network.
FOLLOWERS = (keras.layers.BatchNormalization, keras.layers.Activation, keras.layers.ReLU)


@dataclasses.dataclass
class Step:
    """One layer call of the graph: `outputs = layer(*args, **kwargs)` (tensors flattened)."""

    layer: keras.layers.Layer
    args: tuple
    kwargs: dict
    outputs: list


@dataclasses.dataclass
class Graph:
    """A functional model's layer calls, each after the calls that make its inputs."""

    model: keras.Model
    inputs: list
    outputs: object
    steps: list
    producer: dict  # id(tensor) -> index of the step that makes it
    consumers: dict  # id(tensor) -> indices of the steps that use it

    def step_inputs(self, index):
        step = self.steps[index]
        return [t for t in keras.tree.flatten((step.args, step.kwargs))
                if isinstance(t, keras.KerasTensor)]


@dataclasses.dataclass
class Unit:
    """A block of the graph with one input tensor and one output tensor.

    `add` is the index of a residual block's Add step (None for a plain
    layer), `shortcut` and `branch` the Add's two inputs, `shortcut_kind`
    one of blocks.SHORTCUT_KINDS
    (None for a plain layer).
    """

    name: str
    stage: int
    steps: list
    input: keras.KerasTensor
    output: keras.KerasTensor
    add: int | None = None
    shortcut: keras.KerasTensor | None = None
    branch: keras.KerasTensor | None = None
    shortcut_kind: str | None = None

    @property
    def input_shape(self):
        return tuple(self.input.shape)

    @property
    def output_shape(self):
        return tuple(self.output.shape)

    @property
    def same_shape(self):
        return self.input_shape == self.output_shape


def trace(model):
    """The `Graph` of a functional `model`, read with the model's own layer objects."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a functional keras.Model; got {model!r}")
    steps = []

    def record(layer, *args, **kwargs):
        outputs = layer(*args, **kwargs)
        steps.append(Step(layer, args, kwargs, keras.tree.flatten(outputs)))
        return outputs

    try:
        clone = keras.models.clone_model(model, clone_function=lambda layer: layer,
                                         call_function=record)
    except ValueError as err:
        raise ValueError(
            f"`model` must be a functional keras.Model (Sequential and subclassed models "
            f"cannot be rewired): {err}"
        ) from err
    graph = Graph(model=model, inputs=list(clone.inputs), outputs=clone.output, steps=steps,
                  producer={}, consumers={})
    for index, step in enumerate(steps):
        for tensor in step.outputs:
            graph.producer[id(tensor)] = index
        for tensor in graph.step_inputs(index):
            graph.consumers.setdefault(id(tensor), []).append(index)
    return graph


def stage_of(name):
    match = STAGE_NAME.search(name)
    return int(match.group(1)) if match else 0


def _boundary(graph, indices, name):
    """The one tensor entering and the one leaving the steps `indices`."""
    inside = set(indices)
    entering, leaving = {}, {}
    model_outputs = {id(t) for t in keras.tree.flatten(graph.outputs)}
    for index in indices:
        for tensor in graph.step_inputs(index):
            if graph.producer.get(id(tensor)) not in inside:
                entering[id(tensor)] = tensor
        for tensor in graph.steps[index].outputs:
            used_outside = any(c not in inside for c in graph.consumers.get(id(tensor), []))
            if used_outside or id(tensor) in model_outputs:
                leaving[id(tensor)] = tensor
    if len(entering) != 1 or len(leaving) != 1:
        raise ValueError(
            f"block {name} does not have one input and one output ({len(entering)} tensors "
            f"enter it, {len(leaving)} leave it): it cannot be moved or deleted"
        )
    return next(iter(entering.values())), next(iter(leaving.values()))


def _ancestors(graph, tensor, within):
    """The steps of `within` that `tensor` depends on."""
    found, stack = set(), [tensor]
    while stack:
        index = graph.producer.get(id(stack.pop()))
        if index is None or index not in within or index in found:
            continue
        found.add(index)
        stack.extend(graph.step_inputs(index))
    return found


# What the weightless layers of a shortcut make of it (kerasnets.models.resnet), by precedence.
SHORTCUT_LAYERS = (("ChannelZeroPadding", "zero_pad"), ("Multiply", "gated"),
                   ("Rescaling", "scaled"), ("Dropout", "dropout"))


def _shortcut_kind(graph, unit, steps):
    inside = set(steps)
    if unit.shortcut is unit.input:
        return "identity"
    own = _ancestors(graph, unit.shortcut, inside) - _ancestors(graph, unit.branch, inside)
    if any(graph.steps[i].layer.weights for i in own):
        return "projection"
    if not own:
        return "preactivated"  # the unit's BN-ReLU, shared with the branch
    kinds = {type(graph.steps[i].layer).__name__ for i in own}
    for layer_type, kind in SHORTCUT_LAYERS:
        if layer_type in kinds:
            return kind
    return "subsample"


def residual_units(graph):
    """The residual blocks of the graph in the order they run (names of kerasnets.models.resnet)."""
    groups, adds = {}, {}
    for index, step in enumerate(graph.steps):
        match = BLOCK_NAME.match(step.layer.name)
        if match:
            groups.setdefault(match.group(1), []).append(index)
        match = ADD_NAME.match(step.layer.name)
        if match and isinstance(step.layer, keras.layers.Add):
            adds[match.group(1)] = index
    units = []
    for name in sorted(adds, key=adds.get):
        add = adds[name]
        block_input, block_output = _boundary(graph, groups[name], name)
        operands = graph.step_inputs(add)
        if len(operands) != 2:
            raise ValueError(f"block {name}: its Add layer has {len(operands)} inputs, not 2")
        # kerasnets.models.resnet adds Add([shortcut, residual branch]) in every block.
        shortcut, branch = operands
        unit = Unit(name=name, stage=stage_of(name), steps=groups[name], input=block_input,
                    output=block_output, add=add, shortcut=shortcut, branch=branch)
        unit.shortcut_kind = _shortcut_kind(graph, unit, groups[name])
        units.append(unit)
    return units


def plain_units(graph):
    """The layers of a network without shortcuts, as units.

    The blocks `conv{s}_block{b}` of kerasnets.models.resnet's plain networks
    (two 3x3 convolutions each, the residual blocks without their shortcut);
    in other networks (VGG-style), each convolution with the batch
    normalization and activation layers that follow it.
    """
    groups = {}
    for index, step in enumerate(graph.steps):
        match = BLOCK_NAME.match(step.layer.name)
        if match:
            groups.setdefault(match.group(1), []).append(index)
    if not groups:
        groups = _conv_units(graph)
    units = []
    for name, indices in sorted(groups.items(), key=lambda item: item[1][0]):
        block_input, block_output = _boundary(graph, indices, name)
        units.append(Unit(name=name, stage=stage_of(name), steps=indices, input=block_input,
                          output=block_output))
    return units


def _conv_units(graph):
    groups = {}
    for index, step in enumerate(graph.steps):
        if not isinstance(step.layer, keras.layers.Conv2D):
            continue
        indices = [index]
        while True:
            users = graph.consumers.get(id(graph.steps[indices[-1]].outputs[0]), [])
            if len(users) != 1 or not isinstance(graph.steps[users[0]].layer, FOLLOWERS):
                break
            indices.append(users[0])
        groups[step.layer.name] = indices
    return groups


def _needed(graph, unit, deleted):
    """The unit's steps that its output depends on (without the branch when deleted)."""
    inside = set(unit.steps)
    found, stack = set(), [unit.output]
    while stack:
        tensor = stack.pop()
        index = graph.producer.get(id(tensor))
        if index is None or index not in inside or index in found:
            continue
        found.add(index)
        if deleted and index == unit.add:
            stack.append(unit.shortcut)
        else:
            stack.extend(graph.step_inputs(index))
    return [i for i in unit.steps if i in found]


def _call(step, values, **call_kwargs):
    def value(t):
        return values[id(t)] if isinstance(t, keras.KerasTensor) else t

    args, kwargs = keras.tree.map_structure(value, (step.args, step.kwargs))
    outputs = step.layer(*args, **{**kwargs, **call_kwargs})
    for tensor, result in zip(step.outputs, keras.tree.flatten(outputs)):
        values[id(tensor)] = result


def gated(shortcut, branch, gate):
    """shortcut + branch in value; the gradient flows through the branch where gate = 1.

    Where the gate is 0 it flows through the shortcut. Veit et al. (2016),
    section 4.2: one path of the unravelled network per sample.
    """
    keep_branch = gate
    keep_shortcut = 1.0 - gate
    branch = keep_branch * branch + (1.0 - keep_branch) * ops.stop_gradient(branch)
    shortcut = keep_shortcut * shortcut + (1.0 - keep_shortcut) * ops.stop_gradient(shortcut)
    return shortcut, branch


def execute(graph, units, inputs, *, order=None, deleted=(), gates=None, training=None):
    """Runs `graph` on `inputs` (symbolic or concrete), rewired.

    `units` are the graph's units (in order); position i runs unit
    `order[i]` (default: its own) on the tensor that enters unit i.
    `deleted` (unit indices) run without their branch: a residual unit's
    output is then computed from its shortcut alone (its Add returns the
    shortcut), a plain unit's output is its input. `gates` (unit index ->
    a tensor broadcasting to the Add's inputs) routes the gradient of
    residual units through `gated`. `training` is passed to every layer.
    Returns the graph's outputs.
    """
    order = list(range(len(units))) if order is None else list(order)
    deleted = set(deleted)
    gates = gates or {}
    call_kwargs = {} if training is None else {"training": training}
    values = {id(t): v for t, v in zip(graph.inputs, keras.tree.flatten(inputs))}
    position_of_step = {}
    for position, unit in enumerate(units):
        for index in unit.steps:
            position_of_step[index] = position
    done = set()
    for index, step in enumerate(graph.steps):
        position = position_of_step.get(index)
        if position is None:
            _call(step, values, **call_kwargs)
            continue
        if position in done:
            continue
        done.add(position)
        slot, unit = units[position], units[order[position]]
        local = dict(values)
        local[id(unit.input)] = values[id(slot.input)]
        if order[position] in deleted and unit.add is None:
            result = local[id(unit.input)]
        else:
            for inner in _needed(graph, unit, order[position] in deleted):
                if inner == unit.add and order[position] in deleted:
                    local[id(graph.steps[inner].outputs[0])] = local[id(unit.shortcut)]
                elif inner == unit.add and order[position] in gates:
                    shortcut, branch = gated(local[id(unit.shortcut)], local[id(unit.branch)],
                                             gates[order[position]])
                    outputs = graph.steps[inner].layer([shortcut, branch], **call_kwargs)
                    local[id(graph.steps[inner].outputs[0])] = outputs
                else:
                    _call(graph.steps[inner], local, **call_kwargs)
            result = local[id(unit.output)]
        values[id(slot.output)] = result
    return keras.tree.map_structure(lambda t: values[id(t)], graph.outputs)


def rebuild(graph, units, *, name, **rewiring):
    """A new functional model: `graph` rewired by `execute`, sharing its layers."""
    inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype) for t in graph.inputs]
    outputs = execute(graph, units, inputs, **rewiring)
    model_inputs = inputs[0] if len(inputs) == 1 else inputs
    return keras.Model(model_inputs, outputs, name=name)
