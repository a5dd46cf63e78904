"""State-dict mapping of megvii's ShuffleNet v1 checkpoints onto kerasnets' ShuffleNet v1.

megvii's ShuffleNet-Series (ShuffleNetV1/network.py, blocks.py) names the layers
`first_conv.0/1` (the 3x3/2 convolution and its BatchNorm), `features.<i>` (the 16
units in order: `branch_main_1.0/1` the first 1x1 convolution and its BatchNorm,
`branch_main_1.3/4` the depthwise convolution and its BatchNorm, `branch_main_2.0/1`
the second 1x1 convolution and its BatchNorm) and `classifier.0` (a Linear without
bias). Their training checkpoints wrap the state dict (`{"state_dict": ...}`, keys
prefixed `module.`), which `kerasnets.weights.readers` unwraps.

Three differences are folded into the weights here, exactly:
- their units shuffle the channels after the depthwise convolution and its
  BatchNorm, kerasnets' (the paper's Figure 2) before them: both are per-channel, so
  the depthwise kernels and BatchNorm arrays are taken in the shuffled order;
- their first unit of Stage 2 shuffles after its ungrouped first 1x1 convolution
  too (kerasnets leaves that shuffle out: a fixed permutation after a dense
  convolution): that convolution's output channels and its BatchNorm are permuted
  the same way instead;
- their classifier has no bias: kerasnets' Dense gets a zero bias.
The checkpoints need `shuffle="transposed"` and `bn_epsilon=1e-5`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["megvii_shufflenet_v1", "megvii_shuffle_order"]

# Units of Stages 2, 3, 4 (Table 1), as megvii's `stage_repeats`.
STAGE_UNITS = (4, 8, 4)


def megvii_shuffle_order(channels, groups):
    """Output channel j of megvii's `channel_shuffle` is input channel order[j].

    Their code reshapes the channels to (C / g, g), transposes and flattens back.
    """
    return np.arange(channels).reshape(channels // groups, groups).T.reshape(-1)


def _permuted_batch_norm(m, layer, key, order):
    """A BatchNormalization from `key`'s arrays with their channels in `order`."""
    target = m.layer(layer)
    names = []
    if getattr(target, "scale", True):
        names.append("weight")
    if getattr(target, "center", True):
        names.append("bias")
    names += ["running_mean", "running_var"]
    keys = tuple(f"{key}.{name}" for name in names)
    m.assign(layer, [m.state[k][order] for k in keys], keys=keys)


def _permuted_depthwise(m, layer, key, order):
    """A DepthwiseConv2D (multiplier 1) from `key.weight` with its channels in `order`."""
    weight_key = f"{key}.weight"
    kernel = m.state[weight_key][order]  # (channels, 1, kh, kw)
    m.assign(layer, [np.transpose(kernel, (2, 3, 0, 1))], keys=(weight_key,))


def megvii_shufflenet_v1(m):
    """megvii ShuffleNetV1 1.0x (g = 3 or 8) -> `shufflenet_v1(shuffle="transposed",
    bn_epsilon=1e-5)`."""
    m.conv("conv1", "first_conv.0")
    m.batch_norm("conv1_bn", "first_conv.1")
    groups = m.layer("stage2_unit2_gconv1").groups
    index = 0
    for stage_id, units in enumerate(STAGE_UNITS, start=2):
        for unit in range(1, units + 1):
            name, key = f"stage{stage_id}_unit{unit}", f"features.{index}"
            index += 1
            first_key = f"{key}.branch_main_1.0"
            order = megvii_shuffle_order(m.state[f"{first_key}.weight"].shape[0], groups)
            if stage_id == 2 and unit == 1:
                # The shuffle after the ungrouped convolution, folded into it.
                kernel = m.state[f"{first_key}.weight"][order]
                m.assign(f"{name}_gconv1", [np.transpose(kernel, (2, 3, 1, 0))],
                         keys=(f"{first_key}.weight",))
                _permuted_batch_norm(m, f"{name}_gconv1_bn", f"{key}.branch_main_1.1", order)
            else:
                m.conv(f"{name}_gconv1", first_key)
                m.batch_norm(f"{name}_gconv1_bn", f"{key}.branch_main_1.1")
            # Shuffled before the depthwise convolution here, after it in their code.
            _permuted_depthwise(m, f"{name}_dwconv", f"{key}.branch_main_1.3", order)
            _permuted_batch_norm(m, f"{name}_dwconv_bn", f"{key}.branch_main_1.4", order)
            m.conv(f"{name}_gconv2", f"{key}.branch_main_2.0")
            m.batch_norm(f"{name}_gconv2_bn", f"{key}.branch_main_2.1")
    # Their Linear has no bias: a zero one (left out with the classifier when include_top=False).
    weight = m.state["classifier.0.weight"]
    m.assign("predictions", [weight.T, np.zeros(weight.shape[0], weight.dtype)],
             keys=("classifier.0.weight",))
