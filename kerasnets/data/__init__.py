"""tf.data input pipelines: sources of labelled images and the batching that feeds `fit`."""

from kerasnets.data.sources import Splits, batched, digits

__all__ = ["Splits", "batched", "digits"]
