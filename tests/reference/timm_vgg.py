"""timm's VGG (`vgg11`, `vgg13`, `vgg16`, `vgg19`; the `*.tv_in1k` files), reduced to plain torch.

Source: https://github.com/huggingface/pytorch-image-models, timm/models/vgg.py (`VGG`,
`ConvMlp`, `cfgs`) and timm/layers/classifier.py (`ClassifierHead`), adapted there from
torchvision's vgg.py (BSD-3-Clause). Licence: Apache-2.0 (Copyright 2021 Ross Wightman).

The state-dict keys are timm's, those of the hub files `timm/vgg*.tv_in1k`:
`features.<i>` (3x3 convolutions, padding 1, each followed by ReLU; 2x2/2 max
pooling at "M"), `pre_logits.fc1` (torchvision's first Linear layer as a 7x7
convolution), `pre_logits.fc2` (the second as a 1x1 convolution), `head.fc`.
The forward is timm's at 224x224 (7x7 features: the ConvMlp's adaptive pooling
for smaller maps and the dropout, identity at inference, are left out), then
the global average pooling of a 1x1 map and the classifier.
"""

import torch
from torch import nn

CFGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
              "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512,
              512, 512, 512, "M"],
}


class ConvMlp(nn.Module):
    """timm's ConvMlp: the fully connected layers fc6 and fc7 as 7x7 and 1x1 convolutions."""

    def __init__(self, in_features=512, out_features=4096, kernel_size=7):
        super().__init__()
        self.fc1 = nn.Conv2d(in_features, out_features, kernel_size, bias=True)
        self.act1 = nn.ReLU(True)
        self.fc2 = nn.Conv2d(out_features, out_features, 1, bias=True)
        self.act2 = nn.ReLU(True)

    def forward(self, x):
        return self.act2(self.fc2(self.act1(self.fc1(x))))


class ClassifierHead(nn.Module):
    """timm's ClassifierHead with pool_type "avg": global average pooling, flatten, Linear."""

    def __init__(self, in_features, num_classes):
        super().__init__()
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.global_pool(x), 1))


class VGG(nn.Module):
    def __init__(self, cfg, num_classes=1000, in_chans=3):
        super().__init__()
        prev_chs = in_chans
        layers = []
        for v in cfg:
            if v == "M":
                layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
            else:
                layers += [nn.Conv2d(prev_chs, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                prev_chs = v
        self.features = nn.Sequential(*layers)
        self.pre_logits = ConvMlp(prev_chs, 4096, 7)
        self.head = ClassifierHead(4096, num_classes)

    def forward(self, x):
        return self.head(self.pre_logits(self.features(x)))


def vgg(name, num_classes=1000):
    """timm's `name` ("vgg11", ...) with random weights."""
    return VGG(CFGS[name], num_classes=num_classes)
