"""The Caffe model zoo's NIN-ImageNet as ported to PyTorch by ProGamerGov/pytorch-nin.

Source: https://github.com/ProGamerGov/pytorch-nin, NIN.py (`NIN`), with pooling="max"
(the released model). The port's repository states no licence; the Caffe model
(https://gist.github.com/mavenlin/d802a5849de39225bcc6, Lin, Chen and Yan) is
"license: BSD".

Copied with its state-dict keys (`features.<i>` of one nn.Sequential: convolutions at
0, 2, 4, 7, 9, 11, 14, 16, 18, 22, 24, 26) and forward unchanged: 3x3/2 max pooling
with ceil_mode=True, ReLU after the classifier convolution, 6x6/1 average pooling
(global at 224x224) and a softmax. `NINLogits` runs it without that last softmax and
flattens, for the (batch, classes) logits the comparison needs.
"""

import torch
from torch import nn


class NIN(nn.Module):
    def __init__(self, pooling):
        super(NIN, self).__init__()

        pool2d = None
        if pooling == 'max':
            pool2d = nn.MaxPool2d((3, 3), (2, 2), (0, 0), ceil_mode=True)
        elif pooling == 'avg':
            pool2d = nn.AvgPool2d((3, 3), (2, 2), (0, 0), ceil_mode=True)

        self.features = nn.Sequential(
            nn.Conv2d(3, 96, (11, 11), (4, 4)),
            nn.ReLU(inplace=True),
            nn.Conv2d(96, 96, (1, 1)),
            nn.ReLU(inplace=True),
            nn.Conv2d(96, 96, (1, 1)),
            nn.ReLU(inplace=True),
            pool2d,
            nn.Conv2d(96, 256, (5, 5), (1, 1), (2, 2)),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, (1, 1)),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, (1, 1)),
            nn.ReLU(inplace=True),
            pool2d,
            nn.Conv2d(256, 384, (3, 3), (1, 1), (1, 1)),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, (1, 1)),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, (1, 1)),
            nn.ReLU(inplace=True),
            pool2d,
            nn.Dropout(0.5),
            nn.Conv2d(384, 1024, (3, 3), (1, 1), (1, 1)),
            nn.ReLU(inplace=True),
            nn.Conv2d(1024, 1024, (1, 1)),
            nn.ReLU(inplace=True),
            nn.Conv2d(1024, 1000, (1, 1)),
            nn.ReLU(inplace=True),
            nn.AvgPool2d((6, 6), (1, 1), (0, 0), ceil_mode=True),
            nn.Softmax(),
        )


class NINLogits(NIN):
    """The port's network, its features up to the average pooling (not the softmax), flattened."""

    def __init__(self):
        super().__init__("max")

    def forward(self, x):
        return torch.flatten(self.features[:-1](x), 1)
