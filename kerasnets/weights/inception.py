"""State-dict mappings of the Inception checkpoints: timm's and Cadene's ports.

- `timm_inception_v4`: timm's `inception_v4` (and Cadene's `inceptionv4`, the
  same keys: `features.N.conv` / `features.N.bn`, `last_linear`) onto
  `kerasnets.models.inception_v4.InceptionV4` built with
  `factorized_order="tf_slim"`.
- `cadene_inception_v4`: Cadene's file, whose classifier has 1001 classes
  (TF-slim's background class first): rows 1: are the 1000 ImageNet classes,
  as Cadene's `inceptionv4(pretrained="imagenet")` keeps them.
- `timm_inception_resnet_v2`: timm's `inception_resnet_v2` (`conv2d_1a`, ...,
  `mixed_5b`, `repeat`, `mixed_6a`, `repeat_1`, `mixed_7a`, `repeat_2`,
  `block8`, `conv2d_7b`, `classif`) onto `inception_resnet_v2` built with
  `batch_norm_scale=True`.
- `cadene_bn_inception`: Cadene's `bninception` (Caffe names, which are our
  layer names) onto `kerasnets.models.inception.BNInception` with the Caffe
  structure.

Each mapping is a function of a `transfer.StateMapping`; loading checks that it
is complete.
"""

from __future__ import annotations

from keras import layers

__all__ = ["timm_inception_v4", "cadene_inception_v4", "timm_inception_resnet_v2",
           "cadene_bn_inception"]


def conv_bn(m, layer, key):
    """A convolution `layer` and its normalization `layer_bn` from `key.conv` and `key.bn`."""
    m.conv(layer, f"{key}.conv")
    m.batch_norm(f"{layer}_bn", f"{key}.bn")


def branch(m, name, key, count):
    """The `count` convolutions of a branch: `name_conv` from `key`, or `name_conv1`, ...
    from the Sequential's `key.0`, `key.1`, ..."""
    if count == 1:
        conv_bn(m, f"{name}_conv", key)
        return
    for i in range(count):
        conv_bn(m, f"{name}_conv{i + 1}", f"{key}.{i}")


def pooled_branch(m, name, key):
    """A pooling then one convolution: `name_conv` from the Sequential's `key.1`."""
    conv_bn(m, f"{name}_conv", f"{key}.1")


# ---------------------------------------------------------------- Inception-v4


def inception_v4_features(m):
    """Everything but the classifier of timm's (Cadene's) Inception-v4."""
    for i, name in enumerate(("conv_1a", "conv_2a", "conv_2b")):
        conv_bn(m, name, f"features.{i}")
    conv_bn(m, "mixed_3a_branch1_conv", "features.3.conv")
    branch(m, "mixed_4a_branch0", "features.4.branch0", 2)
    branch(m, "mixed_4a_branch1", "features.4.branch1", 4)
    conv_bn(m, "mixed_5a_branch0_conv", "features.5.conv")
    for i, index in enumerate(range(6, 10), start=1):
        name, key = f"inception_a{i}", f"features.{index}"
        branch(m, f"{name}_branch0", f"{key}.branch0", 1)
        branch(m, f"{name}_branch1", f"{key}.branch1", 2)
        branch(m, f"{name}_branch2", f"{key}.branch2", 3)
        pooled_branch(m, f"{name}_branch3", f"{key}.branch3")
    branch(m, "reduction_a_branch0", "features.10.branch0", 1)
    branch(m, "reduction_a_branch1", "features.10.branch1", 3)
    for i, index in enumerate(range(11, 18), start=1):
        name, key = f"inception_b{i}", f"features.{index}"
        branch(m, f"{name}_branch0", f"{key}.branch0", 1)
        branch(m, f"{name}_branch1", f"{key}.branch1", 3)
        branch(m, f"{name}_branch2", f"{key}.branch2", 5)
        pooled_branch(m, f"{name}_branch3", f"{key}.branch3")
    branch(m, "reduction_b_branch0", "features.18.branch0", 2)
    branch(m, "reduction_b_branch1", "features.18.branch1", 4)
    for i, index in enumerate(range(19, 22), start=1):
        name, key = f"inception_c{i}", f"features.{index}"
        conv_bn(m, f"{name}_branch0_conv", f"{key}.branch0")
        conv_bn(m, f"{name}_branch1_conv1", f"{key}.branch1_0")
        conv_bn(m, f"{name}_branch1_conv2a", f"{key}.branch1_1a")
        conv_bn(m, f"{name}_branch1_conv2b", f"{key}.branch1_1b")
        for ours, theirs in (("1", "0"), ("2", "1"), ("3", "2"), ("4a", "3a"), ("4b", "3b")):
            conv_bn(m, f"{name}_branch2_conv{ours}", f"{key}.branch2_{theirs}")
        pooled_branch(m, f"{name}_branch3", f"{key}.branch3")


def timm_inception_v4(m):
    """timm's `inception_v4` state dict (1000 classes) onto InceptionV4(factorized_order="tf_slim")."""
    inception_v4_features(m)
    m.dense("predictions", "last_linear")


def cadene_inception_v4(m):
    """Cadene's `inceptionv4-8e4777a0.pth` (1001 classes, background first): the 1000 ImageNet
    classes of its classifier, as Cadene's loader keeps them for pretrained="imagenet"."""
    inception_v4_features(m)
    keys = ("last_linear.weight", "last_linear.bias")
    weight, bias = (m.state[key] for key in keys)
    m.assign("predictions", [weight[1:].T, bias[1:]], keys=keys)


# ---------------------------------------------------------------- Inception-ResNet-v2


def residual_block(m, name, key, branch_sizes):
    """An Inception-ResNet block: its branches and the linear 1x1 `key.conv2d` (with bias)."""
    for i, count in enumerate(branch_sizes):
        branch(m, f"{name}_branch{i}", f"{key}.branch{i}", count)
    m.conv(f"{name}_conv", f"{key}.conv2d")


def timm_inception_resnet_v2(m):
    """timm's `inception_resnet_v2` state dict onto inception_resnet_v2(batch_norm_scale=True)."""
    for name in ("1a", "2a", "2b", "3b", "4a"):
        conv_bn(m, f"conv_{name}", f"conv2d_{name}")
    branch(m, "mixed_5b_branch0", "mixed_5b.branch0", 1)
    branch(m, "mixed_5b_branch1", "mixed_5b.branch1", 2)
    branch(m, "mixed_5b_branch2", "mixed_5b.branch2", 3)
    pooled_branch(m, "mixed_5b_branch3", "mixed_5b.branch3")
    for i in range(10):
        residual_block(m, f"block35_{i + 1}", f"repeat.{i}", (1, 2, 3))
    branch(m, "mixed_6a_branch0", "mixed_6a.branch0", 1)
    branch(m, "mixed_6a_branch1", "mixed_6a.branch1", 3)
    for i in range(20):
        residual_block(m, f"block17_{i + 1}", f"repeat_1.{i}", (1, 3))
    branch(m, "mixed_7a_branch0", "mixed_7a.branch0", 2)
    branch(m, "mixed_7a_branch1", "mixed_7a.branch1", 2)
    branch(m, "mixed_7a_branch2", "mixed_7a.branch2", 3)
    for i in range(9):
        residual_block(m, f"block8_{i + 1}", f"repeat_2.{i}", (1, 3))
    residual_block(m, "block8_10", "block8", (1, 3))
    conv_bn(m, "conv_7b", "conv2d_7b")
    m.dense("predictions", "classif")


# ---------------------------------------------------------------- BN-Inception


def cadene_bn_inception(m):
    """Cadene's `bn_inception-52deb4733.pth` onto the Caffe-structured BNInception.

    The Caffe layer names are ours: each convolution `name` and normalization
    `name_bn` takes the arrays of the same key; `last_linear` is `predictions`.
    """
    for layer in m.model.layers:
        if isinstance(layer, layers.BatchNormalization):
            m.batch_norm(layer.name, layer.name)
        elif isinstance(layer, layers.Conv2D):
            m.conv(layer.name, layer.name)
    m.dense("predictions", "last_linear")
