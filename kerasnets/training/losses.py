"""The classification loss of the recipes: cross-entropy on integer labels, with label smoothing.

Label smoothing (Szegedy et al. 2016, "Rethinking the Inception
Architecture", section 7) replaces the one-hot target of label y by
``q'(k) = (1 - eps) * [k == y] + eps / K`` over the K classes, so the loss is
``(1 - eps) * CE(y) + eps * mean_k(-log p_k)``. Inception v3 uses eps = 0.1.
"""

from __future__ import annotations

import keras

__all__ = ["SparseCategoricalCrossentropy", "classification_loss", "is_logits"]


@keras.saving.register_keras_serializable(package="kerasnets")
class SparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels against probabilities (or logits), label-smoothed."""

    def __init__(self, label_smoothing=0.0, from_logits=False,
                 name="sparse_categorical_crossentropy", reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if isinstance(label_smoothing, bool) or not 0 <= label_smoothing < 1:
            raise ValueError(f"`label_smoothing` must be in [0, 1); got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        ops = keras.ops
        if not self.label_smoothing:
            return keras.losses.sparse_categorical_crossentropy(
                y_true, y_pred, from_logits=self.from_logits)
        classes = ops.shape(y_pred)[-1]
        labels = ops.cast(ops.reshape(y_true, ops.shape(y_pred)[:-1]), "int32")
        one_hot = ops.one_hot(labels, classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "from_logits": self.from_logits}


def is_logits(model, output_name=None):
    """True when `model`'s (named or first) output layer has no softmax."""
    name = output_name or model.output_names[0]
    try:
        layer = model.get_layer(name)
    except ValueError:
        return False
    # Through the float32 cast that mixed precision adds (kerasnets.training.build).
    while name.endswith("_float32") and isinstance(layer, keras.layers.Activation):
        layer = layer._inbound_nodes[0].input_tensors[0]._keras_history[0]
        name = layer.name
    activation = getattr(getattr(layer, "activation", None), "__name__", None)
    return activation != "softmax"


def classification_loss(model, label_smoothing=0.0):
    """The loss for `model`'s main output: from logits when it has no softmax."""
    return SparseCategoricalCrossentropy(label_smoothing=label_smoothing,
                                         from_logits=is_logits(model))
