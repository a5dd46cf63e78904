"""Copying a PyTorch state dict onto the layers of a Keras model.

A checkpoint's mapping is a function of a :class:`StateMapping` that says, layer
by layer, which arrays of the state dict a Keras layer takes
(`m.conv("conv1_conv", "conv1")`); the arithmetic of the layouts is here, once:

- convolution kernels: torch (out, in/groups, kh, kw) -> Keras (kh, kw, in/groups, out);
- depthwise kernels: torch (channels * multiplier, 1, kh, kw) -> Keras (kh, kw, channels, multiplier);
- fully connected: torch (out, in) -> Keras (in, out), and after a Flatten the
  inputs reordered from torch's (channels, height, width) to Keras' (height, width, channels);
- BatchNorm: weight, bias, running_mean, running_var -> gamma, beta, moving mean, moving variance.

:func:`load_state` then checks that the mapping is complete: every weighted
layer of the model assigned, every array of the checkpoint used (or left out
with a layer the model does not have: the classifier of include_top=False),
every shape equal. So a mapping that loads is a mapping that fits.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["StateMapping", "load_state", "IGNORED_SUFFIXES"]

# BatchNorm's update counter: state, not a weight.
IGNORED_SUFFIXES = ("num_batches_tracked",)


class StateMapping:
    """The state dict `state` (torch key -> numpy array) being mapped onto `model`."""

    def __init__(self, model: keras.Model, state: dict):
        self.model = model
        self.state = dict(state)
        self.assigned: dict[str, list[np.ndarray]] = {}
        self.used: set[str] = set()
        self.skipped: set[str] = set()
        self._layers = {layer.name: layer for layer in _weighted_layers(model)}

    # -- lookups -----------------------------------------------------------------
    def has(self, key: str) -> bool:
        return key in self.state

    def layer(self, name: str):
        """The weighted Keras layer `name`, or None when the model has none of that name."""
        return self._layers.get(name)

    def take(self, key: str) -> np.ndarray:
        """The array `key`, marked as used."""
        if key not in self.state:
            close = sorted(k for k in self.state if k.rsplit(".", 1)[0] == key.rsplit(".", 1)[0])
            hint = f" (keys with that prefix: {', '.join(close)})" if close else ""
            raise ValueError(f"the checkpoint has no array {key!r}{hint}")
        self.used.add(key)
        return np.asarray(self.state[key])

    # -- layer kinds ---------------------------------------------------------------
    def conv(self, layer: str, key: str) -> None:
        """A Conv2D from `key.weight` (and `key.bias`)."""
        target = self._target(layer, key)
        if target is None:
            return
        kernel = self.take(f"{key}.weight")
        if kernel.ndim == 2:  # a Linear into a 1x1 convolution
            kernel = kernel[:, :, None, None]
        if kernel.ndim != 4:
            raise ValueError(f"{key}.weight has shape {kernel.shape}; a convolution kernel has 4 "
                             f"dimensions (out, in, kh, kw) (layer {layer!r})")
        self._assign(target, [np.transpose(kernel, (2, 3, 1, 0)), *self._bias(target, key)],
                     key)

    def depthwise(self, layer: str, key: str) -> None:
        """A DepthwiseConv2D from `key.weight` (channels * multiplier, 1, kh, kw) (and `key.bias`)."""
        target = self._target(layer, key)
        if target is None:
            return
        kernel = self.take(f"{key}.weight")
        multiplier = getattr(target, "depth_multiplier", 1)
        out, one, kh, kw = kernel.shape
        if one != 1:
            raise ValueError(f"{key}.weight has shape {kernel.shape}; a depthwise kernel has one "
                             f"input channel per group (layer {layer!r})")
        kernel = kernel.reshape(out // multiplier, multiplier, kh, kw).transpose(2, 3, 0, 1)
        self._assign(target, [kernel, *self._bias(target, key)], key)

    def dense(self, layer: str, key: str, flatten_chw=None) -> None:
        """A Dense from `key.weight` (out, in) (and `key.bias`).

        `flatten_chw=(channels, height, width)`: the layer follows a Flatten of
        that map; torch flattened it channels first, Keras flattens it
        channels last, so the inputs are reordered. A convolution-form weight
        (out, channels, height, width) (timm's VGG) takes the same path.
        """
        target = self._target(layer, key)
        if target is None:
            return
        weight = self.take(f"{key}.weight")
        if flatten_chw is not None:
            channels, height, width = flatten_chw
            weight = weight.reshape(weight.shape[0], channels, height, width)
            weight = weight.transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)
        elif weight.ndim == 4 and weight.shape[2:] == (1, 1):
            weight = weight[:, :, 0, 0]
        if weight.ndim != 2:
            raise ValueError(f"{key}.weight has shape {weight.shape}; a fully connected weight "
                             f"is (out, in) (layer {layer!r}; pass flatten_chw after a Flatten)")
        self._assign(target, [weight.T, *self._bias(target, key)], key)

    def batch_norm(self, layer: str, key: str) -> None:
        """A BatchNormalization from `key.weight/.bias/.running_mean/.running_var`."""
        target = self._target(layer, key)
        if target is None:
            return
        arrays = []
        if getattr(target, "scale", True):
            arrays.append(self.take(f"{key}.weight"))
        if getattr(target, "center", True):
            arrays.append(self.take(f"{key}.bias"))
        arrays += [self.take(f"{key}.running_mean"), self.take(f"{key}.running_var")]
        self._assign(target, arrays, key)

    def assign(self, layer: str, arrays, keys=()) -> None:
        """Any other layer: `arrays` in the layer's `get_weights()` order; `keys` are used."""
        target = self._target(layer, keys[0] if keys else layer, keys=keys)
        if target is None:
            return
        for key in keys:
            self.take(key)
        self._assign(target, [np.asarray(a) for a in arrays], ", ".join(keys) or "(computed)")

    # -- internals -----------------------------------------------------------------
    def _target(self, layer, key, keys=None):
        target = self._layers.get(layer)
        if target is None:
            if layer in {other.name for other in self.model.layers}:
                raise ValueError(f"layer {layer!r} of {self.model.name!r} has no weights to "
                                 f"take from {key!r}")
            # Not in this model (the classifier of include_top=False): its arrays are left out.
            prefix = f"{key}."
            self.skipped.update(k for k in self.state if k.startswith(prefix))
            self.skipped.update(keys or ())
            return None
        if layer in self.assigned:
            raise ValueError(f"layer {layer!r} is assigned twice (second time from {key!r})")
        return target

    def _bias(self, target, key):
        has_bias = bool(getattr(target, "use_bias", False))
        name = f"{key}.bias"
        if has_bias and name not in self.state:
            raise ValueError(f"layer {target.name!r} has a bias, the checkpoint has no {name!r}: "
                             "build the structure of the checkpoint (its tag sets use_bias)")
        if not has_bias and name in self.state:
            raise ValueError(f"the checkpoint has {name!r}, layer {target.name!r} has no bias: "
                             "build the structure of the checkpoint (its tag sets use_bias)")
        return [self.take(name)] if has_bias else []

    def _assign(self, target, arrays, key):
        expected = [tuple(w.shape) for w in target.weights]
        got = [tuple(a.shape) for a in arrays]
        if expected != got:
            raise ValueError(f"layer {target.name!r} ({type(target).__name__}) has weights of "
                             f"shapes {expected}; {key!r} gives {got}")
        self.assigned[target.name] = arrays


def _weighted_layers(model):
    """Every layer of `model` (nested models included) that owns weights itself."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _weighted_layers(layer)
        elif layer.weights:
            yield layer


def load_state(model: keras.Model, state: dict, mapping) -> StateMapping:
    """Sets `model`'s weights from the state dict `state` through `mapping(StateMapping)`.

    ValueError when the mapping leaves a weighted layer unassigned or an array
    of the checkpoint unused (naming them), or when a shape differs; nothing is
    set on the model then.
    """
    m = StateMapping(model, state)
    mapping(m)
    missing = [name for name in m._layers if name not in m.assigned]
    unused = sorted(key for key in m.state
                    if key not in m.used and key not in m.skipped
                    and not key.endswith(IGNORED_SUFFIXES))
    if missing or unused:
        parts = []
        if missing:
            parts.append(f"layers without weights from it: {_listing(missing)}")
        if unused:
            parts.append(f"arrays of it no layer takes: {_listing(unused)}")
        raise ValueError(f"the checkpoint does not fit the model {model.name!r} ("
                         + "; ".join(parts) + "): is it the checkpoint of this network and "
                         "structure?")
    for name, arrays in m.assigned.items():
        layer = m._layers[name]
        for variable, array in zip(layer.weights, arrays):
            variable.assign(array.astype(variable.dtype))
    return m


def _listing(names, limit=8):
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
