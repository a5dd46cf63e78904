"""PyTorch ports of Caffe model-zoo networks, mapped onto kerasnets' GoogLeNet and NIN.

`bvlc_googlenet`: the BVLC GoogLeNet as crowsonkb/pytorch-caffe-models ports it
(`conv1`, `conv2_reduce`, `conv2`, `inception_<m>.conv_1x1/conv_3x3_reduce/conv_3x3/
conv_5x5_reduce/conv_5x5/pool_proj`, `loss3_classifier`; the deploy network, without
the auxiliary classifiers).

`caffe_nin`: the Caffe model zoo's NIN-ImageNet as ProGamerGov/pytorch-nin ports it,
one `features` nn.Sequential whose convolutions sit at indices 0, 2, 4 (mlpconv 1),
7, 9, 11 (2), 14, 16, 18 (3), 22, 24 and 26 (4, the last one the classifier).

The BVLC AlexNet has no PyTorch port published as a file: its tag reads the
original .caffemodel (`kerasnets.weights.caffemodel`, mapped in `kerasnets.weights.alexnet`).
"""

from __future__ import annotations

import re

__all__ = ["bvlc_googlenet", "caffe_nin"]

# Our branch names (the Caffe layer names) -> the port's attribute names.
GOOGLENET_BRANCHES = {
    "1x1": "conv_1x1",
    "3x3_reduce": "conv_3x3_reduce",
    "3x3": "conv_3x3",
    "5x5_reduce": "conv_5x5_reduce",
    "5x5": "conv_5x5",
    "pool_proj": "pool_proj",
}
# Our NIN layers -> the port's `features` index.
NIN_LAYERS = {
    "block1_conv": 0, "block1_mlp1": 2, "block1_mlp2": 4,
    "block2_conv": 7, "block2_mlp1": 9, "block2_mlp2": 11,
    "block3_conv": 14, "block3_mlp1": 16, "block3_mlp2": 18,
    "block4_conv": 22, "block4_mlp1": 24, "block4_mlp2": 26,
}


def bvlc_googlenet(m):
    """Assigns a GoogLeNet (Caffe layer names) from crowsonkb's port of the BVLC model."""
    m.conv("conv1_7x7_s2", "conv1")
    m.conv("conv2_3x3_reduce", "conv2_reduce")
    m.conv("conv2_3x3", "conv2")
    modules = [match[1] for layer in m.model.layers
               if (match := re.fullmatch(r"inception_(\w+)_output", layer.name))]
    for module in modules:
        for ours, theirs in GOOGLENET_BRANCHES.items():
            m.conv(f"inception_{module}_{ours}", f"inception_{module}.{theirs}")
    m.dense("predictions", "loss3_classifier")


def caffe_nin(m):
    """Assigns the ImageNet NIN from ProGamerGov's port of the Caffe model."""
    for layer, index in NIN_LAYERS.items():
        m.conv(layer, f"features.{index}")
