"""State-dict mappings of the PyTorch MobileNet checkpoints onto kerasnets' MobileNets.

Each function takes a `kerasnets.weights.transfer.StateMapping` and assigns every
weighted layer of `m.model` (keras.applications' layer names, see
`kerasnets.models.mobilenet`) from the torch state dict `m.state`:

- `timm_mobilenet_v1`: timm's `mobilenetv1_100` (`EfficientNet` built by
  `_gen_mobilenet_v1`): `conv_stem`/`bn1`, `blocks.<stage>.<i>.conv_dw/bn1/conv_pw/bn2`,
  `classifier` (a Linear, into keras' 1x1 convolution `conv_preds`).
- `timm_mobilenet_v2`: timm's `mobilenetv2_100`: the first block is a depthwise
  separable one (`conv_dw/bn1/conv_pw/bn2`), the others inverted residuals
  (`conv_pw/bn1/conv_dw/bn2/conv_pwl/bn3`), then `conv_head/bn2` and `classifier`.
- `torchvision_mobilenet_v2`: torchvision's `mobilenet_v2`: `features.<i>` in
  Sequential numbering, `classifier.1`.

The checkpoints need the builders' `padding="symmetric"` and `bn_epsilon=1e-5`.
"""

from __future__ import annotations

__all__ = ["timm_mobilenet_v1", "timm_mobilenet_v2", "torchvision_mobilenet_v2"]

# Blocks per stage of timm's arch_def (a stage starts at each stride-2 block):
# MobileNet v1's 13 depthwise separable convolutions, v2's 17 blocks (Table 2).
TIMM_V1_STAGES = (1, 2, 2, 6, 2)
V2_STAGES = (1, 2, 3, 4, 3, 3, 1)


def _block_keys(stages):
    """(block number from 0, "stage.index") of every block, in order."""
    keys = [f"{stage}.{index}" for stage, count in enumerate(stages) for index in range(count)]
    return list(enumerate(keys))


def timm_mobilenet_v1(m):
    """timm `mobilenetv1_100` -> `mobilenet_v1(padding="symmetric", bn_epsilon=1e-5)`."""
    m.conv("conv1", "conv_stem")
    m.batch_norm("conv1_bn", "bn1")
    for number, key in _block_keys(TIMM_V1_STAGES):
        block_id = number + 1
        m.depthwise(f"conv_dw_{block_id}", f"blocks.{key}.conv_dw")
        m.batch_norm(f"conv_dw_{block_id}_bn", f"blocks.{key}.bn1")
        m.conv(f"conv_pw_{block_id}", f"blocks.{key}.conv_pw")
        m.batch_norm(f"conv_pw_{block_id}_bn", f"blocks.{key}.bn2")
    m.conv("conv_preds", "classifier")


def timm_mobilenet_v2(m):
    """timm `mobilenetv2_100` -> `mobilenet_v2(padding="symmetric", bn_epsilon=1e-5)`."""
    m.conv("Conv1", "conv_stem")
    m.batch_norm("bn_Conv1", "bn1")
    for block_id, key in _block_keys(V2_STAGES):
        block = f"blocks.{key}"
        if block_id == 0:
            m.depthwise("expanded_conv_depthwise", f"{block}.conv_dw")
            m.batch_norm("expanded_conv_depthwise_BN", f"{block}.bn1")
            m.conv("expanded_conv_project", f"{block}.conv_pw")
            m.batch_norm("expanded_conv_project_BN", f"{block}.bn2")
            continue
        prefix = f"block_{block_id}_"
        m.conv(f"{prefix}expand", f"{block}.conv_pw")
        m.batch_norm(f"{prefix}expand_BN", f"{block}.bn1")
        m.depthwise(f"{prefix}depthwise", f"{block}.conv_dw")
        m.batch_norm(f"{prefix}depthwise_BN", f"{block}.bn2")
        m.conv(f"{prefix}project", f"{block}.conv_pwl")
        m.batch_norm(f"{prefix}project_BN", f"{block}.bn3")
    m.conv("Conv_1", "conv_head")
    m.batch_norm("Conv_1_bn", "bn2")
    m.dense("predictions", "classifier")


def torchvision_mobilenet_v2(m):
    """torchvision `mobilenet_v2` -> `mobilenet_v2(padding="symmetric", bn_epsilon=1e-5)`.

    `features.0` is the first convolution (Conv2d, BatchNorm2d, ReLU6), `features.1`
    to `features.17` the blocks (`conv` a Sequential: the expansion ConvBNReLU
    where t > 1, the depthwise ConvBNReLU, the projection Conv2d and its
    BatchNorm2d), `features.18` the last 1x1 convolution, `classifier.1` the Linear.
    """
    m.conv("Conv1", "features.0.0")
    m.batch_norm("bn_Conv1", "features.0.1")
    for block_id in range(sum(V2_STAGES)):
        conv = f"features.{block_id + 1}.conv"
        if block_id == 0:
            m.depthwise("expanded_conv_depthwise", f"{conv}.0.0")
            m.batch_norm("expanded_conv_depthwise_BN", f"{conv}.0.1")
            m.conv("expanded_conv_project", f"{conv}.1")
            m.batch_norm("expanded_conv_project_BN", f"{conv}.2")
            continue
        prefix = f"block_{block_id}_"
        m.conv(f"{prefix}expand", f"{conv}.0.0")
        m.batch_norm(f"{prefix}expand_BN", f"{conv}.0.1")
        m.depthwise(f"{prefix}depthwise", f"{conv}.1.0")
        m.batch_norm(f"{prefix}depthwise_BN", f"{conv}.1.1")
        m.conv(f"{prefix}project", f"{conv}.2")
        m.batch_norm(f"{prefix}project_BN", f"{conv}.3")
    last = f"features.{sum(V2_STAGES) + 1}"
    m.conv("Conv_1", f"{last}.0")
    m.batch_norm("Conv_1_bn", f"{last}.1")
    m.dense("predictions", "classifier.1")
