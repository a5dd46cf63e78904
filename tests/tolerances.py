"""Tolerances shared by the tests that compare whole networks with another implementation.

`BATCH_STATISTICS`: outputs in training mode, where every batch normalization
divides by the batch's standard deviation. On tensorflow kerasnets computes
it with the fused kernel (`kerasnets.layers.BatchNormalization`) and Keras
with separate moment ops; each layer agrees to ~1e-6, but the deep networks
amplify float32 round-off through each normalization of a low-variance
channel. Measured on Inception v3 (299x299, batch 2) against the same network
in float64: Keras' layers are 8.8e-5 off, the fused ones 1.8e-4, so the two
float32 forms differ by up to 2e-4. A misplaced or missing layer moves the
O(1) logits by far more than 1e-3.
"""

BATCH_STATISTICS = {"atol": 1e-3, "rtol": 1e-3}
