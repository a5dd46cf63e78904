"""Local response normalization across channels (AlexNet, GoogLeNet)."""

from __future__ import annotations

import numbers

import keras
from keras import ops

from kerasnets.checks import check_range, standardize_data_format


@keras.saving.register_keras_serializable(package="kerasnets")
class LocalResponseNormalization(keras.layers.Layer):
    """Normalizes each activation by the energy of its neighbouring channels.

    Krizhevsky, Sutskever and Hinton, "ImageNet Classification with Deep
    Convolutional Neural Networks", NIPS 2012, section 3.3:

        b_i = a_i / (k + alpha * sum_{j=max(0, i-n/2)}^{min(C-1, i+n/2)} a_j^2) ** beta

    at every position, over a window of `n` channels centred on channel i and
    truncated at the first and last channels (the same as zero padding).

    Conventions: `alpha` multiplies the *sum* of squares over the window, as in
    the AlexNet paper and `tf.nn.local_response_normalization(x,
    depth_radius=(n - 1) // 2, bias=k, alpha=alpha, beta=beta)`. Caffe's LRN
    layer (and so the GoogLeNet/Caffe model zoo prototxts) divides its alpha
    by n, i.e. multiplies the *mean*: caffe_alpha = alpha * n, so a Caffe
    `local_size: 5, alpha: 1e-4` is `n=5, alpha=2e-5` here. `n` is an odd
    positive integer. Normalization runs along the channel axis given by
    `data_format` (None means `keras.config.image_data_format()`); inputs
    may have any rank >= 2. float16 and bfloat16 inputs are normalized in
    float32 (the sums of squares overflow float16). The layer has no weights.
    """

    def __init__(self, k=2.0, n=5, alpha=1e-4, beta=0.75, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.k = float(check_range("k", k, 0, low_inclusive=False))
        if (
            not isinstance(n, numbers.Integral)
            or isinstance(n, bool)
            or n < 1
            or n % 2 == 0
        ):
            raise ValueError(
                f"`n` (the window size in channels) must be an odd integer in [1, inf); "
                f"got {n!r}"
            )
        self.n = int(n)
        self.alpha = float(check_range("alpha", alpha, 0))
        self.beta = float(check_range("beta", beta, 0))
        self.data_format = standardize_data_format(data_format)

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                "LocalResponseNormalization needs inputs of rank >= 2 (batch and "
                f"channels); got shape {tuple(input_shape)}"
            )

    def call(self, inputs):
        rank = len(inputs.shape)
        axis = rank - 1 if self.data_format == "channels_last" else 1
        radius = (self.n - 1) // 2
        input_dtype = keras.backend.standardize_dtype(inputs.dtype)
        if input_dtype in ("float16", "bfloat16"):
            # Sums of squared activations overflow float16 (max 65504) easily.
            inputs = ops.cast(inputs, "float32")
        if (keras.backend.backend() == "tensorflow" and rank == 4
                and self.data_format == "channels_last"):
            # Tensorflow's own LRN is this formula (tests/test_layers.py) as one
            # oneDNN kernel with its gradient: the generic form below spent more
            # time in `pow` than AlexNet spends in its fully connected layers.
            import tensorflow as tf

            outputs = tf.nn.local_response_normalization(
                inputs, depth_radius=radius, bias=self.k, alpha=self.alpha, beta=self.beta)
            return ops.cast(outputs, input_dtype)
        squares = ops.square(inputs)
        if radius == 0:
            window_sum = squares
        else:
            pad_width = [[0, 0]] * rank
            pad_width[axis] = [radius, radius]
            padded = ops.pad(squares, pad_width)
            channels = ops.shape(inputs)[axis]
            # The window sum as n shifted slices of the zero-padded squares:
            # exact at the channel edges, and no cumulative-sum round-off.
            window_sum = None
            for offset in range(self.n):
                index = [slice(None)] * rank
                index[axis] = slice(offset, offset + channels)
                shifted = padded[tuple(index)]
                window_sum = shifted if window_sum is None else window_sum + shifted
        scale = ops.power(self.k + self.alpha * window_sum, self.beta)
        return ops.cast(inputs / scale, input_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "k": self.k,
                "n": self.n,
                "alpha": self.alpha,
                "beta": self.beta,
                "data_format": self.data_format,
            }
        )
        return config
