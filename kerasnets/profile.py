"""Parameters and multiply-adds per layer, counted the way the papers' tables count them.

Multiply-adds (MACs) are those of convolutions and fully connected layers:
a convolution costs out_h * out_w * out_channels * k_h * k_w * in_channels / groups,
a depthwise convolution out_h * out_w * channels * depth_multiplier * k_h * k_w,
a dense layer in_units * out_units (per position, for dense layers on maps).
Biases, normalization, activations, pooling and element-wise ops are not
counted, as in the papers (AlexNet, VGG, GoogLeNet, ResNet, MobileNet and
ShuffleNet all report conv/fc multiply-adds). Custom layers that contain such
layers (a squeeze-and-excitation gate, say) are counted through a
`multiply_adds(input_shape, output_shape)` method when they define one.
"""

from __future__ import annotations

import dataclasses
import math
import sys

import keras

from kerasnets import registry

__all__ = ["LayerProfile", "ModelProfile", "profile", "layer_multiply_adds"]


@dataclasses.dataclass
class LayerProfile:
    name: str
    kind: str
    output_shape: tuple
    params: int
    trainable_params: int
    macs: int


@dataclasses.dataclass
class ModelProfile:
    name: str
    layers: list[LayerProfile]

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(layer.trainable_params for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def by_name(self, name: str) -> LayerProfile:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r} in the profile of {self.name!r}")

    def macs_of(self, prefix: str) -> int:
        """Multiply-adds of all layers whose name starts with `prefix` (a block, say)."""
        return sum(layer.macs for layer in self.layers if layer.name.startswith(prefix))

    def params_of(self, prefix: str) -> int:
        return sum(layer.params for layer in self.layers if layer.name.startswith(prefix))

    def table(self, only_nonzero: bool = False) -> str:
        header = ("layer", "type", "output shape", "params", "MACs")
        rows = [
            (layer.name, layer.kind, _shape_str(layer.output_shape), f"{layer.params:,}",
             f"{layer.macs:,}")
            for layer in self.layers
            if not only_nonzero or layer.params or layer.macs
        ]
        rows.append(("total", "", "", f"{self.params:,}", f"{self.macs:,}"))
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        right = (False, False, False, True, True)

        def fmt(row):
            return "  ".join(
                str(c).rjust(w) if r else str(c).ljust(w) for c, w, r in zip(row, widths, right)
            )

        sep = "  ".join("-" * w for w in widths)
        lines = [fmt(header), sep, *(fmt(r) for r in rows[:-1]), sep, fmt(rows[-1])]
        lines.append(
            f"{self.name}: {self.params:,} parameters ({self.trainable_params:,} trainable), "
            f"{self.macs:,} multiply-adds ({self.macs / 1e9:.3f} G)"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _shape_str(shape) -> str:
    if isinstance(shape, list):
        return ", ".join(_shape_str(s) for s in shape)
    return "(" + ", ".join("?" if d is None else str(d) for d in shape[1:]) + ")"


def _spatial_positions(shape, data_format) -> int:
    dims = shape[1:-1] if data_format == "channels_last" else shape[2:]
    if any(d is None for d in dims):
        raise ValueError(
            f"multiply-adds need a known spatial size; got output shape {shape}. "
            "Build the model with a fixed input_shape."
        )
    return math.prod(dims)


def layer_multiply_adds(layer, input_shape, output_shape) -> int:
    """Multiply-adds of one layer call with the given input and output shapes."""
    own = getattr(layer, "multiply_adds", None)
    if callable(own):
        return int(own(input_shape, output_shape))
    L = keras.layers
    if isinstance(layer, L.DepthwiseConv2D):
        positions = _spatial_positions(output_shape, layer.data_format)
        channels = _channels(input_shape, layer.data_format)
        return positions * channels * layer.depth_multiplier * math.prod(layer.kernel_size)
    if isinstance(layer, L.SeparableConv2D):
        positions = _spatial_positions(output_shape, layer.data_format)
        in_ch = _channels(input_shape, layer.data_format)
        depthwise = positions * in_ch * layer.depth_multiplier * math.prod(layer.kernel_size)
        pointwise = positions * in_ch * layer.depth_multiplier * layer.filters
        return depthwise + pointwise
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)) and not isinstance(
        layer, (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)
    ):
        positions = _spatial_positions(output_shape, layer.data_format)
        in_ch = _channels(input_shape, layer.data_format)
        return positions * layer.filters * math.prod(layer.kernel_size) * in_ch // layer.groups
    if isinstance(layer, L.Dense):
        positions = math.prod(d for d in output_shape[1:-1]) if len(output_shape) > 2 else 1
        return positions * input_shape[-1] * layer.units
    return 0


def _channels(shape, data_format) -> int:
    return shape[-1] if data_format == "channels_last" else shape[1]


def _node_shapes(node):
    ins = [tuple(t.shape) for t in node.input_tensors]
    outs = [tuple(t.shape) for t in node.outputs]
    return ins, outs


def _iter_calls(model):
    """(layer, input_shape, output_shape) for each call of each layer in a functional model."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inbound = getattr(layer, "_inbound_nodes", [])
        nodes = [n for i, n in enumerate(inbound) if _in_model(layer, i, model)]
        if not nodes:
            yield layer, None, None
            continue
        for node in nodes:
            ins, outs = _node_shapes(node)
            yield layer, (ins[0] if len(ins) == 1 else ins), (outs[0] if len(outs) == 1 else outs)


def _in_model(layer, node_index, model) -> bool:
    # A layer shared with another model (a converted copy, say) has that model's
    # calls among its inbound nodes too; keep the calls of this graph only.
    keys = getattr(model, "_nodes", None)
    if keys is None:
        return True
    return f"{id(layer)}_ib-{node_index}" in keys


def profile(model, print_table: bool = False, file=None) -> ModelProfile:
    """Per-layer parameters and multiply-adds of a built Functional/Sequential model.

    Returns a :class:`ModelProfile` (per-layer rows, `.params`, `.macs`,
    `.table()`); with `print_table=True` the table is also printed. A layer used
    several times (a shared layer) counts its parameters once and its
    multiply-adds once per call.
    """
    if isinstance(model, str):
        model = registry.build(model)
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built; call it on an input first")
    rows = []
    seen = set()
    for layer, in_shape, out_shape in _iter_calls(model):
        # A nested model, or a layer that owns one (batch-mode stochastic
        # depth's `branch`, counted as at inference, where it always runs).
        inner = layer if isinstance(layer, keras.Model) else getattr(layer, "branch", None)
        if isinstance(inner, keras.Model) and in_shape is not None:
            sub = profile(inner)
            macs = sub.macs
        else:
            macs = 0 if in_shape is None else layer_multiply_adds(layer, in_shape, out_shape)
        first = id(layer) not in seen
        seen.add(id(layer))
        rows.append(
            LayerProfile(
                name=layer.name,
                kind=type(layer).__name__,
                output_shape=out_shape if out_shape is not None else (None,),
                params=layer.count_params() if first and layer.built else 0,
                trainable_params=(
                    sum(math.prod(w.shape) for w in layer.trainable_weights) if first else 0
                ),
                macs=macs,
            )
        )
    result = ModelProfile(model.name, rows)
    if print_table:
        print(result.table(), file=file or sys.stdout)
    return result
