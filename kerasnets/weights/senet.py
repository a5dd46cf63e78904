"""The released SENets' state dicts (Cadene's pretrainedmodels, timm's legacy SENets) onto
`kerasnets.models.senet`'s layers.

Cadene's port of the Caffe models (https://github.com/Cadene/pretrained-models.pytorch,
pretrainedmodels/models/senet.py) and timm's `legacy_seresnet50` ... `legacy_senet154`
(timm/models/senet.py, the same code and keys) name their modules
`layer0.conv1`/`bn1` (`conv2`/`bn2`, `conv3`/`bn3` in SENet-154's three-convolution
stem), `layer{s}.{b}.conv1 ... bn3` for block b of stage s, `downsample.0`/`.1` for a
projection shortcut, `se_module.fc1`/`fc2` (1x1 convolutions with biases) for the
gate and `last_linear` for the classifier. Ours are keras.applications' ResNet names:
`conv{s+1}_block{b+1}_{1,2,3}_conv`/`_bn`, `_0_conv`/`_0_bn`, `_se`, `predictions`.
"""

from __future__ import annotations

import re

__all__ = ["cadene_senet", "squeeze_excite"]

# The first convolution of every residual block: conv{stage}_block{block}_1_conv.
BLOCK = re.compile(r"conv(\d+)_block(\d+)_1_conv")
DEEP_STEM_CONVS = 3


def squeeze_excite(m, layer_name, key):
    """A `SqueezeExcite` gate from two 1x1 convolutions with biases (`{key}.fc1`, `{key}.fc2`).

    (units, C, 1, 1) and (C, units, 1, 1) become the Dense kernels (C, units)
    and (units, C) of the layer's `reduce` and `expand`.
    """
    if m.layer(layer_name) is None:
        return
    arrays = []
    for fc in ("fc1", "fc2"):
        weight = m.take(f"{key}.{fc}.weight")
        arrays += [weight.reshape(weight.shape[0], -1).T, m.take(f"{key}.{fc}.bias")]
    m.assign(layer_name, arrays)


def cadene_senet(m):
    """SE-ResNet-50/101/152, SE-ResNeXt-50/101 (32x4d) and SENet-154 from Cadene's (timm's) keys."""
    if m.layer("conv1_conv") is not None:
        m.conv("conv1_conv", "layer0.conv1")
        m.batch_norm("conv1_bn", "layer0.bn1")
    else:  # SENet-154's stem
        for i in range(1, DEEP_STEM_CONVS + 1):
            m.conv(f"conv1_{i}_conv", f"layer0.conv{i}")
            m.batch_norm(f"conv1_{i}_bn", f"layer0.bn{i}")
    for layer in m.model.layers:
        match = BLOCK.fullmatch(layer.name)
        if match is None:
            continue
        stage, block = int(match[1]), int(match[2])
        name, key = f"conv{stage}_block{block}", f"layer{stage - 1}.{block - 1}"
        for i in (1, 2, 3):
            m.conv(f"{name}_{i}_conv", f"{key}.conv{i}")
            m.batch_norm(f"{name}_{i}_bn", f"{key}.bn{i}")
        if m.has(f"{key}.downsample.0.weight"):
            m.conv(f"{name}_0_conv", f"{key}.downsample.0")
            m.batch_norm(f"{name}_0_bn", f"{key}.downsample.1")
        squeeze_excite(m, f"{name}_se", f"{key}.se_module")
    m.dense("predictions", "last_linear")
