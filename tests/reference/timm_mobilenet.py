"""timm's MobileNet v1 and v2 (`mobilenetv1_100`, `mobilenetv2_100`), reduced to plain torch.

Source: https://github.com/huggingface/pytorch-image-models, timm/models/efficientnet.py
(`EfficientNet`, `_gen_mobilenet_v1`, `_gen_mobilenet_v2`), timm/models/_efficientnet_blocks.py
(`DepthwiseSeparableConv`, `InvertedResidual`), timm/layers/norm_act.py (`BatchNormAct2d`).
Licence: Apache-2.0 (Copyright 2019 Ross Wightman).

timm builds these networks from string arch_defs through `_efficientnet_builder`; this
module writes out what that builder makes for the two networks, with the same
state-dict keys (`conv_stem`, `bn1`, `blocks.<stage>.<i>.conv_dw/bn1/conv_pw/bn2` and
`conv_pw/bn1/conv_dw/bn2/conv_pwl/bn3`, `conv_head`, `bn2`, `classifier`) and the
same forward: PyTorch padding (k - 1) // 2 on every side (timm's default pad_type
''), BatchNorm2d (eps 1e-5) followed by ReLU6 inside `BatchNormAct2d`, `dsa` blocks
(v1: ReLU6 after the pointwise convolution, no skip), the `ds` first block of v2
(no activation after the pointwise convolution; no skip, 32 -> 16 channels), inverted
residuals with a skip at stride 1 and equal channels, global average pooling, then
the Linear classifier. Dropout, drop-path, SE, anti-aliasing and space-to-depth are
absent from these two networks (identity at inference) and left out.
"""

import torch
from torch import nn

# (blocks, stride of the first, output channels) per stage of timm's arch_def.
MOBILENET_V1_ARCH = ((1, 1, 64), (2, 2, 128), (2, 2, 256), (6, 2, 512), (2, 2, 1024))
# (blocks, stride of the first, expansion, output channels); the first stage is `ds`.
MOBILENET_V2_ARCH = ((1, 1, 1, 16), (2, 2, 6, 24), (3, 2, 6, 32), (4, 2, 6, 64),
                     (3, 1, 6, 96), (3, 2, 6, 160), (1, 1, 6, 320))


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's BatchNormAct2d: BatchNorm2d (same keys) then the activation (ReLU6 here)."""

    def __init__(self, num_features, apply_act=True, eps=1e-5):
        super().__init__(num_features, eps=eps)
        self.act = nn.ReLU6(inplace=True) if apply_act else nn.Identity()

    def forward(self, x):
        return self.act(super().forward(x))


def create_conv2d(in_chs, out_chs, kernel_size, stride=1, groups=1):
    # timm's create_conv2d with pad_type '': symmetric padding ((stride - 1) + (k - 1)) // 2.
    padding = ((stride - 1) + (kernel_size - 1)) // 2
    return nn.Conv2d(in_chs, out_chs, kernel_size, stride=stride, padding=padding,
                     groups=groups, bias=False)


class DepthwiseSeparableConv(nn.Module):
    def __init__(self, in_chs, out_chs, stride=1, pw_act=False, noskip=False):
        super().__init__()
        self.has_skip = (stride == 1 and in_chs == out_chs) and not noskip
        self.has_pw_act = pw_act
        self.conv_dw = create_conv2d(in_chs, in_chs, 3, stride=stride, groups=in_chs)
        self.bn1 = BatchNormAct2d(in_chs)
        self.conv_pw = create_conv2d(in_chs, out_chs, 1)
        self.bn2 = BatchNormAct2d(out_chs, apply_act=self.has_pw_act)

    def forward(self, x):
        shortcut = x
        x = self.conv_dw(x)
        x = self.bn1(x)
        x = self.conv_pw(x)
        x = self.bn2(x)
        if self.has_skip:
            x = x + shortcut
        return x


class InvertedResidual(nn.Module):
    def __init__(self, in_chs, out_chs, stride=1, exp_ratio=1.0):
        super().__init__()
        self.has_skip = in_chs == out_chs and stride == 1
        mid_chs = int(in_chs * exp_ratio)  # make_divisible(in_chs * exp_ratio): exact here
        self.conv_pw = create_conv2d(in_chs, mid_chs, 1)
        self.bn1 = BatchNormAct2d(mid_chs)
        self.conv_dw = create_conv2d(mid_chs, mid_chs, 3, stride=stride, groups=mid_chs)
        self.bn2 = BatchNormAct2d(mid_chs)
        self.conv_pwl = create_conv2d(mid_chs, out_chs, 1)
        self.bn3 = BatchNormAct2d(out_chs, apply_act=False)

    def forward(self, x):
        shortcut = x
        x = self.conv_pw(x)
        x = self.bn1(x)
        x = self.conv_dw(x)
        x = self.bn2(x)
        x = self.conv_pwl(x)
        x = self.bn3(x)
        if self.has_skip:
            x = x + shortcut
        return x


class EfficientNet(nn.Module):
    """timm's EfficientNet class as `_gen_mobilenet_v1` / `_gen_mobilenet_v2` configure it."""

    def __init__(self, stages, num_features, num_classes=1000, stem_size=32):
        super().__init__()
        self.conv_stem = create_conv2d(3, stem_size, 3, stride=2)
        self.bn1 = BatchNormAct2d(stem_size)
        self.blocks = nn.Sequential(*[nn.Sequential(*stage) for stage in stages])
        head_chs = stages[-1][-1].conv_pw.out_channels if isinstance(
            stages[-1][-1], DepthwiseSeparableConv) else stages[-1][-1].conv_pwl.out_channels
        if num_features > 0:
            self.conv_head = create_conv2d(head_chs, num_features, 1)
            self.bn2 = BatchNormAct2d(num_features)
            self.num_features = num_features
        else:
            self.conv_head = nn.Identity()
            self.bn2 = nn.Identity()
            self.num_features = head_chs
        self.global_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.classifier = nn.Linear(self.num_features, num_classes)

    def forward(self, x):
        x = self.conv_stem(x)
        x = self.bn1(x)
        x = self.blocks(x)
        x = self.conv_head(x)
        x = self.bn2(x)
        x = self.global_pool(x)
        return self.classifier(x)


def mobilenetv1_100(num_classes=1000):
    """timm `mobilenetv1_100`: `dsa` blocks, no head convolution (random weights)."""
    stages, in_chs = [], 32
    for blocks, stride, out_chs in MOBILENET_V1_ARCH:
        stage = []
        for i in range(blocks):
            stage.append(DepthwiseSeparableConv(in_chs, out_chs, stride if i == 0 else 1,
                                                pw_act=True, noskip=True))
            in_chs = out_chs
        stages.append(stage)
    return EfficientNet(stages, num_features=0, num_classes=num_classes)


def mobilenetv2_100(num_classes=1000):
    """timm `mobilenetv2_100`: a `ds` block, inverted residuals, a 1280 head (random weights)."""
    stages, in_chs = [], 32
    for stage_id, (blocks, stride, expansion, out_chs) in enumerate(MOBILENET_V2_ARCH):
        stage = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            if stage_id == 0:
                stage.append(DepthwiseSeparableConv(in_chs, out_chs, s))
            else:
                stage.append(InvertedResidual(in_chs, out_chs, s, exp_ratio=expansion))
            in_chs = out_chs
        stages.append(stage)
    return EfficientNet(stages, num_features=1280, num_classes=num_classes)


if __name__ == "__main__":
    for build in (mobilenetv1_100, mobilenetv2_100):
        model = build().eval()
        print(build.__name__, sum(p.numel() for p in model.parameters()),
              model(torch.zeros(1, 3, 96, 96)).shape)
