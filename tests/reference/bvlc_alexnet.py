"""The BVLC AlexNet (Caffe model zoo) as plain torch, for the equality test of `alexnet` "bvlc".

Source: BVLC/caffe models/bvlc_alexnet/deploy.prototxt
(https://github.com/BVLC/caffe/blob/master/models/bvlc_alexnet/deploy.prototxt; the model
is "released for unrestricted use", Caffe itself BSD-2-Clause). No PyTorch port of it is
published as a file, so this module transcribes the prototxt layer by layer, with the
prototxt's layer names as attribute names (they become the .caffemodel's layer names and
the state-dict keys "<layer>.weight/.bias"):

    conv1 96 11x11/4 -> relu1 -> norm1 LRN(local_size 5, alpha 1e-4, beta 0.75) -> pool1 3x3/2
    conv2 256 5x5 pad 2 group 2 -> relu2 -> norm2 -> pool2 3x3/2
    conv3 384 3x3 pad 1 -> relu3 -> conv4 384 3x3 pad 1 group 2 -> relu4
    conv5 256 3x3 pad 1 group 2 -> relu5 -> pool5 3x3/2
    fc6 4096 -> relu6 -> drop6 -> fc7 4096 -> relu7 -> drop7 -> fc8 1000

Caffe's LRN (ACROSS_CHANNELS, k=1 by default) divides alpha by local_size, which is
torch.nn.LocalResponseNorm's convention; Caffe pools in ceil mode; its InnerProduct
flattens (C, H, W). Returns fc8's logits (the deploy net's "prob" softmax left out).
"""

from torch import nn

from kerasnets.weights.caffemodel import write_caffemodel

CONVOLUTIONS = ("conv1", "conv2", "conv3", "conv4", "conv5")
FULLY_CONNECTED = ("fc6", "fc7", "fc8")


class AlexNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        self.relu = nn.ReLU()
        self.norm = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = self.pool(self.norm(self.relu(self.conv1(x))))
        x = self.pool(self.norm(self.relu(self.conv2(x))))
        x = self.relu(self.conv3(x))
        x = self.relu(self.conv4(x))
        x = self.pool(self.relu(self.conv5(x)))
        x = x.flatten(1)
        x = self.drop(self.relu(self.fc6(x)))
        x = self.drop(self.relu(self.fc7(x)))
        return self.fc8(x)


def caffe_layers(state):
    """The (name, Caffe type, [weight, bias]) of each layer in a state dict of AlexNet."""
    return [(name, "Convolution" if name in CONVOLUTIONS else "InnerProduct",
             [state[f"{name}.weight"].detach().numpy(), state[f"{name}.bias"].detach().numpy()])
            for name in (*CONVOLUTIONS, *FULLY_CONNECTED)]


def save_caffemodel(state, path, v1=True):
    """`state` written as the BVLC .caffemodel is (V1 layers by default, as Caffe wrote in 2014)."""
    write_caffemodel(path, caffe_layers(state), v1=v1)
