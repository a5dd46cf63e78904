"""The BVLC AlexNet .caffemodel mapped onto kerasnets' AlexNet.

`bvlc_alexnet`: the BVLC model zoo's AlexNet (BVLC/caffe models/bvlc_alexnet,
deploy.prototxt), read by `kerasnets.weights.caffemodel` as
`{"<layer>.weight", "<layer>.bias"}` for its layers conv1..conv5 (conv2, conv4
and conv5 with group 2: weights (out, in / 2, kh, kw), the same as our grouped
Conv2D) and fc6, fc7, fc8. Its layer names are ours. fc6 follows pool5's
(256, 6, 6) maps, which Caffe flattens channels first.
"""

from __future__ import annotations

__all__ = ["bvlc_alexnet"]

CONVOLUTIONS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def bvlc_alexnet(m):
    """Assigns every layer of `m.model` (an `alexnet` with `lrn_convention="caffe"`)."""
    for name in CONVOLUTIONS:
        m.conv(name, name)
    pool5 = m.model.get_layer("pool5").output.shape
    m.dense("fc6", "fc6", flatten_chw=(pool5[3], pool5[1], pool5[2]))
    m.dense("fc7", "fc7")
    m.dense("predictions", "fc8")
