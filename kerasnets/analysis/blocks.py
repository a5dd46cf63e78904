"""The blocks of a residual (or plain) network, and new networks without some, or reordered.

Veit, Wilber and Belongie (2016), "Residual Networks Behave Like Ensembles of
Relatively Shallow Networks", NeurIPS, section 5: deleting a block of a
trained residual network leaves its shortcut, y_i = y_{i-1} (identity
shortcuts) instead of y_i = y_{i-1} + f_i(y_{i-1}); reordering swaps blocks
of the same shape. The new models are built from the same layer objects, so
they share the weights of the original (train one, and every lesioned
network sees the change).
"""

from __future__ import annotations

import dataclasses
import itertools
import numbers

from kerasnets.analysis import graph as G

SHORTCUT_KINDS = ("identity", "zero_pad", "subsample", "preactivated", "scaled", "gated",
                  "dropout", "projection")


@dataclasses.dataclass(frozen=True)
class Block:
    """A block of a network, as `residual_blocks` and `plain_blocks` list them.

    `shortcut` is how a residual block's shortcut reaches its addition:
    "identity" (the block's input itself), "zero_pad" (option A of He et al.:
    1x1/2 subsampling and zero channels), "subsample" (1x1/2 max pooling,
    keras.applications' v2), "preactivated" (the first unit of a
    pre-activation network: the identity of the unit's own BN-ReLU, which
    the branch shares), "scaled", "gated" or "dropout" (the identity-mapping
    ablations' constant scaling, exclusive gating and dropout shortcuts:
    `kerasnets.models.resnet`'s `shortcut_variant`), "projection" (a 1x1
    convolution: option B, or any shortcut with weights of its own, such as
    shortcut-only gating's); None for a block of a plain network. `identity` is True when the shortcut has
    no weights of its own (all but "projection"): only those blocks can be
    deleted or moved. `deletable` says whether the block can be taken out:
    an identity shortcut, or, in a plain network, an input and output of
    the same shape (the layer is then replaced by its input).
    """

    index: int
    name: str
    stage: int
    input_shape: tuple
    output_shape: tuple
    shortcut: str | None
    identity: bool
    deletable: bool


def _block(index, unit):
    identity = unit.add is not None and unit.shortcut_kind != "projection"
    return Block(index, unit.name, unit.stage, unit.input_shape, unit.output_shape,
                 unit.shortcut_kind, identity, is_deletable(unit))


def residual_blocks(model):
    """The residual blocks of `model` in the order they run: a list of `Block`.

    Works on every residual network of kerasnets.models.resnet and senet
    (ResNet v1/v2, the CIFAR ResNets and their pre-activation form,
    ResNeXt, SE-ResNet/ResNeXt, with or without stochastic depth): a block
    is the layers named `conv{s}_block{b}_*` around their Add layer. An
    empty list for a network without them.
    """
    return [_block(i, u) for i, u in enumerate(G.residual_units(G.trace(model)))]


def plain_blocks(model):
    """The blocks of a network without shortcuts: a list of `Block` (shortcut None).

    For kerasnets' plain networks (`plain20`, `plain18`, ...) the blocks
    `conv{s}_block{b}` (two 3x3 convolutions, the residual block without its
    shortcut); for other networks (VGG-style), each convolution with the
    normalization and activation that follow it.
    """
    return [_block(i, u) for i, u in enumerate(G.plain_units(G.trace(model)))]


def model_units(graph):
    """The units lesions act on: the residual blocks, or for a plain network its blocks."""
    units = G.residual_units(graph)
    if not units:
        units = G.plain_units(graph)
    if not units:
        raise ValueError(
            f"model {graph.model.name!r} has no blocks: residual blocks are found by the "
            "layer names of kerasnets.models.resnet (conv{s}_block{b}_add or _out), plain "
            "ones by conv{s}_block{b}_* names or convolution layers"
        )
    return units


def check_positive_int(argument, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{argument}` must be an integer >= 1; got {value!r}")


def resolve_indices(units, blocks, argument):
    """Block indices from indices or names; ValueError naming the unknown ones."""
    if isinstance(blocks, (str, numbers.Integral)):
        blocks = [blocks]
    by_name = {u.name: i for i, u in enumerate(units)}
    indices = []
    for block in blocks:
        if isinstance(block, str) and block in by_name:
            indices.append(by_name[block])
        elif (isinstance(block, numbers.Integral) and not isinstance(block, bool)
              and 0 <= block < len(units)):
            indices.append(int(block))
        else:
            raise ValueError(
                f"`{argument}` must hold block indices in [0, {len(units) - 1}] or block names "
                f"({units[0].name} ... {units[-1].name}); got {block!r}"
            )
    if len(set(indices)) != len(indices):
        raise ValueError(f"`{argument}` names a block twice: {list(blocks)!r}")
    return indices


def is_deletable(unit):
    """A unit with an identity shortcut or, in a plain network, of unchanged shape."""
    return unit.same_shape if unit.add is None else unit.shortcut_kind != "projection"


def check_deletable(units, indices, what="deleted"):
    refused = [units[i] for i in indices if not is_deletable(units[i])]
    if refused:
        reasons = ", ".join(
            f"{u.name} ({'projection shortcut' if u.add is not None else 'changes shape'})"
            for u in refused
        )
        raise ValueError(
            f"only blocks with an identity shortcut (or, in a plain network, of unchanged "
            f"shape) can be {what}; refused: {reasons}"
        )


def delete_units(graph, units, indices, name=None):
    """`delete_blocks` on a traced graph (for lesion studies that delete many times)."""
    check_deletable(units, indices)
    return G.rebuild(graph, units, deleted=indices,
                     name=name or f"{graph.model.name}_lesioned")


def delete_blocks(model, blocks, *, name=None):
    """A new model (the same layers and weights) without the residual branches of `blocks`.

    `blocks`: indices into `residual_blocks(model)` or block names
    (`"conv3_block2"`). A deleted block passes its input through its
    shortcut alone: its addition returns the shortcut (what the network
    computes when that branch outputs zero). In a plain network
    (`plain_blocks`) a deleted block is replaced by its input. Blocks with a
    projection shortcut (or a plain block that changes the shape) are
    refused, by name. Deleting no block gives the same function as `model`.
    """
    graph = G.trace(model)
    units = model_units(graph)
    return delete_units(graph, units, resolve_indices(units, blocks, "blocks"), name)


def check_permutation(units, permutation):
    n = len(units)
    if (not isinstance(permutation, (list, tuple))
            or sorted(_int(p) for p in permutation) != list(range(n))):
        raise ValueError(
            f"`permutation` must be a permutation of the {n} block indices 0..{n - 1} "
            f"(position i runs block permutation[i]); got {permutation!r}"
        )
    permutation = [int(p) for p in permutation]
    moved = [i for i, p in enumerate(permutation) if p != i]
    check_deletable(units, sorted(set(moved)), what="moved")
    for position in moved:
        slot, unit = units[position], units[permutation[position]]
        if (slot.input_shape, slot.output_shape) != (unit.input_shape, unit.output_shape):
            raise ValueError(
                f"block {unit.name} ({unit.input_shape} -> {unit.output_shape}) cannot run in "
                f"the place of {slot.name} ({slot.input_shape} -> {slot.output_shape}): "
                "only blocks of the same input and output shapes can be swapped"
            )
    return permutation


def _int(value):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return -1


def reorder_units(graph, units, permutation, name=None):
    permutation = check_permutation(units, permutation)
    return G.rebuild(graph, units, order=permutation,
                     name=name or f"{graph.model.name}_reordered")


def reorder_blocks(model, permutation, *, name=None):
    """A new model (the same layers and weights) whose blocks run in another order.

    `permutation[i]` is the index (into `residual_blocks(model)`) of the
    block that runs at position i. Only blocks with an identity shortcut
    move, and only to a position of the same input and output shapes;
    others are refused, by name. The identity permutation gives the same
    function as `model`.
    """
    graph = G.trace(model)
    units = model_units(graph)
    return reorder_units(graph, units, permutation, name)


def kendall_tau_distance(permutation):
    """The number of pairs of blocks whose order `permutation` reverses (discordant pairs)."""
    permutation = list(permutation)
    if sorted(permutation) != list(range(len(permutation))):
        raise ValueError(f"`permutation` must be a permutation of 0..n-1; got {permutation!r}")
    return sum(1 for i, j in itertools.combinations(range(len(permutation)), 2)
               if permutation[i] > permutation[j])


def kendall_tau(permutation):
    """Kendall's rank correlation between the blocks' order and `permutation`'s.

    1 for the identity, -1 for the reversed order: tau = 1 - 4 D / (n (n - 1))
    with D = `kendall_tau_distance(permutation)`. Veit et al. (2016),
    Figure 5(b), plot the error of reordered networks against it.
    """
    n = len(list(permutation))
    if n < 2:
        raise ValueError("`permutation` needs at least 2 elements for Kendall's tau")
    return 1.0 - 4.0 * kendall_tau_distance(permutation) / (n * (n - 1))
