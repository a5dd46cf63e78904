"""torchvision's DenseNet state dicts (and timm's `densenet121.tv_in1k` ..., the same keys) onto
`kerasnets.models.densenet`'s layers.

torchvision (torchvision/models/densenet.py) names the stem `features.conv0`/`norm0`,
dense layer l of block b `features.denseblock{b}.denselayer{l}.norm1`, `conv1` (the 1x1
bottleneck), `norm2`, `conv2` (the 3x3), transition b `features.transition{b}.norm`/
`conv`, the last normalization `features.norm5` and the classifier `classifier`. Ours are
keras.applications' names: `conv1_conv`/`conv1_bn`, `conv{b+1}_block{l}_0_bn`, `_1_conv`,
`_1_bn`, `_2_conv`, `pool{b+1}_bn`/`pool{b+1}_conv`, `bn` and `predictions`.
"""

from __future__ import annotations

import re

__all__ = ["torchvision_densenet"]

# The first normalization of every dense layer: conv{block + 1}_block{layer}_0_bn.
DENSE_LAYER = re.compile(r"conv(\d+)_block(\d+)_0_bn")
# A transition's normalization: pool{block + 1}_bn.
TRANSITION = re.compile(r"pool(\d+)_bn")


def torchvision_densenet(m):
    """DenseNet-121/169/201 (any DenseNet-BC of the ImageNet stem) from torchvision's keys."""
    m.conv("conv1_conv", "features.conv0")
    m.batch_norm("conv1_bn", "features.norm0")
    for layer in m.model.layers:
        if match := DENSE_LAYER.fullmatch(layer.name):
            block, index = int(match[1]) - 1, int(match[2])
            name, key = layer.name[: -len("_0_bn")], f"features.denseblock{block}.denselayer{index}"
            m.batch_norm(f"{name}_0_bn", f"{key}.norm1")
            m.conv(f"{name}_1_conv", f"{key}.conv1")
            m.batch_norm(f"{name}_1_bn", f"{key}.norm2")
            m.conv(f"{name}_2_conv", f"{key}.conv2")
        elif match := TRANSITION.fullmatch(layer.name):
            key = f"features.transition{int(match[1]) - 1}"
            m.batch_norm(layer.name, f"{key}.norm")
            m.conv(f"pool{match[1]}_conv", f"{key}.conv")
    m.batch_norm("bn", "features.norm5")
    m.dense("predictions", "classifier")
