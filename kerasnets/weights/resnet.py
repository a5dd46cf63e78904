"""Mappings of published PyTorch ResNet checkpoints onto `kerasnets.models.resnet`'s layers.

`torchvision_resnet` reads the state dicts of torchvision's `ResNet` (ResNet-18
to 152, ResNeXt), which timm's `ResNet` shares key for key (`conv1`, `bn1`,
`layer{1-4}.{i}.conv{1-3}` / `bn{1-3}`, `layer{n}.0.downsample.0` / `.1`,
`fc`): the tags `tv_in1k`, `tv2_in1k`, `a1_in1k`, `gluon_in1k`,
`fb_ssl_yfcc100m_ft_in1k` and `fb_wsl_ig1b_ft_in1k`. `akamaster_cifar_resnet`
reads akamaster/pytorch_resnet_cifar10's CIFAR ResNets (`layer{1-3}`,
`linear`; option A shortcuts have no weights).

Our layers are named by position, keras.applications' way: stage s (2-5) and
block b (from 1) are `conv{s}_block{b}_{k}_conv` / `_bn` for the k-th
convolution (k = 0 the projection shortcut), torch's `layer{s-1}.{b-1}`.
"""

from __future__ import annotations

import re

__all__ = ["torchvision_resnet", "akamaster_cifar_resnet"]

_BLOCK_LAYER = re.compile(r"conv(\d)_block(\d+)_(\d)_(conv|bn)")


def _block_key(stage: int, block: int, index: int, kind: str) -> str:
    prefix = f"layer{stage - 1}.{block - 1}"
    if index == 0:  # the projection shortcut: downsample = Sequential(conv, bn)
        return f"{prefix}.downsample.{0 if kind == 'conv' else 1}"
    return f"{prefix}.{kind}{index}"


def _residual_stages(m) -> None:
    """Every `conv{s}_block{b}_{k}_conv/_bn` layer of the model from its `layer{s-1}` key."""
    for layer in m.model.layers:
        match = _BLOCK_LAYER.fullmatch(layer.name)
        if match is None or not layer.weights:
            continue
        stage, block, index, kind = match.groups()
        key = _block_key(int(stage), int(block), int(index), kind)
        if kind == "conv":
            m.conv(layer.name, key)
        else:
            m.batch_norm(layer.name, key)


def torchvision_resnet(m) -> None:
    """torchvision's (and timm's) ResNet / ResNeXt state dict onto resnet18 ... resnext101."""
    m.conv("conv1_conv", "conv1")
    m.batch_norm("conv1_bn", "bn1")
    _residual_stages(m)
    m.dense("predictions", "fc")


def akamaster_cifar_resnet(m) -> None:
    """akamaster/pytorch_resnet_cifar10's state dict onto resnet20 ... resnet1202."""
    m.conv("conv1_conv", "conv1")
    m.batch_norm("conv1_bn", "bn1")
    _residual_stages(m)
    m.dense("predictions", "linear")
