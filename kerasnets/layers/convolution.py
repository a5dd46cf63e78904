"""Grouped convolutions at full speed on tensorflow's CPU path (ResNeXt, SENet, AlexNet, ShuffleNet)."""

from __future__ import annotations

import contextlib
import contextvars
import functools

import keras

from kerasnets.checks import check_choice

GROUPED_FORMS = ("keras", "native", "split")
_FORCED_FORM = contextvars.ContextVar("kerasnets_grouped_form", default=None)


@functools.lru_cache(maxsize=None)
def onednn_enabled():
    """Whether tensorflow runs its CPU kernels through oneDNN in this process.

    True on x86-64 Linux builds unless TF_ENABLE_ONEDNN_OPTS=0. The question
    goes through tensorflow's own `IsMklEnabled`, the check its tests use; a
    tensorflow without it is taken as "no oneDNN" (the split form then runs,
    which is correct everywhere).
    """
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return False
    return bool(_pywrap_util_port.IsMklEnabled())


def grouped_form():
    """The form `Conv2D` computes a grouped convolution in, on this backend and machine.

    "keras": Keras' own `ops.conv` (jax and torch have grouped kernels of their own).
    "native": one `tf.nn.convolution` with the grouped kernel, which oneDNN runs
    as a grouped convolution, forward and backward.
    "split": one convolution per group, concatenated: tensorflow without oneDNN
    has no CPU gradient for a grouped kernel (Conv2DBackpropInput refuses it).
    """
    if keras.backend.backend() != "tensorflow":
        return "keras"
    forced = _FORCED_FORM.get()
    if forced is not None:
        return forced
    return "native" if onednn_enabled() else "split"


@contextlib.contextmanager
def grouped_convolutions(form):
    """Within the block, tensorflow computes `Conv2D`'s grouped convolutions in `form`.

    For comparisons (benchmarks/grouped_conv_speed.py, tests): "keras" is
    Keras' per-call XLA path, what a `keras.layers.Conv2D` does. It takes
    effect when a model is traced (called, or its train/predict function
    first built) inside the block. "native" needs oneDNN for gradients.
    """
    check_choice("form", form, GROUPED_FORMS)
    token = _FORCED_FORM.set(form)
    try:
        yield
    finally:
        _FORCED_FORM.reset(token)


def tensorflow_grouped_convolution(inputs, kernel, groups, strides, padding, dilation_rate,
                                   form):
    """A channels-last grouped convolution in the tensorflow `form` ("native" or "split")."""
    import tensorflow as tf

    padding = padding.upper()
    if form == "native":
        return tf.nn.convolution(inputs, kernel, strides, padding, dilations=dilation_rate)
    if form != "split":
        raise ValueError(f"`form` must be 'native' or 'split'; got {form!r}")
    parts = zip(tf.split(inputs, groups, axis=-1), tf.split(kernel, groups, axis=-1))
    return tf.concat(
        [tf.nn.convolution(x, w, strides, padding, dilations=dilation_rate) for x, w in parts],
        axis=-1,
    )


@keras.saving.register_keras_serializable(package="kerasnets")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose grouped convolutions run natively on tensorflow.

    Keras sends every grouped convolution on tensorflow through a per-call XLA
    function (`jit_compile=True` around one op), because tensorflow's plain
    CPU kernels lack a grouped gradient. On oneDNN's CPU path (the default on
    x86-64) that costs up to 14x in the forward pass, and up to 350x forward
    and backward, for ResNeXt's 32-group 3x3 convolutions (benchmarks/README.md,
    "Grouped convolutions"), whereas `tf.nn.convolution` with the grouped kernel
    runs as one oneDNN grouped convolution and has its gradient. This layer
    computes grouped convolutions that way, per group and concatenated where
    oneDNN is off (`grouped_form`), and leaves everything else to Keras: the
    jax and torch backends, `groups=1`, channels_first.

    It is `Conv2D` by name on purpose: Keras' weight files address a layer by
    its class name (`conv2d`, `conv2d_1`, ...), so this class keeps the paths,
    and the weight files, of a model built with `keras.layers.Conv2D`. Its
    variables, config and outputs are Keras' (tests/test_grouped_convolution.py:
    equal outputs and gradients to 1e-5, both forms, and cross-loading both ways).
    """

    def convolution_op(self, inputs, kernel):
        form = grouped_form()
        if self.groups == 1 or self.data_format != "channels_last" or form == "keras":
            return super().convolution_op(inputs, kernel)
        return tensorflow_grouped_convolution(
            inputs, kernel, self.groups, list(self.strides), self.padding,
            list(self.dilation_rate), form,
        )


def conv2d(filters, kernel_size, groups=1, **kwargs):
    """A `Conv2D`: Keras' for `groups=1`, ours for grouped convolutions (same weights, same paths)."""
    layer = Conv2D if groups > 1 else keras.layers.Conv2D
    return layer(filters, kernel_size, groups=groups, **kwargs)
