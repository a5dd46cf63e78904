"""VGG checkpoints of other libraries, mapped onto kerasnets' VGG (`kerasnets.models.vgg`).

`timm_vgg`: timm's `vgg11/13/16/19` files (`timm/vgg*.tv_in1k` on the Hugging Face
hub, torchvision's weights in timm's layout): `features.<i>` (a convolution and its
ReLU take two indices, each 2x2 max pooling one), `pre_logits.fc1` (the first fully
connected layer as a 7x7 convolution over the 512 x 7 x 7 map), `pre_logits.fc2`
(the second as a 1x1 convolution), `head.fc`.
"""

from __future__ import annotations

import re

__all__ = ["timm_vgg"]

# The map the first fully connected layer flattens at 224x224: (channels, height, width).
FLATTENED_MAP = (512, 7, 7)
HIDDEN_UNITS = 4096


def timm_vgg(m):
    """Assigns a VGG (`block<b>_conv<i>`, `fc1`, `fc2`, `predictions`) from timm's state dict."""
    index = 0
    block = 1
    for layer in m.model.layers:
        match = re.fullmatch(r"block(\d+)_conv\d+", layer.name)
        if match is None:
            continue
        if int(match[1]) != block:
            index += 1  # the max pooling that closed the previous block
            block = int(match[1])
        m.conv(layer.name, f"features.{index}")
        index += 2  # the convolution and its ReLU
    m.dense("fc1", "pre_logits.fc1", flatten_chw=FLATTENED_MAP)
    m.dense("fc2", "pre_logits.fc2", flatten_chw=(HIDDEN_UNITS, 1, 1))
    m.dense("predictions", "head.fc")
