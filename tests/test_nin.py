"""Network in Network (Lin et al. 2014): mlpconv layers and the global-average classifier."""

import keras

import kerasnets


def test_nin_structure():
    model = kerasnets.build("nin")
    assert not [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    assert model.get_layer("block4_mlp2").filters == 1000
    assert isinstance(model.get_layer("avg_pool"), keras.layers.GlobalAveragePooling2D)
    assert model.get_layer("block4_conv").output.shape[1:] == (5, 5, 1024)
    # Each mlpconv layer: a conv and two 1x1 convs ("cccp" in the released model).
    for block in (1, 2, 3):
        assert model.get_layer(f"block{block}_mlp1").kernel_size == (1, 1)
        assert model.get_layer(f"block{block}_mlp2").kernel_size == (1, 1)
    cifar = kerasnets.build("nin_cifar10")
    assert cifar.output_shape == (None, 10)
    assert [cifar.get_layer(f"block1_{n}").filters for n in ("conv", "mlp1", "mlp2")] == [
        192, 160, 96,
    ]
    top_off = kerasnets.build("nin", include_top=False, pooling="avg")
    assert top_off.output_shape == (None, 1024)


# ---------------------------------------------------------------- profiler
