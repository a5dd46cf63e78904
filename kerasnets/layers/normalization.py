"""Batch normalization whose training step runs as one fused kernel on tensorflow."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="kerasnets")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training-mode call is tensorflow's fused kernel.

    Keras 3 computes batch normalization on tensorflow from separate ops:
    the moments (mean, squared difference, mean), then the arithmetic of the
    normalization, each a pass over the feature map, forward and backward.
    tensorflow has the whole of it as one kernel, `FusedBatchNormV3` (oneDNN
    on x86-64), with a fused gradient: the form tf.keras used by default.
    On this package's CPU benchmarks it makes a training step 1.1-1.6x
    faster (benchmarks/README.md, "Batch normalization").

    The fused path is taken on tensorflow for a 4-D channels-last input in
    training mode (`training=True` and a trainable layer), without a mask,
    renorm or `synchronized`; everything else, inference included, is Keras'
    own `call`. It computes what Keras computes: the input upcast to
    float32, normalized with the batch's biased variance, and the moving
    statistics updated the same way (the kernel returns the unbiased
    variance, n / (n - 1) times the biased one, which is undone here).

    It is `BatchNormalization` by name on purpose, like `kerasnets.layers.Conv2D`:
    Keras addresses an unnamed layer's weights by its class name, so weight
    files keep their paths. Variables, config and outputs are Keras'
    (tests/test_batch_normalization.py: outputs, gradients and moving
    statistics equal to Keras' layer, and weights loading both ways).
    """

    def _fused(self, inputs, training, mask):
        """Whether this call can run as tensorflow's fused kernel."""
        return (
            keras.backend.backend() == "tensorflow"
            and bool(training) and self.trainable
            and mask is None and not self.renorm and not self.synchronized
            and len(inputs.shape) == 4 and self.axis in (-1, 3)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = tf.cast(inputs, "float32")
        channels = x.shape[-1]
        gamma = tf.cast(self.gamma, "float32") if self.scale else tf.ones((channels,))
        beta = tf.cast(self.beta, "float32") if self.center else tf.zeros((channels,))
        # The raw op, not tf.nn.fused_batch_norm: that wrapper raises epsilon to
        # 1.001e-5 (an old cuDNN limit), which would change the 1e-5 models.
        outputs, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta,
            mean=tf.zeros((channels,)), variance=tf.ones((channels,)),
            epsilon=self.epsilon, exponential_avg_factor=1.0,
            data_format="NHWC", is_training=True,
        )
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), "float32")
        # n = 1 gives a zero variance either way (the kernel divides by max(n - 1, 1)).
        variance = unbiased_variance * ((count - 1.0) / count)
        momentum = self.momentum
        self.moving_mean.assign(
            tf.cast(self.moving_mean, "float32") * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(
            tf.cast(self.moving_variance, "float32") * momentum
            + variance * (1.0 - momentum))
        return tf.cast(outputs, self.compute_dtype)
