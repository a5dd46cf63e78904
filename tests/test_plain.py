"""Facts about He et al.'s plain networks (2016, Table 1 and section 4.2): the ResNets without shortcuts."""

import keras
import pytest

import kerasnets
from kerasnets import profile
from kerasnets.models import resnet as R

# The CIFAR plain networks have their ResNets' counts (option A shortcuts carry
# no weights); plain-18/34 have ResNet-18/34's less the three projections.
PLAIN_CIFAR = {"plain20": "resnet20", "plain32": "resnet32", "plain44": "resnet44",
               "plain56": "resnet56"}
# conv 1x1 with bias and its batch normalization (4 numbers per channel) at 128, 256, 512.
PROJECTIONS = sum(c_in * c_out + c_out + 4 * c_out for c_in, c_out in
                  ((64, 128), (128, 256), (256, 512)))


@pytest.mark.parametrize("name", sorted(PLAIN_CIFAR))
def test_cifar_plain_networks_are_their_resnets_without_shortcuts(name):
    plain, resnet = kerasnets.build(name), kerasnets.build(PLAIN_CIFAR[name])
    assert plain.name == name and kerasnets.model_info(name)["family"] == "plain"
    assert plain.count_params() == resnet.count_params() == kerasnets.get_spec(name).params
    assert not [layer for layer in plain.layers if isinstance(layer, keras.layers.Add)]
    # The same weighted layers under the same names; only the shortcut layers are gone.
    weighted = {layer.name for layer in resnet.layers if layer.weights}
    assert {layer.name for layer in plain.layers if layer.weights} == weighted
    depth = int(name[5:])
    convs = [layer for layer in plain.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) + 1 == depth


@pytest.mark.parametrize("depth, resnet_params", [(18, 11_703_912), (34, 21_823_208)])
def test_imagenet_plain_networks_of_table_1(depth, resnet_params):
    model = kerasnets.build(f"plain{depth}")
    assert PROJECTIONS == 176_512
    assert model.count_params() == resnet_params - PROJECTIONS == kerasnets.get_spec(
        f"plain{depth}").params
    assert model.output_shape == (None, 1000)
    # Table 1's FLOPs (multiply-adds): 1.8 and 3.6 billion, as the ResNets' less the projections.
    macs = profile(model).macs
    assert abs(macs - {18: 1.8e9, 34: 3.6e9}[depth]) / {18: 1.8e9, 34: 3.6e9}[depth] < 0.02
    assert len([layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]) \
        == depth - 1


def test_plain_arguments_are_checked():
    with pytest.raises(ValueError, match=r"no residual branch: `drop_path_rate` must be 0"):
        kerasnets.build("plain20", drop_path_rate=0.2)
    with pytest.raises(ValueError, match=r"no residual branch.*`se_ratio` None"):
        kerasnets.build("plain20", se_ratio=16)
    with pytest.raises(ValueError, match=r"`plain=True` has no pre-activation form"):
        kerasnets.build("plain20", preact=True)
    with pytest.raises(ValueError, match=r"`depth` must be one of \(18, 34\); got 50"):
        R.ImageNetResNet(50, plain=True, name="plain50")
    with pytest.raises(ValueError, match=r"`plain` must be"):
        R.CifarResNet(20, plain="yes")
